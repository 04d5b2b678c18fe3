import OrchCore
import Store

/// A parsed `--dependency` value: `type:id[:id…]` terms joined by `,` (all must hold) or `?`
/// (any one suffices), never both.
///
/// - Types: `after` (with optional `+minutes` per id), `afterany`, `afterok`, `afternotok`,
///   `aftercorr`, `singleton` (no ids). Case-insensitive, as in SLURM.
/// - Ids: `12` (the job, or the whole array), `12_*` (same), `12_3` (one element),
///   `12_[1-3,5]` (one term per range, `1-3` and `5`: SLURM expands it to one term per element,
///   and `DependencyRule` evaluates a range as those terms, without expanding it).
/// - A delay is at most `maxDelayMinutes`, SLURM's own limit.
/// - With `?` every id is an alternative, also ids joined by `:` inside one term; SLURM applies
///   the OR flag to the whole list the same way.
/// - orch extension: a term with no type (`12`, `12:13`, `12_3`) means `afterok`. This is the
///   `orch --after` shorthand; SLURM's legacy bare-id form means `afterany` instead.
/// - Exact repeats (same type and target) are dropped, keeping the first, as SLURM does.
public struct DependencySpec: Sendable, Hashable, CustomStringConvertible {
  public enum Kind: String, Sendable, CaseIterable {
    case after, afterany, afterok, afternotok, aftercorr, singleton
  }

  public struct Term: Sendable, Hashable, CustomStringConvertible {
    public var kind: Kind
    /// Nil only for `singleton`.
    public var jobID: Int?
    /// Nil means the whole job or every element of the array.
    public var elements: ElementRange?
    /// `after:12+5`: minutes after the target started (or was cancelled). Only for `after`.
    public var delayMinutes: Int?

    public init(kind: Kind, jobID: Int? = nil, elements: ElementRange? = nil, delayMinutes: Int? = nil) {
      self.kind = kind
      self.jobID = jobID
      self.elements = elements
      self.delayMinutes = delayMinutes
    }

    /// A term on one element (`arrayIndex`), or on the whole target when nil.
    public init(kind: Kind, jobID: Int?, arrayIndex: Int?, delayMinutes: Int? = nil) {
      self.init(kind: kind, jobID: jobID, elements: arrayIndex.map { ElementRange($0) }, delayMinutes: delayMinutes)
    }

    /// `afterok:12_3`, `afterok:12_[0-8:2]`, `after:12+5`, `singleton`.
    public var description: String {
      kind == .singleton ? "singleton" : "\(kind.rawValue):\(target)"
    }

    var target: String {
      var s = jobID.map(String.init) ?? ""
      if let elements { s += elements.first == elements.last ? "_\(elements)" : "_[\(elements)]" }
      if let delayMinutes { s += "+\(delayMinutes)" }
      return s
    }
  }

  public var terms: [Term]
  /// True for `?`-joined terms. Always false for fewer than two terms.
  public var isOr: Bool

  public init(terms: [Term], isOr: Bool = false) {
    self.terms = terms
    self.isOr = terms.count > 1 && isOr
  }

  /// Distinct target job ids in order of appearance, for existence and cycle checks.
  public var jobIDs: [Int] {
    var seen = Set<Int>()
    return terms.compactMap(\.jobID).filter { seen.insert($0).inserted }
  }

  /// Canonical form: explicit types, consecutive terms of one type grouped
  /// (`afterok:12:13,after:14+5`). Parses back to `self`.
  public var description: String {
    var groups: [(kind: Kind, targets: [String])] = []
    for term in terms {
      if term.kind != .singleton, let last = groups.last, last.kind == term.kind {
        groups[groups.count - 1].targets.append(term.target)
      } else {
        groups.append((term.kind, term.kind == .singleton ? [] : [term.target]))
      }
    }
    return groups.map { g in
      g.kind == .singleton ? "singleton" : "\(g.kind.rawValue):" + g.targets.joined(separator: ":")
    }.joined(separator: isOr ? "?" : ",")
  }

  /// SLURM's largest `after:id+minutes` (a C int; above it sbatch fails with "Job dependency
  /// problem").
  public static let maxDelayMinutes = Int(Int32.max)

  /// `parse`, with messages naming `option` (orch submit's `--after`) instead of `--dependency`.
  public static func parse(_ s: String, option: String) throws(OrchError) -> DependencySpec {
    do {
      return try parse(s)
    } catch {
      var error = error
      error.message = error.message.replacingOccurrences(of: "--dependency", with: option)
      throw error
    }
  }

  public static func parse(_ s: String) throws(OrchError) -> DependencySpec {
    let text = SlurmText.trimmed(s)
    if text.isEmpty {
      throw .badInput("empty --dependency value; expected type:id[:id…] such as afterok:12 or afterany:12,after:13")
    }
    guard let chunks = SlurmText.splitTopLevel(text, on: [",", "?"]) else {
      throw .badInput("--dependency '\(text)' has unbalanced brackets; expected ids such as 12_[1-3]")
    }
    let separators = Set(chunks.compactMap(\.separator))
    if separators.count > 1 {
      throw .badInput(
        "--dependency '\(text)' mixes ',' (all must hold) and '?' (any one suffices); use only one kind of separator")
    }
    var terms: [Term] = []
    var seen = Set<Term>()
    for chunk in chunks {
      if chunk.part.isEmpty {
        throw .badInput("--dependency '\(text)' has an empty term; expected type:id between separators")
      }
      for term in try parseTerm(chunk.part, whole: text) where seen.insert(dedupKey(term)).inserted {
        terms.append(term)
      }
    }
    return DependencySpec(terms: terms, isOr: separators.contains("?"))
  }

