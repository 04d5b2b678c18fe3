import Foundation
import TestSupport
import XCTest

@testable import Operations
@testable import OrchCore
@testable import SlurmSyntax

/// Command-line rules (getopt_long's), precedence, environment variables and value checks, with
/// scripts held in memory.
final class SbatchOptionTests: XCTestCase {
  let cwd = "/home/u"
  let G = Int64(1) << 30
  static let plain = "#!/bin/sh\ntrue\n"

  func run(
    _ args: [String], env: [String: String] = [:], script: String = plain, name: String = "job.sh"
  ) throws(OrchError) -> SbatchRequest {
    let files = ["/home/u/\(name)": script, Sbatch.standardInput: script]
    return try Sbatch.parse(
      arguments: args, environment: env,
      readFile: { path in
        guard let text = files[path] else { throw CocoaError(.fileNoSuchFile) }
        return text
      }, cwd: cwd)
  }

  func rejected(
    _ args: [String], env: [String: String] = [:], script: String = plain,
    file: StaticString = #filePath, line: UInt = #line
  ) -> String {
    slurmRejection({ () throws(OrchError) in try run(args, env: env, script: script) }, file: file, line: line)
  }

  // MARK: getopt_long

  func testEveryWayToSpellAnOption() throws {
    let forms = [
      ["-a", "0-3"], ["-a0-3"], ["--array=0-3"], ["--array", "0-3"], ["--arr=0-3"], ["--arr", "0-3"],
      ["--ar=0-3"],
    ]
    for form in forms {
      XCTAssertEqual(try run(form + ["job.sh"]).array, ArraySpec(indices: [0, 1, 2, 3]), "\(form)")
    }
  }

  func testClusteredShortOptions() throws {
    let r = try run(["-HWc2", "job.sh"])
    XCTAssertTrue(r.hold)
    XCTAssertTrue(r.wait)
    XCTAssertEqual(r.cpusPerTask, 2)
  }

  func testFirstOperandIsTheScriptAndTheRestAreItsArguments() throws {
    let r = try run(["-c", "2", "job.sh", "-c", "5", "--foo", "--"])
    XCTAssertEqual(r.scriptPath, "/home/u/job.sh")
    XCTAssertEqual(r.scriptArguments, ["-c", "5", "--foo", "--"])
    XCTAssertEqual(r.cpusPerTask, 2)
    XCTAssertEqual(r.jobName, "job.sh")
  }

  func testDoubleDashEndsOptions() throws {
    let r = try run(["-J", "x", "--", "-odd.sh", "a"], name: "-odd.sh")
    XCTAssertEqual(r.scriptPath, "/home/u/-odd.sh")
    XCTAssertEqual(r.scriptArguments, ["a"])
  }

  func testRequiredArgumentMayStartWithDash() throws {
    XCTAssertEqual(try run(["-J", "-x-", "job.sh"]).jobName, "-x-")
    XCTAssertEqual(try run(["--job-name", "--odd", "job.sh"]).jobName, "--odd")
  }

  func testUniquePrefixes() throws {
    XCTAssertEqual(try run(["--job=x", "job.sh"]).jobName, "x")
    XCTAssertEqual(try run(["--dep", "afterok:5", "job.sh"]).dependency?.description, "afterok:5")
    XCTAssertEqual(try run(["--kill=yes", "job.sh"]).killOnInvalidDependency, true)
    XCTAssertTrue(try run(["--parsa", "job.sh"]).parsable)
    XCTAssertEqual(try run(["--ntasks-per-n=1", "job.sh"]).jobName, "job.sh")
    XCTAssertEqual(try run(["--cpus-per-t=3", "job.sh"]).cpusPerTask, 3)
    // An exact name wins over longer names it prefixes.
    XCTAssertEqual(try run(["--mem=1G", "job.sh"]).memoryPerNode, G)
    XCTAssertTrue(try run(["--wait", "job.sh"]).wait)
  }

