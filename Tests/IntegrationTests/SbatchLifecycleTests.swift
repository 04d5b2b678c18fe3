import Foundation
import XCTest

/// What happens to a running sbatch job as SLURM defines it: `--signal` before the time limit,
/// `--requeue`/`--no-requeue`, and the steps sacct lists for it.
final class SbatchLifecycleTests: XCTestCase {
  func testSignalArrivesBeforeTheTimeLimit() throws {
    let c = try Cluster()
    try c.installShims()
    // B: the batch shell alone gets USR1 57 s before its 1-minute limit; it keeps running and
    // ends at the limit as before: SIGTERM, KillWait, TIMEOUT.
    try c.write(
      "shell.sbatch",
      """
      #!/bin/bash
      #SBATCH --time=1 --signal=B:USR1@57
      trap 'echo "shell got USR1 after $SECONDS s" >> shell-warned.txt' USR1
      while true; do sleep 0.1; done

      """)
    // Without B: the steps get it and the batch shell does not (an untrapped USR2 would kill it).
    // The srun step receives it once: srun does not relay what already reached the step.
    try c.write(
      "step.py",
      """
      import signal, time
      start, count = time.time(), 0
      def handler(signum, frame):
          global count
          count += 1
      signal.signal(signal.SIGUSR2, handler)
      while count == 0:
          time.sleep(0.1)
      time.sleep(1)
      print(f"step got USR2 {count} time(s) after {int(time.time() - start)} s", flush=True)

      """)
    try c.write(
      "step.sbatch",
      """
      #!/bin/bash
      #SBATCH --time=1 --signal=USR2@58
      srun python3 step.py
      echo "shell still here"

      """)
    try c.startDaemon(cpus: "0-1", killWait: "1")
    let r = try c.shell("sbatch --parsable shell.sbatch && sbatch --parsable step.sbatch")
    XCTAssertEqual(r.code, 0, r.err)
    let ids = r.out.split(separator: "\n").compactMap { Int($0) }
    XCTAssertEqual(ids.count, 2, r.out)
    let (shell, step) = (ids[0], ids[1])

    XCTAssertEqual(try c.waitFinished(step, timeout: 30), ["\(step)": "COMPLETED 0:0"])
    let stepOut = c.read("slurm-\(step).out")
    let stepWords = stepOut.split(separator: "\n").first?.split(separator: " ").map(String.init) ?? []
    XCTAssertEqual(stepWords.prefix(6), ["step", "got", "USR2", "1", "time(s)", "after"], stepOut)
    XCTAssertLessThan(stepWords.count > 6 ? Int(stepWords[6]) ?? 99 : 99, 10, "about 2 s into a 60 s limit")
    XCTAssertTrue(stepOut.hasSuffix("shell still here\n"), stepOut)

    let warned = try XCTUnwrap(
      { () throws -> String? in
        var text = ""
        try c.waitUntil("the shell is warned", timeout: 30) {
          text = c.read("shell-warned.txt")
          return !text.isEmpty
        }
        return text
      }())
    let warnedWords = warned.split(separator: " ").map(String.init)
    XCTAssertEqual(warnedWords.prefix(4), ["shell", "got", "USR1", "after"], warned)
    XCTAssertLessThan(warnedWords.count > 4 ? Int(warnedWords[4]) ?? 99 : 99, 10, warned)
    XCTAssertEqual(try c.waitFinished(shell, timeout: 90), ["\(shell)": "TIMEOUT 0:15"])
    XCTAssertEqual(warned.split(separator: "\n").count, 1, "one warning, then the limit")
  }

  func testNoRequeueRefusesScontrolRequeue() throws {
    let c = try Cluster()
    try c.startDaemon()
    let once = try c.submit(["--no-requeue", "--wait", "--wrap", "echo run ${SLURM_RESTART_COUNT:-0}"])
    var show = try c.run(["scontrol", "show", "job", "\(once)"]).out
    XCTAssertTrue(show.contains("Requeue=0 Restarts=0 "), show)
    let refused = try c.run(["scontrol", "requeue", "\(once)"])
    XCTAssertEqual(refused.code, 1)
    XCTAssertEqual(refused.err, "Requested operation is presently disabled for job \(once)\n")
    XCTAssertEqual(try c.queueState("\(once)"), "COMPLETED None", "nothing was requeued")

    // --requeue (SLURM's default too): requeued under the same id, Restarts and
    // SLURM_RESTART_COUNT count the runs (SLURM leaves the variable unset on the first run).
    let again = try c.submit([
      "--requeue", "--open-mode=append", "--wait", "--wrap", "echo run ${SLURM_RESTART_COUNT:-0}",
    ])
    show = try c.run(["scontrol", "show", "job", "\(again)"]).out
    XCTAssertTrue(show.contains("Requeue=1 Restarts=0 "), show)
    for expected in ["run 0\nrun 1\n", "run 0\nrun 1\nrun 2\n"] {
      XCTAssertEqual(try c.run(["scontrol", "requeue", "\(again)"]).code, 0)
      try c.waitUntil("it ran again") { c.read("slurm-\(again).out") == expected }
      try c.waitFinished(again)
    }
    XCTAssertEqual(
      try c.run(["sacct", "-j", "\(again)", "-X", "-n", "-P", "-o", "State,Restarts"]).out, "COMPLETED|2\n")
    show = try c.run(["scontrol", "show", "job", "\(again)"]).out
    XCTAssertTrue(show.contains("Requeue=1 Restarts=2 "), show)

    // The directive and SBATCH_NO_REQUEUE say the same; the command line overrides both.
    try c.write("norequeue.sbatch", "#!/bin/bash\n#SBATCH --no-requeue -H\ntrue\n")
    let directive = try c.submit(["norequeue.sbatch"])
    let overridden = try c.submit(["--requeue", "norequeue.sbatch"], env: ["SBATCH_NO_REQUEUE": "1"])
    XCTAssertTrue(try c.run(["scontrol", "show", "job", "\(directive)"]).out.contains("Requeue=0 "))
    XCTAssertTrue(try c.run(["scontrol", "show", "job", "\(overridden)"]).out.contains("Requeue=1 "))
  }

