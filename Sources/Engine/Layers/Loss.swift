#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Softmax cross-entropy with label smoothing ε (target (1−ε)·onehot + ε/K, as PyTorch),
/// averaged over the batch. Stores the softmax in `probs` for the backward pass and returns
/// the mean loss.
public func softmaxCrossEntropyForward(
  probs: UnsafeMutablePointer<Float>,  // [B, K]
  logits: UnsafePointer<Float>,  // [B, K]
  labels: UnsafePointer<Int>,  // [B]
  batch: Int, classes: Int, labelSmoothing: Float = 0
) -> Float {
  let k = classes
  var total = 0.0
  for b in 0..<batch {
    let z = logits + b * k
    let p = probs + b * k
    var m = z[0]
    for j in 1..<k { m = max(m, z[j]) }
    var sum: Float = 0
    var sumZ: Float = 0
    for j in 0..<k {
      p[j] = expf(z[j] - m)
      sum += p[j]
      sumZ += z[j]
    }
    let logSum = logf(sum)
    let inv = 1 / sum
    for j in 0..<k { p[j] *= inv }
    let logPLabel = z[labels[b]] - m - logSum
    let meanLogP = sumZ / Float(k) - m - logSum
    total -= Double((1 - labelSmoothing) * logPLabel + labelSmoothing * meanLogP)
  }
  return Float(total / Double(batch))
}

/// dlogits = (softmax − target) / B.
public func softmaxCrossEntropyBackward(
  dLogits: UnsafeMutablePointer<Float>,  // [B, K]
  probs: UnsafePointer<Float>,  // [B, K]
  labels: UnsafePointer<Int>,  // [B]
  batch: Int, classes: Int, labelSmoothing: Float = 0
) {
  let k = classes
  let scale = 1 / Float(batch)
  let offTarget = labelSmoothing / Float(k)
  for b in 0..<batch {
    let p = probs + b * k
    let d = dLogits + b * k
    for j in 0..<k { d[j] = (p[j] - offTarget) * scale }
    d[labels[b]] -= (1 - labelSmoothing) * scale
  }
}

/// Number of rows whose largest logit (first on ties) is at the label.
public func countCorrect(
  logits: UnsafePointer<Float>,  // [B, K]
  labels: UnsafePointer<Int>,  // [B]
  batch: Int, classes: Int
) -> Int {
  var correct = 0
  for b in 0..<batch where argmax(logits + b * classes, count: classes) == labels[b] { correct += 1 }
  return correct
}

@inline(__always)
func argmax(_ v: UnsafePointer<Float>, count: Int) -> Int {
  var best = 0
  for j in 1..<count where v[j] > v[best] { best = j }
  return best
}

/// The CAML loss: softmax cross-entropy over angular-margin logits. `logits` are cosine logits
/// s·cos θ (a cosine head's output); each entry gets its own additive angular margin
/// m = `margins[b, j]` (0 leaves it as is): z'_bj = s·φ(cos θ_bj, m_bj) with
///
///   φ(c, m) = cos(θ + m) = c·cos m − sin θ·sin m   when c > cos(π − m) (θ + m stays below π),
///   φ(c, m) = c − m·sin m                          otherwise (ArcFace's monotone continuation).
///
/// Stores the softmax of z' in `probs` and dz'/dz = dφ/dc in `slope` for the backward pass;
/// returns the mean loss.
public func angularMarginCrossEntropyForward(
  probs: UnsafeMutablePointer<Float>,  // [B, K]
  slope: UnsafeMutablePointer<Float>,  // [B, K]
  logits: UnsafePointer<Float>,  // [B, K] s·cos θ
  labels: UnsafePointer<Int>,  // [B]
  margins: UnsafePointer<Float>,  // [B, K] radians
  batch: Int, classes: Int, scale: Float
) -> Float {
  let k = classes
  var total = 0.0
  for b in 0..<batch {
    let z = probs + b * k  // z' first, then overwritten by the softmax
    for j in 0..<k {
      let i = b * k + j
      let m = margins[i]
      let c = min(1, max(-1, logits[i] / scale))
      if m == 0 {
        z[j] = scale * c
        slope[i] = 1
        continue
      }
      let sine = (max(0, 1 - c * c)).squareRoot()
      let (cosM, sinM) = (cosf(m), sinf(m))
      if c > cosf(Float.pi - m) {
        z[j] = scale * (c * cosM - sine * sinM)
        // d/dc of −sin θ·sin m is c·sin m / sin θ; the floor keeps it finite at θ = 0 or π.
        slope[i] = cosM + c * sinM / max(sine, 1e-4)
      } else {
        z[j] = scale * (c - m * sinM)
        slope[i] = 1
      }
    }
    var top = z[0]
    for j in 1..<k { top = max(top, z[j]) }
    let label = labels[b]
    let zLabel = z[label]
    var sum: Float = 0
    for j in 0..<k {
      z[j] = expf(z[j] - top)
      sum += z[j]
    }
    let inv = 1 / sum
    for j in 0..<k { z[j] *= inv }
    total -= Double(zLabel - top - logf(sum))
  }
  return Float(total / Double(batch))
}

/// dlogits = (softmax(z') − onehot) / B · dz'/dz.
public func angularMarginCrossEntropyBackward(
  dLogits: UnsafeMutablePointer<Float>,  // [B, K]
  probs: UnsafePointer<Float>,  // [B, K]
  slope: UnsafePointer<Float>,  // [B, K]
  labels: UnsafePointer<Int>,  // [B]
  batch: Int, classes: Int
) {
  let k = classes
  let scale = 1 / Float(batch)
  for b in 0..<batch {
    for j in 0..<k {
      let i = b * k + j
      let target: Float = j == labels[b] ? 1 : 0
      dLogits[i] = (probs[i] - target) * scale * slope[i]
    }
  }
}
