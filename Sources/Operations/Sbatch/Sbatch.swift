import OrchCore
import Registry
import SlurmSyntax

/// The front half of `orch sbatch [OPTIONS] SCRIPT [ARGS…]`: parsing and validation only.
///
/// Order of work follows sbatch: the command line is scanned first (getopt errors, `--help`,
/// `--wrap`, the script name), then the script is read and checked, then options are applied
/// from the `#SBATCH` directives, the `SBATCH_*` environment and the command line, in that
/// order, so a later source overrides an earlier one.
public enum Sbatch {
  /// Passed to `readFile` when no script is named and there is no `--wrap`: sbatch then reads
  /// the script from standard input.
  public static let standardInput = "/dev/stdin"

  /// The line sbatch prints after a getopt error.
  public static let usageHint = "Try \"sbatch --help\" for more information"

  /// What sbatch writes to stderr for `error`: its one line, plus the usage hint after getopt's
  /// own messages (those are the ones without `error:`/`fatal:`).
  public static func diagnostic(for error: OrchError) -> String {
    let m = error.message
    let fromGetopt = m.hasPrefix("sbatch: ") && !m.hasPrefix("sbatch: error: ") && !m.hasPrefix("sbatch: fatal: ")
    return fromGetopt ? "\(error.description)\n\(usageHint)" : error.description
  }

  /// `parse` with a script given as text.
  public static func parse(
    arguments: [String], environment: [String: String], readFile: (String) throws -> String, cwd: String
  ) throws(OrchError) -> SbatchRequest {
    try parse(arguments: arguments, environment: environment, readBytes: { Array(try readFile($0).utf8) }, cwd: cwd)
  }

  /// `readBytes` returns the script file's bytes as they are: sbatch takes any bytes but NUL, and
  /// the job runs them unchanged.
  public static func parse(
    arguments: [String], environment: [String: String], readBytes: (String) throws -> [UInt8], cwd: String
  ) throws(OrchError) -> SbatchRequest {
    var request = SbatchRequest()
    request.submitDirectory = cwd
    request.workingDirectory = cwd

    let commandLine = SbatchOptions.getopt.scan(arguments, stopAtOperand: true)
    var wrap: String?
    for match in commandLine.matches {
      switch match.option.key {
      case "help": request.info = .help
      case "usage": request.info = .usage
      case "version": request.info = .version
      case "quiet": request.quiet = true
      case "wrap": wrap = match.argument
      default: continue
      }
      if request.info != nil { return request }
    }
    if let failure = commandLine.failure { throw .badInput(failure.message) }

    let operands = Array(arguments[commandLine.firstOperand...])
    let bytes: [UInt8]
    let label: String
    if let wrap {
      if !operands.isEmpty {
        throw .badInput("sbatch: error: Script arguments not permitted with --wrap option")
      }
      bytes = Array(SbatchScript.wrapping(wrap).utf8)
      label = "wrap"
      request.wrap = wrap
      request.jobName = "wrap"
    } else {
      let named = operands.first
      let path = named.map { absolute($0, cwd: cwd) } ?? standardInput
      do {
        bytes = try readBytes(path)
      } catch {
        throw .badInput(
          named.map { "sbatch: error: Unable to open file \($0)" }
            ?? "sbatch: error: Unable to read the batch script from standard input")
      }
      try SbatchScript.validate(bytes)
      label = named ?? "stdin"
      if let named {
        request.scriptPath = path
        request.scriptArguments = Array(operands.dropFirst())
        request.jobName = baseName(named)
      }
    }
    request.script = bytes
    // The directives and the #! line are ASCII; bytes that are not UTF-8 elsewhere only reach
    // the parsers as U+FFFD, never the file the job runs.
    let body = String(decoding: bytes, as: UTF8.self)
    request.interpreter = try SbatchScript.interpreter(body, file: label)

    var state = SbatchState(cwd: cwd)
    let tokens = try SbatchScript.directiveTokens(body, file: label)
    let directives = SbatchOptions.getopt.scan(tokens.map(\.text), stopAtOperand: true)
    // sbatch applies each directive as getopt yields it, so a bad value before a bad option is
    // the error reported, and leftover words are judged last.
    for match in directives.matches {
      try state.apply(match.option, match.argument, from: .directive(tokens[match.token].location))
    }
    if let failure = directives.failure {
      throw .badInput(failure.message, at: tokens[failure.token].location)
    }
    if directives.firstOperand < tokens.count {
      let token = tokens[directives.firstOperand]
      if ["hetjob", "packjob"].contains(token.text.lowercased()) {
        throw .badInput(
          "sbatch: error: orch does not support heterogeneous jobs (#SBATCH \(token.text))", at: token.location)
      }
      throw .badInput("sbatch: error: Invalid directive found in batch script: \(token.text)", at: token.location)
    }
    try state.applyEnvironment(environment)
    for match in commandLine.matches {
      try state.apply(match.option, match.argument, from: .commandLine)
    }
    try state.finish(into: &request)
    return request
  }

