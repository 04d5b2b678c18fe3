#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

// Elementwise layers. `y` may alias `x` (and `dx` may alias `dy`): the models run them in place.

public func reluForward(
  y: UnsafeMutablePointer<Float>,  // [N]
  x: UnsafePointer<Float>,  // [N]
  count: Int
) {
  for i in 0..<count { y[i] = max(x[i], 0) }
}

/// dx = dy where y > 0; uses the output, so the input may have been overwritten in place.
public func reluBackward(
  dx: UnsafeMutablePointer<Float>,  // [N]
  dy: UnsafePointer<Float>,  // [N]
  y: UnsafePointer<Float>,  // [N]
  count: Int, accumulate: Bool = false
) {
  // Unconditional loads then a select, so the loop vectorises.
  if accumulate {
    for i in 0..<count {
      let g = dy[i]
      dx[i] += y[i] > 0 ? g : 0
    }
  } else {
    for i in 0..<count {
      let g = dy[i]
      dx[i] = y[i] > 0 ? g : 0
    }
  }
}

public func tanhForward(
  y: UnsafeMutablePointer<Float>,  // [N]
  x: UnsafePointer<Float>,  // [N]
  count: Int
) {
  for i in 0..<count { y[i] = tanhf(x[i]) }
}

/// dx = dy · (1 − y²).
public func tanhBackward(
  dx: UnsafeMutablePointer<Float>,  // [N]
  dy: UnsafePointer<Float>,  // [N]
  y: UnsafePointer<Float>,  // [N]
  count: Int, accumulate: Bool = false
) {
  if accumulate {
    for i in 0..<count { dx[i] += dy[i] * (1 - y[i] * y[i]) }
  } else {
    for i in 0..<count { dx[i] = dy[i] * (1 - y[i] * y[i]) }
  }
}

/// Inverted dropout: kept elements are scaled by 1/(1−p) so evaluation needs no rescaling.
/// The mask (0 or 1/(1−p)) is drawn from `rng`, one draw per element.
public func dropoutForward(
  y: UnsafeMutablePointer<Float>,  // [N]
  mask: UnsafeMutablePointer<Float>,  // [N]
  x: UnsafePointer<Float>,  // [N]
  count: Int, p: Float, rng: inout RNG
) {
  let scale = p < 1 ? 1 / (1 - p) : 0
  for i in 0..<count {
    mask[i] = rng.uniform() < p ? 0 : scale
    y[i] = x[i] * mask[i]
  }
}

public func dropoutBackward(
  dx: UnsafeMutablePointer<Float>,  // [N]
  dy: UnsafePointer<Float>,  // [N]
  mask: UnsafePointer<Float>,  // [N]
  count: Int, accumulate: Bool = false
) {
  if accumulate {
    for i in 0..<count { dx[i] += dy[i] * mask[i] }
  } else {
    for i in 0..<count { dx[i] = dy[i] * mask[i] }
  }
}

/// Residual sum y = a + b.
public func addForward(
  y: UnsafeMutablePointer<Float>,  // [N]
  a: UnsafePointer<Float>,  // [N]
  b: UnsafePointer<Float>,  // [N]
  count: Int
) {
  for i in 0..<count { y[i] = a[i] + b[i] }
}

/// Copies (or adds) dy into a gradient slot; the backward of each side of a sum.
public func passGradient(
  dx: UnsafeMutablePointer<Float>,  // [N]
  dy: UnsafePointer<Float>,  // [N]
  count: Int, accumulate: Bool
) {
  if accumulate {
    for i in 0..<count { dx[i] += dy[i] }
  } else {
    dx.update(from: dy, count: count)
  }
}
