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
