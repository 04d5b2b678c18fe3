import Foundation

/// Output written in 64 KiB blocks: a listing of a million rows never holds them all.
public final class StreamOut {
  private var buffer: [UInt8] = []

  public init() { buffer.reserveCapacity(1 << 16) }

  public func write(_ text: String) {
    buffer.append(contentsOf: text.utf8)
    if buffer.count >= 1 << 16 { flush() }
  }

  public func flush() {
    guard !buffer.isEmpty else { return }
    buffer.withUnsafeBytes { raw in
      var at = 0
      while at < raw.count {
        let n = Glibc.write(1, raw.baseAddress! + at, raw.count - at)
        if n < 0 {
          if errno == EINTR { continue }
          return
        }
        at += n
      }
    }
    buffer.removeAll(keepingCapacity: true)
  }

  deinit { flush() }
}

/// A table printed as it is read: a first pass over the rows measures the columns, a second
/// prints them (the same layout as `Output.table`: left-aligned, last column not padded).
public struct StreamTable {
  var header: [String]
  var widths: [Int]

  init(header: [String]) {
    self.header = header
    widths = header.map(\.count)
  }

  mutating func measure(_ cells: [String]) {
    for (i, c) in cells.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) }
  }

  func line(_ cells: [String]) -> String {
    var out = ""
    for (i, c) in cells.enumerated() {
      if i > 0 { out += "  " }
      out += c
      if i < cells.count - 1, i < widths.count, c.count < widths[i] {
        out += String(repeating: " ", count: widths[i] - c.count)
      }
    }
    return out + "\n"
  }

  /// Runs `rows` twice: once to measure, once to print.
  public static func print(header: [String], _ rows: ((([String]) -> Void)) throws -> Void) throws {
    var table = StreamTable(header: header)
    try rows { table.measure($0) }
    let out = StreamOut()
    out.write(table.line(header))
    try rows { out.write(table.line($0)) }
    out.flush()
  }
}

public enum JSONLines {
  /// The array `Output.json` prints, byte for byte, written one element at a time (never the whole
  /// array in memory).
  public static func print<T: Encodable>(_ each: ((T) -> Void) throws -> Void) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let out = StreamOut()
    var first = true
    out.write("[")
    var failure: Error?
    try each { value in
      guard failure == nil else { return }
      do {
        let data = try encoder.encode(value)
        // Indented as inside the array, so the bytes are those of `Output.json` on the whole array.
        let element = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\n", with: "\n  ")
        out.write((first ? "\n  " : ",\n  ") + element)
        first = false
      } catch { failure = error }
    }
    if let failure { throw OrchError.failure("cannot encode JSON: \(failure)") }
    out.write(first ? "\n\n]\n" : "\n]\n")
    out.flush()
  }
}
