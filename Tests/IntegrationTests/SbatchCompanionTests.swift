import Foundation
import XCTest

/// squeue, sacct, scancel, scontrol and srun in SLURM's formats, and the shims that let an
/// unchanged script and its tools reach orch through PATH.
final class SbatchCompanionTests: XCTestCase {
  let user = String(cString: getpwuid(getuid())!.pointee.pw_name)
  let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init)!

  func testSqueueDefaultFormatCollapsesPendingElements() throws {
    let c = try Cluster()
    try c.write("held.sbatch", "#!/bin/bash\n#SBATCH -J held -H --array=0-5\ntrue\n")
    let id = try c.submit(["held.sbatch"])
    let single = try c.submit(["-H", "-J", "a_rather_long_name", "--wrap", "true"])
    let header = "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)\n"
    let u = String(String(repeating: " ", count: max(0, 8 - user.count)) + user.prefix(8))
    var r = try c.run(["squeue"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(
      r.out,
      header + "           \(id)_[0-5]     local     held \(u) PD       0:00      1 (JobHeldUser)\n"
        + "                 \(single)     local a_rather \(u) PD       0:00      1 (JobHeldUser)\n")

    XCTAssertEqual(try c.run(["scancel", "\(id)_[1-3]"]).code, 0)
    r = try c.run(["squeue", "-h", "-o", "%i %K %t"])
    XCTAssertEqual(r.out, "\(id)_[0,4-5] 0,4-5 PD\n\(single) N/A PD\n")
    r = try c.run(["squeue", "-r", "--noheader", "--format=%i|%A|%F|%K|%T|%C|%l|%P|%D|%j|%u|%r"])
    XCTAssertEqual(
      r.out,
      [0, 4, 5].map { "\(id)_\($0)|\(id + $0)|\(id)|\($0)|PENDING|1|UNLIMITED|local|1|held|\(user)|JobHeldUser\n" }
        .joined()
        + "\(single)|\(single)|\(single)|N/A|PENDING|1|UNLIMITED|local|1|a_rather_long_name|\(user)|JobHeldUser\n")
    // Elements cancelled before they started stay in their array's one record (issue 18).
    XCTAssertEqual(try c.run(["squeue", "-h", "-t", "CA", "-o", "%i"]).out, "\(id)_[1-3]\n")
    XCTAssertEqual(try c.run(["squeue", "-h", "-u", "nosuchuser0", "-o", "%i"]).out, "")
    XCTAssertEqual(try c.run(["squeue", "-h", "-j", "\(single)", "-o", "%i"]).out, "\(single)\n")
    let bad = try c.run(["squeue", "-j", "999"])
    XCTAssertEqual(bad.code, 1)
    XCTAssertEqual(bad.err, "slurm_load_jobs error: Invalid job id specified\n")
    let option = try c.run(["squeue", "--bogus"])
    XCTAssertEqual(option.code, 1)
    XCTAssertTrue(option.err.hasPrefix("squeue: unrecognized option '--bogus'\n"), option.err)
  }

  func testScancelRangeCancelsExactlyThoseElements() throws {
    let c = try Cluster()
    try c.startDaemon()
    let id = try c.submit(["-H", "--array=0-5", "--wrap", "true"])
    let r = try c.run(["scancel", "\(id)_[2-4]"])
    XCTAssertEqual(r.code, 0, r.err)
    // As in SLURM, whose array no longer holds elements cancelled while pending (issue 18).
    XCTAssertEqual(try c.run(["scontrol", "release", "\(id)"]).code, 0, "the cancelled elements are not the array's")
    let states = try c.waitFinished(id)
    XCTAssertEqual(
      states,
      [
        "\(id)_0": "COMPLETED 0:0", "\(id)_1": "COMPLETED 0:0", "\(id)_2": "CANCELLED by \(getuid()) 0:0",
        "\(id)_3": "CANCELLED by \(getuid()) 0:0", "\(id)_4": "CANCELLED by \(getuid()) 0:0",
        "\(id)_5": "COMPLETED 0:0",
      ])

    // A running job ends with its process tree; an unknown id is an error.
    let slow = try c.submit(["--wrap", "sleep 300"])
    try c.waitUntil("it runs") { try c.queueState("\(slow)") == "RUNNING None" }
    XCTAssertEqual(try c.run(["scancel", "\(slow)"]).code, 0)
    XCTAssertEqual(try c.waitFinished(slow)["\(slow)"]?.hasPrefix("CANCELLED"), true)
    let unknown = try c.run(["scancel", "999"])
    XCTAssertEqual(unknown.code, 1)
    XCTAssertEqual(unknown.err, "scancel: error: Kill job error on job id 999: Invalid job id specified\n")
  }

  func testScancelByStateAndName() throws {
    let c = try Cluster()
    let a = try c.submit(["-H", "-J", "keep", "--wrap", "true"])
    let b = try c.submit(["-H", "-J", "drop", "--wrap", "true"])
    XCTAssertEqual(try c.run(["scancel", "--state=PENDING", "--name=drop"]).code, 0)
    XCTAssertEqual(try c.queueState("\(a)"), "PENDING JobHeldUser")
    XCTAssertEqual(try c.queueState("\(b)"), "CANCELLED None")
  }

  func testScancelSignalReachesTheRunningJob() throws {
    let c = try Cluster()
    try c.write(
      "trap.sbatch",
      "#!/bin/bash\ntrap 'echo got USR1; exit 0' USR1\necho ready > ready.txt\nwhile true; do sleep 0.05; done\n")
    try c.startDaemon()
    let id = try c.submit(["trap.sbatch"])
    try c.waitUntil("the trap is set") { !c.read("ready.txt").isEmpty }
    // -b: only the batch shell; its `sleep` child is left to finish, then the trap runs.
    let r = try c.run(["scancel", "-b", "--signal=USR1", "\(id)"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(try c.waitFinished(id), ["\(id)": "COMPLETED 0:0"], "a signal is not a cancel")
    XCTAssertEqual(c.read("slurm-\(id).out"), "got USR1\n")

    // Without -b the steps (the shell's children) get it: here the step itself traps it.
    try c.write(
      "step.sbatch",
      "#!/bin/bash\nbash -c 'trap \"echo step got TERM; exit 5\" TERM; echo ready > step.txt; while true; do sleep 0.05; done'\necho shell done\n"
    )
    let step = try c.submit(["step.sbatch"])
    try c.waitUntil("the step runs") { !c.read("step.txt").isEmpty }
    XCTAssertEqual(try c.run(["scancel", "-s", "TERM", "\(step)"]).code, 0)
    XCTAssertEqual(try c.waitFinished(step), ["\(step)": "COMPLETED 0:0"])
    // (bash may first report its `sleep` killed by the same signal: "Terminated".)
    XCTAssertTrue(c.read("slurm-\(step).out").hasSuffix("step got TERM\nshell done\n"), c.read("slurm-\(step).out"))
  }

  func testSacctFormats() throws {
    let c = try Cluster()
    try c.startDaemon()
    let ok = try c.submit(["--wait", "-J", "fine", "--wrap", "true"])
    let (_, failedID) = try c.sbatch(["--wait", "-J", "broken", "--wrap", "exit 7"])
    let failed = try XCTUnwrap(failedID)

    var r = try c.run([
      "sacct", "-j", "\(ok),\(failed)", "-X", "-P", "-o", "JobID,JobIDRaw,JobName,State,ExitCode,NodeList,Restarts",
    ])
    XCTAssertEqual(
      r.out,
      "JobID|JobIDRaw|JobName|State|ExitCode|NodeList|Restarts\n\(ok)|\(ok)|fine|COMPLETED|0:0|\(host)|0\n"
        + "\(failed)|\(failed)|broken|FAILED|7:0|\(host)|0\n")
    r = try c.run(["sacct", "-j", "\(failed)", "-p", "-n", "-o", "JobID,State"])
    XCTAssertEqual(
      r.out, "\(failed)|FAILED|\n\(failed).batch|FAILED|\n\(failed).extern|COMPLETED|\n",
      "-p ends lines with the delimiter; steps show")
    r = try c.run([
      "sacct", "--jobs=\(ok)", "--parsable2", "--delimiter=,", "--noheader", "--allocations", "--format=jobname,state",
    ])
    XCTAssertEqual(r.out, "fine,COMPLETED\n")

    r = try c.run(["sacct", "-j", "\(ok)", "-X"])
    XCTAssertEqual(
      r.out,
      "JobID           JobName  Partition    Account  AllocCPUS      State ExitCode \n"
        + "------------ ---------- ---------- ---------- ---------- ---------- -------- \n"
        + "\(ok)".padding(toLength: 12, withPad: " ", startingAt: 0)
        + " " + "      fine      local                     1  COMPLETED      0:0 \n")
    r = try c.run(["sacct", "-j", "\(failed)", "-X", "-n", "-o", "JobName%4,State%-8"])
    XCTAssertEqual(r.out, "bro+ FAILED   \n", "a cut value ends with '+'; a negative width left-justifies")

    r = try c.run(["sacct", "-j", "\(ok)", "-X", "-n", "-P", "-o", "Elapsed,ElapsedRaw,Submit,Start,End"])
    let f = r.out.trimmingCharacters(in: .newlines).split(separator: "|").map(String.init)
    XCTAssertEqual(f.count, 5, r.out)
    XCTAssertNotNil(f[0].range(of: #"^\d\d:\d\d:\d\d$"#, options: .regularExpression), f[0])
    XCTAssertNotNil(Int(f[1]))
    for t in f[2...] {
      XCTAssertNotNil(t.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$"#, options: .regularExpression), t)
    }

    XCTAssertEqual(try c.run(["sacct", "-n", "-X", "-P", "-s", "F", "-o", "JobID"]).out, "\(failed)\n")
    XCTAssertEqual(try c.run(["sacct", "-n", "-X", "-S", "now+1hour", "-o", "JobID"]).out, "")
    XCTAssertEqual(
      try c.run(["sacct", "-n", "-X", "-P", "-S", "now-1hour", "-E", "now", "-o", "JobID"]).out, "\(ok)\n\(failed)\n")
    let bad = try c.run(["sacct", "-o", "JobID,Nonsense"])
    XCTAssertEqual(bad.code, 1)
    XCTAssertEqual(bad.err, "sacct: error: Invalid field requested: \"Nonsense\"\n")
  }

  func testScontrolShowHoldReleaseRequeue() throws {
    let c = try Cluster()
    try c.startDaemon()
    try c.write("count.sbatch", "#!/bin/bash\n#SBATCH --open-mode=append\necho run ${SLURM_RESTART_COUNT-unset}\n")
    let id = try c.submit(["--wait", "count.sbatch"])
    var show = try c.run(["scontrol", "show", "job", "\(id)"])
    XCTAssertEqual(show.code, 0, show.err)
    let lines = show.out.split(separator: "\n").map(String.init)
    XCTAssertEqual(lines.first, "JobId=\(id) JobName=count.sbatch")
    for expected in [
      "   JobState=COMPLETED Reason=None Dependency=(null)", "   Partition=local AllocNode:Sid=\(host):0",
      "   Command=\(c.root.path)/count.sbatch", "   WorkDir=\(c.root.path)", "   StdOut=\(c.root.path)/slurm-\(id).out",
      "   NodeList=\(host)",
    ] {
      XCTAssertTrue(lines.contains(expected), "\(expected) in\n\(show.out)")
    }
    XCTAssertTrue(
      lines.contains { $0.hasPrefix("   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0") }, show.out)
    show = try c.run(["scontrol", "-o", "show", "job", "\(id)"])
    XCTAssertEqual(show.out.split(separator: "\n").count, 1)
    XCTAssertTrue(show.out.hasPrefix("JobId=\(id) JobName=count.sbatch UserId="), show.out)

    XCTAssertEqual(try c.run(["scontrol", "requeue", "\(id)"]).code, 0)
    try c.waitUntil("it ran again") { c.read("slurm-\(id).out") == "run unset\nrun 1\n" }
    XCTAssertEqual(try c.waitFinished(id), ["\(id)": "COMPLETED 0:0"])
    XCTAssertEqual(try c.run(["sacct", "-j", "\(id)", "-X", "-n", "-P", "-o", "Restarts"]).out, "1\n")

    let array = try c.submit(["--array=0-2", "-H", "--wrap", "true"])
    XCTAssertEqual(try c.run(["scontrol", "release", "\(array)_1"]).code, 0)
    try c.waitUntil("only element 1 ran") { try c.accounting(array)["\(array)_1"] == "COMPLETED 0:0" }
    let text = try c.run(["scontrol", "show", "job", "\(array)"]).out
    XCTAssertTrue(text.contains("JobId=\(array) ArrayJobId=\(array) ArrayTaskId=0,2 JobName=wrap"), text)
    XCTAssertTrue(text.contains("JobState=PENDING Reason=JobHeldUser"), text)
    XCTAssertTrue(text.contains("Command=(null)"), text)
    let missing = try c.run(["scontrol", "show", "job", "999"])
    XCTAssertEqual(missing.code, 1)
    XCTAssertEqual(missing.err, "slurm_load_jobs error: Invalid job id specified\n")
  }

  func testSrunRunsStepsInsideAJobOnly() throws {
    let c = try Cluster()
    try c.installShims()
    try c.write(
      "steps.sbatch",
      """
      #!/bin/bash
      srun --unbuffered -n 1 --output=step-%j-%s-%t.out --error=step-%J.err bash -c 'echo out $SLURM_STEP_ID $SLURM_PROCID; echo err >&2'
      srun bash -c 'echo second step $SLURM_STEP_ID'
      srun bash -c 'exit 4'; echo "status $?"
      srun -n 2 true; echo "n2 $?"

      """)
    try c.startDaemon()
    let r = try c.shell("sbatch --wait steps.sbatch")
    XCTAssertEqual(r.code, 0, r.err)
    let id = Int(r.out.split(separator: " ").last!.trimmingCharacters(in: .whitespacesAndNewlines))!
    XCTAssertEqual(c.read("step-\(id)-0-0.out"), "out 0 0\n")
    XCTAssertEqual(c.read("step-\(id).0.err"), "err\n")
    XCTAssertEqual(
      c.read("slurm-\(id).out"),
      "second step 1\nsrun: error: \(host): task 0: Exited with exit code 4\nstatus 4\n"
        + "srun: error: --ntasks=2 is not supported: orch runs one task per step\nn2 1\n")
    // sacct lists the job, its batch and extern steps and each srun step; -X the job alone.
    XCTAssertEqual(
      try c.run(["sacct", "-j", "\(id)", "-P", "-n", "-o", "JobID,JobIDRaw,JobName,State,ExitCode"]).out,
      """
      \(id)|\(id)|steps.sbatch|COMPLETED|0:0
      \(id).batch|\(id).batch|batch|COMPLETED|0:0
      \(id).extern|\(id).extern|extern|COMPLETED|0:0
      \(id).0|\(id).0|bash|COMPLETED|0:0
      \(id).1|\(id).1|bash|COMPLETED|0:0
      \(id).2|\(id).2|bash|FAILED|4:0

      """)
    XCTAssertEqual(try c.run(["sacct", "-j", "\(id)", "-X", "-P", "-n", "-o", "JobID"]).out, "\(id)\n")
    // Outside a job, srun runs as a job of its own (issue 18) and exits with the command's status.
    let outside = try c.shell("srun bash -c 'echo out; exit 3'")
    XCTAssertEqual(outside.code, 3, outside.err)
    XCTAssertEqual(outside.out, "out\n")
  }

  func testShimsRunAnUnchangedScript() throws {
    let c = try Cluster()
    try c.installShims()
    for name in ["sbatch", "srun", "squeue", "scancel", "sacct", "scontrol"] {
      let target = try FileManager.default.destinationOfSymbolicLink(atPath: c.shimsDir + "/" + name)
      XCTAssertTrue(target.hasSuffix("/orch"), target)
    }
    try c.write(
      "train.sbatch",
      """
      #!/bin/bash
      #SBATCH --job-name=train
      #SBATCH --array=0-2%2
      #SBATCH --output=logs/%x_%A_%a.out
      #SBATCH --cpus-per-task=1
      #SBATCH --time=00:10:00
      #SBATCH --partition=gpu
      #SBATCH --mail-type=END
      set -euo pipefail
      echo "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID cpus $SLURM_CPUS_PER_TASK"
      srun python3 -c 'import os; print("step", os.environ["SLURM_STEP_ID"], "lr", os.environ["LR"])'

      """)
    try FileManager.default.createDirectory(atPath: c.root.path + "/logs", withIntermediateDirectories: true)
    try c.startDaemon()
    let r = try c.shell(
      "id=$(LR=0.1 sbatch --parsable train.sbatch) && squeue -j $id -h -r -o '%i %j' | sort | head -1 && echo $id",
      env: ["ORCH_PARTITION": "gpu"])
    XCTAssertEqual(r.code, 0, r.err)
    let lines = r.out.split(separator: "\n").map(String.init)
    let id = try XCTUnwrap(Int(lines.last ?? ""), r.out)
    XCTAssertEqual(lines.first, "\(id)_0 train", "squeue -j lists the job right after sbatch --parsable")
    try c.waitFinished(id)
    for i in 0..<3 {
      XCTAssertEqual(c.read("logs/train_\(id)_\(i).out"), "task \(i) of \(id) cpus 1\nstep 0 lr 0.1\n")
    }
    let acct = try c.shell("sacct -j \(id) -X --parsable2 --noheader --format=JobID,State")
    XCTAssertEqual(acct.out, (0..<3).map { "\(id)_\($0)|COMPLETED\n" }.joined())

    // A script on standard input; scancel and scontrol through the shims.
    try c.write("stdin.sh", "#!/bin/sh\n#SBATCH -H\necho from stdin\n")
    let piped = try c.shell("sbatch < stdin.sh")
    XCTAssertEqual(piped.code, 0, piped.err)
    let held = Int(piped.out.split(separator: " ").last!.trimmingCharacters(in: .whitespacesAndNewlines))!
    XCTAssertEqual(try c.shell("scontrol release \(held)").code, 0)
    try c.waitFinished(held)
    XCTAssertEqual(c.read("slurm-\(held).out"), "from stdin\n")
    // As SLURM 23.02 (ScancelDifferentialTests pins 22.05's silence beside it): an ended job is an error.
    let again = try c.shell("scancel \(held)")
    XCTAssertEqual(again.code, 1, "cancelling a finished job is an error")
    XCTAssertTrue(again.err.contains("Job/step already completing or completed"), again.err)
  }
}