  static func absolute(_ path: String, cwd: String) -> String {
    if path.hasPrefix("/") { return path }
    return cwd.hasSuffix("/") ? cwd + path : cwd + "/" + path
  }

  static func baseName(_ path: String) -> String {
    var p = Substring(path)
    while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
    return p.split(separator: "/").last.map(String.init) ?? String(p)
  }
}

/// Where an option value came from; decides how its error is worded and, for memory, how
/// `--mem` and `--mem-per-cpu` interact.
enum SbatchOrigin {
  case commandLine
  case environment(String)
  case directive(SourceLocation)

  var isEnvironment: Bool {
    if case .environment = self { return true }
    return false
  }

  func error(_ text: String) -> OrchError {
    switch self {
    case .commandLine: .badInput("sbatch: error: \(text)")
    case .environment(let variable): .badInput("sbatch: error: \(text) (from \(variable))")
    case .directive(let location): .badInput("sbatch: error: \(text)", at: location)
    }
  }
}

/// Option values as they accumulate; the last source to set one wins.
struct SbatchState {
  let cwd: String
  var array: ArraySpec?
  var jobName: String?
  var output: String?
  var error: String?
  var openMode: SbatchRequest.OpenMode?
  var cpus: Int?
  var ntasksGiven = false
  /// Bytes (nil for `0`) and whether the environment set it: SLURM lets a command-line or
  /// directive value of one memory option clear the other, and rejects two such values.
  var memory: [String: (bytes: Int64?, byEnvironment: Bool)] = [:]
  var timeLimit: Int?
  var dependency: DependencySpec?
  var killOnInvalidDependency: Bool?
  var requeue: Bool?
  var signal: SbatchRequest.Signal?
  var signalText: String?
  var reservationSignal = false
  var chdir: String?
  var export: SbatchRequest.Export?
  var parsable = false
  var wait = false
  var hold = false
  /// GPU requests by option (`gres`, `gpus`, `gpus-per-node`, `gpus-per-task`); the last value of
  /// each wins, and together they must agree (`GPURequest.combine`).
  var gpus: [String: GPURequest?] = [:]
  var schedule = SbatchSchedule()
  var warnings: [String] = []
  /// `--exclude` and `--nodelist`, expanded.
  var nodes: [String: [String]] = [:]
  var minimumCPUs: Int?
  var cluster: String?

  init(cwd: String) { self.cwd = cwd }

  /// `SBATCH_*` variables orch honours, in SLURM's processing order (it matters when both
  /// `SBATCH_NO_REQUEUE` and `SBATCH_REQUEUE` are set: the latter wins).
  static let environmentOptions: [(variable: String, option: String)] = [
    ("SBATCH_ACCOUNT", "account"), ("SBATCH_ARRAY_INX", "array"),
    ("SBATCH_CONSTRAINT", "constraint"), ("SBATCH_CPUS_PER_TASK", "cpus-per-task"),
    ("SBATCH_DEPENDENCY", "dependency"), ("SBATCH_ERROR", "error"),
    ("SBATCH_EXCLUSIVE", "exclusive"), ("SBATCH_EXPORT", "export"), ("SBATCH_GPUS", "gpus"),
    ("SBATCH_GPUS_PER_NODE", "gpus-per-node"), ("SBATCH_GPUS_PER_TASK", "gpus-per-task"),
    ("SBATCH_GRES", "gres"), ("SBATCH_JOB_NAME", "job-name"),
    ("SBATCH_MEM_PER_CPU", "mem-per-cpu"), ("SBATCH_MEM_PER_NODE", "mem"),
    ("SBATCH_NO_REQUEUE", "no-requeue"), ("SBATCH_OPEN_MODE", "open-mode"),
    ("SBATCH_OUTPUT", "output"), ("SBATCH_PARTITION", "partition"), ("SBATCH_QOS", "qos"),
    ("SBATCH_REQUEUE", "requeue"), ("SBATCH_SIGNAL", "signal"), ("SBATCH_TIMELIMIT", "time"),
    ("SBATCH_WAIT", "wait"), ("SBATCH_WCKEY", "wckey"),
  ]

