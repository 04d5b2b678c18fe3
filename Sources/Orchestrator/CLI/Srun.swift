import ArgumentParser
import Foundation
import Worker

struct Srun: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "srun",
    abstract: "Inside a batch job: run a command as a step of that job (one task, its cores, its output).",
    discussion: """
      The step replaces srun (exec), so signals, exit status and the job's cancel reach it directly;
      SLURM clients such as submitit wrap their payload this way. Outside a job it is an error:
      submit with sbatch (or sbatch --wrap) instead.
      Examples:
        srun python train.py --lr 0.1
        srun --unbuffered --output=%j_%t.out --error=%j_%t.err python -u worker.py
      """)

  @Argument(parsing: .captureForPassthrough, help: "srun options, then the command and its arguments.")
  var arguments: [String] = []

  static let flags: [SlurmFlag] = [
    .init("ntasks", "n", .required), .init("nodes", "N", .required), .init("cpus-per-task", "c", .required),
    .init("output", "o", .required), .init("error", "e", .required), .init("input", "i", .required),
    .init("unbuffered", "u"), .init("label", "l"), .init("job-name", "J", .required), .init("export", nil, .required),
    .init("mem", nil, .required), .init("mem-per-cpu", nil, .required), .init("time", "t", .required),
    .init("cpu-bind", nil, .required), .init("mpi", nil, .required), .init("exclusive", nil, .optional),
    .init("overlap"), .init("kill-on-bad-exit", "K", .optional), .init("gres", nil, .required),
    .init("gpus", "G", .required), .init("partition", "p", .required), .init("account", "A", .required),
    .init("jobid", nil, .required), .init("verbose", "v"), .init("quiet", "Q"), .init("open-mode", nil, .required),
    .init("wait", "W", .required), .init("chdir", "D", .required), .init("ntasks-per-node", nil, .required),
    .init("mem-bind", nil, .required), .init("distribution", "m", .required), .init("hint", nil, .required),
    .init("qos", "q", .required), .init("help", "h"), .init("usage"), .init("version", "V"),
  ]

  func run() throws {
    try SlurmTool.run("srun") {
      let args = try SlurmGetopt.parse(arguments, tool: "srun", flags: Self.flags, stopAtOperand: true)
      if SlurmTool.answeredInfo(args, usage: Self.usage) { return }
      let environment = ProcessInfo.processInfo.environment
      guard let jobText = environment["SLURM_JOB_ID"], let jobID = Int64(jobText) else {
        throw OrchError.badInput(
          "srun: error: orch runs srun only inside a batch job (SLURM_JOB_ID is not set); "
            + "submit with sbatch or sbatch --wrap")
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

      let step = Self.nextStep(runDir: environment["ORCH_RUN_DIR"], jobID: jobID)
      var env = environment
      if let text = args.last("export") {
        let export = SbatchValues.export(text)
        env = export.inheritAll ? environment : environment.filter { $0.key.hasPrefix("SLURM_") }
        for variable in export.variables {
          env[variable.name] = variable.value.map(SbatchSubmit.unquoted) ?? environment[variable.name]
        }
        // The job's own plumbing survives any export list.
        for (k, v) in environment where k.hasPrefix("ORCH_") || k.hasSuffix("_NUM_THREADS") { env[k] = v }
      }
      let host = environment["SLURMD_NODENAME"] ?? SlurmTool.host
      for (k, v) in [
        "SLURM_STEP_ID": String(step), "SLURM_STEPID": String(step), "SLURM_STEP_NUM_TASKS": "1",
        "SLURM_STEP_NUM_NODES": "1", "SLURM_STEP_NODELIST": host, "SLURM_STEP_TASKS_PER_NODE": "1",
        "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NTASKS": "1", "SLURM_NPROCS": "1",
        "SLURM_TASK_PID": String(getpid()), "SLURM_LAUNCH_NODE_IPADDR": "127.0.0.1",
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
        let user = environment["USER"] ?? SlurmTool.user
        let expanded = OutputPattern.expand(
          Self.stepPattern(pattern, job: jobID, step: step), job: identity, host: host, user: user)
        return expanded.hasPrefix("/") ? expanded : cwd + "/" + expanded
      }
      let append = (args.last("open-mode") ?? "").lowercased().hasPrefix("a")
      let outPath = args.last("output").map(path)
      let errPath = args.last("error").map(path)
      let inPath = args.last("input").map { $0.lowercased() == "none" ? "/dev/null" : path($0) }
      try Self.exec(
        args.operands, env: env, cwd: args.last("chdir"), stdout: outPath, stderr: errPath ?? outPath, stdin: inPath,
        append: append)
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

  /// Step ids count from 0 per job, in the job's run directory.
  static func nextStep(runDir: String?, jobID: Int64) -> Int {
    let path = (runDir ?? NSTemporaryDirectory()) + "/.srun-steps-\(jobID)"
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    flock(fd, LOCK_EX)
    var buffer = [UInt8](repeating: 0, count: 32)
    let n = read(fd, &buffer, buffer.count)
    let step = n > 0 ? Int(String(decoding: buffer[0..<n], as: UTF8.self)) ?? 0 : 0
    _ = ftruncate(fd, 0)
    _ = lseek(fd, 0, SEEK_SET)
    _ = Posix.writeAll(fd, Array(String(step + 1).utf8))
    return step
  }

  /// Replaces this process with the step: same pid, same process group, same cores.
  static func exec(
    _ argv: [String], env: [String: String], cwd: String?, stdout: String?, stderr: String?, stdin: String?,
    append: Bool
  ) throws(OrchError) -> Never {
    let flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
    func redirect(_ path: String, _ target: Int32, _ mode: Int32) throws(OrchError) {
      let fd = open(path, mode, 0o644)
      if fd < 0 { throw .failure("srun: error: cannot open \(path): \(Posix.errorText())") }
      if fd != target {
        dup2(fd, target)
        close(fd)
      }
    }
    if let cwd, chdir(cwd) != 0 { throw .failure("srun: error: chdir(\(cwd)): \(Posix.errorText())") }
    if let stdin { try redirect(stdin, 0, O_RDONLY) }
    if let stdout { try redirect(stdout, 1, flags) }
    if let stderr {
      if stderr == stdout {
        dup2(1, 2)
      } else {
        try redirect(stderr, 2, flags)
      }
    }
    let cargv = argv.map { strdup($0) } + [nil]
    let cenv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    // The step's own PATH finds the program, as execvp would with the step's environment.
    var reason = Posix.errorText(ENOENT)
    let search =
      argv[0].contains("/")
      ? [""] : (env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map { $0 + "/" }
    for dir in search {
      execve(dir + argv[0], cargv, cenv)
      if errno != ENOENT { reason = Posix.errorText() }
    }
    FileHandle.standardError.write(Data("srun: error: execve(): \(argv[0]): \(reason)\n".utf8))
    // SLURM reports a task that could not start with exit code 2.
    Glibc.exit(2)
  }

  static let usage = """
    Usage: srun [OPTIONS...] executable [args...]
    Inside an sbatch job: runs the command as a step of the job (one task, the job's cores).
      -c, --cpus-per-task=ncpus   sets SLURM_CPUS_PER_TASK for the step
      -D, --chdir=path            working directory of the step
      -e, --error=err             stderr file pattern (%j %J %s %t %N %x %u %A %a %%)
          --export=ALL|NONE|list  environment of the step
      -i, --input=in              stdin file, or none
      -n, --ntasks=1              number of tasks (orch runs one)
      -o, --output=out            stdout (and stderr without -e) file pattern
          --open-mode=append|truncate
      -u, --unbuffered            accepted: output is never buffered by orch
    Accepted and ignored: -N 1, --cpu-bind, --mpi, --exclusive, --overlap, -K, --mem, -t, -J, -p, -A, -l.

    Example:
      srun --output=step_%s.out python train.py

    """
}
