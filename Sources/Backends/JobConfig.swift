import Foundation

/// The parts of a stored config (canonical JSON) the daemon needs to launch it. Read by a small
/// scanner that decodes only `command`, `env` and `engine` and skips the rest: the daemon does this
/// for every job it dispatches, and a general JSON decoder made it a tenth of the daemon's time.
public struct JobConfig {
  public var argv: [String]?
  public var env: [String: String] = [:]
  public var engine: String?

  /// Fields of another type are ignored, as if absent; malformed JSON gives an empty config.
  public static func parse(_ json: String) -> JobConfig {
    var json = json
    json.makeContiguousUTF8()
    var config = JobConfig()
    let parsed =
      json.utf8.withContiguousStorageIfAvailable { buffer in
        var s = Scanner(bytes: buffer)
        return (try? s.topLevel(into: &config)) != nil
      } ?? false
    return parsed ? config : JobConfig()
  }

  struct Malformed: Error {}

  struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func topLevel(into config: inout JobConfig) throws {
      try expect(UInt8(ascii: "{"))
      if try peek() == UInt8(ascii: "}") {
        i += 1
        return
      }
      while true {
        let key = try string()
        try expect(UInt8(ascii: ":"))
        switch key {
        case "command": config.argv = try stringArray()
        case "env": config.env = try stringMap() ?? [:]
        case "engine":
          if try peek() == UInt8(ascii: "\"") { config.engine = try string() } else { try skipValue() }
        default: try skipValue()
        }
        let c = try next()
        if c == UInt8(ascii: "}") { return }
        guard c == UInt8(ascii: ",") else { throw Malformed() }
      }
    }

    /// An array of strings, or nil (and skipped) for any other value.
    mutating func stringArray() throws -> [String]? {
      guard try peek() == UInt8(ascii: "[") else {
        try skipValue()
        return nil
      }
      let start = i
      i += 1
      var result: [String] = []
      if try peek() == UInt8(ascii: "]") {
        i += 1
        return result
      }
      while true {
        guard try peek() == UInt8(ascii: "\"") else {
          i = start
          try skipValue()
          return nil
        }
        result.append(try string())
        let c = try next()
        if c == UInt8(ascii: "]") { return result }
        guard c == UInt8(ascii: ",") else { throw Malformed() }
      }
    }

    /// An object of string values, or nil (and skipped) for any other value.
    mutating func stringMap() throws -> [String: String]? {
      guard try peek() == UInt8(ascii: "{") else {
        try skipValue()
        return nil
      }
      let start = i
      i += 1
      var result: [String: String] = [:]
      if try peek() == UInt8(ascii: "}") {
        i += 1
        return result
      }
      while true {
        let key = try string()
        try expect(UInt8(ascii: ":"))
        guard try peek() == UInt8(ascii: "\"") else {
          i = start
          try skipValue()
          return nil
        }
        result[key] = try string()
        let c = try next()
        if c == UInt8(ascii: "}") { return result }
        guard c == UInt8(ascii: ",") else { throw Malformed() }
      }
    }

    mutating func skipValue() throws {
      switch try peek() {
      case UInt8(ascii: "\""): _ = try string()
      case UInt8(ascii: "{"), UInt8(ascii: "["):
        var depth = 0
        repeat {
          let c = try next()
          if c == UInt8(ascii: "\"") {
            i -= 1
            _ = try string()
          } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
            depth += 1
          } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
            depth -= 1
          }
        } while depth > 0
      default:
        // A number or a literal: up to the next delimiter.
        while i < bytes.count, !",}] \n\r\t".utf8.contains(bytes[i]) { i += 1 }
      }
    }

    mutating func string() throws -> String {
      try expect(UInt8(ascii: "\""))
      var start = i
      var pieces: [UInt8] = []
      while i < bytes.count {
        let c = bytes[i]
        if c == UInt8(ascii: "\"") {
          defer { i += 1 }
          if pieces.isEmpty { return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self) }
          pieces.append(contentsOf: bytes[start..<i])
          return String(decoding: pieces, as: UTF8.self)
        }
        if c == UInt8(ascii: "\\") {
          pieces.append(contentsOf: bytes[start..<i])
          i += 1
          guard i < bytes.count else { throw Malformed() }
          switch bytes[i] {
          case UInt8(ascii: "n"): pieces.append(0x0A)
          case UInt8(ascii: "t"): pieces.append(0x09)
          case UInt8(ascii: "r"): pieces.append(0x0D)
          case UInt8(ascii: "b"): pieces.append(0x08)
          case UInt8(ascii: "f"): pieces.append(0x0C)
          case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar), i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: "\\"),
              bytes[i + 2] == UInt8(ascii: "u")
            {
              i += 2
              let low = try hex4()
              scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            pieces.append(contentsOf: Array(String(Unicode.Scalar(scalar) ?? "\u{FFFD}").utf8))
          default: pieces.append(bytes[i])  // \" \\ \/
          }
          i += 1
          start = i
          continue
        }
        i += 1
      }
      throw Malformed()
    }

    /// The four hex digits after `\u` (leaves `i` on the last one).
    mutating func hex4() throws -> UInt32 {
      guard i + 4 < bytes.count else { throw Malformed() }
      var value: UInt32 = 0
      for k in 1...4 {
        guard let d = Character(Unicode.Scalar(bytes[i + k])).hexDigitValue else { throw Malformed() }
        value = value << 4 | UInt32(d)
      }
      i += 4
      return value
    }

    mutating func peek() throws -> UInt8 {
      while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
      guard i < bytes.count else { throw Malformed() }
      return bytes[i]
    }

    mutating func next() throws -> UInt8 {
      let c = try peek()
      i += 1
      return c
    }

    mutating func expect(_ c: UInt8) throws {
      guard try next() == c else { throw Malformed() }
    }
  }
}
