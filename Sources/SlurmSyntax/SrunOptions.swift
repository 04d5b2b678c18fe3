/// srun's options as SLURM 22.05's srun reads them, and what one task on one machine makes of
/// them: SLURM's own words for a value it refuses, nothing for a choice that one task on one
/// node has already made, and orch's refusal for what it cannot honour.
public enum SrunOptions {
  /// srun 22.05's getopt table (`srun --help`, plus the options it takes without listing them).
  public static let flags: [SlurmFlag] = [
    .init("account", "A", .required), .init("acctg-freq", nil, .required), .init("bb", nil, .required),
    .init("bbf", nil, .required), .init("bcast", nil, .optional), .init("bcast-exclude", nil, .required),
    .init("begin", "b", .required), .init("cpus-per-task", "c", .required), .init("comment", nil, .required),
    .init("compress", nil, .optional), .init("container", nil, .required), .init("cpu-freq", nil, .required),
    .init("dependency", "d", .required), .init("deadline", nil, .required), .init("delay-boot", nil, .required),
    .init("chdir", "D", .required), .init("export", nil, .required), .init("error", "e", .required),
    .init("epilog", nil, .required), .init("preserve-env", "E"), .init("gres", nil, .required),
    .init("gres-flags", nil, .required), .init("hold", "H"), .init("input", "i", .required),
    .init("immediate", "I", .optional), .init("jobid", nil, .required), .init("job-name", "J", .required),
    .init("no-kill", "k", .optional), .init("kill-on-bad-exit", "K", .optional), .init("label", "l"),
    .init("licenses", "L", .required), .init("clusters", "M", .required), .init("cluster", nil, .required),
    .init("distribution", "m", .required), .init("mail-type", nil, .required), .init("mail-user", nil, .required),
    .init("mcs-label", nil, .required), .init("mpi", nil, .required), .init("multi-prog"),
    .init("ntasks", "n", .required), .init("nice", nil, .optional), .init("ntasks-per-node", nil, .required),
    .init("nodes", "N", .required), .init("output", "o", .required), .init("overcommit", "O"), .init("overlap"),
    .init("het-group", nil, .required), .init("partition", "p", .required), .init("power", nil, .required),
    .init("priority", nil, .required), .init("prolog", nil, .required), .init("profile", nil, .required),
    .init("propagate", nil, .optional), .init("pty"), .init("quit-on-interrupt"), .init("qos", "q", .required),
    .init("quiet", "Q"), .init("reboot"), .init("relative", "r", .required), .init("oversubscribe", "s"),
    .init("core-spec", "S", .required), .init("send-libs", nil, .optional), .init("signal", nil, .required),
    .init("slurmd-debug", nil, .required), .init("spread-job"), .init("switches", nil, .required),
    .init("task-epilog", nil, .required), .init("task-prolog", nil, .required), .init("thread-spec", nil, .required),
    .init("threads", "T", .required), .init("time", "t", .required), .init("time-min", nil, .required),
    .init("unbuffered", "u"), .init("use-min-nodes"), .init("verbose", "v"), .init("wait", "W", .required),
    .init("wckey", nil, .required), .init("disable-status", "X"), .init("cluster-constraint", nil, .required),
    .init("contiguous"), .init("constraint", "C", .required), .init("mem", nil, .required),
    .init("mincpus", nil, .required), .init("reservation", nil, .required), .init("tmp", nil, .required),
    .init("nodelist", "w", .required), .init("exclude", "x", .required), .init("no-allocate", "Z"), .init("exact"),
    .init("exclusive", nil, .optional), .init("mem-per-cpu", nil, .required), .init("resv-ports", nil, .optional),
    .init("sockets-per-node", nil, .required), .init("cores-per-socket", nil, .required),
    .init("threads-per-core", nil, .required), .init("ntasks-per-core", nil, .required),
    .init("ntasks-per-socket", nil, .required), .init("cpu-bind", nil, .required), .init("hint", nil, .required),
    .init("mem-bind", nil, .required), .init("cpus-per-gpu", nil, .required), .init("gpus", "G", .required),
    .init("gpu-bind", nil, .required), .init("gpu-freq", nil, .required), .init("gpus-per-node", nil, .required),
    .init("gpus-per-socket", nil, .required), .init("gpus-per-task", nil, .required),
    .init("mem-per-gpu", nil, .required), .init("help", "h"), .init("usage"), .init("version", "V"),
    .init("extra-node-info", "B", .required), .init("accel-bind", nil, .required), .init("test-only"),
    .init("x11", nil, .optional), .init("open-mode", nil, .required), .init("network", nil, .required),
    .init("ntasks-per-gpu", nil, .required),
  ]