  func testAJobRequeuesItself() throws {
    let c = try Cluster()
    try c.installShims()
    // What submitit does on preemption: the job runs `scontrol requeue` on itself; the cancel that
    // ends this run must not take the scontrol with it.
    try c.write(
      "self.sbatch",
      """
      #!/bin/bash
      #SBATCH --open-mode=append
      echo "run ${SLURM_RESTART_COUNT:-0}"
      if [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then scontrol requeue $SLURM_JOB_ID; sleep 30; fi

      """)
    try c.startDaemon()
    let r = try c.shell("sbatch --parsable self.sbatch")
    let id = try XCTUnwrap(Int(r.out.trimmingCharacters(in: .whitespacesAndNewlines)), r.err)
    try c.waitUntil("it ran again") { c.read("slurm-\(id).out") == "run 0\nrun 1\n" }
    XCTAssertEqual(try c.waitFinished(id), ["\(id)": "COMPLETED 0:0"])
    XCTAssertEqual(try c.run(["sacct", "-j", "\(id)", "-X", "-n", "-P", "-o", "Restarts"]).out, "1\n")
  }

  func testLostWorkerRequeuesUnlessNoRequeue() throws {
    let c = try Cluster()
    // The first run kills its own worker (the batch shell's parent): orch's node failure. It waits
    // a moment first: a worker lost before it journaled the start counts as never started.
    try c.write(
      "lost.sbatch",
      """
      #!/bin/bash
      #SBATCH --open-mode=append
      echo "run ${SLURM_RESTART_COUNT:-0}"
      if [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then sleep 1; kill -9 $PPID; sleep 30; fi

      """)
    try c.startDaemon()
    let requeued = try c.submit(["--wait", "lost.sbatch"])
    XCTAssertEqual(c.read("slurm-\(requeued).out"), "run 0\nrun 1\n")
    XCTAssertEqual(
      try c.run(["sacct", "-j", "\(requeued)", "-X", "-n", "-P", "-o", "State,ExitCode,Restarts"]).out,
      "COMPLETED|0:0|1\n")

    let (r, id) = try c.sbatch(["--no-requeue", "--wait", "lost.sbatch"])
    let failed = try XCTUnwrap(id, r.err)
    XCTAssertNotEqual(r.code, 0)
    XCTAssertEqual(c.read("slurm-\(failed).out"), "run 0\n")
    XCTAssertEqual(
      try c.run(["sacct", "-j", "\(failed)", "-X", "-n", "-P", "-o", "State,Restarts"]).out, "FAILED|0\n")
  }

  func testSacctStepsOfACancelledJob() throws {
    let c = try Cluster()
    try c.installShims()
    try c.write(
      "long.sbatch",
      "#!/bin/bash\nsrun -c 1 true\nsrun --job-name=nap sleep 300\n")
    try c.startDaemon()
    let r = try c.shell("sbatch --parsable long.sbatch")
    let id = try XCTUnwrap(Int(r.out.trimmingCharacters(in: .whitespacesAndNewlines)), r.err)
    let format = ["-P", "-n", "-o", "JobID,JobName,State,ExitCode,AllocCPUS"]
    try c.waitUntil("the second step runs") {
      try c.run(["sacct", "-j", "\(id)"] + format).out.contains("\(id).1|nap|RUNNING|0:0|1\n")
    }
    XCTAssertEqual(
      try c.run(["sacct", "-j", "\(id)"] + format).out,
      """
      \(id)|long.sbatch|RUNNING|0:0|1
      \(id).batch|batch|RUNNING|0:0|1
      \(id).extern|extern|RUNNING|0:0|1
      \(id).0|true|COMPLETED|0:0|1
      \(id).1|nap|RUNNING|0:0|1

      """)
    XCTAssertEqual(try c.run(["scancel", "\(id)"]).code, 0)
    try c.waitFinished(id)
    let lines = try c.run(["sacct", "-j", "\(id)"] + format).out.split(separator: "\n").map(String.init)
    XCTAssertEqual(
      Array(lines.prefix(4)),
      [
        "\(id)|long.sbatch|CANCELLED by \(getuid())|0:15|1", "\(id).batch|batch|CANCELLED|0:15|1",
        "\(id).extern|extern|COMPLETED|0:0|1", "\(id).0|true|COMPLETED|0:0|1",
      ])
    // TERM ended the step; its srun records that unless the job's final SIGKILL came first.
    XCTAssertTrue(
      ["\(id).1|nap|CANCELLED|0:15|1", "\(id).1|nap|CANCELLED|0:9|1"].contains(lines.last), lines.last ?? "")
    XCTAssertEqual(lines.count, 5)
  }
}
