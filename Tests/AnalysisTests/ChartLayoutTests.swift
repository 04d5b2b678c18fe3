import Engine
import Foundation
import Store
import XCTest

@testable import Analysis

/// Every kind of chart the analyses and `orch plot` draw, with long titles, labels, categories and
/// legends: each text's extent (DejaVu Sans advance widths, ascent and descent, rotation) lies
/// inside the canvas, and no two texts overlap.
final class ChartLayoutTests: XCTestCase {
  static let long = "a rather long label that goes on and on (with units, in parentheses)"

  func charts() -> [(String, [Chart])] {
    let categories = (0..<10).map { "source glyphs_heldout → transfer finetune-lr0.02 #\($0)" }
    let bars = Chart(
      title: "test accuracy by group — train/glyphs_heldout/cnn/finetune-lr0.02/…", xLabel: "method " + Self.long,
      yLabel: "accuracy " + Self.long,
      series: [
        Chart.Series(
          name: "worst group with a long name",
          points: (0..<10).map { Chart.Point(x: Double($0), y: 0.5 + Double($0) / 40, error: 0.05) }),
        Chart.Series(
          name: "mean of groups with a long name",
          points: (0..<10).map { Chart.Point(x: Double($0), y: 0.7, error: 0.02) }),
      ], categories: categories)
    let lines = Chart(
      title: "target test_acc vs classes removed, with a title long enough to need two lines of text here",
      xLabel: "K (source classes removed) " + Self.long, yLabel: "test_acc",
      series: ["top", "bottom", "random", "nothing removed", "something else entirely", "and one more series"]
        .enumerated()
        .map { i, name in
          Chart.Series(
            name: "remove \(name) — \(Self.long)",
            points: (1...5).map { Chart.Point(x: Double($0 * 10), y: 0.8 - Double(i) * 0.01, error: 0.01) },
            dashed: i == 3)
        })
    let log2 = Chart(
      title: "glyphs_heldout", xLabel: "block size (none = unshuffled)", yLabel: "test_acc",
      series: [
        Chart.Series(name: "random init", points: [1, 2, 4, 8, 32].map { Chart.Point(x: $0, y: 0.5 + $0 / 100) })
      ],
      log2X: true, xTicks: [1, 2, 4, 8, 32].map { ($0, $0 == 32 ? "none (unshuffled input)" : "\(Int($0))") })
    let scatter = Chart(
      title: "tint: a 0.123456, b -0.000123", xLabel: "ID test accuracy (reference)", yLabel: "OOD test accuracy",
      series: [
        Chart.Series(
          name: "from scratch (checkpoints)",
          points: (0..<20).map { Chart.Point(x: Double($0) / 20, y: -0.0001 * Double($0)) },
          scatter: true),
        Chart.Series(
          name: "probit fit", points: (0..<20).map { Chart.Point(x: Double($0) / 20, y: 0) }, markers: false),
      ])
    let big = Chart(
      title: "classes by mean influence", xLabel: "rank", yLabel: "mean influence",
      series: [
        Chart.Series(name: "x", points: (0..<50).map { Chart.Point(x: Double($0) * 123_456, y: -1e5 * Double($0)) })
      ])
    let rates: [Double] = [0.02, 0.05, 0.1]
    var curves: [CurvePlot.Curve] = []
    for i in 0..<12 {
      let width: String = i % 2 == 0 ? "wide-" + Self.long : "narrow"
      let bindings: [String: ConfigValue] = [
        "optimizer.base_lr": .double(rates[i % 3]), "train.seed": .int(i / 6), "model.width": .string(width),
      ]
      let row = ResultRow(
        sweep: "s", key: "k\(i)", job: Int64(i), display: "\(i)", state: "COMPLETED", bindings: bindings, metrics: [:])
      var points: [(x: Double, y: Double)] = []
      for e in 1...10 { points.append((Double(e), 0.5 + Double(e) / 30 + Double(i) / 1000)) }
      curves.append(CurvePlot.Curve(row: row, points: points))
    }
    let plot = CurvePlot.charts(
      CurvePlot.lines(curves, facet: nil, meanOver: "train.seed"), metric: "test_acc", x: .epoch,
      color: "optimizer.base_lr", facet: nil, meanOver: "train.seed", title: "test_acc — a sweep with a long name")
    return [("bars", [bars]), ("lines", [lines]), ("log2", [log2]), ("scatter", [scatter, big]), ("plot", plot)]
  }

  func testNoTextLeavesTheCanvasOrOverlapsAnother() throws {
    for (name, charts) in charts() {
      let svg = Chart.svg(charts)
      let (width, height) = try canvas(svg)
      let boxes = try textBoxes(svg)
      XCTAssertFalse(boxes.isEmpty)
      for b in boxes {
        for (x, y) in b.corners {
          XCTAssertTrue(
            x >= -0.5 && x <= width + 0.5 && y >= -0.5 && y <= height + 0.5,
            "\(name): '\(b.text)' reaches (\(x), \(y)) outside \(width)×\(height)")
        }
      }
      for i in boxes.indices {
        for j in boxes.indices where j > i {
          XCTAssertFalse(
            overlap(boxes[i].corners, boxes[j].corners), "\(name): '\(boxes[i].text)' overlaps '\(boxes[j].text)'")
        }
      }
    }
  }