  func testAmbiguousPrefixes() {
    XCTAssertEqual(
      rejected(["--par", "job.sh"]), "sbatch: option '--par' is ambiguous; possibilities: '--parsable' '--partition'")
    XCTAssertEqual(
      rejected(["--ex=1", "job.sh"]),
      "sbatch: option '--ex=1' is ambiguous; possibilities: '--exclude' '--exclusive' '--export' '--export-file' '--extra' '--extra-node-info'"
    )
    XCTAssertEqual(
      rejected(["--wa", "job.sh"]), "sbatch: option '--wa' is ambiguous; possibilities: '--wait' '--wait-all-nodes'")
    XCTAssertEqual(
      rejected(["--mem-per=1G", "job.sh"]),
      "sbatch: option '--mem-per=1G' is ambiguous; possibilities: '--mem-per-cpu' '--mem-per-gpu'")
  }

  func testRejectionsWordedAsGetoptDoes() {
    XCTAssertEqual(rejected(["--foo", "job.sh"]), "sbatch: unrecognized option '--foo'")
    XCTAssertEqual(rejected(["--foo=bar", "job.sh"]), "sbatch: unrecognized option '--foo=bar'")
    XCTAssertEqual(rejected(["-z", "job.sh"]), "sbatch: invalid option -- 'z'")
    XCTAssertEqual(rejected(["-Hz", "job.sh"]), "sbatch: invalid option -- 'z'")
    XCTAssertEqual(rejected(["--parsable=1", "job.sh"]), "sbatch: option '--parsable' doesn't allow an argument")
    XCTAssertEqual(rejected(["--pars=1", "job.sh"]), "sbatch: option '--parsable' doesn't allow an argument")
    XCTAssertEqual(rejected(["-a"]), "sbatch: option requires an argument -- 'a'")
    XCTAssertEqual(rejected(["--array"]), "sbatch: option '--array' requires an argument")
    XCTAssertEqual(
      Sbatch.diagnostic(for: .badInput("sbatch: invalid option -- 'z'")),
      "sbatch: invalid option -- 'z'\nTry \"sbatch --help\" for more information")
    XCTAssertEqual(
      Sbatch.diagnostic(for: .badInput("sbatch: error: Invalid --time specification")),
      "sbatch: error: Invalid --time specification")
  }

  func testRealSbatchOptionsOrchCannotHonour() throws {
    XCTAssertEqual(rejected(["--deadline=now+1hour", "job.sh"]), "sbatch: error: --deadline is not supported by orch")
    // A node list is read here and checked against this machine at submission
    // (SlurmDifferentialTests' single_node_options).
    XCTAssertEqual(try run(["-w", "node[1-2]", "-x", "gpu[07,13]", "job.sh"]).nodeList, ["node1", "node2"])
    XCTAssertEqual(try run(["-x", "gpu[07,13]", "job.sh"]).excludedNodes, ["gpu07", "gpu13"])
    XCTAssertEqual(try run(["--mincpus=3", "-c", "2", "job.sh"]).cpusPerTask, 3)
    // Issue 18: a partition other than orch's one is refused, as SLURM refuses one it lacks.
    XCTAssertEqual(
      rejected(["-p", "debug", "job.sh"]),
      "sbatch: error: Batch job submission failed: Invalid partition name specified")
  }

  func testHelpUsageVersionStopEverythingElse() throws {
    XCTAssertEqual(try run(["--help", "--foo", "missing.sh"]).info, .help)
    XCTAssertEqual(try run(["-h"]).info, .help)
    XCTAssertEqual(try run(["--usage"]).info, .usage)
    XCTAssertEqual(try run(["-V", "job.sh"]).info, .version)
    XCTAssertEqual(rejected(["--foo", "--help"]), "sbatch: unrecognized option '--foo'")
  }

  // MARK: precedence

