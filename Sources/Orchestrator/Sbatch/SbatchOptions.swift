/// One entry of sbatch's option table. The table lists every option real sbatch knows (SLURM's
/// `common_options` as built for sbatch), not only those orch honours: getopt_long's abbreviation
/// rules depend on the whole table (`--ex` is ambiguous only because `--exclude`, `--export`, …
/// exist), and an option SLURM knows but orch cannot honour deserves a clearer error than
/// "unrecognized".
struct SbatchOption: Sendable {
  enum Argument: Sendable, Equatable { case none, required, optional }

  let name: String
  let short: Character?
  let argument: Argument
  /// getopt_long's `val`: aliases share it, and an abbreviation matching options that agree on
  /// `val` and `argument` is not ambiguous.
  let key: String

  init(_ name: String, _ short: Character? = nil, _ argument: Argument = .required, key: String? = nil) {
    self.name = name
    self.short = short
    self.argument = argument
    self.key = key ?? name
  }

  /// In SLURM's table order, which is the order getopt_long lists ambiguous possibilities in.
  static let table: [SbatchOption] = [
    .init("account", "A"), .init("acctg-freq"), .init("array", "a"), .init("autocomplete"),
    .init("batch"), .init("begin", "b"), .init("bb"), .init("bbf"), .init("cluster-constraint"),
    .init("chdir", "D"), .init("cluster"), .init("clusters", "M"), .init("comment"),
    .init("container"), .init("container-id"), .init("context"), .init("contiguous", nil, .none),
    .init("constraint", "C"), .init("core-spec", "S"), .init("cores-per-socket"),
    .init("cpu-freq"), .init("cpus-per-gpu"), .init("cpus-per-task", "c"), .init("deadline"),
    .init("delay-boot"), .init("dependency", "d"), .init("distribution", "m"),
    .init("error", "e"), .init("exclude", "x"), .init("exclusive", nil, .optional),
    .init("export"), .init("export-file"), .init("extra"), .init("extra-node-info", "B"),
    .init("get-user-env", nil, .optional), .init("gid"), .init("gpu-bind"), .init("gpu-freq"),
    .init("gpus", "G"), .init("gpus-per-node"), .init("gpus-per-socket"),
    .init("gpus-per-task"), .init("gres"), .init("gres-flags"), .init("help", "h", .none),
    .init("hint"), .init("hold", "H", .none), .init("ignore-pbs", nil, .none),
    .init("input", "i"), .init("job-name", "J"), .init("kill-on-invalid-dep"),
    .init("licenses", "L"), .init("mail-type"), .init("mail-user"), .init("mcs-label"),
    .init("mem"), .init("mem-bind"), .init("mem-per-cpu"), .init("mem-per-gpu"),
    .init("mincpus"), .init("network"), .init("nice", nil, .optional),
    .init("no-kill", "k", .optional), .init("no-requeue", nil, .none), .init("nodefile", "F"),
    .init("nodelist", "w"), .init("nodes", "N"), .init("ntasks", "n"),
    .init("ntasks-per-core"), .init("ntasks-per-gpu"), .init("ntasks-per-node"),
    .init("ntasks-per-socket"), .init("ntasks-per-tres"), .init("open-mode"),
    .init("output", "o"), .init("overcommit", "O", .none), .init("oversubscribe", "s", .none),
    .init("parsable", nil, .none), .init("partition", "p"), .init("prefer"), .init("priority"),
    .init("profile"), .init("propagate", nil, .optional), .init("qos", "q"),
    .init("quiet", "Q", .none), .init("reboot", nil, .none), .init("requeue", nil, .none),
    .init("reservation"), .init("segment"), .init("signal"), .init("sockets-per-node"),
    .init("spread-job", nil, .none), .init("stepmgr", nil, .none), .init("switches"),
    .init("tasks-per-node", key: "ntasks-per-node"), .init("test-only", nil, .none),
    .init("thread-spec"), .init("threads-per-core"), .init("time", "t"), .init("time-min"),
    .init("tmp"), .init("tres-bind"), .init("tres-per-task"), .init("uid"),
    .init("use-min-nodes", nil, .none), .init("verbose", "v", .none),
    .init("version", "V", .none), .init("usage", nil, .none), .init("wait", "W", .none),
    .init("wait-all-nodes"), .init("wckey"), .init("wrap"),
  ]