  /// Variables real sbatch reads for options orch does not honour: warned about, not fatal,
  /// since they tend to linger in login environments.
  static let ignoredEnvironment = [
    "SBATCH_ACCTG_FREQ", "SBATCH_BATCH", "SBATCH_CLUSTERS", "SBATCH_CONTAINER", "SBATCH_CORE_SPEC",
    "SBATCH_CPUS_PER_GPU", "SBATCH_DELAY_BOOT", "SBATCH_DISTRIBUTION", "SBATCH_GET_USER_ENV",
    "SBATCH_GPU_BIND", "SBATCH_GPU_FREQ", "SBATCH_GRES_FLAGS", "SBATCH_HINT", "SBATCH_IGNORE_PBS",
    "SBATCH_INPUT", "SBATCH_MEM_BIND", "SBATCH_MEM_PER_GPU", "SBATCH_NETWORK", "SBATCH_NO_KILL",
    "SBATCH_OVERCOMMIT", "SBATCH_POWER", "SBATCH_PROFILE", "SBATCH_REQ_SWITCH",
    "SBATCH_RESERVATION", "SBATCH_SPREAD_JOB", "SBATCH_THREAD_SPEC", "SBATCH_THREADS_PER_CORE",
    "SBATCH_TRES_PER_TASK", "SBATCH_USE_MIN_NODES", "SBATCH_WAIT_ALL_NODES", "SBATCH_WAIT4SWITCH",
  ]

  mutating func applyEnvironment(_ environment: [String: String]) throws(OrchError) {
    for variable in Self.ignoredEnvironment where environment[variable] != nil {
      warnings.append("sbatch: warning: orch ignores \(variable)")
    }
    for (variable, name) in Self.environmentOptions {
      guard let value = environment[variable], let option = SbatchOptions.getopt.option(named: name) else { continue }
      let origin = SbatchOrigin.environment(variable)
      switch option.argument {
      case .none:
        // SLURM's rule for flags from the environment: empty, "yes" or a non-zero number set
        // the flag; anything else resets it.
        let n = SbatchValues.integer(value, positive: false)
        if value.isEmpty || value.lowercased() == "yes" || (n != nil && n != 0) {
          try apply(option, nil, from: origin)
        } else {
          reset(option)
        }
      case .optional:
        try apply(option, value.isEmpty ? nil : value, from: origin)
      case .required:
        try apply(option, value, from: origin)
      }
    }
  }

  private mutating func reset(_ option: GetoptOption) {
    switch option.key {
    case "requeue", "no-requeue": requeue = nil
    case "wait": wait = false
    default: break
    }
  }

