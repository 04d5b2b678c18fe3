import Engine
import Foundation
import OrchCore
import Store

/// `orch plot`: learning curves of many jobs as charts. One chart per value of the facet binding;
/// in each, one line per distinct combination of the varying bindings other than the facet and
/// the mean-over binding — the mean over the jobs of that line at each x, with a ±1 sd band. The
/// colour binding picks the colour, the remaining bindings the dash pattern; the legend names both.
public enum CurvePlot {
  public enum XAxis: String, Sendable, CaseIterable {
    case epoch, step, time
  }

  /// One job's curve.
  public struct Curve: Sendable {
    public var row: ResultRow
    public var points: [(x: Double, y: Double)]
  }

  /// One drawn line: the bindings that name it, and its points (mean, sd, n at each x).
  public struct Line: Sendable {
    public var facet: ConfigValue?
    public var bindings: [(String, ConfigValue?)]
    public var points: [(x: Double, mean: Double, sd: Double?, n: Int)]
    public var jobs: [Int64]
  }

  public static func curves(
    store: JobStore, rows: [ResultRow], metric: String, x: XAxis
  ) throws(OrchError) -> [Curve] {
    let points = try storeCall { () throws(StoreError) in
      try store.metricPoints(jobIDs: rows.map(\.job), names: [metric])
    }
    return rows.compactMap { row in
      var byX: [Double: Double] = [:]
      for p in points[row.job] ?? [] where !p.final && p.value.isFinite {
        let value: Double?
        switch x {
        case .epoch: value = p.epoch.map(Double.init)
        case .step: value = p.step.map(Double.init)
        case .time: value = p.time
        }
        if let value { byX[value] = p.value }
      }
      guard !byX.isEmpty else { return nil }
      return Curve(row: row, points: byX.keys.sorted().map { ($0, byX[$0]!) })
    }
  }

  /// The lines of the curves: split by every varying binding except `meanOver` (and the facet).
  public static func lines(_ curves: [Curve], facet: String?, meanOver: String?) -> [Line] {
    let varying = ResultsTable.varying(curves.map(\.row))
    let split = varying.filter { $0 != facet && $0 != meanOver }
    var order: [String] = []
    var members: [String: [Curve]] = [:]
    for c in curves {
      let id = ([facet].compactMap { $0 } + split).map { c.row.bindings[$0]?.json ?? "null" }.joined(separator: "\u{1}")
      if members[id] == nil { order.append(id) }
      members[id, default: []].append(c)
    }
    var lines = order.compactMap { id -> Line? in
      guard let group = members[id], let first = group.first else { return nil }
      var byX: [Double: [Double]] = [:]
      for c in group { for p in c.points { byX[p.x, default: []].append(p.y) } }
      let points = byX.keys.sorted().map { x -> (x: Double, mean: Double, sd: Double?, n: Int) in
        let ys = byX[x] ?? []
        let mean = ys.reduce(0, +) / Double(ys.count)
        let sd =
          ys.count >= 2 ? (ys.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(ys.count - 1)).squareRoot() : nil
        return (x, mean, sd, ys.count)
      }
      return Line(
        facet: facet.map { first.row.bindings[$0] ?? .null }, bindings: split.map { ($0, first.row.bindings[$0]) },
        points: points, jobs: group.map(\.row.job))
    }
    let keys = ([facet].compactMap { $0 } + split)
    lines = ResultsTable.sort(lines, by: keys.map { ResultsTable.SortKey(name: $0, descending: false) }) { line, name in
      name == facet ? line.facet : line.bindings.first { $0.0 == name }?.1 ?? nil
    }
    return lines
  }

  static func label(_ v: ConfigValue?) -> String {
    switch v {
    case nil: return "none"
    case .string(let s)?: return s
    case .double(let d)?: return "\(d)"
    case let v?: return v.json
    }
  }

  /// The charts: one per facet value, colours by `color`, a legend naming the values.
  public static func charts(
    _ lines: [Line], metric: String, x: XAxis, color: String?, facet: String?, meanOver: String?, title: String
  ) -> [Chart] {
    let colorValues = distinct(lines.map { line in color.flatMap { c in line.bindings.first { $0.0 == c }?.1 } })
    func rest(_ line: Line) -> [(String, ConfigValue?)] { line.bindings.filter { $0.0 != color } }
    let restValues = distinct(lines.map { l in ConfigValue.list(rest(l).map { $0.1 ?? .null }) })
    let facets = distinct(lines.map(\.facet))
    let maxN = lines.flatMap { $0.points.map(\.n) }.max() ?? 1
    return facets.map { facetValue in
      let mine = lines.filter { $0.facet == facetValue }
      var series: [Chart.Series] = []
      for (i, line) in mine.enumerated() {
        let name =
          line.bindings.isEmpty ? metric : line.bindings.map { "\($0.0)=\(label($0.1))" }.joined(separator: " ")
        let colorIndex: Int
        let dash: Int
        if let color {
          let value = line.bindings.first { $0.0 == color }?.1
          colorIndex = colorValues.firstIndex(of: value) ?? 0
          dash = restValues.firstIndex(of: ConfigValue.list(rest(line).map { $0.1 ?? .null })) ?? 0
        } else {
          colorIndex = i
          dash = i / Chart.palette.count
        }
        series.append(
          Chart.Series(
            name: name, points: line.points.map { Chart.Point(x: $0.x, y: $0.mean, error: $0.sd) }, markers: false,
            color: colorIndex, dash: dash, band: true, data: true))
      }
      var legend: [Chart.LegendEntry] = []
      if let color {
        for (i, v) in colorValues.enumerated()
        where mine.contains(where: { l in l.bindings.first { $0.0 == color }?.1 == v }) {
          legend.append(Chart.LegendEntry(label: "\(color) = \(label(v))", color: i, dash: nil))
        }
        if restValues.count > 1 {
          for (i, v) in restValues.enumerated() {
            guard case .list(let values) = v,
              let line = mine.first(where: { ConfigValue.list(rest($0).map { $0.1 ?? .null }) == v })
            else { continue }
            let text = zip(rest(line).map(\.0), values).map { "\($0.0)=\(label($0.1))" }.joined(separator: " ")
            legend.append(Chart.LegendEntry(label: text, color: nil, dash: i))
          }
        }
      } else {
        legend = series.prefix(24).map { Chart.LegendEntry(label: $0.name, color: $0.color, dash: $0.dash) }
        if series.count > 24 {
          legend.append(Chart.LegendEntry(label: "… \(series.count - 24) more", color: nil, dash: nil))
        }
      }
      let band =
        meanOver.map { "line: mean over \($0) (up to \(maxN) jobs); shaded: ±1 sample sd where 2 or more" }
        ?? (maxN > 1 ? "line: mean over the jobs of each line (up to \(maxN)); shaded: ±1 sample sd" : nil)
      let facetTitle = facet.map { "\(title) — \($0) = \(label(facetValue))" } ?? title
      return Chart(
        title: facetTitle, xLabel: x == .time ? "time (s)" : x.rawValue, yLabel: metric, series: series,
        legend: legend, errorNote: band)
    }
  }

  public static func distinct<T: Equatable>(_ values: [T]) -> [T] {
    var out: [T] = []
    for v in values where !out.contains(v) { out.append(v) }
    return out
  }
}
