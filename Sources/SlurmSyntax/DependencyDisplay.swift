/// A dependency as slurmctld shows it (`scontrol show job`'s Dependency=, squeue's %E): one entry
/// per target — a whole array as `ID_*` — joined by `,` (all) or `?` (any), each followed by its
/// state, `(unfulfilled)` or `(failed)`.
public enum DependencyDisplay {
  public static func text(_ spec: DependencySpec, isArray: (Int) throws -> Bool) rethrows -> String {
    try spec.terms.map { term -> String in
      guard term.kind != .singleton, let id = term.jobID else { return "singleton" }
      var target = String(id)
      if let elements = term.elements {
        target += elements.first == elements.last ? "_\(elements)" : "_[\(elements)]"
      } else if try isArray(id) {
        target += "_*"
      }
      if let delay = term.delayMinutes { target += "+\(delay)" }
      return "\(term.kind.rawValue):\(target)"
    }.joined(separator: spec.isOr ? "?" : ",")
  }

  /// The stored text with each entry's state appended.
  public static func withState(_ text: String, _ state: String) -> String {
    var out = ""
    var entry = ""
    for c in text {
      if c == "," || c == "?" {
        out += entry + "(\(state))" + String(c)
        entry = ""
      } else {
        entry.append(c)
      }
    }
    return out + entry + "(\(state))"
  }
}
