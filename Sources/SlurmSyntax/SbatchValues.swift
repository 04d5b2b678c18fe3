import OrchCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Parsers for sbatch option values that have no shared counterpart elsewhere. Each returns nil
/// (or throws a bare reason) and lets the caller phrase the error with SLURM's wording.
public enum SbatchValues {
  /// SLURM's `parse_int`: optional leading blanks and sign, decimal digits, nothing after;
  /// negative values are never valid, zero only when `positive` is false.
  public static func integer(_ text: String, positive: Bool) -> Int? {
    var s = Substring(text)
    while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
    var negative = false
    if let c = s.first, c == "+" || c == "-" {
      negative = c == "-"
      s = s.dropFirst()
    }
    guard SlurmText.isDigits(s), let n = Int(s) else { return nil }
    let value = negative ? -n : n
    if value < 0 || (positive && value == 0) { return nil }
    return value
  }

  /// `--dependency` as sbatch reads it: a term with no type (`12`, `12:13`, `12_3`) is SLURM's
  /// legacy form and means `afterany`. Everything else is `DependencySpec.parse`, whose own bare
  /// form means `afterok` for orch's `--after`.
  public static func dependency(_ text: String) throws(OrchError) -> DependencySpec {
    let typed = SlurmText.trimmed(text)
    guard let chunks = SlurmText.splitTopLevel(typed, on: [",", "?"]) else {
      return try DependencySpec.parse(typed)
    }
    var rewritten = ""
    for chunk in chunks {
      if let first = chunk.part.first, first.isASCII, first.isNumber { rewritten += "afterany:" }
      rewritten += chunk.part
      if let separator = chunk.separator { rewritten.append(separator) }
    }
    do {
      return try DependencySpec.parse(rewritten)
    } catch {
      // Messages quote the whole value; quote what the user typed, not the rewrite.
      var error = error
      if let range = error.message.range(of: "'\(rewritten)'") {
        error.message.replaceSubrange(range, with: "'\(typed)'")
      }
      throw error
    }
  }

  /// `--signal=[{R|B}:]SIG[@secs]`; `R` (reservation end) is returned so the caller can warn.
  public static func signal(_ text: String) -> (signal: SbatchRequest.Signal, reservation: Bool)? {
    var s = Substring(text)
    var batchOnly = false
    var reservation = false
    let upper = s.uppercased()
    if upper.hasPrefix("RB:") || upper.hasPrefix("BR:") {
      batchOnly = true
      reservation = true
      s = s.dropFirst(3)
    } else if upper.hasPrefix("B:") {
      batchOnly = true
      s = s.dropFirst(2)
    } else if upper.hasPrefix("R:") {
      reservation = true
      s = s.dropFirst(2)
    }
    let (name, secondsText) = SlurmText.splitOnce(String(s), "@")
    guard let number = signalNumber(name) else { return nil }
    var seconds = 60
    if let secondsText {
      guard SlurmText.isDigits(secondsText), let n = Int(secondsText), n <= 0xFFFF else { return nil }
      seconds = n
    }
    return (SbatchRequest.Signal(batchOnly: batchOnly, number: number, seconds: seconds), reservation)
  }

  /// SLURM's `sig_name2num`: a number, or a name with or without `SIG`, any case.
  public static func signalNumber(_ text: String) -> Int32? {
    let trimmed = SlurmText.trimmed(text)
    if SlurmText.isDigits(trimmed) {
      guard let n = Int32(trimmed), (1...64).contains(n) else { return nil }
      return n
    }
    var name = trimmed.uppercased()
    if name.hasPrefix("SIG") { name.removeFirst(3) }
    return signalNames[name]
  }

  private static let signalNames: [String: Int32] = [
    "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP,
    "ABRT": SIGABRT, "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1,
    "SEGV": SIGSEGV, "USR2": SIGUSR2, "PIPE": SIGPIPE, "ALRM": SIGALRM, "TERM": SIGTERM,
    "CHLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN,
    "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM,
    "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO, "SYS": SIGSYS,
  ]

  /// `--export`. Items split on commas outside quotes, quotes kept, as SLURM's
  /// `find_quote_token` does; `ALL` anywhere in a list keeps the whole environment.
  public static func export(_ text: String) -> SbatchRequest.Export {
    switch text.uppercased() {
    case "ALL": return .all
    case "NONE", "NIL": return .none
    default: break
    }
    var inheritAll = false
    var variables: [SbatchRequest.Export.Variable] = []
    for item in splitOutsideQuotes(text, on: ",") where !item.isEmpty {
      if item.uppercased() == "ALL" {
        inheritAll = true
      } else {
        let (name, value) = SlurmText.splitOnce(item, "=")
        variables.append(.init(name, value))
      }
    }
    return SbatchRequest.Export(inheritAll: inheritAll, variables: variables)
  }

  static func splitOutsideQuotes(_ text: String, on separator: Character) -> [String] {
    var out: [String] = []
    var current = ""
    var single = false
    var double = false
    for c in text {
      if c == "'" && !double {
        single.toggle()
      } else if c == "\"" && !single {
        double.toggle()
      } else if c == separator && !single && !double {
        out.append(current)
        current = ""
        continue
      }
      current.append(c)
    }
    out.append(current)
    return out
  }

  /// `-N`: `N` or `MIN-MAX`; nil when malformed.
  public static func nodeCount(_ text: String) -> (min: Int, max: Int)? {
    let (low, high) = SlurmText.splitOnce(SlurmText.trimmed(text), "-")
    guard let min = integer(low, positive: true) else { return nil }
    guard let high else { return (min, min) }
    guard let max = integer(high, positive: true), max >= min else { return nil }
    return (min, max)
  }

  /// `--hint`'s values (a comma list of them).
  public static let hints: Set<String> = ["compute_bound", "memory_bound", "multithread", "nomultithread"]

  public static let mailTypes: Set<String> = [
    "NONE", "BEGIN", "END", "FAIL", "REQUEUE", "ALL", "INVALID_DEPEND", "STAGE_OUT", "TIME_LIMIT",
    "TIME_LIMIT_90", "TIME_LIMIT_80", "TIME_LIMIT_50", "ARRAY_TASKS",
  ]

  public static let exclusiveModes: Set<String> = ["EXCLUSIVE", "OVERSUBSCRIBE", "USER", "MCS", "TOPO"]
}
