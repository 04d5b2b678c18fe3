import OrchCore
import Store

/// A parsed `sbatch --array` value: `0-15`, `0,6,16-32`, `0-15:4`, `0-15%4`.
public struct ArraySpec: Sendable, Hashable, CustomStringConvertible {
  /// Sorted, unique.
  public var indices: [Int]
  /// `%N`: at most N elements run at once.
  public var throttle: Int?

  /// SLURM's ceiling for `MaxArraySize`; indices must stay below it.
  public static let maxArraySizeLimit = 4_000_001
  /// SLURM's default `MaxArraySize`.
  public static let defaultMaxArraySize = 1001

  public init(indices: [Int], throttle: Int? = nil) {
    self.indices = ArraySpec.isStrictlyIncreasing(indices) ? indices : Array(Set(indices)).sorted()
    self.throttle = throttle
  }

  /// `maxArraySize` mirrors SLURM's `MaxArraySize`: every index must be below it. The default is
  /// the largest value SLURM accepts, so only callers that enforce a site limit pass one.
  public static func parse(
    _ s: String, maxArraySize: Int = maxArraySizeLimit
  ) throws(OrchError) -> ArraySpec {
    let text = SlurmText.trimmed(s)
    if text.isEmpty {
      throw .badInput("empty --array value; expected indices such as 0-15, 1,3,5, 0-15:4 or 0-15%4")
    }
    let parts = text.split(separator: "%", omittingEmptySubsequences: false)
    if parts.count > 2 {
      throw .badInput("--array '\(text)' has more than one '%'; expected one trailing throttle such as 0-15%4")
    }
    var throttle: Int?
    if parts.count == 2 {
      let raw = String(parts[1])
      guard SlurmText.isDigits(raw), let n = Int(raw), n >= 1 else {
        throw .badInput(
          "--array '\(text)' has throttle '%\(raw)'; expected a whole number ≥ 1 after '%' (at most N elements at once)"
        )
      }
      throttle = n
    }
    let indices = try parseIndexList(
      String(parts[0]), whole: text, label: "--array", maxArraySize: maxArraySize)
    return ArraySpec(sortedUnique: indices, throttle: throttle)
  }

  /// Canonical form: compressed ranges plus the throttle, e.g. `0-3,8%2`. Parses back to `self`.
  public var description: String {
    ArraySpec.compress(indices) + (throttle.map { "%\($0)" } ?? "")
  }

  /// The inner text squeue prints for a collapsed array, `1-3,5,7-9` for `[1-3,5,7-9]`.
  /// Two consecutive indices print as a range (`1-2`), as SLURM's bitmap formatter does.
  public static func compress(_ indices: [Int]) -> String {
    let sorted = isStrictlyIncreasing(indices) ? indices : Array(Set(indices)).sorted()
    var out: [String] = []
    var i = 0
    while i < sorted.count {
      var j = i
      while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
      out.append(i == j ? "\(sorted[i])" : "\(sorted[i])-\(sorted[j])")
      i = j + 1
    }
    return out.joined(separator: ",")
  }

  init(sortedUnique indices: [Int], throttle: Int?) {
    self.indices = indices
    self.throttle = throttle
  }

  /// Parses the comma list without a throttle; shared with job selectors and dependency ids so
  /// all three accept the same index syntax. `label` and `whole` name the input in messages.
  static func parseIndexList(
    _ body: String, whole: String, label: String, maxArraySize: Int = maxArraySizeLimit
  ) throws(OrchError) -> [Int] {
    try expand(parseRanges(body, whole: whole, label: label, maxArraySize: maxArraySize), whole: whole, label: label)
  }

  /// The comma list as written, one range per element, nothing expanded: every index is checked
  /// against `maxArraySize` before anything is allocated for it.
  static func parseRanges(
    _ body: String, whole: String, label: String, maxArraySize: Int = maxArraySizeLimit
  ) throws(OrchError) -> [ElementRange] {
    if body.isEmpty {
      throw .badInput("\(label) '\(whole)' has no indices; expected N, A-B or A-B:STEP separated by ','")
    }
    let maxIndex = maxArraySize - 1
    var ranges: [ElementRange] = []
    for element in body.split(separator: ",", omittingEmptySubsequences: false) {
      let e = String(element)
      if e.isEmpty {
        throw .badInput("\(label) '\(whole)' has an empty element; expected N, A-B or A-B:STEP between commas")
      }
      if e.hasPrefix("-") {
        throw .badInput("\(label) '\(whole)' has negative index '\(e)'; indices are whole numbers ≥ 0")
      }
      let (rangePart, stepPart) = SlurmText.splitOnce(e, ":")
      let (lowText, highText) = SlurmText.splitOnce(rangePart, "-")
      if stepPart != nil && highText == nil {
        throw .badInput("\(label) '\(whole)' has '\(e)'; a step needs a range, expected A-B:STEP")
      }
      let low = try number(lowText, element: e, whole: whole, label: label)
      var high = low
      var step = 1
      if let highText {
        if highText.isEmpty {
          throw .badInput("\(label) '\(whole)' has open range '\(e)'; expected A-B with both ends given")
        }
        if highText.hasPrefix("-") {
          throw .badInput("\(label) '\(whole)' has negative index in '\(e)'; indices are whole numbers ≥ 0")
        }
        high = try number(highText, element: e, whole: whole, label: label)
        if low > high {
          throw .badInput("\(label) '\(whole)' has descending range '\(e)'; expected A-B with A ≤ B")
        }
      }
      if let stepPart {
        step = try number(stepPart, element: e, whole: whole, label: label)
        if step == 0 {
          throw .badInput("\(label) '\(whole)' has step 0 in '\(e)'; expected a step ≥ 1")
        }
      }
      if high > maxIndex {
        throw .badInput(
          "\(label) '\(whole)' has index \(high), above the maximum \(maxIndex) (MaxArraySize \(maxArraySize))")
      }
      ranges.append(ElementRange(first: low, last: high, step: step))
    }
    return ranges
  }