  func testCommandLineOverEnvironmentOverDirectives() throws {
    let script = """
      #!/bin/bash
      #SBATCH -J from-directive -o directive.out -t 10 -c 2 --open-mode=append -a 0-1
      #SBATCH --dependency=afterok:1 --signal=USR1 --export=NONE
      true
      """
    let env = [
      "SBATCH_JOB_NAME": "from-env", "SBATCH_OUTPUT": "env.out", "SBATCH_TIMELIMIT": "20",
      "SBATCH_ARRAY_INX": "5-6", "SBATCH_DEPENDENCY": "afterany:2", "SBATCH_EXPORT": "ALL,X=1",
      "SBATCH_PARTITION": "local",
    ]
    let r = try run(["-J", "from-cli", "-c", "4", "--signal=TERM@10"], env: env, script: script)
    XCTAssertEqual(r.jobName, "from-cli")
    XCTAssertEqual(r.output, "env.out")
    XCTAssertEqual(r.timeLimit, 20 * 60)
    XCTAssertEqual(r.cpusPerTask, 4)
    XCTAssertEqual(r.openMode, .append)
    XCTAssertEqual(r.array, ArraySpec(indices: [5, 6]))
    XCTAssertEqual(r.dependency, DependencySpec(terms: [.init(kind: .afterany, jobID: 2)]))
    XCTAssertEqual(r.signal, .init(number: SIGTERM, seconds: 10))
    XCTAssertEqual(r.export, .init(inheritAll: true, variables: [.init("X", "1")]))
    XCTAssertEqual(r.warnings, [])

    let cli = try run(["-a", "7", "-o", "cli.out", "-t", "30", "-d", "3", "--export=NONE"], env: env, script: script)
    XCTAssertEqual(cli.array, ArraySpec(indices: [7]))
    XCTAssertEqual(cli.output, "cli.out")
    XCTAssertEqual(cli.timeLimit, 30 * 60)
    XCTAssertEqual(cli.dependency, DependencySpec(terms: [.init(kind: .afterany, jobID: 3)]))
    XCTAssertEqual(cli.export, .none)
  }

  func testMoreEnvironmentVariables() throws {
    let env = [
      "SBATCH_CPUS_PER_TASK": "3", "SBATCH_ERROR": "e.err", "SBATCH_OPEN_MODE": "append",
      "SBATCH_MEM_PER_NODE": "2G", "SBATCH_SIGNAL": "B:USR2@30", "SBATCH_WAIT": "1",
      "SBATCH_QOS": "high", "SBATCH_ACCOUNT": "acct",
    ]
    let r = try run(["job.sh"], env: env)
    XCTAssertEqual(r.cpusPerTask, 3)
    XCTAssertTrue(r.cpusPerTaskGiven)
    XCTAssertEqual(r.error, "e.err")
    XCTAssertEqual(r.openMode, .append)
    XCTAssertEqual(r.memoryPerNode, 2 * G)
    XCTAssertEqual(r.signal, .init(batchOnly: true, number: SIGUSR2, seconds: 30))
    XCTAssertTrue(r.wait)
    XCTAssertEqual(try run(["-c", "5", "job.sh"], env: env).cpusPerTask, 5)
    XCTAssertEqual(try run(["-e", "cli.err", "job.sh"], env: env).error, "cli.err")
  }

  func testEnvironmentFlagsFollowSlurmsRule() throws {
    XCTAssertTrue(try run(["job.sh"], env: ["SBATCH_WAIT": ""]).wait)
    XCTAssertTrue(try run(["job.sh"], env: ["SBATCH_WAIT": "yes"]).wait)
    XCTAssertFalse(try run(["job.sh"], env: ["SBATCH_WAIT": "0"]).wait)
    XCTAssertTrue(try run(["-W", "job.sh"], env: ["SBATCH_WAIT": "0"]).wait)
    XCTAssertEqual(try run(["job.sh"], env: ["SBATCH_REQUEUE": "1"]).requeue, true)
    XCTAssertEqual(try run(["job.sh"], env: ["SBATCH_NO_REQUEUE": "1"]).requeue, false)
    XCTAssertEqual(try run(["job.sh"], env: ["SBATCH_NO_REQUEUE": "1", "SBATCH_REQUEUE": "1"]).requeue, true)
    XCTAssertEqual(try run(["--no-requeue", "job.sh"], env: ["SBATCH_REQUEUE": "1"]).requeue, false)
    // "no" resets the option to unset, even over a directive.
    let script = "#!/bin/sh\n#SBATCH --no-requeue\ntrue\n"
    XCTAssertNil(try run(["job.sh"], env: ["SBATCH_REQUEUE": "no"], script: script).requeue)
  }

