/// Update rule and hyper-parameters, with PyTorch's semantics (`torch.optim.SGD`, `Adam`,
/// `AdamW`; SGD dampening 0).
public enum OptimizerConfig: Sendable, Hashable, Codable {
  /// L2 weight decay added to the gradient; momentum buffer `b = μ·b + g`; Nesterov steps
  /// along `g + μ·b`.
  case sgd(momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0)
  /// L2 weight decay added to the gradient before the moments.
  case adam(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0)
  /// Decoupled weight decay: `p ← p·(1 − lr·wd)` before the Adam step.
  case adamW(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01)
}

/// An optimizer and its state: moments are contiguous buffers over the parameter layout
/// (`moment1` = SGD momentum or Adam's first moment, `moment2` = Adam's second moment), so
/// they checkpoint as two tensors; `steps` counts completed updates (Adam's bias correction).
public struct Optimizer: Sendable {
  public let config: OptimizerConfig
  public var moment1: [Float]  // [layout.count]
  public var moment2: [Float]  // [layout.count], empty for SGD
  public var steps: Int

  public init(_ config: OptimizerConfig, parameterCount: Int) {
    self.config = config
    steps = 0
    switch config {
    case .sgd(let momentum, _, _):
      moment1 = momentum == 0 ? [] : [Float](repeating: 0, count: parameterCount)
      moment2 = []
    case .adam, .adamW:
      moment1 = [Float](repeating: 0, count: parameterCount)
      moment2 = [Float](repeating: 0, count: parameterCount)
    }
  }

  /// One update of the elements in `ranges` (the trainable ones); others keep their values
  /// and moments.
  public mutating func step(
    parameters: inout [Float], gradients: [Float], ranges: [Range<Int>], learningRate lr: Float
  ) {
    precondition(parameters.count == gradients.count)
    steps += 1
    switch config {
    case .sgd(let momentum, _, let wd) where momentum == 0 || moment1.isEmpty:
      parameters.withUnsafeMutableBufferPointer { pb in
        gradients.withUnsafeBufferPointer { gb in
          for range in ranges {
            let (p, g) = (pb.baseAddress! + range.lowerBound, gb.baseAddress! + range.lowerBound)
            for i in 0..<range.count { p[i] -= lr * (g[i] + wd * p[i]) }
          }
        }
      }
    case .sgd(let momentum, let nesterov, let wd):
      parameters.withUnsafeMutableBufferPointer { pb in
        gradients.withUnsafeBufferPointer { gb in
          moment1.withUnsafeMutableBufferPointer { mb in
            for range in ranges {
              let (p, g) = (pb.baseAddress! + range.lowerBound, gb.baseAddress! + range.lowerBound)
              let b = mb.baseAddress! + range.lowerBound
              if nesterov {
                for i in 0..<range.count {
                  let d = g[i] + wd * p[i]
                  b[i] = momentum * b[i] + d
                  p[i] -= lr * (d + momentum * b[i])
                }
              } else {
                for i in 0..<range.count {
                  b[i] = momentum * b[i] + g[i] + wd * p[i]
                  p[i] -= lr * b[i]
                }
              }
            }
          }
        }
      }
    case .adam(let beta1, let beta2, let eps, let wd), .adamW(let beta1, let beta2, let eps, let wd):
      var decoupled = false
      if case .adamW = config { decoupled = true }
      let bc1 = 1 - Float(Double(beta1).power(steps))
      let bc2Sqrt = Float((1 - Double(beta2).power(steps)).squareRoot())
      let stepSize = lr / bc1
      let l2: Float = decoupled ? 0 : wd
      let shrink: Float = decoupled ? 1 - lr * wd : 1
      parameters.withUnsafeMutableBufferPointer { pb in
        gradients.withUnsafeBufferPointer { gb in
          moment1.withUnsafeMutableBufferPointer { m1b in
            moment2.withUnsafeMutableBufferPointer { m2b in
              for range in ranges {
                let (p, g) = (pb.baseAddress! + range.lowerBound, gb.baseAddress! + range.lowerBound)
                let (m, v) = (m1b.baseAddress! + range.lowerBound, m2b.baseAddress! + range.lowerBound)
                for i in 0..<range.count {
                  let grad = g[i] + l2 * p[i]
                  m[i] = beta1 * m[i] + (1 - beta1) * grad
                  v[i] = beta2 * v[i] + (1 - beta2) * grad * grad
                  p[i] = p[i] * shrink - stepSize * m[i] / (v[i].squareRoot() / bc2Sqrt + eps)
                }
              }
            }
          }
        }
      }
    }
  }

  /// State as named tensors for a checkpoint: `optimizer.moment1`, `optimizer.moment2` (when
  /// used) and `optimizer.steps`.
  public func namedTensors() -> [(name: String, array: NDArray)] {
    var out: [(name: String, array: NDArray)] = []
    if !moment1.isEmpty { out.append(("optimizer.moment1", NDArray(shape: [moment1.count], float32: moment1))) }
    if !moment2.isEmpty { out.append(("optimizer.moment2", NDArray(shape: [moment2.count], float32: moment2))) }
    out.append(("optimizer.steps", NDArray(shape: [1], int64: [Int64(steps)])))
    return out
  }

  /// Restores state written by `namedTensors`; sizes must match this optimizer's.
  public mutating func load(_ tensors: [String: NDArray]) throws {
    func floats(_ name: String, count: Int) throws -> [Float] {
      guard count > 0 else { return [] }
      guard let a = tensors[name], case .float32(let v) = a.storage, v.count == count else {
        throw EngineError(.format, "optimizer state '\(name)' missing or not \(count) float32 values")
      }
      return v
    }
    guard let s = tensors["optimizer.steps"], case .int64(let v) = s.storage, v.count == 1, v[0] >= 0 else {
      throw EngineError(.format, "optimizer state 'optimizer.steps' missing or not one int64")
    }
    let m1 = try floats("optimizer.moment1", count: moment1.count)
    let m2 = try floats("optimizer.moment2", count: moment2.count)
    moment1 = m1
    moment2 = m2
    steps = Int(v[0])
  }
}

extension Double {
  fileprivate func power(_ n: Int) -> Double {
    var result = 1.0
    for _ in 0..<n { result *= self }
    return result
  }
}

/// Rescales `gradients` (within `ranges`) so their global L2 norm is at most `maxNorm`, with
/// PyTorch's factor `maxNorm / (norm + 1e-6)`; returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ gradients: inout [Float], ranges: [Range<Int>], maxNorm: Float) -> Float {
  var sum = 0.0
  gradients.withUnsafeBufferPointer { g in
    for range in ranges {
      var partial: Float = 0
      for (k, i) in range.enumerated() {
        partial += g[i] * g[i]
        if k & 1023 == 1023 {
          sum += Double(partial)
          partial = 0
        }
      }
      sum += Double(partial)
    }
  }
  let norm = Float(sum.squareRoot())
  if norm > maxNorm {
    let scale = maxNorm / (norm + 1e-6)
    gradients.withUnsafeMutableBufferPointer { g in
      for range in ranges { for i in range { g[i] *= scale } }
    }
  }
  return norm
}
