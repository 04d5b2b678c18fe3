import Foundation

/// The standard normal and Student t distributions, in Double, for the effective-robustness fit.
enum Normal {
  /// Φ(x) = erfc(−x/√2)/2: accurate in both tails (no 1 − small cancellation).
  static func cdf(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

  /// φ(x).
  static func pdf(_ x: Double) -> Double { exp(-0.5 * x * x) / (2 * Double.pi).squareRoot() }

  /// Φ⁻¹(p) (probit): Acklam's rational approximation (relative error < 1.15e-9) refined by one
  /// Halley step on erfc, which brings it to a few ulps. p = 0 and 1 give ∓∞; outside [0, 1], NaN.
  /// The upper half is −Φ⁻¹(1 − p) (1 − p is exact there), so both tails keep their precision.
  static func quantile(_ p: Double) -> Double {
    guard p >= 0 && p <= 1 else { return .nan }
    if p == 0 { return -.infinity }
    if p == 1 { return .infinity }
    if p > 0.5 { return -lowerQuantile(1 - p) }
    return lowerQuantile(p)
  }

  /// Φ⁻¹(p) for 0 < p ≤ 0.5.
  private static func lowerQuantile(_ p: Double) -> Double {
    let a = [
      -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
      -3.066479806614716e+01, 2.506628277459239e+00,
    ]
    let b = [
      -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
      -1.328068155288572e+01,
    ]
    let c = [
      -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
      4.374664141464968e+00, 2.938163982698783e+00,
    ]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    var x: Double
    if p < 0.02425 {
      let q = (-2 * log(p)).squareRoot()
      x =
        (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
        / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    } else {
      let q = p - 0.5
      let r = q * q
      x =
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }
    // Halley: e = Φ(x) − p, u = e/φ(x); x ← x − u/(1 + x·u/2).
    let e = cdf(x) - p
    let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
    x -= u / (1 + x * u / 2)
    return x
  }
}

/// Student's t distribution with `degrees` degrees of freedom.
enum StudentT {
  /// P(T ≤ t), through the regularised incomplete beta function: the two tails are
  /// I_{ν/(ν+t²)}(ν/2, 1/2)/2 each.
  static func cdf(_ t: Double, degrees nu: Double) -> Double {
    let tail = 0.5 * regularizedIncompleteBeta(nu / (nu + t * t), a: nu / 2, b: 0.5)
    return t > 0 ? 1 - tail : tail
  }

  /// The p-quantile (0 < p < 1): the upper tail 1 − p (or p) solved for t ≥ 0 by bisection on
  /// the incomplete beta, which is monotone, to the last bits of Double.
  static func quantile(_ p: Double, degrees nu: Double) -> Double {
    guard p > 0 && p < 1 && nu > 0 else { return .nan }
    if p == 0.5 { return 0 }
    let tail = p > 0.5 ? 1 - p : p
    func upper(_ t: Double) -> Double { 0.5 * regularizedIncompleteBeta(nu / (nu + t * t), a: nu / 2, b: 0.5) }
    var (lo, hi) = (0.0, 1.0)
    while upper(hi) > tail && hi < 1e300 { (lo, hi) = (hi, hi * 2) }
    for _ in 0..<2000 {
      let mid = 0.5 * (lo + hi)
      if mid <= lo || mid >= hi { break }
      if upper(mid) > tail { lo = mid } else { hi = mid }
    }
    let t = 0.5 * (lo + hi)
    return p > 0.5 ? t : -t
  }

  /// I_x(a, b) by the continued fraction (modified Lentz), on the side where it converges fast.
  static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
    if x <= 0 { return 0 }
    if x >= 1 { return 1 }
    let front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x))
    if x < (a + 1) / (a + b + 2) { return front * betaFraction(x, a: a, b: b) / a }
    return 1 - front * betaFraction(1 - x, a: b, b: a) / b
  }

  private static func betaFraction(_ x: Double, a: Double, b: Double) -> Double {
    let tiny = 1e-300
    let (qab, qap, qam) = (a + b, a + 1, a - 1)
    var c = 1.0
    var d = 1 - qab * x / qap
    if abs(d) < tiny { d = tiny }
    d = 1 / d
    var h = d
    for m in 1...10_000 {
      let m = Double(m)
      let m2 = 2 * m
      var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
      d = 1 + aa * d
      if abs(d) < tiny { d = tiny }
      c = 1 + aa / c
      if abs(c) < tiny { c = tiny }
      d = 1 / d
      h *= d * c
      aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
      d = 1 + aa * d
      if abs(d) < tiny { d = tiny }
      c = 1 + aa / c
      if abs(c) < tiny { c = tiny }
      d = 1 / d
      let delta = d * c
      h *= delta
      if abs(delta - 1) < 1e-16 { break }
    }
    return h
  }
}