  func testEnvironmentErrorsNameTheVariable() {
    XCTAssertEqual(
      rejected(["job.sh"], env: ["SBATCH_TIMELIMIT": "soon"]),
      "sbatch: error: Invalid --time specification: bad time 'soon': expected min, min:sec, h:m:s, d-h, d-h:m or d-h:m:s (from SBATCH_TIMELIMIT)"
    )
  }

  func testUnhonouredEnvironmentVariablesWarn() throws {
    XCTAssertEqual(
      try run(["job.sh"], env: ["SBATCH_RESERVATION": "maint", "SBATCH_PARTITION": "local"]).warnings,
      ["sbatch: warning: orch ignores SBATCH_RESERVATION"])
  }

  // MARK: memory

  func testMemoryOptionsFollowSlurmsExclusionRule() throws {
    let memDirective = "#!/bin/sh\n#SBATCH --mem=4G\ntrue\n"
    XCTAssertEqual(
      rejected(["--mem-per-cpu=1G", "job.sh"], script: memDirective),
      "sbatch: fatal: --mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive.")
    XCTAssertEqual(
      rejected(["--mem=1G", "--mem-per-cpu=1G", "job.sh"]),
      "sbatch: fatal: --mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive.")
    XCTAssertEqual(
      rejected(["job.sh"], env: ["SBATCH_MEM_PER_NODE": "1G", "SBATCH_MEM_PER_CPU": "1G"]),
      "sbatch: fatal: SBATCH_MEM_PER_CPU and SBATCH_MEM_PER_NODE are mutually exclusive.")

    let r = try run(["--mem-per-cpu=1G", "-c", "2", "job.sh"], env: ["SBATCH_MEM_PER_NODE": "8G"])
    XCTAssertNil(r.memoryPerNode)
    XCTAssertEqual(r.memoryPerCPU, G)
    XCTAssertEqual(r.memoryLimit, 2 * G)

    // A directive counts as the command line here, so it beats the environment (SLURM does this).
    let perCPU = "#!/bin/sh\n#SBATCH --mem-per-cpu=1G\ntrue\n"
    let d = try run(["job.sh"], env: ["SBATCH_MEM_PER_NODE": "8G"], script: perCPU)
    XCTAssertEqual(d.memoryLimit, G)

    XCTAssertNil(try run(["--mem=0", "job.sh"]).memoryLimit)
    XCTAssertEqual(
      rejected(["--mem=9999999999T", "job.sh"]),
      "sbatch: error: Invalid --mem specification: bad memory '9999999999T': too large")
    XCTAssertEqual(
      rejected(["--mem=lots", "job.sh"]),
      "sbatch: error: Invalid --mem specification: bad memory 'lots': expected an integer with an optional unit K, M, G or T (default M)"
    )
  }

  /// Issue 13 item 6: `--mem-per-cpu=8000000T -c 2` parsed, and the job's limit (per CPU × CPUs)
  /// then overflowed with SIGILL at submission, leaving the stored script behind. Each value fits;
  /// their product is refused, from the command line, a directive or the environment alike.
  func testMemoryPerCPUTimesCPUsMustFit() throws {
    let overflow =
      "sbatch: error: Invalid --mem-per-cpu specification: 8388608000000M per CPU × 2 CPUs is over 8796093022207M, the most memory orch can count"
    XCTAssertEqual(rejected(["-c", "2", "--mem-per-cpu=8000000T", "job.sh"]), overflow)
    XCTAssertEqual(rejected(["-c2", "job.sh"], script: "#!/bin/sh\n#SBATCH --mem-per-cpu=8000000T\ntrue\n"), overflow)
    XCTAssertEqual(
      rejected(["job.sh"], env: ["SBATCH_MEM_PER_CPU": "8000000T", "SBATCH_CPUS_PER_TASK": "2"]), overflow)
    XCTAssertEqual(
      rejected(["-c", "9223372036854775807", "--mem-per-cpu=2", "job.sh"]),
      "sbatch: error: Invalid --mem-per-cpu specification: 2M per CPU × 9223372036854775807 CPUs is over 8796093022207M, the most memory orch can count"
    )
    let one = try run(["--mem-per-cpu=8000000T", "job.sh"])
    XCTAssertEqual(one.memoryLimit, 8_000_000 << 40)
    let largest = try run(["-c", "8", "--mem-per-cpu=1048575T", "job.sh"])
    XCTAssertEqual(largest.memoryLimit, 8 * (1_048_575 << 40))
  }

