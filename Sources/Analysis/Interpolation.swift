import Foundation

/// `orch analyze interpolate KEY_A KEY_B` (Neyshabur et al.'s performance barrier): test loss and
/// accuracy of θ(α) = (1−α)θ_A + αθ_B on a grid of α, each point an `engine: eval` job. The barrier
/// is the largest rise above the straight line between the endpoints:
/// max_α [L(α) − ((1−α)L(0) + αL(1))], for the loss and for the error (1 − accuracy).
public enum Interpolation {
  public struct Point {
    public var alpha: Double
    public var loss: Double
    public var accuracy: Double

    public init(alpha: Double, loss: Double, accuracy: Double) {
      self.alpha = alpha
      self.loss = loss
      self.accuracy = accuracy
    }
  }

  /// α_i = i/(points−1) rounded to 4 decimals, so the α of every grid is written the same way in
  /// keys, configs and sweep files (and α = 0 and 1 are exact).
  public static func alphas(points: Int) -> [Double] {
    (0..<points).map { i in (Double(i) / Double(points - 1) * 10_000).rounded() / 10_000 }
  }

  /// The barrier of `values` over `points` (sorted by α, endpoints α = 0 and 1 included).
  static func barrier(_ points: [Point], _ value: (Point) -> Double) -> Double {
    guard let first = points.first, let last = points.last, first.alpha == 0, last.alpha == 1 else { return .nan }
    let v0 = value(first)
    let v1 = value(last)
    return points.map { p in value(p) - ((1 - p.alpha) * v0 + p.alpha * v1) }.max() ?? .nan
  }

  public static func report(a: String, b: String, points: [Point], missing: [Double], dataset: String? = nil) -> Report
  {
    let sorted = points.sorted { $0.alpha < $1.alpha }
    var report = Report(
      title: "Interpolation θ(α) = (1−α)·θ_A + α·θ_B\n  A = \(a)\n  B = \(b)",
      columns: ["alpha", "test_loss", "test_acc"],
      rows: sorted.map { [.number($0.alpha), .number($0.loss), .number($0.accuracy)] })
    report.summary = [
      ("loss_barrier", barrier(sorted) { $0.loss }),
      ("error_barrier", barrier(sorted) { 1 - $0.accuracy }),
    ]
    if !missing.isEmpty {
      report.notes.append(
        "no completed evaluation at α = " + missing.map(Report.format).joined(separator: ", ")
          + " (barriers need α = 0 and 1)")
    }
    let loss = Chart.Series(name: "test loss", points: sorted.map { Chart.Point(x: $0.alpha, y: $0.loss) })
    let acc = Chart.Series(name: "test accuracy", points: sorted.map { Chart.Point(x: $0.alpha, y: $0.accuracy) })
    // Each chart names its data set and both models: a PNG travels without its table.
    let models = "A = \(a)\nB = \(b)"
    let on = dataset.map { " on \($0)" } ?? ""
    report.charts = [
      Chart(
        title: "test loss\(on) along θ(α) = (1−α)·θ_A + α·θ_B\n" + models, xLabel: "α (0 = A, 1 = B)",
        yLabel: "test loss", series: [loss]),
      Chart(
        title: "test accuracy\(on) along θ(α) = (1−α)·θ_A + α·θ_B\n" + models, xLabel: "α (0 = A, 1 = B)",
        yLabel: "test accuracy", series: [acc]),
    ]
    return report
  }
}
