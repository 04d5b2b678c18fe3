import ArgumentParser
import CSupport
import Foundation
import Operations
import OrchCore
import SlurmSyntax
import SlurmViews
import System
import Worker

struct Srun: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "srun",
    abstract: "Run a command as a step of the batch job it runs in, or outside one as a job of its own.",
    discussion: """
      The step runs as srun's child in the job's process group, so the job's cancel, time limit and
      --signal reach it directly; srun waits, records the step for sacct (ID.0, ID.1, …) and exits
      with its status. SLURM clients such as submitit wrap their payload this way. Outside a job it
      submits a job (with its -J, -c, --mem, -t, -p, --dependency, --begin) whose step runs the
      command, waits, and prints the command's output.
      Examples:
        srun python train.py --lr 0.1
        srun --unbuffered --output=%j_%t.out --error=%j_%t.err python -u worker.py
      """)

  @Argument(parsing: .captureForPassthrough, help: "srun options, then the command and its arguments.")
  var arguments: [String] = []

  static let flags = SrunOptions.flags

  func run() throws {
    try SlurmTool.run("srun") {
      let args = try SlurmGetopt.parse(arguments, tool: "srun", flags: Self.flags, stopAtOperand: true)
      if SlurmTool.answeredInfo(args, usage: Self.usage, tool: "srun") { return }
      let environment = ProcessInfo.processInfo.environment
      let jobText = environment["SLURM_JOB_ID"].flatMap { Int64($0) != nil ? $0 : nil }
      let node = environment["SLURMD_NODENAME"] ?? SlurmMachine.host
      let jobCPUs = Int(environment["SLURM_CPUS_ON_NODE"] ?? "") ?? 1
      do {
        let check = try SrunOptions.check(args, step: jobText.map { ($0, node, jobCPUs) })
        for line in check.warnings { Output.stderr(line) }
      } catch let error as SrunOptions.Refusal {
        for line in error.lines { Output.stderr(line) }
        throw ExitCode(error.status)
      }
      guard let jobText, let jobID = Int64(jobText) else {
        return try SrunJob.run(args, environment: environment)
      }
      if let other = args.last("jobid"), other != jobText {
        throw OrchError.badInput("srun: error: orch runs steps only in the job they are started from (\(jobText))")
      }
      for name in ["ntasks", "nodes", "ntasks-per-node"] {
        if let value = args.last(name), !["1", "1-1"].contains(value) {
          throw OrchError.badInput("srun: error: --\(name)=\(value) is not supported: orch runs one task per step")
        }
      }
      guard !args.operands.isEmpty else { throw OrchError.badInput("srun: fatal: No command given to execute.") }

      let cpus = Int(args.last("cpus-per-task") ?? "") ?? Int(environment["SLURM_CPUS_ON_NODE"] ?? "") ?? 1
      let log =
        environment["ORCH_RUN_DIR"].map {
          StepLog.path(runDir: $0, attempt: Int(environment["ORCH_ATTEMPT"] ?? "") ?? 1)
        }
        ?? NSTemporaryDirectory() + "/.orch-steps-\(jobID)"
      let name = args.last("job-name") ?? (args.operands[0] as NSString).lastPathComponent
      let step = StepLog.begin(path: log, name: name, cpus: cpus, now: Posix.now())
      var env = environment
      if let text = args.last("export") {
        let export = SbatchValues.export(text)
        env = export.inheritAll ? environment : environment.filter { $0.key.hasPrefix("SLURM_") }
        for variable in export.variables {
          env[variable.name] = variable.value ?? environment[variable.name]
        }
        // The job's own plumbing survives any export list.
        for (k, v) in environment where k.hasPrefix("ORCH_") || k.hasSuffix("_NUM_THREADS") { env[k] = v }
      }
      let host = environment["SLURMD_NODENAME"] ?? SlurmMachine.host
      for (k, v) in [
        "SLURM_STEP_ID": String(step), "SLURM_STEPID": String(step), "SLURM_STEP_NUM_TASKS": "1",
        "SLURM_STEP_NUM_NODES": "1", "SLURM_STEP_NODELIST": host, "SLURM_STEP_TASKS_PER_NODE": "1",
        "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NTASKS": "1", "SLURM_NPROCS": "1",
        "SLURM_LAUNCH_NODE_IPADDR": "127.0.0.1",
      ] {
        env[k] = v
      }
      if let cpus = args.last("cpus-per-task") { env["SLURM_CPUS_PER_TASK"] = cpus }

      let cwd = args.last("chdir") ?? FileManager.default.currentDirectoryPath
      let identity = JobIdentity(
        jobID: jobID, arrayID: Int64(environment["SLURM_ARRAY_JOB_ID"] ?? "") ?? jobID,
        arrayIndex: environment["SLURM_ARRAY_TASK_ID"].flatMap { Int($0) },
        isArray: environment["SLURM_ARRAY_TASK_ID"] != nil, attempt: 1, name: environment["SLURM_JOB_NAME"] ?? "",
        key: "", runDir: "", home: "")
      func path(_ pattern: String) -> String {
        let user = environment["USER"] ?? SlurmMachine.user
        let expanded = OutputPattern.expand(
          Self.stepPattern(pattern, job: jobID, step: step), job: identity, host: host, user: user)
        return expanded.hasPrefix("/") ? expanded : cwd + "/" + expanded
      }
      let append = (args.last("open-mode") ?? "").lowercased().hasPrefix("a")
      let outPath = args.last("output").map(path)
      let errPath = args.last("error").map(path)
      let inPath = args.last("input").map { $0.lowercased() == "none" ? "/dev/null" : path($0) }
      let status = Self.runStep(
        args.operands, env: env, cwd: args.last("chdir"), stdout: outPath, stderr: errPath ?? outPath, stdin: inPath,
        append: append, label: args.has("label"))
      StepLog.end(path: log, step: step, now: Posix.now(), exitCode: status.exitCode, signal: status.signal)
      // srun's own report of a task that failed, on srun's stderr (the batch job's output); with
      // -K it ends the step as well, which for one task is already over.
      let killOnBadExit =
        args.has("kill-on-bad-exit")
        ? args.last("kill-on-bad-exit").map { Int($0) != 0 } ?? true
        : Int(environment["SLURM_KILL_BAD_EXIT"] ?? "").map { $0 != 0 } ?? false
      let terminating = killOnBadExit ? "srun: launch/slurm: _step_signal: Terminating StepId=\(jobID).\(step)\n" : ""
      if let signal = status.signal {
        FileHandle.standardError.write(
          Data(
            ("srun: error: \(host): task 0: \(String(cString: strsignal(signal)))\n" + terminating
              + "srun: Force Terminated StepId=\(jobID).\(step)\n").utf8))
        throw ExitCode(128 + signal)
      }
      if let code = status.exitCode, code != 0 {
        FileHandle.standardError.write(
          Data(("srun: error: \(host): task 0: Exited with exit code \(code)\n" + terminating).utf8))
        throw ExitCode(code)
      }
    }
  }

  /// `%s` (step id) and `%J` (jobid.stepid) are the step's; the rest is OutputPattern's.
  static func stepPattern(_ pattern: String, job: Int64, step: Int) -> String {
    var out = ""
    var chars = Array(pattern)[...]
    while let c = chars.popFirst() {
      guard c == "%" else {
        out.append(c)
        continue
      }
      var width = ""
      while let d = chars.first, d.isASCII, d.isNumber {
        width.append(d)
        chars.removeFirst()
      }
      switch chars.first {
      case "s":
        chars.removeFirst()
        let text = String(step)
        out += String(repeating: "0", count: max(0, (Int(width) ?? 0) - text.count)) + text
      case "J":
        chars.removeFirst()
        out += "\(job).\(step)"
      case "%":
        chars.removeFirst()
        out += "%%"
      default:
        out += "%" + width
      }
    }
    return out
  }

  /// Runs the step as srun's child, in the job's process group (so the job's cancel, time limit
  /// and `--signal` reach it directly), and waits for it. A signal sent to srun by a process of the
  /// job itself (the batch shell's `kill`, `timeout`) is relayed to the step, as srun does; one
  /// from outside (the worker, scancel) already reached the step and is not sent twice.
  static func runStep(
    _ argv: [String], env: [String: String], cwd: String?, stdout: String?, stderr: String?, stdin: String?,
    append: Bool, label: Bool = false
  ) -> (exitCode: Int32?, signal: Int32?) {
    func fail(_ text: String) -> (exitCode: Int32?, signal: Int32?) {
      FileHandle.standardError.write(Data("srun: error: \(text)\n".utf8))
      // SLURM reports a task that could not start with exit code 2.
      return (2, nil)
    }
    if let cwd {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: cwd, isDirectory: &isDirectory), isDirectory.boolValue else {
        return fail("chdir(\(cwd)): \(Posix.errorText(ENOENT))")
      }
    }
    let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
    var opened: [Int32] = []
    defer { for fd in opened { close(fd) } }
    func open(_ path: String?, _ mode: Int32) -> Int32? {
      guard let path else { return -1 }
      let fd = Glibc.open(path, mode, 0o644)
      if fd >= 0 { opened.append(fd) }
      return fd >= 0 ? fd : nil
    }
    guard let input = open(stdin, O_RDONLY | O_CLOEXEC) else {
      return fail("cannot open \(stdin ?? ""): \(Posix.errorText())")
    }
    guard let output = open(stdout, flags) else { return fail("cannot open \(stdout ?? ""): \(Posix.errorText())") }
    guard let error = stderr == stdout ? output : open(stderr, flags) else {
      return fail("cannot open \(stderr ?? ""): \(Posix.errorText())")
    }
    guard let program = Self.resolve(argv[0], path: env["PATH"]) else {
      return fail("execve(): \(argv[0]): \(Posix.errorText(ENOENT))")
    }
    _ = orch_step_signals_block()
    // -l: the task's lines reach their destination through srun, each prefixed with its task
    // number. The relays start after the signals are blocked, so they never take the step's.
    let relays = label ? LabelRelay(output: output, error: error, sameFile: stderr == stdout && stdout != nil) : nil
    defer { relays?.finish() }
    var pid: pid_t = 0
    let cargv = argv.map { strdup($0) } + [nil]
    let cenv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in cargv + cenv { free(p) } }
    let rc = orch_spawn_step(
      &pid, program, cargv, cenv, cwd, input, relays?.taskOutput ?? output, relays?.taskError ?? error)
    relays?.spawned()
    if rc != 0 { return fail("execve(): \(argv[0]): \(Posix.errorText(rc))") }
    let group = getpgrp()
    while true {
      var sender: Int32 = 0
      let signal = orch_step_signals_wait(&sender)
      if signal == SIGCHLD || signal < 0 {
        var status: Int32 = 0
        let done = waitpid(pid, &status, signal < 0 ? 0 : WNOHANG)
        if done == pid {
          let exited = (status & 0x7f) == 0
          return exited ? ((status >> 8) & 0xff, nil) : (nil, status & 0x7f)
        }
        if done < 0 && errno != EINTR { return (1, nil) }
        continue
      }
      if sender > 0 && sender != pid && getpgid(sender) == group { kill(pid, signal) }
    }
  }

  /// The program as execvp would find it with the step's own PATH.
  static func resolve(_ name: String, path: String?) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
      let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + name
      var isDirectory: ObjCBool = false
      if access(candidate, X_OK) == 0, FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory),
        !isDirectory.boolValue
      {
        return candidate
      }
    }
    return nil
  }

  static let usage = """
    Usage: srun [OPTIONS(0)... [executable(0) [args(0)...]]] [ : [OPTIONS(N)...]] executable(N) [args(N)...]
    Inside an sbatch job: runs the command as a step of the job (one task, the job's cores).
      -c, --cpus-per-task=ncpus   sets SLURM_CPUS_PER_TASK for the step
      -D, --chdir=path            working directory of the step
      -e, --error=err             stderr file pattern (%j %J %s %t %N %x %u %A %a %%)
          --export=ALL|NONE|list  environment of the step
      -i, --input=in              stdin file, or none
      -n, --ntasks=1              number of tasks (orch runs one)
      -o, --output=out            stdout (and stderr without -e) file pattern
          --open-mode=append|truncate
      -l, --label                 prefix each line of the task's output with its number (0: )
      -u, --unbuffered            accepted: output is never buffered by orch
    Checked as SLURM checks them, then honoured by one task on one node: -n 1, -N 1, --cpu-bind,
    --mpi=none|pmi2|pmix, --hint, -m/--distribution, -w/--nodelist, -x/--exclude (this node: refused),
    --exclusive, --overlap, -K, --mem, -t, -J, -p, -A, --propagate, --wait, --threads-per-core and
    the other layout, sharing and accounting options. Refused: --multi-prog, --pty, --bcast,
    --prolog/--epilog, --het-group, --container, --test-only.

    Example:
      srun --output=step_%s.out python train.py

    """
}