  mutating func apply(_ option: GetoptOption, _ argument: String?, from origin: SbatchOrigin) throws(OrchError) {
    let value = argument ?? ""
    switch option.key {
    case "array":
      do {
        array = try ArraySpec.parse(value)
      } catch {
        throw origin.error("Invalid --array specification: \(error.message)")
      }
    case "job-name":
      jobName = value
    case "output":
      output = value.lowercased() == "none" ? "/dev/null" : value
    case "error":
      error = value.lowercased() == "none" ? "/dev/null" : value
    case "open-mode":
      switch value.first {
      case "a", "A": openMode = .append
      case "t", "T": openMode = .truncate
      default: throw origin.error("Invalid --open-mode specification")
      }
    case "cpus-per-task":
      guard let n = SbatchValues.integer(value, positive: true) else {
        throw origin.error("Invalid numeric value \"\(value)\" for --cpus-per-task.")
      }
      cpus = n
    case "ntasks":
      guard let n = SbatchValues.integer(value, positive: true) else {
        throw origin.error("Invalid numeric value \"\(value)\" for --ntasks.")
      }
      guard n == 1 else {
        throw origin.error(
          "--ntasks=\(n) is not supported: orch runs a batch job as one task on one machine; use -c for more CPUs")
      }
      ntasksGiven = true
    case "mem", "mem-per-cpu":
      do {
        let bytes = try MemorySpec.parseBytes(value)
        memory[option.key] = (bytes, origin.isEnvironment)
      } catch {
        throw origin.error("Invalid --\(option.key) specification: \(error.message)")
      }
    case "time":
      do {
        // SLURM's time_str2mins: "-1" is INFINITE, and a limit is rounded up to the minute.
        var seconds: Int?
        if SlurmText.trimmed(value) != "-1" { seconds = try TimeSpec.parseSeconds(value) }
        timeLimit = seconds.map { ($0 + 59) / 60 * 60 }
      } catch {
        throw origin.error("Invalid --time specification: \(error.message)")
      }
    case "dependency":
      if SlurmText.trimmed(value).isEmpty {
        dependency = nil
        break
      }
      do {
        dependency = try SbatchValues.dependency(value)
      } catch {
        throw origin.error("Invalid --dependency specification: \(error.message)")
      }
    case "kill-on-invalid-dep":
      switch value.lowercased() {
      case "yes": killOnInvalidDependency = true
      case "no": killOnInvalidDependency = false
      default: throw origin.error("Invalid --kill-on-invalid-dep specification")
      }
    case "requeue":
      requeue = true
    case "no-requeue":
      requeue = false
    case "signal":
      guard let parsed = SbatchValues.signal(value) else {
        throw origin.error("Invalid --signal specification")
      }
      signal = parsed.signal
      signalText = value
      reservationSignal = parsed.reservation
    case "chdir":
      chdir = Sbatch.absolute(value, cwd: cwd)
    case "export":
      export = SbatchValues.export(value)
    case "parsable":
      parsable = true
    case "wait":
      wait = true
    case "hold":
      hold = true
    case "gres", "gpus", "gpus-per-node", "gpus-per-task":
      do {
        gpus[option.key] = .some(
          option.key == "gres" ? try GPURequest.parseGres(value) : try GPURequest.parseCount(value))
      } catch {
        throw origin.error(error.message)
      }
    case "begin", "nice", "partition":
      try schedule.apply(option.key, argument, origin: origin)
    case "account", "qos", "mail-user", "wckey", "constraint", "comment":
      break
    case "clusters", "cluster":
      if let message = SlurmClusters.unreachable(value) { throw origin.error(message) }
      cluster = SlurmClusters.name
    case "exclude", "nodelist":
      do { nodes[option.key] = try HostList.expand(value) } catch {
        throw origin.error("Invalid --\(option.key) specification: \(value) is not a host list")
      }
    case "mincpus":
      guard let n = SbatchValues.integer(value, positive: true) else {
        throw origin.error("invalid --mincpus argument: \(value)")
      }
      minimumCPUs = n
    case "hint":
      guard value.split(separator: ",").allSatisfy({ SbatchValues.hints.contains($0.lowercased()) }) else {
        throw origin.error("unrecognized --hint argument \"\(value)\", see --hint=help")
      }
    case "ntasks-per-core":
      guard SbatchValues.integer(value, positive: true) != nil else {
        throw origin.error("Invalid numeric value \"\(value)\" for --ntasks-per-core.")
      }
    case "time-min", "delay-boot":
      guard (try? TimeSpec.parseSeconds(value)) != nil else {
        throw origin.error("Invalid --\(option.key) specification")
      }
    case "distribution", "gres-flags", "network", "spread-job", "use-min-nodes", "switches", "profile", "acctg-freq",
      "ignore-pbs", "mem-bind", "cpu-freq", "no-kill", "oversubscribe", "overcommit", "contiguous", "mcs-label",
      "gpu-bind", "gpu-freq":
      // One task on one machine: what these choose among (nodes, switches, task layouts, node
      // sharing, accounting samples, clocks) is not there to choose, and a job that keeps its
      // own CPUs, memory and time honours each of them; single-node SLURM accepts them too.
      break
    case "reservation":
      throw origin.error("Batch job submission failed: Requested reservation is invalid")
    case "licenses":
      throw origin.error("Batch job submission failed: Invalid license specification")
    case "prefer":
      throw origin.error("Batch job submission failed: Invalid preferred feature specification")
    case "mail-type":
      let kinds = value.split(separator: ",", omittingEmptySubsequences: false)
      guard kinds.allSatisfy({ SbatchValues.mailTypes.contains($0.uppercased()) }) else {
        throw origin.error("Invalid --mail-type specification")
      }
    case "nodes":
      guard let count = SbatchValues.nodeCount(value) else {
        throw origin.error("\"\(value)\" is not a valid node count")
      }
      guard count == (1, 1) else {
        throw origin.error("--nodes=\(value) is not supported: orch runs every job on this one machine; use 1")
      }
    case "ntasks-per-node":
      guard let n = SbatchValues.integer(value, positive: true) else {
        throw origin.error("Invalid numeric value \"\(value)\" for --\(option.name).")
      }
      guard n == 1 else {
        throw origin.error("--\(option.name)=\(n) is not supported: orch runs a batch job as one task; use 1")
      }
    case "exclusive":
      if let argument, !SbatchValues.exclusiveModes.contains(argument.uppercased()) {
        throw origin.error("Invalid --exclusive specification")
      }
    case "help", "usage", "version", "verbose", "quiet", "wrap":
      // sbatch reads these in its first pass over the command line only.
      break
    default:
      throw origin.error("--\(option.name) is not supported by orch")
    }
  }

