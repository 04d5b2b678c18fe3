/// A gin binding's value, with the YAML type it was written with (`0.1` double, `1` int, `"1"`
/// string), because the type decides both how a template renders it and the config hash.
public enum BindingValue: Sendable, Hashable {
  case string(String)
  case int(Int)
  case double(Double)
  case bool(Bool)
  case null
  case list([BindingValue])
  case map([String: BindingValue])

  /// What a template hole renders: strings as-is, numbers like Python's `str()`, bools
  /// `true`/`false`, null `null`, lists and maps as their canonical JSON.
  public var templateText: String {
    switch self {
    case .string(let s): return s
    case .int(let i): return String(i)
    case .double(let d): return PyFloat.repr(d)
    case .bool(let b): return b ? "true" : "false"
    case .null: return "null"
    case .list, .map: return json
    }
  }

  /// Canonical JSON: no whitespace, map keys sorted bytewise, doubles like Python's `repr`, so
  /// it equals Python's `json.dumps(v, sort_keys=True, separators=(',', ':'), ensure_ascii=False)`.
  public var json: String {
    var out: [UInt8] = []
    appendJSON(to: &out)
    return String(decoding: out, as: UTF8.self)
  }

  func appendJSON(to out: inout [UInt8]) {
    switch self {
    case .string(let s): JSON.appendString(s, to: &out)
    case .int(let i): out.append(contentsOf: String(i).utf8)
    case .double(let d): out.append(contentsOf: PyFloat.json(d).utf8)
    case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
    case .null: out.append(contentsOf: "null".utf8)
    case .list(let items):
      out.append(UInt8(ascii: "["))
      for (i, item) in items.enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        item.appendJSON(to: &out)
      }
      out.append(UInt8(ascii: "]"))
    case .map(let m):
      out.append(UInt8(ascii: "{"))
      for (i, k) in m.keys.sorted(by: bytewiseLess).enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        JSON.appendString(k, to: &out)
        out.append(UInt8(ascii: ":"))
        m[k]!.appendJSON(to: &out)
      }
      out.append(UInt8(ascii: "}"))
    }
  }

  /// Equality as a `when: if:` condition sees it: Python's `==`, so `1` matches `1.0`.
  func conditionEquals(_ other: BindingValue) -> Bool {
    switch (self, other) {
    case (.int(let a), .double(let b)), (.double(let b), .int(let a)): return Double(a) == b
    case (.list(let a), .list(let b)):
      return a.count == b.count && zip(a, b).allSatisfy { $0.conditionEquals($1) }
    case (.map(let a), .map(let b)):
      return a.count == b.count && a.allSatisfy { k, v in b[k].map { v.conditionEquals($0) } ?? false }
    default: return self == other
    }
  }
}

/// Canonical order for binding names, map keys and env names: UTF-8 bytes, which is also Python's
/// code-point order, so hashes agree with a Python re-implementation.
func bytewiseLess(_ a: String, _ b: String) -> Bool {
  a.utf8.lexicographicallyPrecedes(b.utf8)
}

enum JSON {
  static func appendString(_ s: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    appendEscaped(s.utf8, to: &out)
    out.append(UInt8(ascii: "\""))
  }

  /// Escapes byte-wise; safe for UTF-8 because every byte of a multi-byte sequence is >= 0x80.
  static func appendEscaped<S: Sequence<UInt8>>(_ bytes: S, to out: inout [UInt8]) {
    for b in bytes {
      switch b {
      case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(b)
      case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
      case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
      case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
      case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
      case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
      case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
      case 0..<0x20:
        let hex = Array("0123456789abcdef".utf8)
        out.append(contentsOf: "\\u00".utf8)
        out.append(hex[Int(b >> 4)])
        out.append(hex[Int(b & 15)])
      default: out.append(b)
      }
    }
  }

  static func escaped(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    appendEscaped(s.utf8, to: &out)
    return out
  }
}

/// Python's float formatting (`repr`/`str`, and what `json.dumps` writes), built on Swift's
/// shortest round-trip digits, which are the same digits Python's `repr` picks.
enum PyFloat {
  static func repr(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    let (negative, digits, point) = decompose(d)
    var s = negative ? "-" : ""
    // Python switches to exponent notation when the decimal point is outside (-4, 16].
    if point <= -4 || point > 16 {
      s.append(digits.first!)
      if digits.count > 1 { s += "." + digits.dropFirst() }
      let e = point - 1
      s += e < 0 ? "e-" : "e+"
      let mag = String(abs(e))
      s += (mag.count < 2 ? "0" : "") + mag
    } else if point <= 0 {
      s += "0." + String(repeating: "0", count: -point) + digits
    } else if point >= digits.count {
      s += digits + String(repeating: "0", count: point - digits.count) + ".0"
    } else {
      let cut = digits.index(digits.startIndex, offsetBy: point)
      s += digits[..<cut] + "." + digits[cut...]
    }
    return s
  }

  static func json(_ d: Double) -> String {
    if d.isNaN { return "NaN" }
    if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
    return repr(d)
  }

  /// Shortest digits (no leading/trailing zeros) and the decimal point position: d = 0.DIGITS × 10^point.
  private static func decompose(_ d: Double) -> (Bool, String, Int) {
    var text = Substring(d.description)
    let negative = text.hasPrefix("-")
    if negative { text = text.dropFirst() }
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
      exponent = Int(text[text.index(after: e)...])!
      text = text[..<e]
    }
    let intPart = text.split(separator: ".", omittingEmptySubsequences: false)[0]
    var digits = Substring(text.filter { $0 != "." })
    var point = intPart.count + exponent
    while digits.first == "0" { digits = digits.dropFirst(); point -= 1 }
    while digits.last == "0" { digits = digits.dropLast() }
    if digits.isEmpty { return (negative, "0", 1) }
    return (negative, String(digits), point)
  }
}