  static let byShort: [Character: SbatchOption] = {
    var out: [Character: SbatchOption] = [:]
    for o in table { if let c = o.short { out[c] = o } }
    return out
  }()

  static let byName: [String: SbatchOption] = {
    var out: [String: SbatchOption] = [:]
    for o in table { out[o.name] = o }
    return out
  }()
}

/// glibc `getopt_long` with sbatch's `+` option string: stops at the first operand, `--` ends
/// the options, unique long prefixes are accepted, and errors carry glibc's wording.
enum SbatchGetopt {
  struct Match {
    let option: SbatchOption
    let argument: String?
    /// Index of the argument that named the option.
    let token: Int
  }

  struct Failure: Error {
    /// One line, exactly as getopt prints it (`sbatch: unrecognized option '--foo'`).
    let message: String
    let token: Int
  }

  struct Result {
    /// The options read before the end or the first error, in order.
    var matches: [Match] = []
    /// Index of the first argument that is not an option (the script).
    var operands = 0
    var failure: Failure?
  }

  /// Options read before a failure come back with it: sbatch acts on `--help` before getopt
  /// reaches a bad option after it.
  static func scan(_ args: [String]) -> Result {
    var result = Result()
    do {
      result.operands = try scan(args, into: &result.matches)
    } catch {
      result.failure = error
    }
    return result
  }

  private static func scan(_ args: [String], into matches: inout [Match]) throws(Failure) -> Int {
    var i = 0
    while i < args.count {
      let arg = args[i]
      if arg == "--" { return i + 1 }
      if arg.hasPrefix("--") {
        let body = arg.dropFirst(2)
        let name: Substring
        let inline: String?
        if let eq = body.firstIndex(of: "=") {
          name = body[..<eq]
          inline = String(body[body.index(after: eq)...])
        } else {
          name = body
          inline = nil
        }
        let option = try resolveLong(String(name), whole: arg, token: i)
        let token = i
        var value: String?
        switch option.argument {
        case .none:
          if inline != nil {
            throw Failure(message: "sbatch: option '--\(option.name)' doesn't allow an argument", token: i)
          }
        case .optional:
          value = inline
        case .required:
          if let inline {
            value = inline
          } else if i + 1 < args.count {
            i += 1
            value = args[i]
          } else {
            throw Failure(message: "sbatch: option '--\(option.name)' requires an argument", token: i)
          }
        }
        matches.append(Match(option: option, argument: value, token: token))
        i += 1
        continue
      }
      if arg.hasPrefix("-") && arg.count > 1 {
        let chars = Array(arg.dropFirst())
        let token = i
        var j = 0
        while j < chars.count {
          let c = chars[j]
          guard let option = SbatchOption.byShort[c] else {
            throw Failure(message: "sbatch: invalid option -- '\(c)'", token: token)
          }
          let rest = String(chars[(j + 1)...])
          switch option.argument {
          case .none:
            matches.append(Match(option: option, argument: nil, token: token))
            j += 1
            continue
          case .optional:
            matches.append(Match(option: option, argument: rest.isEmpty ? nil : rest, token: token))
          case .required:
            if !rest.isEmpty {
              matches.append(Match(option: option, argument: rest, token: token))
            } else if i + 1 < args.count {
              i += 1
              matches.append(Match(option: option, argument: args[i], token: token))
            } else {
              throw Failure(message: "sbatch: option requires an argument -- '\(c)'", token: token)
            }
          }
          j = chars.count
        }
        i += 1
        continue
      }
      return i
    }
    return args.count
  }

  /// Exact name first; otherwise the prefix matches, ambiguous when one differs from the first
  /// match in `key` or argument kind (glibc's rule, and its message).
  private static func resolveLong(_ name: String, whole: String, token: Int) throws(Failure) -> SbatchOption {
    if let exact = SbatchOption.byName[name] { return exact }
    let candidates = SbatchOption.table.filter { $0.name.hasPrefix(name) }
    guard let first = candidates.first else {
      throw Failure(message: "sbatch: unrecognized option '\(whole)'", token: token)
    }
    let clashing = candidates.dropFirst().filter { $0.key != first.key || $0.argument != first.argument }
    if clashing.isEmpty { return first }
    let listed = ([first] + clashing).map { " '--\($0.name)'" }.joined()
    throw Failure(message: "sbatch: option '\(whole)' is ambiguous; possibilities:\(listed)", token: token)
  }
}