  func finish(into request: inout SbatchRequest) throws(OrchError) {
    var memory = self.memory
    let node = memory["mem"]
    let perCPU = memory["mem-per-cpu"]
    let nodeDirect = node.map { !$0.byEnvironment } ?? false
    let perCPUDirect = perCPU.map { !$0.byEnvironment } ?? false
    if nodeDirect && perCPUDirect {
      throw .badInput("sbatch: fatal: --mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive.")
    } else if nodeDirect {
      memory["mem-per-cpu"] = nil
    } else if perCPUDirect {
      memory["mem"] = nil
    } else if node != nil && perCPU != nil {
      throw .badInput("sbatch: fatal: SBATCH_MEM_PER_CPU and SBATCH_MEM_PER_NODE are mutually exclusive.")
    }
    request.memoryPerNode = memory["mem"]?.bytes
    request.memoryPerCPU = memory["mem-per-cpu"]?.bytes
    // The job's limit is --mem-per-cpu × CPUs: checked here, where both are known, so a product
    // past what a byte count holds is an error instead of an overflow at submission.
    if let perCPU = request.memoryPerCPU, let cpus {
      let (_, overflow) = perCPU.multipliedReportingOverflow(by: Int64(cpus))
      if overflow {
        throw .badInput(
          "sbatch: error: Invalid --mem-per-cpu specification: \(perCPU >> 20)M per CPU × \(cpus) CPUs is over \(Int64.max >> 20)M, the most memory orch can count"
        )
      }
    }

    request.array = array
    if let jobName { request.jobName = jobName }
    request.output = output ?? (array == nil ? "slurm-%j.out" : "slurm-%A_%a.out")
    request.error = error
    if let openMode { request.openMode = openMode }
    // `--mincpus` raises the CPUs a job gets, as SLURM allocates at least that many.
    request.cpusPerTask = max(cpus ?? 1, minimumCPUs ?? 1)
    request.cpusPerTaskGiven = cpus != nil
    request.excludedNodes = nodes["exclude"] ?? []
    request.nodeList = nodes["nodelist"]
    request.cluster = cluster
    request.ntasksGiven = ntasksGiven
    request.timeLimit = timeLimit
    request.dependency = dependency
    request.killOnInvalidDependency = killOnInvalidDependency
    request.requeue = requeue
    request.signal = signal
    if let chdir { request.workingDirectory = chdir }
    if let export { request.export = export }
    request.parsable = parsable
    request.wait = wait
    request.hold = hold
    try schedule.finish(into: &request)

    do {
      request.gpus = try GPURequest.combine(["gres", "gpus", "gpus-per-node", "gpus-per-task"].map { gpus[$0] ?? nil })
    } catch {
      throw .badInput("sbatch: error: \(error.message)")
    }
    var warnings = self.warnings
    if reservationSignal, let signalText {
      warnings.append("sbatch: warning: orch has no reservations: R: in --signal=\(signalText) has no effect")
    }
    request.warnings = warnings
  }
}