  // MARK: values

  func testOneTaskOneNodeOnly() throws {
    XCTAssertTrue(try run(["-n", "1", "job.sh"]).ntasksGiven)
    XCTAssertEqual(
      rejected(["-n", "4", "job.sh"]),
      "sbatch: error: --ntasks=4 is not supported: orch runs a batch job as one task on one machine; use -c for more CPUs"
    )
    XCTAssertEqual(rejected(["-n", "0", "job.sh"]), "sbatch: error: Invalid numeric value \"0\" for --ntasks.")
    XCTAssertEqual(rejected(["-c", "0", "job.sh"]), "sbatch: error: Invalid numeric value \"0\" for --cpus-per-task.")
    XCTAssertEqual(
      rejected(["-c", "2x", "job.sh"]), "sbatch: error: Invalid numeric value \"2x\" for --cpus-per-task.")
    XCTAssertNoThrow(try run(["-N", "1", "job.sh"]))
    XCTAssertNoThrow(try run(["-N1-1", "job.sh"]))
    XCTAssertEqual(
      rejected(["-N", "2", "job.sh"]),
      "sbatch: error: --nodes=2 is not supported: orch runs every job on this one machine; use 1")
    XCTAssertEqual(
      rejected(["-N", "1-2", "job.sh"]),
      "sbatch: error: --nodes=1-2 is not supported: orch runs every job on this one machine; use 1")
    XCTAssertEqual(rejected(["-N", "x", "job.sh"]), "sbatch: error: \"x\" is not a valid node count")
    XCTAssertNoThrow(try run(["--ntasks-per-node=1", "--tasks-per-node=1", "job.sh"]))
    XCTAssertEqual(
      rejected(["--ntasks-per-node=2", "job.sh"]),
      "sbatch: error: --ntasks-per-node=2 is not supported: orch runs a batch job as one task; use 1")
  }

  func testTimeForms() throws {
    let cases: [(String, Int?)] = [
      ("5", 300), ("5:30", 360), ("1:00:00", 3600), ("1-2", 93_600), ("1-0:1", 86_460),
      ("1-0:0:1", 86_460), ("0", nil), ("-1", nil), ("INFINITE", nil), ("unlimited", nil),
    ]
    for (text, seconds) in cases {
      XCTAssertEqual(try run(["-t", text, "job.sh"]).timeLimit, seconds, text)
    }
    XCTAssertEqual(
      rejected(["-t", "1:2:3:4", "job.sh"]),
      "sbatch: error: Invalid --time specification: bad time '1:2:3:4': expected min, min:sec, h:m:s, d-h, d-h:m or d-h:m:s"
    )
  }

