import Engine
import Foundation
import OrchCore
import Store

/// How results print: JSON with keys in column order, CSV at full precision, terminal rounded.
public enum ResultsOutput {
  public static func jsonObject(_ fields: [(String, String)]) -> String {
    "{" + fields.map { jsonString($0.0) + ": " + $0.1 }.joined(separator: ", ") + "}"
  }

  public static func jsonString(_ s: String) -> String { ConfigValue.string(s).json }

  /// The rows as `orch results --json` prints them: sweep, key, job, state, the bindings, then the
  /// metrics under their labels; an empty array is `[]`.
  public static func json(_ rows: [ResultRow], bindings: [String], metrics: [String]) -> String {
    let labels = metricLabels(metrics, taken: ["sweep", "key", "job", "state"] + bindings)
    var out = "["
    for (i, r) in rows.enumerated() {
      var fields: [(String, String)] = [
        ("sweep", jsonString(r.sweep)), ("key", jsonString(r.key)), ("job", String(r.job)),
        ("state", jsonString(r.state)),
      ]
      for b in bindings { fields.append((b, r.bindings[b]?.json ?? "null")) }
      for (m, label) in zip(metrics, labels) { fields.append((label, jsonNumber(r.metrics[m]))) }
      out += (i == 0 ? "\n  " : ",\n  ") + jsonObject(fields)
    }
    return out + (rows.isEmpty ? "]\n" : "\n]\n")
  }

  /// Column names of the metrics: a metric named like a column before it (a binding, sweep, key,
  /// job, state) is `metric:<name>`, so no object has the same key twice.
  public static func metricLabels(_ metrics: [String], taken: [String]) -> [String] {
    let names = Set(taken)
    return metrics.map { names.contains($0) ? "metric:" + $0 : $0 }
  }

  /// Shortest text that reads back as the same double; null for none or a non-finite value.
  public static func jsonNumber(_ v: Double?) -> String {
    guard let v, v.isFinite else { return "null" }
    return "\(v)"
  }

  public static func csvValue(_ v: ConfigValue?) -> String {
    switch v {
    case nil: return ""
    case .string(let s)?: return s
    case let v?: return v.json
    }
  }

  public static func terminalValue(_ v: ConfigValue?) -> String {
    switch v {
    case nil: return ""
    case .string(let s)?: return UserText.escaped(s)
    case .double(let d)?: return "\(d)"
    case let v?: return UserText.escaped(v.json)
    }
  }

  public static func rounded(_ v: Double) -> String { rounded(v, digits: 4) }

  public static func rounded(_ v: Double, digits: Int) -> String {
    guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
    return String(format: "%.\(digits)g", v)
  }

  public static func csv(_ header: [String], _ rows: [[String]]) -> String {
    ([header] + rows).map { $0.map(Output.csvField).joined(separator: ",") }.joined(separator: "\n") + "\n"
  }

  /// A table whose numeric-looking columns are right-aligned.
  public static func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    var numeric = header.map { _ in true }
    for row in rows {
      for (i, cell) in row.enumerated() where i < widths.count {
        widths[i] = max(widths[i], cell.count)
        if !cell.isEmpty, Double(cell.split(separator: " ").first ?? "") == nil { numeric[i] = false }
      }
    }
    func line(_ cells: [String]) -> String {
      var parts: [String] = []
      for (i, c) in cells.enumerated() {
        let pad = String(repeating: " ", count: max(0, widths[i] - c.count))
        parts.append(numeric[i] ? pad + c : (i == cells.count - 1 ? c : c + pad))
      }
      return parts.joined(separator: "  ") + "\n"
    }
    return line(header) + rows.map(line).joined()
  }
}
