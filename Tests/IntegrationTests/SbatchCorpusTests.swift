import Foundation
import XCTest

/// A corpus of sbatch scripts run through `orch sbatch` and the daemon, each checked for what
/// SLURM's documentation specifies: where output goes, the environment the script sees, exit
/// codes, final states and dependency order.
final class SbatchCorpusTests: XCTestCase {
  /// Prints the variables SLURM sets for a batch task as `NAME=value` (`unset` when absent).
  static let dump = """
    for v in SLURM_JOB_ID SLURM_JOBID SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT \\
      SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_MAX SLURM_ARRAY_TASK_STEP SLURM_JOB_NAME SLURM_CPUS_PER_TASK \\
      SLURM_CPUS_ON_NODE SLURM_SUBMIT_DIR SLURM_SUBMIT_HOST SLURM_JOB_NODELIST SLURMD_NODENAME SLURM_NTASKS \\
      SLURM_PROCID SLURM_LOCALID SLURM_NODEID SLURM_JOB_NUM_NODES SLURM_NODELIST SLURM_RESTART_COUNT \\
      OMP_NUM_THREADS FOO A B SLURM_CUSTOM HOME; do echo "$v=${!v-unset}"; done
    echo "PWD=$PWD"
    """

  func testArrayWithStepWritesDefaultOutputsAndTaskVariables() throws {
    let c = try Cluster()
    try c.write(
      "stepper.sbatch", "#!/bin/bash\n#SBATCH --array=0-15:4\n#SBATCH -J stepper\n\(Self.dump)\necho \"ARGS=$*\"\n")
    try c.startDaemon()
    let id = try c.submit(["--wait", "stepper.sbatch", "one", "two words"])
    let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init)!
    for (position, index) in [0, 4, 8, 12].enumerated() {
      let out = c.read("slurm-\(id)_\(index).out")
      let v = variables(out)
      XCTAssertEqual(v["SLURM_ARRAY_TASK_ID"], String(index), out)
      XCTAssertEqual(v["SLURM_ARRAY_JOB_ID"], String(id))
      XCTAssertEqual(v["SLURM_JOB_ID"], String(id + position), "each task has its own job id")
      XCTAssertEqual(v["SLURM_JOBID"], v["SLURM_JOB_ID"])
      XCTAssertEqual(v["SLURM_ARRAY_TASK_COUNT"], "4")
      XCTAssertEqual(v["SLURM_ARRAY_TASK_MIN"], "0")
      XCTAssertEqual(v["SLURM_ARRAY_TASK_MAX"], "12")
      XCTAssertEqual(v["SLURM_ARRAY_TASK_STEP"], "4")
      XCTAssertEqual(v["SLURM_JOB_NAME"], "stepper")
      XCTAssertEqual(v["SLURM_CPUS_PER_TASK"], "unset", "only -c sets SLURM_CPUS_PER_TASK")
      XCTAssertEqual(v["SLURM_CPUS_ON_NODE"], "1")
      XCTAssertEqual(v["SLURM_SUBMIT_DIR"], c.root.path)
      XCTAssertEqual(v["PWD"], c.root.path)
      XCTAssertEqual(v["SLURM_JOB_NODELIST"], host)
      XCTAssertEqual(v["SLURMD_NODENAME"], host)
      XCTAssertEqual(v["SLURM_NODELIST"], host)
      XCTAssertEqual(v["SLURM_NTASKS"], "1")
      XCTAssertEqual(v["SLURM_PROCID"], "0")
      XCTAssertEqual(v["SLURM_LOCALID"], "0")
      XCTAssertEqual(v["SLURM_NODEID"], "0")
      XCTAssertEqual(v["SLURM_JOB_NUM_NODES"], "1")
      XCTAssertEqual(v["SLURM_RESTART_COUNT"], "unset", "SLURM sets it only once a job was restarted")
      XCTAssertEqual(v["ARGS"], "one two words")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.root.path + "/slurm-\(id).out"))
    XCTAssertEqual(
      try c.accounting(id),
      [
        "\(id)_0": "COMPLETED 0:0", "\(id)_4": "COMPLETED 0:0", "\(id)_8": "COMPLETED 0:0",
        "\(id)_12": "COMPLETED 0:0",
      ])
  }

  func testListWithThrottleNeverExceedsIt() throws {
    let c = try Cluster()
    try c.write("list.sbatch", "#!/bin/bash\n#SBATCH --array=1,3,5-7%1\necho $SLURM_ARRAY_TASK_ID\nsleep 0.2\n")
    try c.startDaemon(cpus: "0-1")
    let id = try c.submit(["--wait", "list.sbatch"])
    let times = try c.times(id)
    XCTAssertEqual(Set(times.keys), Set([1, 3, 5, 6, 7].map { "\(id)_\($0)" }))
    // At each start, count the elements running then (from the start and end times recorded).
    for (_, t) in times {
      let running = times.values.filter { $0.start <= t.start && t.start < $0.end }.count
      XCTAssertEqual(running, 1, "%1 lets one element run at a time although two cores are free")
    }
    XCTAssertEqual(c.read("slurm-\(id)_5.out"), "5\n")
  }

  func testCpusPerTaskSetsSlurmCpusPerTask() throws {
    let c = try Cluster()
    try c.write("two.sbatch", "#!/bin/bash\n#SBATCH --cpus-per-task=2\n\(Self.dump)\n")
    try c.startDaemon(cpus: "0-1")
    let id = try c.submit(["--wait", "two.sbatch"])
    let v = variables(c.read("slurm-\(id).out"))
    XCTAssertEqual(v["SLURM_CPUS_PER_TASK"], "2")
    XCTAssertEqual(v["SLURM_CPUS_ON_NODE"], "2")
    XCTAssertEqual(v["OMP_NUM_THREADS"], "2")
    XCTAssertEqual(v["SLURM_ARRAY_TASK_ID"], "unset", "a single job has no array variables")
    XCTAssertEqual(v["SLURM_JOB_NAME"], "two.sbatch", "the job name defaults to the script's name")
  }

  func testOutputAndErrorPatterns() throws {
    let c = try Cluster()
    try FileManager.default.createDirectory(atPath: c.root.path + "/logs", withIntermediateDirectories: true)
    try c.write(
      "pat.sbatch",
      """
      #!/bin/bash
      #SBATCH -J pat --array=2-3
      #SBATCH -o logs/%x-%A-%4a.out
      #SBATCH -e logs/%x-%j-%u.err
      echo "to stdout $SLURM_ARRAY_TASK_ID"
      echo "to stderr" >&2

      """)
    try c.startDaemon()
    let id = try c.submit(["--wait", "pat.sbatch"])
    let user = String(cString: getpwuid(getuid())!.pointee.pw_name)
    for (position, index) in [2, 3].enumerated() {
      XCTAssertEqual(c.read("logs/pat-\(id)-000\(index).out"), "to stdout \(index)\n")
      XCTAssertEqual(c.read("logs/pat-\(id + position)-\(user).err"), "to stderr\n")
    }
    // The command line beats the directive; `%%` is a literal percent.
    let cli = try c.submit(["--wait", "-o", "cli-%a-%%.out", "pat.sbatch"])
    XCTAssertEqual(c.read("cli-2-%.out"), "to stdout 2\n")
    XCTAssertEqual(c.read("logs/pat-\(cli)-\(user).err"), "to stderr\n")
  }

  func testWrapRunsTheCommandUnderSh() throws {
    let c = try Cluster()
    try c.startDaemon()
    let id = try c.submit(["--wait", "--wrap", "echo wrapped $SLURM_JOB_NAME; echo more"])
    XCTAssertEqual(c.read("slurm-\(id).out"), "wrapped wrap\nmore\n")
    let stored = try String(contentsOfFile: c.home + "/scripts/\(id).sh", encoding: .utf8)
    XCTAssertTrue(stored.hasPrefix("#!/bin/sh\n# This script was created by sbatch --wrap."), stored)
    // The same store as sweep jobs: orch logs and history see it; its run directory has config.json.
    XCTAssertEqual(try c.run(["logs", "\(id)"]).out, "wrapped wrap\nmore\n")
    let row = try XCTUnwrap(c.historyRows().first { $0["arrayID"] as? Int == id })
    XCTAssertEqual(row["key"] as? String, "sbatch/wrap/\(id)")
    XCTAssertEqual(row["sweep"] as? String, "sbatch/wrap")
    let config = try String(contentsOfFile: c.home + "/runs/sbatch/wrap/\(id)/config.json", encoding: .utf8)
    XCTAssertTrue(config.contains("\"script_sha256\""), config)
  }

  func testExportNoneKeepsOnlySlurmVariables() throws {
    let c = try Cluster()
    try c.write("none.sbatch", "#!/bin/bash\n#SBATCH --export=NONE\n\(Self.dump)\n")
    try c.startDaemon()
    let id = try c.submit(["--wait", "none.sbatch"], env: ["FOO": "bar", "SLURM_CUSTOM": "kept"])
    let v = variables(c.read("slurm-\(id).out"))
    XCTAssertEqual(v["FOO"], "unset")
    XCTAssertEqual(v["HOME"], "unset")
    XCTAssertEqual(v["SLURM_CUSTOM"], "kept", "the submitter's SLURM_* variables always come along")
    XCTAssertEqual(v["SLURM_JOB_ID"], String(id))
  }

  func testExportListsAddAndCopyVariables() throws {
    let c = try Cluster()
    try c.write("list.sbatch", "#!/bin/bash\n\(Self.dump)\n")
    try c.startDaemon()
    let all = try c.submit(["--wait", "--export=ALL,A=1,B", "list.sbatch"], env: ["FOO": "bar", "B": "two"])
    var v = variables(c.read("slurm-\(all).out"))
    XCTAssertEqual([v["A"], v["B"], v["FOO"]], ["1", "two", "bar"])
    let only = try c.submit(["--wait", "--export=A=1,B", "list.sbatch"], env: ["FOO": "bar", "B": "two"])
    v = variables(c.read("slurm-\(only).out"))
    XCTAssertEqual([v["A"], v["B"], v["FOO"]], ["1", "two", "unset"], "a list without ALL exports only its names")
  }

  func testAfterokOnAWholeArrayWaitsForEveryElement() throws {
    let c = try Cluster()
    try c.write("a.sbatch", "#!/bin/bash\n#SBATCH --array=0-2\nsleep 0.3\n")
    try c.write("b.sbatch", "#!/bin/bash\necho after\n")
    try c.startDaemon()
    let a = try c.submit(["a.sbatch"])
    let b = try c.submit(["--dependency=afterok:\(a)", "b.sbatch"])
    XCTAssertEqual(try c.waitFinished(b), ["\(b)": "COMPLETED 0:0"])
    let aTimes = try c.times(a)
    let bStart = try XCTUnwrap(c.times(b)["\(b)"]).start
    XCTAssertEqual(aTimes.count, 3)
    XCTAssertGreaterThanOrEqual(bStart, aTimes.values.map(\.end).max()!)
  }

  func testAfternotokRunsAndAfterokNeverDoes() throws {
    let c = try Cluster()
    try c.write("fail.sbatch", "#!/bin/bash\nexit 3\n")
    try c.write("echo.sbatch", "#!/bin/bash\necho ran\n")
    try c.startDaemon()
    let a = try c.submit(["fail.sbatch"])
    let notok = try c.submit(["-d", "afternotok:\(a)", "echo.sbatch"])
    let ok = try c.submit(["-d", "afterok:\(a)", "echo.sbatch"])
    let killed = try c.submit(["-d", "afterok:\(a)", "--kill-on-invalid-dep=yes", "echo.sbatch"])
    XCTAssertEqual(try c.waitFinished(a), ["\(a)": "FAILED 3:0"])
    XCTAssertEqual(try c.waitFinished(notok), ["\(notok)": "COMPLETED 0:0"])
    XCTAssertEqual(try c.waitFinished(killed)["\(killed)"]?.hasPrefix("CANCELLED"), true)
    XCTAssertEqual(try c.queueState("\(killed)"), "CANCELLED DependencyNeverSatisfied")
    XCTAssertEqual(try c.queueState("\(a)"), "FAILED NonZeroExitCode")
    try c.waitUntil("afterok is never satisfied") {
      try c.queueState("\(ok)") == "PENDING DependencyNeverSatisfied"
    }
    XCTAssertEqual(c.read("slurm-\(notok).out"), "ran\n")
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.root.path + "/slurm-\(ok).out"))
  }

  func testAftercorrPairsElementsByIndex() throws {
    let c = try Cluster()
    try c.write("a.sbatch", "#!/bin/bash\n#SBATCH --array=0-2\nexit $(( SLURM_ARRAY_TASK_ID == 1 ))\n")
    try c.write("b.sbatch", "#!/bin/bash\n#SBATCH --array=0-2\necho b$SLURM_ARRAY_TASK_ID\n")
    try c.startDaemon()
    let a = try c.submit(["a.sbatch"])
    let b = try c.submit(["--dependency", "aftercorr:\(a)", "b.sbatch"])
    try c.waitUntil("b_0 and b_2 complete, b_1 never runs") {
      let s = try c.accounting(b)
      let pending = try c.queueState("\(b)_1")
      return s["\(b)_0"] == "COMPLETED 0:0" && s["\(b)_2"] == "COMPLETED 0:0"
        && pending == "PENDING DependencyNeverSatisfied"
    }
    XCTAssertEqual(try c.accounting(a)["\(a)_1"], "FAILED 1:0")
    XCTAssertEqual(c.read("slurm-\(b)_2.out"), "b2\n")
  }

  func testAfteranyAfterAndBareIds() throws {
    let c = try Cluster()
    try c.write("fail.sbatch", "#!/bin/bash\nexit 1\n")
    try c.write("echo.sbatch", "#!/bin/bash\necho ran\n")
    try c.startDaemon()
    let a = try c.submit(["fail.sbatch"])
    let any = try c.submit(["-d", "afterany:\(a)", "echo.sbatch"])
    let after = try c.submit(["-d", "after:\(a)", "echo.sbatch"])
    let bare = try c.submit(["-d", "\(a)", "echo.sbatch"])  // SLURM's legacy form means afterany
    for id in [any, after, bare] { XCTAssertEqual(try c.waitFinished(id), ["\(id)": "COMPLETED 0:0"]) }
    let aStart = try XCTUnwrap(c.times(a)["\(a)"])
    XCTAssertGreaterThanOrEqual(try XCTUnwrap(c.times(any)["\(any)"]).start, aStart.end)
    XCTAssertGreaterThanOrEqual(try XCTUnwrap(c.times(after)["\(after)"]).start, aStart.start)
  }

  func testSingletonRunsOneJobOfANameAtATime() throws {
    let c = try Cluster()
    try c.write("solo.sbatch", "#!/bin/bash\n#SBATCH -J solo --dependency=singleton\nsleep 0.4\n")
    try c.startDaemon(cpus: "0-1")
    let first = try c.submit(["solo.sbatch"])
    let second = try c.submit(["solo.sbatch"])
    try c.waitFinished(second)
    let t1 = try XCTUnwrap(c.times(first)["\(first)"])
    let t2 = try XCTUnwrap(c.times(second)["\(second)"])
    XCTAssertGreaterThanOrEqual(t2.start, t1.end, "two cores are free, yet singleton serialises the name")
  }

  func testOrDependencyNeedsOneTerm() throws {
    let c = try Cluster()
    try c.write("fail.sbatch", "#!/bin/bash\nexit 1\n")
    try c.write("ok.sbatch", "#!/bin/bash\ntrue\n")
    try c.startDaemon()
    let bad = try c.submit(["fail.sbatch"])
    let good = try c.submit(["ok.sbatch"])
    let either = try c.submit(["-d", "afterok:\(bad)?afterok:\(good)", "ok.sbatch"])
    XCTAssertEqual(try c.waitFinished(either), ["\(either)": "COMPLETED 0:0"])
  }

  func testUnknownDependencyIsRejectedAndQueuesNothing() throws {
    let c = try Cluster()
    try c.write("ok.sbatch", "#!/bin/bash\ntrue\n")
    try c.startDaemon()
    let a = try c.submit(["--array=0-1", "-H", "ok.sbatch"])
    for dependency in ["afterok:999", "afterok:\(a)_7", "afterany:\(a):999"] {
      let (r, id) = try c.sbatch(["-d", dependency, "ok.sbatch"])
      XCTAssertEqual(r.code, 1, dependency)
      XCTAssertNil(id)
      XCTAssertEqual(r.err, "sbatch: error: Batch job submission failed: Job dependency problem\n")
    }
    XCTAssertEqual(try c.run(["squeue", "-h", "-r", "-o", "%i"]).out, "\(a)_0\n\(a)_1\n", "nothing else was queued")
    let scripts = try FileManager.default.contentsOfDirectory(atPath: c.home + "/scripts")
    XCTAssertEqual(scripts, ["\(a).sh"], "no stored script is left behind")
  }

  func testWaitExitsWithTheHighestTaskExitCode() throws {
    let c = try Cluster()
    try c.write("codes.sbatch", "#!/bin/bash\n#SBATCH --array=0-3\nexit $SLURM_ARRAY_TASK_ID\n")
    try c.write("killed.sbatch", "#!/bin/bash\nkill -9 $$\n")
    try c.startDaemon()
    let (r, id) = try c.sbatch(["--wait", "codes.sbatch"])
    XCTAssertEqual(r.code, 3, r.err)
    let id1 = try XCTUnwrap(id)
    XCTAssertEqual(
      try c.accounting(id1),
      ["\(id1)_0": "COMPLETED 0:0", "\(id1)_1": "FAILED 1:0", "\(id1)_2": "FAILED 2:0", "\(id1)_3": "FAILED 3:0"])
    // squeue and scontrol keep the reason an ended job got, in SLURM's words.
    XCTAssertEqual(try c.queueState("\(id1)_0"), "COMPLETED None")
    XCTAssertEqual(try c.queueState("\(id1)_2"), "FAILED NonZeroExitCode")
    XCTAssertEqual(try c.run(["squeue", "-h", "-t", "all", "-j", "\(id1)_2", "-o", "%R"]).out, "(NonZeroExitCode)\n")
    let (k, killed) = try c.sbatch(["-W", "killed.sbatch"])
    XCTAssertEqual(k.code, 1, "sbatch(1): a job ended by a signal makes --wait exit 1")
    let killedID = try XCTUnwrap(killed)
    XCTAssertEqual(try c.accounting(killedID).values.first, "FAILED 0:9")
    XCTAssertEqual(try c.queueState("\(killedID)"), "FAILED JobLaunchFailure", "slurmctld's reason for a signal")
    XCTAssertTrue(
      try c.run(["scontrol", "show", "job", "\(killedID)"]).out.contains("JobState=FAILED Reason=JobLaunchFailure"))
    let (ok, _) = try c.sbatch(["--wait", "--wrap", "true"])
    XCTAssertEqual(ok.code, 0)
  }

  func testHeldJobsWaitForRelease() throws {
    let c = try Cluster()
    try c.write("held.sbatch", "#!/bin/bash\n#SBATCH --hold\necho released\n")
    try c.startDaemon()
    let held = try c.submit(["held.sbatch"])
    let later = try c.submit(["--wrap", "true"])
    try c.waitFinished(later)
    XCTAssertEqual(try c.queueState("\(held)"), "PENDING JobHeldUser", "a later job ran, the held one did not")
    XCTAssertEqual(try c.run(["scontrol", "release", "\(held)"]).code, 0)
    XCTAssertEqual(try c.waitFinished(held), ["\(held)": "COMPLETED 0:0"])
    XCTAssertEqual(c.read("slurm-\(held).out"), "released\n")
  }

  func testInvalidDirectivesQueueNothing() throws {
    let c = try Cluster()
    try c.write("bogus.sbatch", "#!/bin/bash\n#SBATCH --bogus\ntrue\n")
    try c.write("array.sbatch", "#!/bin/bash\n#SBATCH --array=5-1\ntrue\n")
    try c.write("nobang.sh", "echo no interpreter\n")
    try c.startDaemon()
    let (r, _) = try c.sbatch(["bogus.sbatch"])
    XCTAssertEqual(r.code, 1)
    XCTAssertEqual(
      r.err, "bogus.sbatch:2:9: sbatch: unrecognized option '--bogus'\nTry \"sbatch --help\" for more information\n")
    let (a, _) = try c.sbatch(["array.sbatch"])
    XCTAssertEqual(a.code, 1)
    XCTAssertTrue(a.err.contains("sbatch: error: Invalid --array specification"), a.err)
    let (n, _) = try c.sbatch(["nobang.sh"])
    XCTAssertEqual(n.code, 1)
    XCTAssertTrue(n.err.hasPrefix("sbatch: error: This does not look like a batch script."), n.err)
    let (u, _) = try c.sbatch(["--no-such-option", "bogus.sbatch"])
    XCTAssertEqual(
      u.err, "sbatch: unrecognized option '--no-such-option'\nTry \"sbatch --help\" for more information\n")
    XCTAssertEqual(try c.run(["sacct", "-X", "-n"]).out, "", "nothing was queued")
  }

  /// sbatch takes a script's bytes as they are: one in Latin-1 (`café` as 63 61 66 E9) was refused
  /// ("Unable to open file") because it was read as UTF-8, and one read from stdin would have been
  /// run with U+FFFD in place of the byte. A UTF-8 byte-order mark before `#!`, which decoding
  /// dropped, is refused as sbatch refuses it.
  func testScriptBytesRunUnchangedAndAByteOrderMarkIsRefused() throws {
    let c = try Cluster()
    let latin =
      Array("#!/bin/bash\n# caf".utf8) + [0xE9] + Array("\nprintf 'caf".utf8) + [0xE9]
      + Array("\\n' > \"${1:-stdin.out}\"\n".utf8)
    XCTAssertTrue(FileManager.default.createFile(atPath: c.root.path + "/latin.sbatch", contents: Data(latin)))
    let bom = [0xEF, 0xBB, 0xBF] + Array("#!/bin/bash\ntrue\n".utf8)
    XCTAssertTrue(FileManager.default.createFile(atPath: c.root.path + "/bom.sbatch", contents: Data(bom)))
    try c.startDaemon()
    _ = try c.submit(["--wait", "latin.sbatch", "file.out"])
    XCTAssertEqual(
      Array(try Data(contentsOf: c.root.appendingPathComponent("file.out"))), Array("caf".utf8) + [0xE9, 0x0A])
    let piped = try c.execute(
      "/bin/sh", ["-c", "\"$0\" sbatch --wait --parsable < latin.sbatch", Cluster.binDir + "/orch"], env: [:])
    XCTAssertEqual(piped.code, 0, piped.err)
    XCTAssertEqual(
      Array(try Data(contentsOf: c.root.appendingPathComponent("stdin.out"))), Array("caf".utf8) + [0xE9, 0x0A])
    let (b, _) = try c.sbatch(["bom.sbatch"])
    XCTAssertEqual(b.code, 1)
    XCTAssertTrue(b.err.hasPrefix("sbatch: error: This does not look like a batch script."), b.err)
  }

  func testChdirMovesTheJobButNotTheSubmitDir() throws {
    let c = try Cluster()
    try FileManager.default.createDirectory(atPath: c.root.path + "/work", withIntermediateDirectories: true)
    try c.write("cd.sbatch", "#!/bin/bash\n#SBATCH -D work\n\(Self.dump)\n")
    try c.startDaemon()
    let id = try c.submit(["--wait", "cd.sbatch"])
    let v = variables(c.read("work/slurm-\(id).out"))
    XCTAssertEqual(v["PWD"], c.root.path + "/work")
    XCTAssertEqual(v["SLURM_SUBMIT_DIR"], c.root.path)
  }

  func testOpenModeAppendKeepsEarlierOutput() throws {
    let c = try Cluster()
    try c.write("log.sbatch", "#!/bin/bash\n#SBATCH -o same.out\necho run $SLURM_JOB_ID\n")
    try c.startDaemon()
    let first = try c.submit(["--wait", "log.sbatch"])
    let second = try c.submit(["--wait", "--open-mode=append", "log.sbatch"])
    XCTAssertEqual(c.read("same.out"), "run \(first)\nrun \(second)\n")
    let third = try c.submit(["--wait", "log.sbatch"])
    XCTAssertEqual(c.read("same.out"), "run \(third)\n", "the default mode truncates")
  }

  func testTheScriptRunsAsSubmitted() throws {
    let c = try Cluster()
    try c.write("edit.sbatch", "#!/bin/bash\necho original \"$0\"\n")
    try c.startDaemon()
    let id = try c.submit(["-H", "edit.sbatch"])
    try c.write("edit.sbatch", "#!/bin/bash\necho edited\n")
    XCTAssertEqual(try c.run(["scontrol", "release", "\(id)"]).code, 0)
    try c.waitFinished(id)
    XCTAssertEqual(c.read("slurm-\(id).out"), "original \(c.home)/scripts/\(id).sh\n")
  }

  func testTimeLimitIsKeptInWholeMinutes() throws {
    let c = try Cluster()
    try c.write("limit.sbatch", "#!/bin/bash\n#SBATCH --time=1:30\n#SBATCH -H\ntrue\n")
    let id = try c.submit(["limit.sbatch"])
    // SLURM rounds a limit up to the minute: 1:30 (min:sec) is 2 minutes.
    XCTAssertEqual(try c.run(["squeue", "-h", "-o", "%l", "-j", "\(id)"]).out, "2:00\n")
    XCTAssertEqual(try c.run(["sacct", "-X", "-n", "-P", "-o", "Timelimit", "-j", "\(id)"]).out, "00:02:00\n")
    let show = try c.run(["scontrol", "show", "job", "\(id)"]).out
    XCTAssertTrue(show.contains("TimeLimit=00:02:00"), show)
  }

  func testGpuRequestIsRefusedWithoutGPUsAndRunsWithOne() throws {
    let c = try Cluster()
    try c.write(
      "gpu.sbatch",
      "#!/usr/bin/env bash\n#SBATCH --gres=gpu:1 --partition=gpu --account=lab\necho gpu $CUDA_VISIBLE_DEVICES\n")
    try c.startDaemon(env: ["ORCH_GPUS": "none"])
    let (refused, _) = try c.sbatch(["gpu.sbatch"], env: ["ORCH_PARTITION": "gpu"])
    XCTAssertEqual(refused.code, 1)
    XCTAssertEqual(
      refused.err, "sbatch: error: Batch job submission failed: Requested node configuration is not available\n")
    XCTAssertEqual(try c.historyRows().count, 0)
    c.stopDaemon(kill9: false)
    try c.startDaemon(env: ["ORCH_GPUS": "0"])
    let (r, id) = try c.sbatch(["--wait", "gpu.sbatch"], env: ["ORCH_PARTITION": "gpu"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(c.read("slurm-\(try XCTUnwrap(id)).out"), "gpu 0\n")
  }

}
