/// scontrol's words as SLURM 22.05's scontrol.c reads them: a keyword or entity may be cut short,
/// but never below its own minimum length (`sho` shows, `sh` is an invalid keyword), and the first
/// rule that matches wins (`u` is `update`, `re` neither `release` nor `requeue`).
public enum ScontrolKeywords {
  /// orch's keywords with scontrol's minimum lengths, in scontrol.c's order.
  static let commands: [(word: String, minimum: Int)] = [
    ("help", 2), ("hold", 4), ("release", 3), ("requeue", 3), ("requeuehold", 11), ("show", 3), ("uhold", 5),
    ("update", 1), ("version", 4),
  ]

  /// The keywords SLURM has and orch does not implement (scontrol's `help`).
  static let unsupported: Set<String> = [
    "abort", "cancel_reboot", "completing", "create", "delete", "errnumstr", "exit", "fsdampeningfactor", "listpids",
    "notify", "pidinfo", "ping", "quit", "reboot", "reconfigure", "resume", "schedloglevel", "setdebug",
    "setdebugflags", "shutdown", "suspend", "takeover", "token", "top", "wait_job", "write",
  ]

  /// Whether `word` names `full`, as scontrol's `xstrncasecmp(word, full, MAX(len, minimum))`.
  static func names(_ word: String, _ full: String, minimum: Int) -> Bool {
    let lower = word.lowercased()
    return lower.count >= minimum && full.hasPrefix(lower)
  }

  public enum Command: Equatable, Sendable {
    case known(String)
    /// A keyword of SLURM's that orch's scontrol does not implement.
    case unsupported(String)
    /// A word SLURM does not know either: `invalid keyword: WORD`.
    case invalid
  }

  public static func command(_ word: String) -> Command {
    if let match = commands.first(where: { names(word, $0.word, minimum: $0.minimum) }) { return .known(match.word) }
    let lower = word.lowercased()
    return unsupported.contains(lower) ? .unsupported(lower) : .invalid
  }

  /// What `scontrol show` can name.
  public enum Entity: Equatable, Sendable {
    case job, node, partition, config, reservation, licenses
    /// An entity of SLURM's that orch has no such thing for (`step`, `topology`, ...).
    case unsupported(String)
  }

  static let entities: [(word: String, minimum: Int, entity: Entity)] = [
    ("config", 1, .config), ("jobs", 1, .job), ("jobid", 1, .job), ("licenses", 2, .licenses), ("nodes", 1, .node),
    ("partitions", 2, .partition), ("reservations", 1, .reservation),
  ]

  static let otherEntities: [(word: String, minimum: Int)] = [
    ("aliases", 1), ("assoc_mgr", 2), ("bbstat", 2), ("burstbuffer", 2), ("daemons", 1), ("dwstat", 2),
    ("federation", 2), ("frontend", 2), ("slurmd", 2), ("steps", 2), ("topology", 1),
  ]

  /// The entity `word` names; nil: `invalid entity:WORD for keyword:show`. Host lists are read
  /// before this (their own minimum lengths).
  public static func entity(_ word: String) -> Entity? {
    if let match = entities.first(where: { names(word, $0.word, minimum: $0.minimum) }) { return match.entity }
    if let other = otherEntities.first(where: { names(word, $0.word, minimum: $0.minimum) }) {
      return .unsupported(other.word)
    }
    return nil
  }
}
