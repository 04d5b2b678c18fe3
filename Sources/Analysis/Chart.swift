import Backends
import Foundation
import OrchCore

/// A small chart the analyses draw: lines over a numeric x axis (optionally log₂, with named
/// ticks), or grouped bars over categories; error bars where a point has one. Rendered as SVG by
/// hand (no Swift plotting library is among the packages this machine offers); PNG through
/// `rsvg-convert` or ImageMagick when one is installed.
public struct Chart {
  struct Point {
    var x: Double
    var y: Double
    var error: Double? = nil
  }

  public struct Series {
    var name: String
    var points: [Point]
    var dashed = false
    /// Markers only (a scatter); lines connect the points otherwise.
    var scatter = false
    /// False: the line alone (a fitted curve drawn through many points).
    var markers = true
    /// Palette and dash pattern indices (default: the series' position, solid or `dashed`).
    var color: Int? = nil
    var dash: Int? = nil
    /// The error drawn as a shaded band around the line instead of bars.
    var band = false
    /// Written on the line as `data-series`/`data-points` (full precision), for readers of the SVG.
    var data: Bool = false
  }

  /// A legend line: a colour swatch, or a line sample in a dash pattern.
  public struct LegendEntry {
    var label: String
    var color: Int?
    var dash: Int?
  }

  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var series: [Series]
  /// Bars: one group per category, one bar per series (point x = category index).
  public var categories: [String]? = nil
  public var log2X = false
  /// Tick labels at given x values (default: evenly spaced numbers).
  public var xTicks: [(x: Double, label: String)]? = nil
  public var yRange: ClosedRange<Double>? = nil
  /// Default: one entry per series name.
  public var legend: [LegendEntry]? = nil
  /// What the error bars or bands are; a chart with errors says so (default: ±1 sd).
  public var errorNote: String? = nil

