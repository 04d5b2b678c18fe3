import Foundation
import OrchCore

/// The scale accuracies are fitted on: probit (Φ⁻¹, the paper's) or logit (ln p/(1 − p)).
public enum AccuracyLink: String, Sendable, CaseIterable {
  case probit, logit

  /// g(p).
  func transform(_ p: Double) -> Double {
    switch self {
    case .probit: Normal.quantile(p)
    case .logit: log(p) - log1p(-p)
    }
  }

  /// g⁻¹(z).
  func inverse(_ z: Double) -> Double {
    switch self {
    case .probit: Normal.cdf(z)
    case .logit: 1 / (1 + exp(-z))
    }
  }

  /// d g⁻¹/dz at z.
  func inverseSlope(_ z: Double) -> Double {
    switch self {
    case .probit:
      return Normal.pdf(z)
    case .logit:
      let s = 1 / (1 + exp(-z))
      return s * (1 - s)
    }
  }

  /// dg/dp at p.
  func slope(_ p: Double) -> Double { 1 / inverseSlope(transform(p)) }
}

/// Ordinary least squares y = a·x + b over n ≥ 2 points with distinct x.
struct LineFit: Sendable, Equatable {
  let a: Double
  let b: Double
  let n: Int
  let meanX: Double
  /// Σ (x − x̄)².
  let sxx: Double
  /// Residual standard deviation √(Σ r² / (n − 2)); NaN when n = 2.
  let residualSD: Double
  /// 1 − Σ r² / Σ (y − ȳ)²; NaN when every y is equal.
  let rSquared: Double

  init(x: [Double], y: [Double]) throws(OrchError) {
    guard x.count == y.count else { throw .badInput("a line fit needs as many x as y (\(x.count) vs \(y.count))") }
    guard x.count >= 2 else { throw .badInput("a line fit needs at least 2 points, got \(x.count)") }
    guard x.allSatisfy(\.isFinite) && y.allSatisfy(\.isFinite) else {
      throw .badInput("a line fit needs finite values")
    }
    let n = Double(x.count)
    let mx = x.reduce(0, +) / n
    let my = y.reduce(0, +) / n
    var (sxx, sxy, syy) = (0.0, 0.0, 0.0)
    for (u, v) in zip(x, y) {
      sxx += (u - mx) * (u - mx)
      sxy += (u - mx) * (v - my)
      syy += (v - my) * (v - my)
    }
    guard sxx > 0 else { throw .badInput("a line fit needs at least two distinct x values") }
    a = sxy / sxx
    b = my - a * mx
    var ssr = 0.0
    for (u, v) in zip(x, y) { ssr += (v - a * u - b) * (v - a * u - b) }
    self.n = x.count
    meanX = mx
    self.sxx = sxx
    residualSD = x.count > 2 ? (ssr / (n - 2)).squareRoot() : .nan
    rSquared = syy > 0 ? 1 - ssr / syy : .nan
  }

  func predict(_ x: Double) -> Double { a * x + b }

  /// Standard error of a new observation's y at x: s·√(1 + 1/n + (x − x̄)²/Sxx).
  func predictionSE(at x: Double) -> Double {
    residualSD * (1 + 1 / Double(n) + (x - meanX) * (x - meanX) / sxx).squareRoot()
  }
}