  /// Stepped elements set one by one in `expand` beyond which a list is refused: only lists
  /// that repeat huge stepped ranges reach it (every index is below MaxArraySize, so the result
  /// never has more than MaxArraySize elements).
  static let expansionBudget = 4 * maxArraySizeLimit

  /// The indices of `ranges`, sorted and unique, in time and memory proportional to the result
  /// however the list repeats or overlaps itself: ranges in increasing order are appended as
  /// they are, a short list is sorted, and anything else is built in a bitmap of the indices,
  /// whole words at a time for plain ranges (sorting millions of indices takes seconds).
  static func expand(_ ranges: [ElementRange], whole: String, label: String) throws(OrchError) -> [Int] {
    var ordered = true
    var total = 0
    for (i, r) in ranges.enumerated() {
      if i > 0 && r.first <= ranges[i - 1].last { ordered = false }
      total = total &+ min(r.count, maxArraySizeLimit)
    }
    if ordered || total <= 4096 {
      var all: [Int] = []
      all.reserveCapacity(min(total, maxArraySizeLimit))
      for r in ranges { all.append(contentsOf: stride(from: r.first, through: r.last, by: r.step)) }
      if ordered { return all }
      all.sort()
      var unique: [Int] = []
      unique.reserveCapacity(all.count)
      for n in all where unique.last != n { unique.append(n) }
      return unique
    }
    let top = ranges.map(\.last).max() ?? 0
    var words = [UInt64](repeating: 0, count: top / 64 + 1)
    // Plain ranges merged first, so overlapping copies cost nothing more.
    var plain: [(first: Int, last: Int)] = []
    for r in ranges.filter({ $0.step == 1 }).sorted(by: { $0.first < $1.first }) {
      if let last = plain.last, r.first <= last.last + 1 {
        plain[plain.count - 1].last = max(last.last, r.last)
      } else {
        plain.append((r.first, r.last))
      }
    }
    for (first, last) in plain {
      var i = first
      while i <= last {
        if i % 64 == 0 && i + 63 <= last {
          words[i / 64] = ~0
          i += 64
        } else {
          words[i / 64] |= 1 << UInt64(i % 64)
          i += 1
        }
      }
    }
    var budget = expansionBudget
    for r in Set(ranges.filter { $0.step > 1 }) {
      budget -= r.count
      if budget < 0 {
        throw .badInput(
          "\(label) '\(whole)' repeats stepped ranges over more than \(expansionBudget) indices in all; list each index once"
        )
      }
      for i in stride(from: r.first, through: r.last, by: r.step) { words[i / 64] |= 1 << UInt64(i % 64) }
    }
    var out: [Int] = []
    out.reserveCapacity(min(total, maxArraySizeLimit))
    for (w, word) in words.enumerated() {
      var bits = word
      while bits != 0 {
        out.append(w * 64 + bits.trailingZeroBitCount)
        bits &= bits - 1
      }
    }
    return out
  }

  private static func isStrictlyIncreasing(_ a: [Int]) -> Bool {
    var i = 1
    while i < a.count {
      if a[i - 1] >= a[i] { return false }
      i += 1
    }
    return true
  }

  private static func number(
    _ text: String, element: String, whole: String, label: String
  ) throws(OrchError) -> Int {
    guard SlurmText.isDigits(text) else {
      throw .badInput(
        "\(label) '\(whole)' has bad element '\(element)'; expected N, A-B or A-B:STEP with whole numbers")
    }
    guard let n = Int(text) else {
      throw .badInput("\(label) '\(whole)' has number '\(text)', far above the maximum index \(maxArraySizeLimit - 1)")
    }
    return n
  }
}

/// Small lexical helpers shared by the SLURM parsers; namespaced to stay clear of the rest of
/// the module.
public enum SlurmText {
  static func isDigits(_ s: some StringProtocol) -> Bool {
    !s.isEmpty && s.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
  }

  public static func trimmed(_ s: String) -> String {
    var sub = Substring(s)
    while let c = sub.first, c.isWhitespace { sub.removeFirst() }
    while let c = sub.last, c.isWhitespace { sub.removeLast() }
    return String(sub)
  }

  /// Splits at the first `separator`; the second part is nil when it does not occur.
  public static func splitOnce(_ s: String, _ separator: Character) -> (String, String?) {
    guard let i = s.firstIndex(of: separator) else { return (s, nil) }
    return (String(s[..<i]), String(s[s.index(after: i)...]))
  }

  /// Splits on `separators` outside `[...]`, so `12_[1-3,5]` survives a split on `,` and
  /// `12_[0-8:2]` one on `:`. Nil when brackets do not balance.
  public static func splitTopLevel(_ s: String, on separators: Set<Character>) -> [(
    part: String, separator: Character?
  )]? {
    var out: [(String, Character?)] = []
    var current = ""
    var depth = 0
    for c in s {
      if c == "[" {
        depth += 1
        if depth > 1 { return nil }
      } else if c == "]" {
        depth -= 1
        if depth < 0 { return nil }
      }
      if depth == 0 && separators.contains(c) {
        out.append((current, c))
        current = ""
      } else {
        current.append(c)
      }
    }
    if depth != 0 { return nil }
    out.append((current, nil))
    return out
  }
}
