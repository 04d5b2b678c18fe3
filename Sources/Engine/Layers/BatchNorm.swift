// Batch normalisation over the channel (last) axis of [rows, C]: rows = B for features,
// B·H·W for NHWC images. Statistics accumulate in Double so large batches stay exact enough.

/// Train mode normalises with the batch statistics and updates the running ones
/// (`running = (1 − momentum)·running + momentum·batch`, unbiased variance, as PyTorch);
/// eval mode uses the running statistics. `mean`/`invStd` are saved for the backward pass.
public func batchNormForward(
  y: UnsafeMutablePointer<Float>,  // [R, C]
  mean: UnsafeMutablePointer<Float>,  // [C]
  invStd: UnsafeMutablePointer<Float>,  // [C]
  runningMean: UnsafeMutablePointer<Float>,  // [C]
  runningVar: UnsafeMutablePointer<Float>,  // [C]
  x: UnsafePointer<Float>,  // [R, C]
  gamma: UnsafePointer<Float>,  // [C]
  beta: UnsafePointer<Float>,  // [C]
  rows: Int, channels: Int, training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5
) {
  let c = channels
  if training {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: c) { acc in
      acc.initialize(repeating: 0)
      for r in 0..<rows {
        let row = x + r * c
        for j in 0..<c { acc[j] += Double(row[j]) }
      }
      for j in 0..<c { mean[j] = Float(acc[j] / Double(rows)) }
      acc.update(repeating: 0)
      for r in 0..<rows {
        let row = x + r * c
        for j in 0..<c {
          let d = Double(row[j] - mean[j])
          acc[j] += d * d
        }
      }
      for j in 0..<c {
        let variance = acc[j] / Double(rows)
        invStd[j] = Float(1 / (variance + Double(epsilon)).squareRoot())
        let unbiased = rows > 1 ? acc[j] / Double(rows - 1) : variance
        runningMean[j] = (1 - momentum) * runningMean[j] + momentum * mean[j]
        runningVar[j] = (1 - momentum) * runningVar[j] + momentum * Float(unbiased)
      }
    }
  } else {
    for j in 0..<c {
      mean[j] = runningMean[j]
      invStd[j] = 1 / (runningVar[j] + epsilon).squareRoot()
    }
  }
  withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * c) { ab in
    // y = a·x + b with a = γ·invStd, b = β − a·mean: one fused pass.
    for j in 0..<c {
      ab[j] = gamma[j] * invStd[j]
      ab[c + j] = beta[j] - ab[j] * mean[j]
    }
    for r in 0..<rows {
      let row = x + r * c
      let out = y + r * c
      for j in 0..<c { out[j] = ab[j] * row[j] + ab[c + j] }
    }
  }
}

/// Train mode differentiates through the batch statistics:
/// dx = γ·invStd·(dy − mean(dy) − x̂·mean(dy·x̂)); eval mode: dx = γ·invStd·dy.
public func batchNormBackward(
  dx: UnsafeMutablePointer<Float>?,  // [R, C]
  dgamma: UnsafeMutablePointer<Float>?,  // [C]
  dbeta: UnsafeMutablePointer<Float>?,  // [C]
  dy: UnsafePointer<Float>,  // [R, C]
  x: UnsafePointer<Float>,  // [R, C]
  gamma: UnsafePointer<Float>,  // [C]
  mean: UnsafePointer<Float>,  // [C]
  invStd: UnsafePointer<Float>,  // [C]
  rows: Int, channels: Int, training: Bool, accumulateDx: Bool = false
) {
  let c = channels
  withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * c) { acc in
    // acc[0..<c] = Σ dy, acc[c..<2c] = Σ dy·x̂
    acc.initialize(repeating: 0)
    for r in 0..<rows {
      let row = x + r * c
      let g = dy + r * c
      for j in 0..<c {
        acc[j] += Double(g[j])
        acc[c + j] += Double(g[j] * (row[j] - mean[j]) * invStd[j])
      }
    }
    if let dbeta { for j in 0..<c { dbeta[j] = Float(acc[j]) } }
    if let dgamma { for j in 0..<c { dgamma[j] = Float(acc[c + j]) } }
    guard let dx else { return }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * c) { k in
      // dx = k0·dy + k1·x + k2 per channel.
      for j in 0..<c {
        let scale = gamma[j] * invStd[j]
        if training {
          let meanDy = Float(acc[j] / Double(rows))
          let meanDyXhat = Float(acc[c + j] / Double(rows))
          k[j] = scale
          k[c + j] = -scale * meanDyXhat * invStd[j]
          k[2 * c + j] = -scale * meanDy + scale * meanDyXhat * invStd[j] * mean[j]
        } else {
          k[j] = scale
          k[c + j] = 0
          k[2 * c + j] = 0
        }
      }
      for r in 0..<rows {
        let row = x + r * c
        let g = dy + r * c
        let out = dx + r * c
        if accumulateDx {
          for j in 0..<c { out[j] += k[j] * g[j] + k[c + j] * row[j] + k[2 * c + j] }
        } else {
          for j in 0..<c { out[j] = k[j] * g[j] + k[c + j] * row[j] + k[2 * c + j] }
        }
      }
    }
  }
}