  /// Options that describe the job srun creates outside a batch job: they go to sbatch, which
  /// checks and honours them as it does its own (the node lists against this machine, GPUs
  /// against its devices, a reservation or license it has none of refused).
  public static let jobOptions: Set<String> = [
    "job-name", "cpus-per-task", "mem", "mem-per-cpu", "time", "partition", "dependency", "begin", "nice", "export",
    "chdir", "account", "qos", "exclude", "nodelist", "reservation", "licenses", "clusters", "cluster", "hold",
    "gres", "gpus", "gpus-per-node", "gpus-per-task", "constraint", "mincpus", "mail-type", "mail-user", "comment",
    "wckey", "time-min", "hint",
  ]

  /// What orch cannot honour, and why; SLURM runs each of them.
  public static let unsupported: [String: String] = [
    "bb": "orch has no burst buffers", "bbf": "orch has no burst buffers",
    "bcast": "orch runs the program where it is", "bcast-exclude": "orch runs the program where it is",
    "container": "orch runs no OCI containers", "epilog": "orch runs no srun epilog",
    "prolog": "orch runs no srun prolog", "task-epilog": "orch runs no task epilog",
    "task-prolog": "orch runs no task prolog", "multi-prog": "orch runs one task per step",
    "het-group": "orch has no heterogeneous jobs", "power": "orch has no power plugin",
    "pty": "orch's steps have no pseudo-terminal", "x11": "orch forwards no X11",
    "no-allocate": "orch allocates every step", "test-only": "orch has no scheduler estimate",
    "signal": "orch's steps have no time limit of their own to signal before", "threads": "orch runs one task",
  ]

  /// `--cpu-bind`'s words (a comma list; the `map_`/`mask_` ones take a `:list`).
  static let cpuBindWords: Set<String> = [
    "q", "quiet", "v", "verbose", "no", "none", "rank", "rank_ldom", "socket", "sockets", "core", "cores", "thread",
    "threads", "ldom", "ldoms", "board", "boards",
  ]
  static let cpuBindLists: Set<String> = ["map_cpu", "mask_cpu", "map_ldom", "mask_ldom"]

  /// `--mpi`'s plugins (22.05 still takes `openmpi`, as `none`): with one task a program started
  /// under any of them initialises as a singleton, so none needs a PMI server from orch.
  public static let mpiTypes: Set<String> = ["none", "openmpi", "pmi2", "pmix", "cray_shasta"]

  /// A refusal: SLURM's lines and exit status.
  public struct Refusal: Error, Equatable, Sendable {
    public var lines: [String]
    public var status: Int32
  }

  public struct Check: Equatable, Sendable {
    /// `srun: error: …` lines SLURM prints and still runs the step.
    public var warnings: [String] = []
  }

