import Foundation
import OrchCore

/// What an analysis produces: one table (the terminal, `--csv` and `--json` show the same rows),
/// scalar results (a barrier height…), notes, and the charts of the plot.
public struct Report {
  enum Cell: Equatable {
    case text(String)
    case number(Double)
    case missing
  }

  var title: String
  var columns: [String]
  var rows: [[Cell]]
  var summary: [(name: String, value: Double)] = []
  var notes: [String] = []
  public var charts: [Chart] = []

  /// Fixed-point for the terminal: 4 significant decimals are what a table of accuracies needs.
  static func format(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value == value.rounded(), abs(value) < 1e6 { return String(Int(value)) }
    return String(format: abs(value) >= 100 ? "%.1f" : "%.4f", value)
  }

  public func text() -> String {
    var out = title + "\n\n"
    let cells = rows.map { row in
      row.map { cell -> String in
        switch cell {
        case .text(let s): return s
        case .number(let v): return Self.format(v)
        case .missing: return "—"
        }
      }
    }
    out += Output.table(columns, cells)
    if !summary.isEmpty {
      out += "\n" + summary.map { "\($0.name): \(Self.format($0.value))" }.joined(separator: "\n") + "\n"
    }
    if !notes.isEmpty { out += "\n" + notes.map { "note: " + $0 }.joined(separator: "\n") + "\n" }
    return out
  }

  /// Full precision: the CSV is for further work.
  public func csv() -> String {
    let lines =
      [columns.map(Output.csvField).joined(separator: ",")]
      + rows.map { row in
        row.map { cell -> String in
          switch cell {
          case .text(let s): return Output.csvField(s)
          case .number(let v): return v.isNaN ? "nan" : String(v)
          case .missing: return ""
          }
        }.joined(separator: ",")
      }
    return lines.joined(separator: "\n") + "\n"
  }

  /// `{"title", "columns", "rows": [{column: value}], "summary": {…}, "notes": […]}`; NaN and
  /// missing cells are null.
  public func json() -> String {
    func value(_ cell: Cell) -> Any {
      switch cell {
      case .text(let s): return s
      case .number(let v): return v.isFinite ? v : NSNull()
      case .missing: return NSNull()
      }
    }
    let object: [String: Any] = [
      "title": title,
      "columns": columns,
      "rows": rows.map { row in
        Dictionary(uniqueKeysWithValues: zip(columns, row.map(value)))
      },
      "summary": Dictionary(
        summary.map { ($0.name, $0.value.isFinite ? $0.value as Any : NSNull()) }, uniquingKeysWith: { a, _ in a }),
      "notes": notes,
    ]
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self) + "\n"
  }
}