  func testDependencyForms() throws {
    XCTAssertEqual(
      try run(["-d", "12", "job.sh"]).dependency, DependencySpec(terms: [.init(kind: .afterany, jobID: 12)]))
    XCTAssertEqual(
      try run(["-d", "12?afterok:13", "job.sh"]).dependency,
      DependencySpec(terms: [.init(kind: .afterany, jobID: 12), .init(kind: .afterok, jobID: 13)], isOr: true))
    XCTAssertEqual(
      try run(["-d", "12,afterok:12", "job.sh"]).dependency,
      DependencySpec(terms: [.init(kind: .afterany, jobID: 12), .init(kind: .afterok, jobID: 12)]))
    XCTAssertEqual(
      try run(["--dependency=singleton", "job.sh"]).dependency, DependencySpec(terms: [.init(kind: .singleton)]))
    XCTAssertNil(try run(["-d", "", "job.sh"]).dependency)
    XCTAssertEqual(
      rejected(["-d", "afterok:12,afterok:x", "job.sh"]),
      "sbatch: error: Invalid --dependency specification: --dependency 'afterok:12,afterok:x': job id 'x' is not a job id; expected a whole number ≥ 1 such as 12"
    )
    XCTAssertEqual(
      rejected(["-d", "12,x", "job.sh"]),
      "sbatch: error: Invalid --dependency specification: --dependency '12,x' has unknown type 'x'; expected after, afterany, afterok, afternotok, aftercorr or singleton"
    )
    XCTAssertEqual(
      rejected(["-d", "12+5", "job.sh"]),
      "sbatch: error: Invalid --dependency specification: --dependency '12+5' puts a '+minutes' delay on afterany; only after:id+minutes takes one"
    )
    XCTAssertEqual(
      rejected(["--kill-on-invalid-dep=maybe", "job.sh"]), "sbatch: error: Invalid --kill-on-invalid-dep specification")
  }

  func testSignalForms() throws {
    let cases: [(String, SbatchRequest.Signal)] = [
      ("USR1", .init(number: SIGUSR1)), ("sigterm@30", .init(number: SIGTERM, seconds: 30)),
      ("B:15@5", .init(batchOnly: true, number: 15, seconds: 5)), ("b:SIGINT", .init(batchOnly: true, number: SIGINT)),
    ]
    for (text, signal) in cases {
      XCTAssertEqual(try run(["--signal=\(text)", "job.sh"]).signal, signal, text)
    }
    let r = try run(["--signal=R:USR2", "job.sh"])
    XCTAssertEqual(r.signal, .init(number: SIGUSR2))
    XCTAssertEqual(r.warnings, ["sbatch: warning: orch has no reservations: R: in --signal=R:USR2 has no effect"])
    for bad in ["NOPE", "USR1@x", "0", "USR1@70000", "X:USR1"] {
      XCTAssertEqual(rejected(["--signal=\(bad)", "job.sh"]), "sbatch: error: Invalid --signal specification", bad)
    }
  }

  func testExportForms() throws {
    XCTAssertEqual(try run(["--export=ALL", "job.sh"]).export, .all)
    XCTAssertEqual(try run(["--export=none", "job.sh"]).export, .none)
    XCTAssertEqual(try run(["--export=NIL", "job.sh"]).export, .none)
    XCTAssertEqual(
      try run(["--export=A=1,B", "job.sh"]).export, .init(inheritAll: false, variables: [.init("A", "1"), .init("B")]))
    XCTAssertEqual(
      try run(["--export=ALL,A='x,y',B=", "job.sh"]).export,
      .init(inheritAll: true, variables: [.init("A", "'x,y'"), .init("B", "")]))
    XCTAssertEqual(try run(["job.sh"]).export, .all)
  }

  func testOutputDefaultsAndNone() throws {
    XCTAssertEqual(try run(["job.sh"]).output, "slurm-%j.out")
    XCTAssertNil(try run(["job.sh"]).error)
    XCTAssertEqual(try run(["-a", "0-1", "job.sh"]).output, "slurm-%A_%a.out")
    let r = try run(["-e", "err.txt", "job.sh"])
    XCTAssertEqual(r.output, "slurm-%j.out")
    XCTAssertEqual(r.error, "err.txt")
    XCTAssertEqual(try run(["-o", "none", "-e", "NONE", "job.sh"]).output, "/dev/null")
    XCTAssertEqual(try run(["-o", "none", "-e", "NONE", "job.sh"]).error, "/dev/null")
    XCTAssertEqual(rejected(["--open-mode=replace", "job.sh"]), "sbatch: error: Invalid --open-mode specification")
  }