/// Effective robustness (Cohen-Wang et al.): baseline models give a line
/// g(OOD acc) = a·g(ID acc) + b, g the probit (or logit); a model's ER is
/// `OOD acc − g⁻¹(a·g(ID acc) + b)`, how far above the baseline's trend it lies.
///
/// The interval of `interval(id:ood:oodCount:idCount:level:)` is ER ± w with
/// w = √(w_line² + w_ood² + w_id²):
///
/// - w_line = t_{(1+level)/2, n−2} · (g⁻¹)′(ŷ) · s·√(1 + 1/n + (x₀ − x̄)²/Sxx): the fit's
///   prediction interval for a new model at x₀ = g(ID acc), ŷ = a·x₀ + b, carried from the g scale
///   to accuracy by the delta method (s: residual SD of the baseline, n baseline models);
/// - w_ood = z_{(1+level)/2} · √(ood·(1 − ood)/n_ood): the binomial sampling error of the model's
///   OOD accuracy over its n_ood test examples;
/// - w_id = z_{(1+level)/2} · (g⁻¹)′(ŷ) · |a| · g′(id) · √(id·(1 − id)/n_id): the same for its ID
///   accuracy, through the line (only when n_id is given).
///
/// The baseline's residual scatter already contains its own models' sampling noise, so adding the
/// model's binomial terms is conservative; they matter when the baseline is a smooth sequence of
/// checkpoints of one run, whose residuals understate the noise of an independent model.
struct EffectiveRobustness: Sendable, Equatable {
  let link: AccuracyLink
  let line: LineFit

  /// Fits the line to baseline models' accuracies (each strictly between 0 and 1).
  init(id: [Double], ood: [Double], link: AccuracyLink = .probit) throws(OrchError) {
    guard id.count == ood.count else {
      throw .badInput("baseline: \(id.count) ID accuracies but \(ood.count) OOD accuracies")
    }
    for (name, values) in [("ID", id), ("OOD", ood)] {
      if let bad = values.firstIndex(where: { !($0 > 0 && $0 < 1) }) {
        throw .badInput(
          "baseline model \(bad) has \(name) accuracy \(values[bad]); the \(link.rawValue) fit needs accuracies"
            + " strictly between 0 and 1")
      }
    }
    self.link = link
    line = try LineFit(x: id.map(link.transform), y: ood.map(link.transform))
  }

  /// The baseline's OOD accuracy at this ID accuracy: g⁻¹(a·g(id) + b).
  func expectedOOD(id: Double) -> Double { link.inverse(line.predict(link.transform(id))) }

  func effectiveRobustness(id: Double, ood: Double) -> Double { ood - expectedOOD(id: id) }

  struct Interval: Sendable, Equatable {
    let estimate: Double
    let low: Double
    let high: Double
    var halfWidth: Double { (high - low) / 2 }
  }

  /// ER with its interval at `level` (see the type's doc); needs n ≥ 3 baseline models.
  func interval(
    id: Double, ood: Double, oodCount: Int, idCount: Int? = nil, level: Double = 0.95
  ) throws(OrchError) -> Interval {
    guard id > 0 && id < 1 else {
      throw .badInput("ID accuracy \(id): the \(link.rawValue) scale needs a value strictly between 0 and 1")
    }
    guard ood >= 0 && ood <= 1, oodCount > 0, (idCount ?? 1) > 0 else {
      throw .badInput("OOD accuracy \(ood) over \(oodCount) examples is not an accuracy")
    }
    guard line.n >= 3 else {
      throw .badInput("an interval needs at least 3 baseline models (n − 2 degrees of freedom), got \(line.n)")
    }
    guard level > 0 && level < 1 else { throw .badInput("interval level \(level) is not in (0, 1)") }
    let x0 = link.transform(id)
    let yHat = line.predict(x0)
    let er = ood - link.inverse(yHat)
    let slope = link.inverseSlope(yHat)
    let t = StudentT.quantile((1 + level) / 2, degrees: Double(line.n - 2))
    let z = Normal.quantile((1 + level) / 2)
    let wLine = t * slope * line.predictionSE(at: x0)
    let wOOD = z * (ood * (1 - ood) / Double(oodCount)).squareRoot()
    var wID = 0.0
    if let idCount { wID = z * slope * abs(line.a) * link.slope(id) * (id * (1 - id) / Double(idCount)).squareRoot() }
    let w = (wLine * wLine + wOOD * wOOD + wID * wID).squareRoot()
    return Interval(estimate: er, low: er - w, high: er + w)
  }
}
