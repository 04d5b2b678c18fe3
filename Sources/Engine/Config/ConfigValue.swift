/// A binding's value as it arrives in a job's config JSON. JSON numbers keep the type they were
/// written with (`1` int, `1.0` double), because the schema checks types.
public enum ConfigValue: Sendable, Hashable, CustomStringConvertible {
  case string(String)
  case int(Int)
  case double(Double)
  case bool(Bool)
  case null
  case list([ConfigValue])
  case map([String: ConfigValue])

  /// Canonical JSON: no whitespace, keys sorted bytewise, doubles in Swift's shortest
  /// round-trip form with a `.0` on integral values so they stay doubles when parsed back.
  public var json: String {
    var out = ""
    appendJSON(to: &out)
    return out
  }

  public var description: String { json }

  /// What the value is, for error messages: "the string 'x'", "the integer 3", …
  var kindDescription: String {
    switch self {
    case .string(let s): "the string '\(s)'"
    case .int(let i): "the integer \(i)"
    case .double(let d): "the number \(ConfigValue.format(d))"
    case .bool(let b): "the boolean \(b)"
    case .null: "null"
    case .list: "the list \(json)"
    case .map: "the object \(json)"
    }
  }

  func appendJSON(to out: inout String) {
    switch self {
    case .string(let s): out += ConfigValue.quote(s)
    case .int(let i): out += String(i)
    case .double(let d): out += d.isFinite ? ConfigValue.format(d) : "null"
    case .bool(let b): out += b ? "true" : "false"
    case .null: out += "null"
    case .list(let items):
      out += "["
      for (i, item) in items.enumerated() {
        if i > 0 { out += "," }
        item.appendJSON(to: &out)
      }
      out += "]"
    case .map(let m):
      out += "{"
      for (i, key) in m.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
        if i > 0 { out += "," }
        out += ConfigValue.quote(key) + ":"
        m[key]!.appendJSON(to: &out)
      }
      out += "}"
    }
  }

  static func format(_ d: Double) -> String {
    let s = "\(d)"
    return s.contains(where: { $0 == "." || $0 == "e" || $0 == "n" || $0 == "i" }) ? s : s + ".0"
  }

  static func quote(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}

extension ConfigValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
  ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int) { self = .int(value) }
  public init(floatLiteral value: Double) { self = .double(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(arrayLiteral elements: ConfigValue...) { self = .list(elements) }
}

extension ConfigValue {
  /// Parses one JSON document. A hand parser rather than JSONSerialization, which on Linux
  /// cannot tell `1` from `1.0` or `true` from `1`.
  public static func parse(json text: String) throws(EngineError) -> ConfigValue {
    var parser = JSONParser(bytes: Array(text.utf8))
    parser.skipSpace()
    let value = try parser.value(depth: 0)
    parser.skipSpace()
    guard parser.at == parser.bytes.count else { throw parser.fail("unexpected text after the JSON value") }
    return value
  }
}

private struct JSONParser {
  let bytes: [UInt8]
  var at = 0

  init(bytes: [UInt8]) { self.bytes = bytes }

  func fail(_ message: String) -> EngineError {
    EngineError(.format, "invalid JSON at byte \(at): \(message)")
  }

  mutating func skipSpace() {
    while at < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[at]) { at += 1 }
  }

  mutating func expect(_ word: String) throws(EngineError) {
    let w = Array(word.utf8)
    guard at + w.count <= bytes.count, Array(bytes[at..<(at + w.count)]) == w else { throw fail("expected \(word)") }
    at += w.count
  }

  mutating func value(depth: Int) throws(EngineError) -> ConfigValue {
    guard depth < 64 else { throw fail("nested too deeply") }
    guard at < bytes.count else { throw fail("unexpected end") }
    switch bytes[at] {
    case UInt8(ascii: "{"):
      at += 1
      var map: [String: ConfigValue] = [:]
      skipSpace()
      if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
        at += 1
        return .map(map)
      }
      while true {
        skipSpace()
        guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a key string") }
        let key = try string()
        skipSpace()
        try expect(":")
        skipSpace()
        map[key] = try value(depth: depth + 1)
        skipSpace()
        guard at < bytes.count else { throw fail("unterminated object") }
        if bytes[at] == UInt8(ascii: ",") {
          at += 1
        } else if bytes[at] == UInt8(ascii: "}") {
          at += 1
          return .map(map)
        } else {
          throw fail("expected ',' or '}'")
        }
      }
    case UInt8(ascii: "["):
      at += 1
      var items: [ConfigValue] = []
      skipSpace()
      if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
        at += 1
        return .list(items)
      }
      while true {
        skipSpace()
        items.append(try value(depth: depth + 1))
        skipSpace()
        guard at < bytes.count else { throw fail("unterminated list") }
        if bytes[at] == UInt8(ascii: ",") {
          at += 1
        } else if bytes[at] == UInt8(ascii: "]") {
          at += 1
          return .list(items)
        } else {
          throw fail("expected ',' or ']'")
        }
      }
    case UInt8(ascii: "\""):
      return .string(try string())
    case UInt8(ascii: "t"):
      try expect("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expect("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expect("null")
      return .null
    // Python's json writes these; read as numbers, the schema refuses them naming the binding.
    case UInt8(ascii: "N"):
      try expect("NaN")
      return .double(.nan)
    case UInt8(ascii: "I"):
      try expect("Infinity")
      return .double(.infinity)
    case UInt8(ascii: "-") where at + 1 < bytes.count && bytes[at + 1] == UInt8(ascii: "I"):
      at += 1
      try expect("Infinity")
      return .double(-.infinity)
    default:
      return try number()
    }
  }

  mutating func number() throws(EngineError) -> ConfigValue {
    let start = at
    var isDouble = false
    while at < bytes.count {
      let b = bytes[at]
      if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") {
        isDouble = true
      } else if !(b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || (b >= 0x30 && b <= 0x39)) {
        break
      }
      at += 1
    }
    let text = String(decoding: bytes[start..<at], as: UTF8.self)
    if !isDouble, let i = Int(text) { return .int(i) }
    // 1e999 is an infinity, left for the schema to refuse by name.
    guard !text.isEmpty, let d = Double(text) else {
      at = start
      throw fail("expected a value")
    }
    return .double(d)
  }

  mutating func string() throws(EngineError) -> String {
    at += 1  // opening quote
    var out: [UInt8] = []
    while true {
      guard at < bytes.count else { throw fail("unterminated string") }
      let b = bytes[at]
      at += 1
      switch b {
      case UInt8(ascii: "\""):
        return String(decoding: out, as: UTF8.self)
      case UInt8(ascii: "\\"):
        guard at < bytes.count else { throw fail("unterminated escape") }
        let e = bytes[at]
        at += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "u"):
          var code = try hex4()
          if (0xD800..<0xDC00).contains(code) {
            // A surrogate pair spells one scalar outside the basic plane.
            try expect("\\u")
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
          }
          guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
          out.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
          throw fail("invalid escape")
        }
      default:
        out.append(b)
      }
    }
  }

  mutating func hex4() throws(EngineError) -> UInt32 {
    guard at + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[at..<(at + 4)], as: UTF8.self), radix: 16)
    else { throw fail("invalid \\u escape") }
    at += 4
    return v
  }
}