  /// Epochs 1…3 were labelled 1, 1.5, 2, 2.5, 3: whole-number data gets whole-number ticks.
  func testIntegerXGetsIntegerTicks() {
    let chart = Chart(
      title: "curves", xLabel: "epoch", yLabel: "val_acc",
      series: [Chart.Series(name: "run", points: (1...3).map { Chart.Point(x: Double($0), y: 0.1 + Double($0) / 5) })])
    let svg = Chart.svg([chart])
    for fraction in [">1.5</text>", ">2.5</text>"] {
      XCTAssertFalse(svg.contains(fraction), "a fractional epoch tick \(fraction) in\n\(svg)")
    }
    XCTAssertTrue(svg.contains(">2</text>"), svg)
    XCTAssertEqual(Chart.niceTicks(0.92, 3.08, integral: true), [1, 2, 3])
    XCTAssertEqual(Chart.niceTicks(1, 10.6, integral: true), [2, 4, 6, 8, 10])
    XCTAssertTrue(Chart.niceTicks(0, 1).contains { $0 != $0.rounded() }, "real data keeps fractional ticks")
  }

  func testChartsWithErrorsSayWhatTheyAre() {
    for (name, charts) in charts() {
      for chart in charts where chart.series.contains(where: { $0.points.contains { $0.error != nil } }) {
        let svg = Chart.svg([chart])
        XCTAssertTrue(svg.contains("sd"), "\(name): no note says what the error bars are")
      }
    }
  }

  /// counterfactual.svg drew every series' error bar at the same x, one over the other.
  func testErrorBarsOfSeriesAtTheSameXDoNotCoincide() throws {
    let (_, charts) = try XCTUnwrap(charts().first { $0.0 == "lines" })
    let svg = Chart.svg(charts)
    let xs = svg.components(separatedBy: "<path d=\"M").dropFirst().compactMap { Double($0.prefix { $0 != "," }) }
    // 6 series × 5 points, each bar at its own x.
    XCTAssertEqual(xs.count, 30)
    XCTAssertEqual(Set(xs).count, 30)
  }

  // MARK: An SVG reader independent of the layout code

  struct Box {
    var text: String
    var corners: [(Double, Double)]
  }

  func canvas(_ svg: String) throws -> (Double, Double) {
    let head = try XCTUnwrap(svg.components(separatedBy: ">").first)
    return (try XCTUnwrap(number(head, "width")), try XCTUnwrap(number(head, "height")))
  }

  func attribute(_ tag: String, _ name: String) -> String? {
    guard let r = tag.range(of: " \(name)=\"") else { return nil }
    let rest = tag[r.upperBound...]
    return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
  }

  func number(_ tag: String, _ name: String) -> Double? { attribute(tag, name).flatMap(Double.init) }

  func textBoxes(_ svg: String) throws -> [Box] {
    var boxes: [Box] = []
    var offsets: [(Double, Double)] = [(0, 0)]
    var rest = Substring(svg)
    while let open = rest.firstIndex(of: "<") {
      guard let close = rest[open...].firstIndex(of: ">") else { break }
      let tag = String(rest[open...close])
      rest = rest[rest.index(after: close)...]
      if tag.hasPrefix("<g") {
        var (dx, dy) = offsets.last!
        if let t = attribute(tag, "transform"), t.hasPrefix("translate(") {
          let v = t.dropFirst(10).dropLast().split(separator: ",").compactMap { Double($0) }
          dx += v[0]
          dy += v[1]
        }
        offsets.append((dx, dy))
      } else if tag.hasPrefix("</g") {
        offsets.removeLast()
      } else if tag.hasPrefix("<text") {
        let end = try XCTUnwrap(rest.range(of: "</text>"))
        let content = String(rest[..<end.lowerBound]).replacingOccurrences(of: "&lt;", with: "<")
          .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
          .replacingOccurrences(of: "&amp;", with: "&")
        rest = rest[end.upperBound...]
        let size = number(tag, "font-size") ?? 11
        let x = try XCTUnwrap(number(tag, "x"))
        let y = try XCTUnwrap(number(tag, "y"))
        var w = 0.0
        for s in content.unicodeScalars {
          w += (32...126).contains(s.value) ? Double(Chart.advance[Int(s.value) - 32]) : 1000
        }
        w *= size / 1000
        let (x0, x1): (Double, Double)
        switch attribute(tag, "text-anchor") ?? "start" {
        case "middle": (x0, x1) = (x - w / 2, x + w / 2)
        case "end": (x0, x1) = (x - w, x)
        default: (x0, x1) = (x, x + w)
        }
        let (y0, y1) = (y - 0.93 * size, y + 0.24 * size)
        var corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        if let t = attribute(tag, "transform"), t.hasPrefix("rotate(") {
          let v = t.dropFirst(7).dropLast().split(separator: " ").compactMap { Double($0) }
          let (a, cx, cy) = (v[0] * Double.pi / 180, v[1], v[2])
          corners = corners.map { px, py in
            (cx + (px - cx) * cos(a) - (py - cy) * sin(a), cy + (px - cx) * sin(a) + (py - cy) * cos(a))
          }
        }
        let (dx, dy) = offsets.last!
        boxes.append(Box(text: content, corners: corners.map { ($0.0 + dx, $0.1 + dy) }))
      }
    }
    return boxes
  }

  /// Convex quadrilaterals overlap unless an edge normal of one separates them (by > 0.5 px).
  func overlap(_ a: [(Double, Double)], _ b: [(Double, Double)]) -> Bool {
    for poly in [a, b] {
      for i in 0..<poly.count {
        let (x1, y1) = poly[i]
        let (x2, y2) = poly[(i + 1) % poly.count]
        let (nx, ny) = (y2 - y1, x1 - x2)
        let len = (nx * nx + ny * ny).squareRoot()
        guard len > 0 else { continue }
        let pa = a.map { ($0.0 * nx + $0.1 * ny) / len }
        let pb = b.map { ($0.0 * nx + $0.1 * ny) / len }
        if pa.max()! < pb.min()! + 0.5 || pb.max()! < pa.min()! + 0.5 { return false }
      }
    }
    return true
  }
}