  /// The values of `args` checked as SLURM's srun checks them. `step` is set inside a batch job:
  /// the job's id, this node's name and the CPUs the job holds.
  public static func check(_ args: SlurmArguments, step: (job: String, node: String, cpus: Int)?) throws(Refusal)
    -> Check
  {
    var check = Check()
    func refuse(_ lines: String..., status: Int32 = 1) -> Refusal { Refusal(lines: lines, status: status) }
    for (name, value) in args.options {
      if let why = unsupported[name] { throw refuse("srun: error: --\(name) is not supported: \(why)") }
      guard let value else { continue }
      switch name {
      case "cpu-bind":
        var inList = false
        for word in value.split(separator: ",", omittingEmptySubsequences: false) {
          let w = word.lowercased()
          let head = w.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
          // `map_cpu:0,1`: the list's members are the words after it that are CPU ids or masks.
          if inList, isListMember(w) { continue }
          inList = cpuBindLists.contains(head) && w.contains(":")
          guard cpuBindWords.contains(w) || inList else {
            throw refuse(
              "srun: error: unrecognized --cpu-bind argument \"\(word)\"",
              "srun: fatal: Failed to parse --cpu-bind= values.")
          }
        }
      case "mpi":
        guard mpiTypes.contains(value.lowercased()) else {
          throw refuse("srun: error: Invalid MPI type '\(value)', --mpi=list for acceptable types")
        }
      case "hint":
        guard value.split(separator: ",").allSatisfy({ SbatchValues.hints.contains($0.lowercased()) }) else {
          throw refuse("srun: error: unrecognized --hint argument \"\(value)\", see --hint=help")
        }
      case "distribution":
        guard distributionIsValid(value) else {
          throw refuse("srun: error: Invalid --distribution specification", status: 255)
        }
      case "accel-bind":
        guard !value.isEmpty, value.lowercased().allSatisfy({ "gmnv".contains($0) }) else {
          throw refuse("srun: error: Invalid --accel-bind specification", status: 255)
        }
      case "threads-per-core", "wait", "ntasks-per-core", "sockets-per-node", "cores-per-socket", "ntasks-per-socket":
        guard SbatchValues.integer(value, positive: name != "wait") != nil else {
          throw refuse("srun: error: Invalid numeric value \"\(value)\" for --\(name).")
        }
      case "propagate":
        let names = value.uppercased().split(separator: ",").map { $0.hasPrefix("NO") ? $0.dropFirst(2) : $0 }
        if let bad = names.first(where: { !rlimits.contains(String($0)) }) {
          throw refuse("srun: error: Bad rlimit name: \(bad)", "srun: error: --propagate=\(value) is not valid.")
        }
      case "clusters", "cluster":
        if let message = SlurmClusters.unreachable(value) { throw refuse("srun: error: \(message)") }
      case "exclude", "nodelist":
        guard let hosts = try? HostList.expand(value) else {
          throw refuse("srun: error: Invalid --\(name) specification: \(value) is not a host list")
        }
        guard let step else { continue }
        if name == "exclude", hosts.contains(step.node) {
          throw refuse("srun: error: Hostlist is empty!  Can't run job.")
        }
        if name == "nodelist", hosts.count > 1 {
          check.warnings.append(
            "srun: error: Required nodelist includes more nodes than permitted by max-node count (\(hosts.count) > 1)."
              + " Eliminating nodes from the nodelist.")
        }
      case "cpus-per-task":
        guard let step, let n = SbatchValues.integer(value, positive: true), n > step.cpus else { continue }
        throw refuse("srun: error: Unable to create step for job \(step.job): More processors requested than permitted")
      case "begin":
        if step != nil { check.warnings.append("srun: error: --begin is ignored because nodes are already allocated.") }
      default:
        break
      }
    }
    return check
  }

  /// A CPU id or mask of a `map_`/`mask_` list, optionally repeated (`0x3*2`).
  static func isListMember(_ word: String) -> Bool {
    let parts = word.split(separator: "*", omittingEmptySubsequences: false)
    guard parts.count <= 2, let id = parts.first else { return false }
    let digits = id.hasPrefix("0x") ? id.dropFirst(2) : id
    guard !digits.isEmpty, digits.allSatisfy(\.isHexDigit) else { return false }
    return parts.count == 1 || SbatchValues.integer(String(parts[1]), positive: true) != nil
  }

  /// `--propagate`'s resource limits (`ALL`, `NONE`, or a list of them, each optionally `NO`-prefixed).
  static let rlimits: Set<String> = [
    "ALL", "NONE", "AS", "CORE", "CPU", "DATA", "FSIZE", "MEMLOCK", "NOFILE", "NPROC", "RSS", "STACK",
  ]

  /// `-m`: `dist[:dist[:dist]][,Pack|NoPack]` with the first of block, cyclic, arbitrary, plane=N
  /// or `*`, the others block, cyclic, fcyclic or `*`.
  static func distributionIsValid(_ value: String) -> Bool {
    let parts = value.lowercased().split(separator: ",", omittingEmptySubsequences: false)
    guard let layout = parts.first, parts.count <= 2 else { return false }
    if parts.count == 2, !["pack", "nopack"].contains(parts[1]) { return false }
    let levels = layout.split(separator: ":", omittingEmptySubsequences: false)
    guard let first = levels.first, levels.count <= 3 else { return false }
    if first.hasPrefix("plane=") {
      guard SbatchValues.integer(String(first.dropFirst(6)), positive: true) != nil, levels.count == 1 else {
        return false
      }
    } else if !["block", "cyclic", "arbitrary", "*"].contains(first) {
      return false
    }
    return levels.dropFirst().allSatisfy { ["block", "cyclic", "fcyclic", "*"].contains($0) }
  }
}
