import Backends
import Foundation
import OrchCore

/// A small chart the analyses draw: lines over a numeric x axis (optionally log₂, with named
/// ticks), or grouped bars over categories; error bars where a point has one. Rendered as SVG by
/// hand (no Swift plotting library is among the packages this machine offers); PNG through
/// `rsvg-convert` or ImageMagick when one is installed.
public struct Chart {
  public struct Point {
    public var x: Double
    public var y: Double
    public var error: Double? = nil

    public init(x: Double, y: Double, error: Double? = nil) {
      self.x = x
      self.y = y
      self.error = error
    }
  }

  struct Series {
    var name: String
    var points: [Point]
    var dashed = false
    /// Markers only (a scatter); lines connect the points otherwise.
    var scatter = false
    /// False: the line alone (a fitted curve drawn through many points).
    var markers = true
  }

  var title: String
  var xLabel: String
  var yLabel: String
  var series: [Series]
  /// Bars: one group per category, one bar per series (point x = category index).
  var categories: [String]? = nil
  var log2X = false
  /// Tick labels at given x values (default: evenly spaced numbers).
  var xTicks: [(x: Double, label: String)]? = nil
  var yRange: ClosedRange<Double>? = nil

  static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"]
  static let width = 460.0
  static let height = 340.0
  private static let margin = (left: 60.0, right: 14.0, top: 30.0, bottom: 98.0)

  /// Several charts in one SVG document, at most `columns` to a row.
  static func svg(_ charts: [Chart], columns: Int = 2) -> String {
    let perRow = max(1, min(columns, charts.count))
    let rows = (charts.count + perRow - 1) / perRow
    let w = Int(width) * perRow
    let h = Int(height) * max(rows, 1)
    var out =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" font-family=\"sans-serif\" font-size=\"11\">\n"
    out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    for (i, chart) in charts.enumerated() {
      let x = Int(width) * (i % perRow)
      let y = Int(height) * (i / perRow)
      out += "<g transform=\"translate(\(x),\(y))\">\n" + chart.body() + "</g>\n"
    }
    return out + "</svg>\n"
  }

