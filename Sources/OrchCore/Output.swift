import Foundation

/// Output helpers shared by the listing commands.
public enum Output {
  public static func print(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
  }

  /// One line to stderr (a newline is added when missing).
  public static func stderr(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
  }

  public static func json<T: Encodable>(_ value: T) throws(OrchError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    do { print(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n") } catch {
      throw OrchError.failure("cannot encode JSON: \(error)")
    }
  }

  /// A left-aligned text table; the last column is not padded.
  public static func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows {
      for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
    }
    func line(_ cells: [String]) -> String {
      cells.enumerated().map { i, c in
        i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
      }
      .joined(separator: "  ") + "\n"
    }
    return line(header) + rows.map(line).joined()
  }

  public static func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
      ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
  }
}
