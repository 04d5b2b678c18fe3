import OrchCore

/// SLURM `--time` values: `min`, `min:sec`, `h:m:s`, `d-h`, `d-h:m`, `d-h:m:s`; `0`, `INFINITE`
/// and `UNLIMITED` mean no limit. Seconds are kept exact (SLURM rounds up to whole minutes).
public enum TimeSpec {
  public static func parseSeconds(_ s: String) throws(OrchError) -> Int? {
    let bad = OrchError.badInput(
      "bad time '\(s)': expected min, min:sec, h:m:s, d-h, d-h:m or d-h:m:s")
    let text = s.trimmingSpaces
    if ["INFINITE", "UNLIMITED"].contains(text.uppercased()) { return nil }
    var days = 0
    var rest = Substring(text)
    let dashed = text.split(separator: "-", omittingEmptySubsequences: false)
    if dashed.count == 2 {
      guard let d = number(dashed[0]) else { throw bad }
      days = d
      rest = dashed[1]
    } else if dashed.count > 2 {
      throw bad
    }
    let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
    var fields: [Int] = []
    for p in parts {
      guard let n = number(p) else { throw bad }
      fields.append(n)
    }
    let seconds: Int
    switch (dashed.count == 2, fields.count) {
    case (false, 1): seconds = fields[0] * 60
    case (false, 2): seconds = fields[0] * 60 + fields[1]
    case (false, 3), (true, 3): seconds = fields[0] * 3600 + fields[1] * 60 + fields[2]
    case (true, 1): seconds = fields[0] * 3600
    case (true, 2): seconds = fields[0] * 3600 + fields[1] * 60
    default: throw bad
    }
    let total = days * 86400 + seconds
    return total == 0 ? nil : total
  }

  /// Digits only, and small enough that the arithmetic above cannot overflow.
  private static func number(_ s: Substring) -> Int? {
    guard !s.isEmpty, s.count <= 9, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return Int(s)
  }
}

/// SLURM `--mem` values: an integer with an optional unit K, M, G or T (binary multiples, default
/// M). `0` means no limit (SLURM: all of the node's memory).
public enum MemorySpec {
  public static func parseBytes(_ s: String) throws(OrchError) -> Int64? {
    let bad = OrchError.badInput(
      "bad memory '\(s)': expected an integer with an optional unit K, M, G or T (default M)")
    var text = Substring(s.trimmingSpaces)
    var shift: Int64 = 20
    if let last = text.last, last.isLetter {
      switch last {
      case "K", "k": shift = 10
      case "M", "m": shift = 20
      case "G", "g": shift = 30
      case "T", "t": shift = 40
      default: throw bad
      }
      text = text.dropLast()
    }
    guard !text.isEmpty, text.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
      let n = Int64(text)
    else { throw bad }
    if n == 0 { return nil }
    guard n <= Int64.max >> shift else {
      throw .badInput("bad memory '\(s)': too large")
    }
    return n << shift
  }
}

extension String {
  public var trimmingSpaces: String {
    var s = Substring(self)
    while s.first == " " || s.first == "\t" { s = s.dropFirst() }
    while s.last == " " || s.last == "\t" { s = s.dropLast() }
    return String(s)
  }
}