  private func body() -> String {
    let m = Self.margin
    let plotW = Self.width - m.left - m.right
    let plotH = Self.height - m.top - m.bottom
    let tx: (Double) -> Double = log2X ? { log2(max($0, 1e-12)) } : { $0 }
    let points = series.flatMap(\.points)
    var xs = points.map { tx($0.x) }
    if let categories { xs = [-0.5, Double(categories.count) - 0.5] }
    if let xTicks { xs += xTicks.map { tx($0.x) } }
    var lo = xs.min() ?? 0
    var hi = xs.max() ?? 1
    if lo == hi { (lo, hi) = (lo - 1, hi + 1) }
    if categories == nil {
      let pad = (hi - lo) * 0.04
      (lo, hi) = (lo - pad, hi + pad)
    }
    var ys = points.flatMap { p in [p.y - (p.error ?? 0), p.y + (p.error ?? 0)] }.filter(\.isFinite)
    if categories != nil { ys.append(0) }
    var yLo = yRange?.lowerBound ?? (ys.min() ?? 0)
    var yHi = yRange?.upperBound ?? (ys.max() ?? 1)
    if yLo == yHi { (yLo, yHi) = (yLo - 0.5, yHi + 0.5) }
    if yRange == nil {
      let pad = (yHi - yLo) * 0.06
      yHi += pad
      if categories == nil { yLo -= pad }
    }
    let X = { (x: Double) in m.left + (x - lo) / (hi - lo) * plotW }
    let Y = { (y: Double) in m.top + (1 - (y - yLo) / (yHi - yLo)) * plotH }
    func f(_ v: Double) -> String { String(format: "%.1f", v) }
    var out = ""
    out +=
      "<text x=\"\(f(Self.width / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">\(Self.escape(title))</text>\n"
    // Axes, grid and ticks.
    for t in Self.niceTicks(yLo, yHi) {
      out +=
        "<line x1=\"\(f(m.left))\" x2=\"\(f(m.left + plotW))\" y1=\"\(f(Y(t)))\" y2=\"\(f(Y(t)))\" stroke=\"#e6e6e6\"/>\n"
      out += "<text x=\"\(f(m.left - 5))\" y=\"\(f(Y(t) + 4))\" text-anchor=\"end\">\(Self.tickLabel(t))</text>\n"
    }
    var ticks: [(Double, String)] = []
    if let categories {
      ticks = categories.enumerated().map { (Double($0.offset), $0.element) }
    } else if let xTicks {
      ticks = xTicks.map { (tx($0.x), $0.label) }
    } else {
      ticks = Self.niceTicks(lo, hi).map { ($0, Self.tickLabel($0)) }
    }
    for (x, label) in ticks {
      let px = X(x)
      out +=
        "<line x1=\"\(f(px))\" x2=\"\(f(px))\" y1=\"\(f(m.top + plotH))\" y2=\"\(f(m.top + plotH + 4))\" stroke=\"black\"/>\n"
      if categories != nil {
        out +=
          "<text x=\"\(f(px))\" y=\"\(f(m.top + plotH + 14))\" text-anchor=\"end\" transform=\"rotate(-30 \(f(px)) \(f(m.top + plotH + 14)))\">\(Self.escape(label))</text>\n"
      } else {
        out +=
          "<text x=\"\(f(px))\" y=\"\(f(m.top + plotH + 16))\" text-anchor=\"middle\">\(Self.escape(label))</text>\n"
      }
    }
    out +=
      "<rect x=\"\(f(m.left))\" y=\"\(f(m.top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"black\"/>\n"
    let xLabelY = m.top + plotH + (categories != nil ? 64 : 32)
    out +=
      "<text x=\"\(f(m.left + plotW / 2))\" y=\"\(f(xLabelY))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
    out +=
      "<text x=\"14\" y=\"\(f(m.top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f(m.top + plotH / 2)))\">\(Self.escape(yLabel))</text>\n"
    // Data.
    let groupWidth = 0.8
    for (si, s) in series.enumerated() {
      let color = Self.palette[si % Self.palette.count]
      let finite = s.points.filter { $0.y.isFinite }
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
            out +=
              "<line x1=\"\(f(cx))\" x2=\"\(f(cx))\" y1=\"\(f(Y(p.y - e)))\" y2=\"\(f(Y(p.y + e)))\" stroke=\"black\"/>\n"
          }
        }
        continue
      }
      if !s.scatter, finite.count > 1 {
        let path = finite.map { "\(f(X(tx($0.x)))),\(f(Y($0.y)))" }.joined(separator: " ")
        out +=
          "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\"\(s.dashed ? " stroke-dasharray=\"5,4\"" : "")/>\n"
      }
      for p in finite where s.markers {
        let cx = X(tx(p.x))
        if let e = p.error, e > 0 {
          out +=
            "<line x1=\"\(f(cx))\" x2=\"\(f(cx))\" y1=\"\(f(Y(p.y - e)))\" y2=\"\(f(Y(p.y + e)))\" stroke=\"\(color)\"/>\n"
        }
        out += "<circle cx=\"\(f(cx))\" cy=\"\(f(Y(p.y)))\" r=\"\(s.scatter ? 3.2 : 2.6)\" fill=\"\(color)\"/>\n"
      }
    }
    // Legend, below the x label.
    var lx = m.left
    let ly = xLabelY + 18
    for (si, s) in series.enumerated() {
      let color = Self.palette[si % Self.palette.count]
      out +=
        "<rect x=\"\(f(lx))\" y=\"\(f(ly - 8))\" width=\"10\" height=\"10\" fill=\"\(color)\"/><text x=\"\(f(lx + 14))\" y=\"\(f(ly + 1))\">\(Self.escape(s.name))</text>\n"
      lx += 24 + Double(s.name.count) * 6.2
    }
    return out
  }

  /// Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about five of them.
  static func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
    guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
    let raw = (hi - lo) / 5
    let magnitude = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
    var ticks: [Double] = []
    var t = ceil(lo / step) * step
    while t <= hi + step * 1e-9 {
      ticks.append(abs(t) < step * 1e-9 ? 0 : t)
      t += step
    }
    return ticks
  }

  static func tickLabel(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e6 { return String(Int(v)) }
    var s = String(format: "%.3f", v)
    while s.hasSuffix("0") { s.removeLast() }
    return s
  }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;")
  }

  /// Writes `path` (an `.svg`) and, when a converter is installed, the PNG beside it; returns the
  /// files written.
  public static func write(_ charts: [Chart], to path: String) throws(OrchError) -> [String] {
    let directory = (path as NSString).deletingLastPathComponent
    do {
      if !directory.isEmpty {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      }
      try Data(svg(charts).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
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
      return PNGConverter(executable: rsvg) { svg, png in ["-o", png, svg] }
    }
    if let magick = which("magick") ?? which("convert") {
      return PNGConverter(executable: magick) { svg, png in [svg, png] }
    }
    return nil
  }

  /// True when the PNG was written.
  func convert(svg: String, png: String) -> Bool {
    guard let result = try? SlurmCommands.run(executable, arguments(svg, png)) else { return false }
    return result.code == 0 && FileManager.default.fileExists(atPath: png)
  }
}
