import Analysis
import Engine
import Foundation
import OrchCore
import Store

/// Per-epoch curves of selected jobs as one SVG: a path per job, or with `mean_over` a mean line
/// and a ±1 sd band per group (`CurvePlot.lines`). Every path and point carries a `<title>`.
enum Curves {
  static let palette = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  ]

  static func page(_ store: JobStore, sweep: String, q: Query, state: UIState) throws -> Response {
    // Selected jobs are read by id (a 10,000-job sweep's other configs are never parsed).
    let selected = q["jobs"].map {
      $0.split(separator: ",").compactMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
    }
    let all: [ResultJob]
    if let selected {
      all = try storeCall { () throws(StoreError) in
        try store.resultJobs(ids: Array(selected.prefix(1000))).filter { $0.row.sweep == sweep }
      }
    } else {
      all = try state.resultJobs(store, sweep: sweep)
    }
    guard !all.isEmpty || selected != nil else { return Page.error(status: .notFound, "no jobs in sweep '\(sweep)'") }
    var errors: [String] = []
    var rows = ResultsTable.bindingRows(all, parsed: state.bindings)
    if let text = q["where"] {
      do {
        let filter = try ResultsFilter.parse(text)
        rows = try ResultsTable.filter(try ResultsTable.withMetrics(store: store, rows, choice: .last), filter)
      } catch { errors.append(error.message) }
    }
    if rows.count > 500 {
      errors.append("\(rows.count) jobs selected; showing the first 500 (select fewer or filter)")
      rows = Array(rows.prefix(500))
    }
    let names = try storeCall { () throws(StoreError) in try store.metricPoints(jobIDs: rows.prefix(20).map(\.job)) }
    var metricNames: [String] = []
    for row in rows.prefix(20) {
      for p in names[row.job] ?? [] where !p.final && !metricNames.contains(p.name) { metricNames.append(p.name) }
    }
    let metric = q["metric"] ?? metricNames.first ?? ""
    let curves = try CurvePlot.curves(store: store, rows: rows, metric: metric, x: .epoch)
    let color = q["color"]
    let meanOver = q["mean_over"]
    let svg = self.svg(curves, metric: metric, color: color, meanOver: meanOver)
    if q["fragment"] == "1" { return Page.response(type: "image/svg+xml", svg) }
    let varying = ResultsTable.varying(rows)
    func options(_ selected: String?, _ names: [String], none: Bool) -> String {
      let items = names.map { "<option\($0 == selected ? " selected" : "")>\(html($0))</option>" }
      return ((none ? ["<option value=\"\">none</option>"] : []) + items).joined()
    }
    let body = """
      <h1>Curves · <a href="/sweeps/\(html(Path.encode(sweep)))">\(html(sweep))</a></h1>
      <form id="curve-options" method="get" action="/sweeps/\(html(Path.encode(sweep)))/curves">
      <input type="hidden" name="jobs" value="\(html(q["jobs"] ?? ""))">
      <label>metric <select name="metric">\(options(metric, metricNames.contains(metric) || metric.isEmpty ? metricNames : [metric] + metricNames, none: false))</select></label>
      <label>colour by <select name="color">\(options(color, varying, none: true))</select></label>
      <label>mean over <select name="mean_over">\(options(meanOver, varying, none: true))</select></label>
      <label>where <input name="where" value="\(html(q["where"] ?? ""))"></label>
      <button type="submit">show</button></form>
      \(errors.map { "<div class=\"error\">\(html($0))</div>" }.joined(separator: "\n"))
      \(legend(curves, color: color))
      <div id="curves-box" data-jobs="\(rows.map { String($0.job) }.joined(separator: ","))" data-metric="\(html(metric))">\(svg)</div>
      <div id="live" data-events="/events?sweep=\(html(Path.encode(sweep)))"></div>
      """
    return Page.document(title: "curves of \(sweep)", csrf: state.csrf, body: body)
  }

  static func label(_ bindings: [(String, ConfigValue?)]) -> String {
    bindings.map { "\($0.0)=\(Pages.value($0.1))" }.joined(separator: " ")
  }

  static func colorValues(_ curves: [CurvePlot.Curve], color: String?) -> [ConfigValue?] {
    CurvePlot.distinct(curves.map { c in color.flatMap { c.row.bindings[$0] } })
  }

  /// Which value of the colour binding each colour stands for (an SVG swatch: the page's CSP
  /// refuses inline styles).
  static func legend(_ curves: [CurvePlot.Curve], color: String?) -> String {
    guard let color, !curves.isEmpty else { return "" }
    let items = colorValues(curves, color: color).enumerated().map { i, v in
      "<span class=\"legend-item\"><svg class=\"swatch\" width=\"12\" height=\"12\"><rect width=\"12\" height=\"12\" fill=\"\(palette[i % palette.count])\"/></svg>"
        + "\(html(Pages.value(v)))</span>"
    }
    return "<div id=\"legend\" class=\"legend\">\(html(color)):" + items.joined() + "</div>"
  }

  static func svg(_ curves: [CurvePlot.Curve], metric: String, color: String?, meanOver: String?) -> String {
    let (w, h, left, right, top, bottom) = (820.0, 440.0, 64.0, 16.0, 16.0, 40.0)
    let xs = curves.flatMap { $0.points.map(\.x) }
    var ys = curves.flatMap { $0.points.map(\.y) }
    var lines: [CurvePlot.Line] = []
    if let meanOver {
      lines = CurvePlot.lines(curves, facet: nil, meanOver: meanOver)
      ys += lines.flatMap { $0.points.flatMap { p in [p.mean - (p.sd ?? 0), p.mean + (p.sd ?? 0)] } }
    }
    let (x0, x1) = (xs.min() ?? 0, max(xs.max() ?? 1, (xs.min() ?? 0) + 1))
    var (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
    if y1 - y0 < 1e-12 { (y0, y1) = (y0 - 0.5, y1 + 0.5) }
    func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (w - left - right) }
    func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * (h - top - bottom) }
    func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
    let colorValues = colorValues(curves, color: color)
    func colorOf(_ v: ConfigValue?) -> String {
      palette[(colorValues.firstIndex(of: v) ?? 0) % palette.count]
    }
    var out =
      "<svg id=\"curves\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\" data-metric=\"\(html(metric))\">"
    out +=
      "<rect class=\"frame\" x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(w - left - right))\" height=\"\(fmt(h - top - bottom))\" fill=\"none\" stroke=\"#999\"/>"
    // The same tick rule as `orch plot`: round steps, whole ones for epochs.
    for yv in Chart.niceTicks(y0, y1) {
      out +=
        "<text class=\"tick\" x=\"\(fmt(left - 4))\" y=\"\(fmt(py(yv) + 4))\" text-anchor=\"end\">\(html(Chart.tickLabel(yv)))</text>"
    }
    for xv in Chart.niceTicks(x0, x1, integral: xs.allSatisfy { $0 == $0.rounded() }) {
      out +=
        "<text class=\"tick x-tick\" x=\"\(fmt(px(xv)))\" y=\"\(fmt(h - bottom + 16))\" text-anchor=\"middle\">\(html(Chart.tickLabel(xv)))</text>"
    }
    out +=
      "<text class=\"axis\" x=\"\(fmt(w / 2))\" y=\"\(fmt(h - 4))\" text-anchor=\"middle\">epoch · \(html(metric))</text>"
    if meanOver != nil {
      for (i, line) in lines.enumerated() {
        let c = color.map { c in colorOf(line.bindings.first { $0.0 == c }?.1 ?? nil) } ?? palette[i % palette.count]
        let name = html(label(line.bindings) + " (mean over \(meanOver ?? ""), \(line.jobs.count) job(s))")
        let upper = line.points.map { "\(fmt(px($0.x))),\(fmt(py($0.mean + ($0.sd ?? 0))))" }
        let lower = line.points.reversed().map { "\(fmt(px($0.x))),\(fmt(py($0.mean - ($0.sd ?? 0))))" }
        out +=
          "<path class=\"band\" fill=\"\(c)\" fill-opacity=\"0.18\" stroke=\"none\" d=\"M\((upper + lower).joined(separator: " L"))Z\"><title>\(name) ±1 sd</title></path>"
        let d = line.points.map { "\(fmt(px($0.x))),\(fmt(py($0.mean)))" }.joined(separator: " L")
        out +=
          "<path class=\"curve-mean\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\" d=\"M\(d)\"><title>\(name)</title></path>"
        for p in line.points {
          let sd = p.sd.map { " ± " + ResultsOutput.rounded($0) } ?? ""
          out +=
            "<circle class=\"point\" cx=\"\(fmt(px(p.x)))\" cy=\"\(fmt(py(p.mean)))\" r=\"2.5\" fill=\"\(c)\"><title>\(name): epoch \(html(ResultsOutput.rounded(p.x))) \(html(ResultsOutput.rounded(p.mean) + sd)) (n=\(p.n))</title></circle>"
        }
      }
    } else {
      for (i, curve) in curves.enumerated() {
        let c = color == nil ? palette[i % palette.count] : colorOf(color.flatMap { curve.row.bindings[$0] })
        let varying = curve.row.bindings.keys.sorted(by: ResultsTable.bytewise).map { ($0, curve.row.bindings[$0]) }
        let name = html("job \(curve.row.display) \(curve.row.key) " + label(varying))
        let d = curve.points.map { "\(fmt(px($0.x))),\(fmt(py($0.y)))" }.joined(separator: " L")
        out +=
          "<path class=\"curve\" data-job=\"\(curve.row.job)\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.5\" d=\"M\(d)\"><title>\(name)</title></path>"
        if curve.points.count <= 300 {
          for p in curve.points {
            out +=
              "<circle class=\"point\" data-job=\"\(curve.row.job)\" cx=\"\(fmt(px(p.x)))\" cy=\"\(fmt(py(p.y)))\" r=\"2\" fill=\"\(c)\"><title>job \(html(curve.row.display)): epoch \(html(ResultsOutput.rounded(p.x))) \(html(metric)) \(html(ResultsOutput.rounded(p.y)))</title></circle>"
          }
        }
      }
    }
    if curves.isEmpty {
      out +=
        "<text x=\"\(fmt(w / 2))\" y=\"\(fmt(h / 2))\" text-anchor=\"middle\">no per-epoch values of \(html(metric)) yet</text>"
    }
    return out + "</svg>"
  }
}