  func testChdir() throws {
    XCTAssertEqual(try run(["-D", "/scratch/x", "job.sh"]).workingDirectory, "/scratch/x")
    let r = try run(["--chdir=runs/a", "job.sh"])
    XCTAssertEqual(r.workingDirectory, "/home/u/runs/a")
    XCTAssertEqual(r.submitDirectory, "/home/u")
    XCTAssertEqual(try run(["job.sh"]).workingDirectory, "/home/u")
  }

  func testGPURequestsAreParsedAndOtherGenericResourcesFail() throws {
    let both = try run(["--gpus=2", "--gpus-per-task=2", "job.sh"])
    XCTAssertEqual(both.gpus, GPURequest(count: 2))
    XCTAssertEqual(both.warnings, [])
    XCTAssertEqual(try run(["--gres=gpu:A100:2", "job.sh"]).gpus, GPURequest(count: 2, type: "a100"))
    XCTAssertEqual(try run(["-G", "v100:1", "job.sh"]).gpus, GPURequest(count: 1, type: "v100"))
    XCTAssertNil(try run(["--gres=none", "job.sh"]).gpus)
    XCTAssertNil(try run(["--gres=gpu:0", "job.sh"]).gpus)
    let invalid = "sbatch: error: Invalid generic resource (gres) specification"
    XCTAssertEqual(rejected(["--gres=gpu:a100:2,gres/gpu:1", "job.sh"]), invalid)
    XCTAssertEqual(rejected(["--gres=tmpdisk:10", "job.sh"]), invalid)
    XCTAssertEqual(rejected(["--gpus=abc", "job.sh"]), invalid)
    // Options that disagree on one node with one task.
    XCTAssertEqual(rejected(["--gpus=2", "--gres=gpu:1", "job.sh"]), invalid)
  }

  func testIgnoredClusterOptionsStillValidate() throws {
    XCTAssertNoThrow(
      try run([
        "-p", "local", "-A", "acct", "-q", "normal", "--mail-type=BEGIN,END", "--mail-user=a@b", "--exclusive",
        "--exclusive=user", "--wckey=w", "-C", "intel", "--comment", "hi", "job.sh",
      ]))
    XCTAssertEqual(rejected(["--mail-type=SOMETIMES", "job.sh"]), "sbatch: error: Invalid --mail-type specification")
    XCTAssertEqual(rejected(["--exclusive=always", "job.sh"]), "sbatch: error: Invalid --exclusive specification")
    // An optional argument must be attached: the next word is the script.
    XCTAssertEqual(try run(["--exclusive", "job.sh"]).scriptPath, "/home/u/job.sh")
  }

  // MARK: scripts

  func testWrap() throws {
    let r = try run(["--wrap", "echo hi; sleep 1"])
    XCTAssertEqual(r.wrap, "echo hi; sleep 1")
    XCTAssertEqual(
      String(decoding: r.script, as: UTF8.self),
      "#!/bin/sh\n# This script was created by sbatch --wrap.\n\necho hi; sleep 1\n")
    XCTAssertEqual(r.interpreter, ["/bin/sh"])
    XCTAssertEqual(r.jobName, "wrap")
    XCTAssertNil(r.scriptPath)
    XCTAssertEqual(try run(["-J", "named", "--wrap=true"]).jobName, "named")
    XCTAssertEqual(
      rejected(["--wrap=true", "job.sh"]), "sbatch: error: Script arguments not permitted with --wrap option")
  }

  func testScriptFromStandardInput() throws {
    let r = try run(["-c", "2"], script: "#!/bin/bash\n#SBATCH -J piped\ntrue\n")
    XCTAssertNil(r.scriptPath)
    XCTAssertEqual(r.jobName, "piped")
    XCTAssertEqual(try run([]).jobName, "sbatch")
  }

