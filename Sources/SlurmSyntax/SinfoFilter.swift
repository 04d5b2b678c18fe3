import OrchCore

/// sinfo's node filters: `-t/--states`, `-n/--nodes`, `-d/--dead`, and `-R`'s default states.
public enum SinfoFilter {
  /// SLURM 22.05's base node states in its order, each with its `%t` form: a `-t` word selects the
  /// first one it is a prefix of (case-insensitive), so `i` is idle and `m` mixed.
  static let baseStates: [(name: String, compact: String)] = [
    ("UNKNOWN", "UNK"), ("DOWN", "DOWN"), ("IDLE", "IDLE"), ("ALLOCATED", "ALLOC"), ("?", "?"), ("MIXED", "MIX"),
    ("FUTURE", "FUTR"),
  ]

  /// The state flags a `-t` word may name; orch's node never has one, so they select nothing.
  static let flags = [
    "DRAIN", "DRAINED", "DRAINING", "DRNG", "RESV", "RESERVED", "PERFCTRS", "NPC", "COMPLETING", "COMP",
    "NO_RESPOND", "POWERED_DOWN", "POWER_DOWN", "POWERING_DOWN", "POWERING_UP", "POWER_UP", "FAIL", "MAINT",
    "REBOOT", "REBOOT^", "CLOUD",
  ]

  static let validStates =
    "unknown,down,idle,allocated,?,mixed,future,drain,drained,draining,no_respond,reserved,perfctrs,cloud,"
    + "completing,powering_down,powered_down,power_down,powering_up,fail,maint,reboot,reboot^,unknown"

  /// The node states `-t LIST` selects among orch's (idle, mixed, allocated); `allocated` takes a
  /// mixed node too, as sinfo's filter does.
  public static func states(_ list: String) throws(OrchError) -> Set<SinfoNode.State> {
    if list.lowercased() == "all" { return [.idle, .mixed, .allocated] }
    var out: Set<SinfoNode.State> = []
    for word in list.split(separator: ",") {
      let upper = word.uppercased()
      if let base = baseStates.first(where: { $0.compact.hasPrefix(upper) || $0.name.hasPrefix(upper) }) {
        switch base.name {
        case "IDLE": out.insert(.idle)
        case "ALLOCATED": out.formUnion([.mixed, .allocated])
        case "MIXED": out.insert(.mixed)
        default: break
        }
      } else if !flags.contains(where: { $0.hasPrefix(upper) }) {
        throw .badInput(
          "sinfo: error: Bad state string: \"\(word)\"", usage: "sinfo: error: valid states: \(validStates)")
      }
    }
    return out
  }

  /// True when `name` is in the hostlist `list` (`a,b`, `node[1-3,5]`, `n[01-10]`); names compare
  /// exactly, as SLURM's do.
  public static func nodeListContains(_ list: String, _ name: String) -> Bool {
    guard let parts = SlurmText.splitTopLevel(list, on: [","]) else { return false }
    return parts.contains { matches($0.part, name) }
  }

  static func matches(_ pattern: String, _ name: String) -> Bool {
    guard let open = pattern.firstIndex(of: "["), let close = pattern[open...].firstIndex(of: "]") else {
      return pattern == name
    }
    let prefix = pattern[..<open]
    let suffix = pattern[pattern.index(after: close)...]
    guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count >= prefix.count + suffix.count else {
      return false
    }
    let middle = name.dropFirst(prefix.count).dropLast(suffix.count)
    guard !middle.isEmpty, middle.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(middle.prefix(18)) else {
      return false
    }
    for range in pattern[pattern.index(after: open)..<close].split(separator: ",") {
      let bounds = range.split(separator: "-", maxSplits: 1)
      guard let low = bounds.first, let first = Int(low.prefix(18)) else { continue }
      let last = bounds.count > 1 ? Int(bounds[1].prefix(18)) ?? first : first
      // A zero-padded range (`01-10`) names zero-padded hosts only.
      if low.count > 1, low.hasPrefix("0"), middle.count != low.count { continue }
      if n >= first, n <= last { return true }
    }
    return false
  }
}