  public init(
    title: String, xLabel: String, yLabel: String, series: [Series], categories: [String]? = nil, log2X: Bool = false,
    xTicks: [(x: Double, label: String)]? = nil, yRange: ClosedRange<Double>? = nil, legend: [LegendEntry]? = nil,
    errorNote: String? = nil
  ) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.series = series
    self.categories = categories
    self.log2X = log2X
    self.xTicks = xTicks
    self.yRange = yRange
    self.legend = legend
    self.errorNote = errorNote
  }

  static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"]
  static let dashes = ["", "6,4", "2,3", "8,3,2,3", "1,3", "12,4"]
  static let width = 460.0
  static let fontSize = 11.0
  static let titleSize = 13.0

  /// Advance widths of DejaVu Sans (what `sans-serif` is here) for ASCII 32…126, in 1/1000 em;
  /// anything else counts a full em, so a measured text is never narrower than drawn.
  static let advance: [Int] = [
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636,
    636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656,
    557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613,
    635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818,
    592, 592, 525, 636, 337, 636, 838,
  ]

  /// The drawn width of `text` at `size` px.
  static func textWidth(_ text: String, size: Double) -> Double {
    var units = 0
    for s in text.unicodeScalars {
      units += (32...126).contains(s.value) ? advance[Int(s.value) - 32] : 1000
    }
    return Double(units) * size / 1000
  }

  /// `text` cut to at most `width` px, with an ellipsis when cut.
  static func fit(_ text: String, width: Double, size: Double) -> String {
    if textWidth(text, size: size) <= width { return text }
    var out = ""
    for c in text {
      if textWidth(out + String(c) + "…", size: size) > width { break }
      out.append(c)
    }
    return out + "…"
  }

  /// Words of `text` in lines of at most `width` px (a word longer than that is cut).
  static func wrap(_ text: String, width: Double, size: Double) -> [String] {
    var lines: [String] = []
    for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
      var line = ""
      for word in paragraph.split(separator: " ") {
        let candidate = line.isEmpty ? String(word) : line + " " + word
        if textWidth(candidate, size: size) <= width || line.isEmpty {
          line = candidate
        } else {
          lines.append(line)
          line = String(word)
        }
      }
      lines.append(line)
    }
    return lines.map { fit($0, width: width, size: size) }
  }

  /// Several charts in one SVG document, at most `columns` to a row; each row as tall as its
  /// tallest chart.
  static func svg(_ charts: [Chart], columns: Int = 2) -> String {
    let perRow = max(1, min(columns, charts.count))
    let rendered = charts.enumerated().map { $0.element.render(index: $0.offset) }
    var rowHeights: [Double] = []
    for (i, r) in rendered.enumerated() {
      if i % perRow == 0 { rowHeights.append(0) }
      rowHeights[rowHeights.count - 1] = max(rowHeights[rowHeights.count - 1], r.height)
    }
    let w = Int(width) * perRow
    let h = Int(rowHeights.reduce(0, +).rounded(.up))
    var out =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(max(h, 1))\" viewBox=\"0 0 \(w) \(max(h, 1))\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"11\">\n"
    out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    var y = 0.0
    for (i, r) in rendered.enumerated() {
      let x = Int(width) * (i % perRow)
      out += "<g transform=\"translate(\(x),\(Int(y)))\">\n" + r.body + "</g>\n"
      if i % perRow == perRow - 1 { y += rowHeights[i / perRow].rounded(.up) }
    }
    return out + "</svg>\n"
  }

  static func f(_ v: Double) -> String { String(format: "%.1f", v) }

  static func text(
    _ s: String, x: Double, y: Double, anchor: String = "start", size: Double = fontSize, rotate: Double? = nil,
    extra: String = ""
  ) -> String {
    let transform = rotate.map { " transform=\"rotate(\(f($0)) \(f(x)) \(f(y)))\"" } ?? ""
    return "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" font-size=\"\(f(size))\"\(transform)\(extra)>"
      + escape(s) + "</text>\n"
  }

  private var entries: [LegendEntry] {
    if let legend { return legend }
    var seen = Set<String>()
    var out: [LegendEntry] = []
    for (i, s) in series.enumerated() where seen.insert(s.name).inserted {
      out.append(
        LegendEntry(label: s.name, color: s.color ?? i, dash: categories == nil ? (s.dash ?? (s.dashed ? 1 : 0)) : nil))
    }
    return out
  }

  /// The chart's SVG elements (origin at its top left) and its height.
  private func render(index: Int) -> (body: String, height: Double) {
    let fs = Self.fontSize
    let W = Self.width
    let pad = 8.0
    let tx: (Double) -> Double = log2X ? { log2(max($0, 1e-12)) } : { $0 }
    let points = series.flatMap(\.points)
    var xs = points.map { tx($0.x) }.filter(\.isFinite)
    if let categories { xs = [-0.5, Double(categories.count) - 0.5] }
    if let xTicks { xs += xTicks.map { tx($0.x) } }
    var lo = xs.min() ?? 0
    var hi = xs.max() ?? 1
    if lo == hi { (lo, hi) = (lo - 1, hi + 1) }
    if categories == nil {
      let p = (hi - lo) * 0.04
      (lo, hi) = (lo - p, hi + p)
    }
    var ys = points.flatMap { p in [p.y - (p.error ?? 0), p.y + (p.error ?? 0)] }.filter(\.isFinite)
    if categories != nil { ys.append(0) }
    var yLo = yRange?.lowerBound ?? (ys.min() ?? 0)
    var yHi = yRange?.upperBound ?? (ys.max() ?? 1)
    if yLo == yHi { (yLo, yHi) = (yLo - 0.5, yHi + 0.5) }
    if yRange == nil {
      let p = (yHi - yLo) * 0.06
      yHi += p
      if categories == nil || yLo < 0 { yLo -= p }
    }
    let yTicks = Self.niceTicks(yLo, yHi)
    var xTickList: [(Double, String)]
    if let categories {
      xTickList = categories.enumerated().map { (Double($0.offset), $0.element) }
    } else if let xTicks {
      xTickList = xTicks.map { (tx($0.x), $0.label) }
    } else {
      let integral = !xs.isEmpty && xs.allSatisfy { $0 == $0.rounded() }
      xTickList = Self.niceTicks(lo, hi, integral: integral).map { ($0, Self.tickLabel($0)) }
    }
    xTickList = xTickList.map { ($0.0, Self.fit($0.1, width: 160, size: fs)) }

    // Title lines, top down.
    let titleLines = Self.wrap(title, width: W - 2 * pad, size: Self.titleSize)
    let top = pad + Double(titleLines.count) * (Self.titleSize + 3) + 8
    // Left: y label (rotated), y tick labels.
    let yTickWidth = yTicks.map { Self.textWidth(Self.tickLabel($0), size: fs) }.max() ?? 0
    var left = pad + fs + 6 + yTickWidth + 6
    var right = 14.0
    let plotLeft = { (left: Double) in left }
    // X tick labels: level when they fit side by side, else rotated by 40°.
    let angle = 40.0 * Double.pi / 180
    var rotated = false
    var plotW = W - left - right
    func X(_ x: Double) -> Double { plotLeft(left) + (x - lo) / (hi - lo) * plotW }
    for _ in 0..<3 {
      plotW = W - left - right
      let widths = xTickList.map { Self.textWidth($0.1, size: fs) }
      let spacing = xTickList.count > 1 ? plotW * abs(xTickList[1].0 - xTickList[0].0) / (hi - lo) : plotW
      rotated = (widths.max() ?? 0) + 6 > spacing
      // Room for the outermost labels within the canvas.
      var needLeft = left
      var needRight = right
      for (i, t) in xTickList.enumerated() {
        let px = X(t.0)
        if rotated {
          needLeft = max(needLeft, left + (widths[i] * cos(angle) + fs * sin(angle) + 4 - px))
        } else {
          needLeft = max(needLeft, left + (widths[i] / 2 + 2 - px))
          needRight = max(needRight, right + (px + widths[i] / 2 + 2 - W))
        }
      }
      if needLeft <= left + 0.5 && needRight <= right + 0.5 { break }
      (left, right) = (needLeft, needRight)
    }
    plotW = W - left - right
    let xTickHeight =
      rotated
      ? (xTickList.map { Self.textWidth($0.1, size: fs) }.max() ?? 0) * sin(angle) + fs * cos(angle) + 4 : fs + 2
    // Below the plot: ticks, x label, legend rows, the error note.
    let plotH = 210.0
    let tickTop = top + plotH + 6
    let xLabelY = tickTop + xTickHeight + fs + 4
    var legendItems: [(entry: LegendEntry, x: Double, y: Double)] = []
    var lx = pad
    var ly = xLabelY + fs + 8
    for e in entries {
      let label = Self.fit(e.label, width: W - 2 * pad - 28, size: fs)
      let w = 22 + Self.textWidth(label, size: fs) + 14
      if lx > pad && lx + w > W - pad {
        lx = pad
        ly += fs + 5
      }
      legendItems.append((LegendEntry(label: label, color: e.color, dash: e.dash), lx, ly))
      lx += w
    }
    var bottom = legendItems.isEmpty ? xLabelY : ly
    let hasErrors = series.contains { $0.points.contains { ($0.error ?? 0) > 0 } }
    var noteLines: [String] = []
    if hasErrors || errorNote != nil {
      let note = errorNote ?? "error bars: ±1 sd (sample standard deviation) over runs"
      noteLines = Self.wrap(note, width: W - 2 * pad, size: fs - 1)
    }
    bottom += Double(noteLines.count) * (fs + 3)
    let height = bottom + pad + 4

    let Y = { (y: Double) in top + (1 - (y - yLo) / (yHi - yLo)) * plotH }
    let f = Self.f
    var out = ""
    for (i, line) in titleLines.enumerated() {
      out += Self.text(
        line, x: W / 2, y: pad + Self.titleSize + Double(i) * (Self.titleSize + 3), anchor: "middle",
        size: Self.titleSize)
    }
    for t in yTicks {
      out +=
        "<line x1=\"\(f(left))\" x2=\"\(f(left + plotW))\" y1=\"\(f(Y(t)))\" y2=\"\(f(Y(t)))\" stroke=\"#e6e6e6\"/>\n"
      out += Self.text(Self.tickLabel(t), x: left - 5, y: Y(t) + 4, anchor: "end")
    }
    for (x, label) in xTickList {
      let px = X(x)
      out +=
        "<line x1=\"\(f(px))\" x2=\"\(f(px))\" y1=\"\(f(top + plotH))\" y2=\"\(f(top + plotH + 4))\" stroke=\"black\"/>\n"
      if rotated {
        out += Self.text(label, x: px, y: tickTop + fs * 0.8, anchor: "end", rotate: -40)
      } else {
        out += Self.text(label, x: px, y: tickTop + fs, anchor: "middle")
      }
    }
    out +=
      "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"black\"/>\n"
    let xCenter = left + plotW / 2
    out += Self.text(
      Self.fit(xLabel, width: 2 * min(xCenter - pad, W - pad - xCenter), size: fs), x: xCenter, y: xLabelY,
      anchor: "middle")
    let yLabelX = pad + fs * 0.8
    out += Self.text(
      Self.fit(yLabel, width: plotH, size: fs), x: yLabelX, y: top + plotH / 2, anchor: "middle", rotate: -90)
    // Data, clipped to the plot area.
    let clip = "plot\(index)"
    out +=
      "<clipPath id=\"\(clip)\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\"/></clipPath>\n<g clip-path=\"url(#\(clip))\">\n"
    let groupWidth = 0.8
    // Series with error bars at the same x are drawn side by side, 4 px apart, so no bar hides another.
    let barred = series.indices.filter { i in !series[i].band && series[i].points.contains { ($0.error ?? 0) > 0 } }
    for (si, s) in series.enumerated() {
      let color = Self.palette[(s.color ?? si) % Self.palette.count]
      let dash = Self.dashes[(s.dash ?? (s.dashed ? 1 : 0)) % Self.dashes.count]
      let finite = s.points.filter { $0.y.isFinite && tx($0.x).isFinite }
      let shift =
        categories == nil ? barred.firstIndex(of: si).map { (Double($0) - Double(barred.count - 1) / 2) * 4 } ?? 0 : 0
      let DX = { (x: Double) in X(x) + shift }
      if categories != nil {
        let w = groupWidth / Double(max(series.count, 1))
        for p in finite {
          let x0 = p.x - groupWidth / 2 + Double(si) * w
          let top = Y(max(p.y, 0))
          let base = Y(max(yLo, 0))
          out +=
            "<rect x=\"\(f(X(x0)))\" y=\"\(f(top))\" width=\"\(f(X(x0 + w) - X(x0)))\" height=\"\(f(max(base - top, 0)))\" fill=\"\(color)\"/>\n"
          if let e = p.error, e > 0 {
            let cx = X(x0 + w / 2)
            let cap = min(4, (X(x0 + w) - X(x0)) / 3)
            out +=
              "<path d=\"M\(f(cx)),\(f(Y(p.y - e)))V\(f(Y(p.y + e)))M\(f(cx - cap)),\(f(Y(p.y - e)))h\(f(2 * cap))M\(f(cx - cap)),\(f(Y(p.y + e)))h\(f(2 * cap))\" stroke=\"black\" fill=\"none\"/>\n"
          }
        }
        continue
      }
      if s.band {
        let banded = finite.filter { ($0.error ?? 0) > 0 }
        if banded.count > 1 {
          let upper = banded.map { "\(f(DX(tx($0.x)))),\(f(Y($0.y + ($0.error ?? 0))))" }
          let lower = banded.reversed().map { "\(f(DX(tx($0.x)))),\(f(Y($0.y - ($0.error ?? 0))))" }
          out +=
            "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(color)\" fill-opacity=\"0.18\" stroke=\"none\"/>\n"
        }
      }
      let data =
        s.data
        ? " data-series=\"\(Self.escape(s.name))\" data-points=\"\(finite.map { "\($0.x),\($0.y)" + ($0.error.map { ",\($0)" } ?? "") }.joined(separator: ";"))\""
        : ""
      if !s.scatter, finite.count > 1 || (s.data && !finite.isEmpty) {
        let path = finite.map { "\(f(DX(tx($0.x)))),\(f(Y($0.y)))" }.joined(separator: " ")
        out +=
          "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")\(data)/>\n"
      }
      for p in finite where s.markers {
        let cx = DX(tx(p.x))
        if let e = p.error, e > 0, !s.band {
          out +=
            "<path d=\"M\(f(cx)),\(f(Y(p.y - e)))V\(f(Y(p.y + e)))M\(f(cx - 3)),\(f(Y(p.y - e)))h6M\(f(cx - 3)),\(f(Y(p.y + e)))h6\" stroke=\"\(color)\" fill=\"none\"/>\n"
        }
        out += "<circle cx=\"\(f(cx))\" cy=\"\(f(Y(p.y)))\" r=\"\(s.scatter ? 3.2 : 2.6)\" fill=\"\(color)\"/>\n"
      }
    }
    out += "</g>\n"
    for item in legendItems {
      let color = Self.palette[(item.entry.color ?? 0) % Self.palette.count]
      if let d = item.entry.dash {
        let pattern = Self.dashes[d % Self.dashes.count]
        let stroke = item.entry.color == nil ? "#444444" : color
        out +=
          "<line x1=\"\(f(item.x))\" x2=\"\(f(item.x + 18))\" y1=\"\(f(item.y - 4))\" y2=\"\(f(item.y - 4))\" stroke=\"\(stroke)\" stroke-width=\"2\"\(pattern.isEmpty ? "" : " stroke-dasharray=\"\(pattern)\"")/>\n"
      } else {
        out +=
          "<rect x=\"\(f(item.x + 4))\" y=\"\(f(item.y - 9))\" width=\"10\" height=\"10\" fill=\"\(color)\"/>\n"
      }
      out += Self.text(item.entry.label, x: item.x + 22, y: item.y)
    }
    var ny = (legendItems.isEmpty ? xLabelY : ly) + fs + 3
    for line in noteLines {
      out += Self.text(line, x: pad, y: ny, size: fs - 1, extra: " fill=\"#444444\"")
      ny += fs + 3
    }
    return (out, height)
  }

  /// Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about five of them; with
  /// `integral` data (epochs, steps) whole steps only, so no tick falls between two values.
  public static func niceTicks(_ lo: Double, _ hi: Double, integral: Bool = false) -> [Double] {
    guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
    let raw = (hi - lo) / 5
    let magnitude = pow(10, floor(log10(raw)))
    let nice = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
    let step = integral ? max(1, nice) : nice
    var ticks: [Double] = []
    var t = ceil(lo / step) * step
    while t <= hi + step * 1e-9 {
      ticks.append(abs(t) < step * 1e-9 ? 0 : t)
      t += step
    }
    return ticks
  }

  public static func tickLabel(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e6 { return String(Int(v)) }
    var s = String(format: "%.3f", v)
    while s.hasSuffix("0") { s.removeLast() }
    return s
  }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }

  /// Writes `path` (an `.svg`) and, when a converter is installed, the PNG beside it at twice the
  /// SVG's pixels; returns the files written.
  public static func write(_ charts: [Chart], to path: String, columns: Int = 2) throws(OrchError) -> [String] {
    let directory = (path as NSString).deletingLastPathComponent
    do {
      if !directory.isEmpty {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      }
      try Data(svg(charts, columns: columns).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw OrchError.failure("cannot write plot \(path): \(error.localizedDescription)")
    }
    var written = [path]
    let png = (path as NSString).deletingPathExtension + ".png"
    if let converter = PNGConverter.find(), converter.convert(svg: path, png: png) { written.append(png) }
    return written
  }
}

/// `rsvg-convert` (librsvg) or ImageMagick's `magick`/`convert`, whichever is on PATH.
struct PNGConverter {
  var executable: String
  var arguments: (String, String) -> [String]

  static func find(environment: [String: String] = ProcessInfo.processInfo.environment) -> PNGConverter? {
    let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
    func which(_ name: String) -> String? {
      path.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    if let rsvg = which("rsvg-convert") {
      return PNGConverter(executable: rsvg) { svg, png in ["-z", "2", "-o", png, svg] }
    }
    if let magick = which("magick") ?? which("convert") {
      return PNGConverter(executable: magick) { svg, png in ["-density", "192", svg, png] }
    }
    return nil
  }

  /// True when the PNG was written.
  func convert(svg: String, png: String) -> Bool {
    guard let result = try? SlurmCommands.run(executable, arguments(svg, png)) else { return false }
    return result.code == 0 && FileManager.default.fileExists(atPath: png)
  }
}