  func testScriptChecks() {
    XCTAssertEqual(rejected(["missing.sh"]), "sbatch: error: Unable to open file missing.sh")
    XCTAssertEqual(rejected(["job.sh"], script: ""), "sbatch: error: Batch script is empty!")
    XCTAssertEqual(rejected(["job.sh"], script: " \n\t\n"), "sbatch: error: Batch script contains only whitespace!")
    XCTAssertEqual(
      rejected(["job.sh"], script: "#!/bin/sh\necho \0\n"),
      "sbatch: error: The Slurm controller does not allow scripts that contain a NULL character '\\0'.")
    XCTAssertEqual(
      rejected(["job.sh"], script: "#!/bin/sh\r\ntrue\r\n"),
      "sbatch: error: Batch script contains DOS line breaks (\\r\\n) instead of expected UNIX line breaks (\\n).")
    XCTAssertEqual(
      rejected(["job.sh"], script: "#!   \ntrue\n"),
      "sbatch: error: the #! line names no interpreter; expected a path such as #!/bin/bash")
  }

  func testShebangSplitsLikeTheKernel() throws {
    XCTAssertEqual(try run(["job.sh"], script: "#! /bin/bash\ntrue\n").interpreter, ["/bin/bash"])
    XCTAssertEqual(try run(["job.sh"], script: "#!/bin/sh   \ntrue\n").interpreter, ["/bin/sh"])
    XCTAssertEqual(
      try run(["job.sh"], script: "#!/usr/bin/env -S python3 -u \nprint(1)\n").interpreter,
      ["/usr/bin/env", "-S python3 -u"])
  }

  func testDirectiveScanningDetails() throws {
    // An empty quoted word ends the directive line, as SLURM's get_argument returns nothing.
    let empty = "#!/bin/sh\n#SBATCH -c 4 \"\" -J skipped\ntrue\n"
    let r = try run(["job.sh"], script: empty)
    XCTAssertEqual(r.cpusPerTask, 4)
    XCTAssertEqual(r.jobName, "job.sh")
    // `#SBATCH` needs no space after it, and first-pass options are ignored in directives.
    let tight = "#!/bin/sh\n#SBATCH--job-name=tight\n#SBATCH --wrap=ignored --help\n#SBATCH -Q\ntrue\n"
    let t = try run(["job.sh"], script: tight)
    XCTAssertEqual(t.jobName, "tight")
    XCTAssertNil(t.wrap)
    XCTAssertNil(t.info)
    XCTAssertFalse(t.quiet)
    // Escaped quotes and quotes inside words.
    let quoted = "#!/bin/sh\n#SBATCH --comment=\"a \\\"b\\\"\" -J pre'fix 'post\ntrue\n"
    XCTAssertEqual(try run(["job.sh"], script: quoted).jobName, "prefix post")
    // SLURM tests for a blank before it looks at a backslash, so `\ ` does not join words.
    let blank = "#!/bin/sh\n#SBATCH -J a\\ b\ntrue\n"
    XCTAssertEqual(
      slurmRejection({ () throws(OrchError) in try run(["job.sh"], script: blank) }),
      "sbatch: error: Invalid directive found in batch script: b")
    // Values are checked as getopt yields them, before a later unknown option or stray word.
    let order = "#!/bin/sh\n#SBATCH -t forever\n#SBATCH --foo stray\ntrue\n"
    XCTAssertEqual(
      slurmRejection({ () throws(OrchError) in try run(["job.sh"], script: order) }),
      "sbatch: error: Invalid --time specification: bad time 'forever': expected min, min:sec, h:m:s, d-h, d-h:m or d-h:m:s"
    )
    let het = "#!/bin/sh\n#SBATCH -c 1\n#SBATCH hetjob\n#SBATCH -c 2\ntrue\n"
    let error = slurmRejection({ () throws(OrchError) in try run(["job.sh"], script: het) })
    XCTAssertEqual(error, "sbatch: error: orch does not support heterogeneous jobs (#SBATCH hetjob)")
  }

  func testArrayErrors() {
    XCTAssertEqual(
      rejected(["-a", "3-1", "job.sh"]),
      "sbatch: error: Invalid --array specification: --array '3-1' has descending range '3-1'; expected A-B with A ≤ B")
  }
}