  /// SLURM keys repeats on type and target only, so `after:12` and `after:12+5` are one term.
  private static func dedupKey(_ term: Term) -> Term {
    Term(kind: term.kind, jobID: term.jobID, elements: term.elements)
  }

  private static let expected = "after, afterany, afterok, afternotok, aftercorr or singleton"

  private static func parseTerm(_ chunk: String, whole: String) throws(OrchError) -> [Term] {
    guard let pieces = SlurmText.splitTopLevel(chunk, on: [":"])?.map(\.part) else {
      throw .badInput("--dependency '\(whole)' has unbalanced brackets; expected ids such as 12_[1-3]")
    }
    let head = pieces[0]
    let kind: Kind
    let idTexts: [String]
    if let first = head.first, first.isASCII, first.isNumber {
      kind = .afterok
      idTexts = pieces
    } else {
      let name = head.lowercased()
      switch name {
      case "afterburstbuffer":
        throw .badInput("--dependency '\(whole)' uses afterburstbuffer; orch has no burst buffers, use \(expected)")
      case "expand":
        throw .badInput("--dependency '\(whole)' uses expand; job expansion is not supported, use \(expected)")
      default:
        break
      }
      guard let k = Kind(rawValue: name) else {
        throw .badInput("--dependency '\(whole)' has unknown type '\(head)'; expected \(expected)")
      }
      if k == .singleton {
        if pieces.count > 1 {
          throw .badInput("--dependency '\(whole)' gives job ids to singleton; singleton takes none")
        }
        return [Term(kind: .singleton)]
      }
      kind = k
      idTexts = Array(pieces.dropFirst())
      if idTexts.isEmpty || idTexts == [""] {
        throw .badInput("--dependency '\(whole)' has \(name) without job ids; expected \(name):12[:13…]")
      }
    }
    var terms: [Term] = []
    for idText in idTexts {
      terms += try parseTarget(idText, kind: kind, whole: whole)
    }
    return terms
  }

  private static func parseTarget(_ idText: String, kind: Kind, whole: String) throws(OrchError) -> [Term] {
    if idText.isEmpty {
      throw .badInput("--dependency '\(whole)' has an empty job id; expected ids separated by single ':'")
    }
    let (target, delayText) = SlurmText.splitOnce(idText, "+")
    var delay: Int?
    if let delayText {
      if kind != .after {
        throw .badInput(
          "--dependency '\(whole)' puts a '+minutes' delay on \(kind.rawValue); only after:id+minutes takes one")
      }
      guard SlurmText.isDigits(delayText) else {
        throw .badInput(
          "--dependency '\(whole)' has delay '+\(delayText)'; expected whole minutes ≥ 1 as in after:12+5")
      }
      // Refused here, never trapped on later: the daemon turns the delay into seconds.
      let minutes = Int(delayText) ?? Int.max
      if minutes < 1 {
        throw .badInput(
          "--dependency '\(whole)' has delay '+\(delayText)'; expected whole minutes ≥ 1 as in after:12+5")
      }
      if minutes > maxDelayMinutes {
        throw .badInput(
          "--dependency '\(whole)' has delay '+\(delayText)' minutes; at most \(maxDelayMinutes) (SLURM's limit)")
      }
      delay = minutes
    }
    let (idPart, indexPart) = SlurmText.splitOnce(target, "_")
    let jobID = try JobSelector.jobID(idPart, in: idPart, what: "--dependency '\(whole)': job id")
    var ranges: [ElementRange?]
    switch indexPart {
    case nil, "*":
      ranges = [nil]
    case let p? where p.hasPrefix("[") && p.hasSuffix("]") && p.count >= 2:
      let inner = String(p.dropFirst().dropLast())
      if inner.contains("%") {
        throw .badInput("--dependency '\(whole)' has a '%' throttle in '\(target)'; expected ids such as 12_[1-3]")
      }
      ranges = try ArraySpec.parseRanges(inner, whole: target, label: "--dependency '\(whole)': ids")
    case let p?:
      guard SlurmText.isDigits(p), let index = Int(p) else {
        throw .badInput(
          "--dependency '\(whole)' has array index '\(p)' in '\(target)'; expected 12_3, 12_[1-3] or 12_*")
      }
      ranges = [ElementRange(index)]
    }
    if kind == .aftercorr && ranges != [nil] {
      throw .badInput(
        "--dependency '\(whole)' names an element in aftercorr:\(target); aftercorr pairs elements by index, give the array id"
      )
    }
    return ranges.map { Term(kind: kind, jobID: jobID, elements: $0, delayMinutes: delay) }
  }
}
