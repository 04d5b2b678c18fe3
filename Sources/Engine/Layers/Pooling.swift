// Pooling over NHWC activations.

/// Geometry of a max pool (no padding; windows that would overhang are dropped, as in PyTorch).
public struct PoolShape: Sendable, Hashable {
  public var channels: Int
  public var inHeight: Int
  public var inWidth: Int
  public var kernelHeight: Int
  public var kernelWidth: Int
  public var strideHeight: Int
  public var strideWidth: Int

  public init(
    channels: Int, inHeight: Int, inWidth: Int, kernelHeight: Int, kernelWidth: Int,
    strideHeight: Int? = nil, strideWidth: Int? = nil
  ) {
    self.channels = channels
    self.inHeight = inHeight
    self.inWidth = inWidth
    self.kernelHeight = kernelHeight
    self.kernelWidth = kernelWidth
    self.strideHeight = strideHeight ?? kernelHeight
    self.strideWidth = strideWidth ?? kernelWidth
  }

  public var outHeight: Int { (inHeight - kernelHeight) / strideHeight + 1 }
  public var outWidth: Int { (inWidth - kernelWidth) / strideWidth + 1 }
  public var inputSize: Int { inHeight * inWidth * channels }
  public var outputSize: Int { outHeight * outWidth * channels }
  /// Windows side by side (stride = kernel): no input is in two windows.
  public var isTiled: Bool { strideHeight == kernelHeight && strideWidth == kernelWidth }

  /// Whether this tiled pool can run inside convolution `conv`, on its output.
  public func fits(_ conv: Conv2dShape) -> Bool {
    isTiled && channels == conv.outChannels && inHeight == conv.outHeight && inWidth == conv.outWidth
  }
}

/// y = window maximum; `argmax` records the winning input index (within the batch) per output.
public func maxPool2dForward(
  y: UnsafeMutablePointer<Float>,  // [B, OH, OW, C]
  argmax: UnsafeMutablePointer<Int32>,  // [B, OH, OW, C]
  x: UnsafePointer<Float>,  // [B, H, W, C]
  shape s: PoolShape, batch: Int
) {
  maxPool2dForward(y: y, argmax: argmax, x: x, shape: s, samples: 0..<batch)
}

/// `maxPool2dForward` of the samples in `samples` only (the fused convolution pools each chunk of
/// samples as it is computed): `x` holds just those samples, and the argmax indices are relative
/// to it; `y` and `argmax` are the whole batch's.
func maxPool2dForward(
  y: UnsafeMutablePointer<Float>,  // [B, OH, OW, C]
  argmax: UnsafeMutablePointer<Int32>,  // [B, OH, OW, C]
  x: UnsafePointer<Float>,  // [samples.count, H, W, C]
  shape s: PoolShape, samples: Range<Int>
) {
  let c = s.channels
  let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
  var out = samples.lowerBound * s.outputSize
  for b in samples {
    let base = (b - samples.lowerBound) * s.inputSize
    for oy in 0..<s.outHeight {
      for ox in 0..<s.outWidth {
        let first = base + (oy * s.strideHeight * s.inWidth + ox * s.strideWidth) * c
        // Eight channels at a time in registers: the compiler turns scalar select-stores
        // into masked scalar stores, which ran 5× slower.
        var ch = 0
        while ch + 8 <= c {
          var best = UnsafeRawPointer(x + first + ch).loadUnaligned(as: SIMD8<Float>.self)
          var arg = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: first + ch)) &+ lanes
          for ky in 0..<s.kernelHeight {
            for kx in 0..<s.kernelWidth {
              let idx = base + ((oy * s.strideHeight + ky) * s.inWidth + ox * s.strideWidth + kx) * c + ch
              let v = UnsafeRawPointer(x + idx).loadUnaligned(as: SIMD8<Float>.self)
              let better = v .> best
              best.replace(with: v, where: better)
              arg.replace(with: SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: idx)) &+ lanes, where: better)
            }
          }
          UnsafeMutableRawPointer(y + out + ch).storeBytes(of: best, as: SIMD8<Float>.self)
          UnsafeMutableRawPointer(argmax + out + ch).storeBytes(of: arg, as: SIMD8<Int32>.self)
          ch += 8
        }
        while ch < c {
          var best = x[first + ch]
          var arg = first + ch
          for ky in 0..<s.kernelHeight {
            for kx in 0..<s.kernelWidth {
              let idx = base + ((oy * s.strideHeight + ky) * s.inWidth + ox * s.strideWidth + kx) * c + ch
              if x[idx] > best {
                best = x[idx]
                arg = idx
              }
            }
          }
          y[out + ch] = best
          argmax[out + ch] = Int32(truncatingIfNeeded: arg)
          ch += 1
        }
        out += c
      }
    }
  }
}

/// `reluForward` in place on `x`, then `maxPool2dForward(samples:)` of it, in one pass for a tiled
/// pool (the fused convolution's chunk): each value is rectified (`max(x, 0)`, as `reluForward`)
/// and written back while it is in a register for the window's maximum; the values outside every
/// window are rectified after. Same values and indices as the two passes.
func reluMaxPool2dForward(
  y: UnsafeMutablePointer<Float>,  // [B, OH, OW, C]
  argmax: UnsafeMutablePointer<Int32>,  // [B, OH, OW, C]
  x: UnsafeMutablePointer<Float>,  // [samples.count, H, W, C]: rectified in place
  shape s: PoolShape, samples: Range<Int>
) {
  precondition(s.isTiled, "the fused ReLU and pool need windows that tile the input")
  let c = s.channels
  let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
  let zero = SIMD8<Float>()
  @inline(__always) func rectified(_ i: Int) -> SIMD8<Float> {
    var v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
    v.replace(with: zero, where: zero .>= v)
    UnsafeMutableRawPointer(x + i).storeBytes(of: v, as: SIMD8<Float>.self)
    return v
  }
  let rowStride = s.inWidth * c
  var out = samples.lowerBound * s.outputSize
  for b in samples {
    let base = (b - samples.lowerBound) * s.inputSize
    for oy in 0..<s.outHeight {
      for ox in 0..<s.outWidth {
        let first = base + oy * s.kernelHeight * rowStride + ox * s.kernelWidth * c
        var ch = 0
        while ch + 8 <= c {
          // The first tap starts the maximum; comparing it with itself again would change nothing.
          var best = rectified(first + ch)
          var arg = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: first + ch)) &+ lanes
          for ky in 0..<s.kernelHeight {
            for kx in 0..<s.kernelWidth where ky != 0 || kx != 0 {
              let idx = first + ky * rowStride + kx * c + ch
              let v = rectified(idx)
              let better = v .> best
              best.replace(with: v, where: better)
              arg.replace(with: SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: idx)) &+ lanes, where: better)
            }
          }
          UnsafeMutableRawPointer(y + out + ch).storeBytes(of: best, as: SIMD8<Float>.self)
          UnsafeMutableRawPointer(argmax + out + ch).storeBytes(of: arg, as: SIMD8<Int32>.self)
          ch += 8
        }
        while ch < c {
          x[first + ch] = max(x[first + ch], 0)
          var best = x[first + ch]
          var arg = first + ch
          for ky in 0..<s.kernelHeight {
            for kx in 0..<s.kernelWidth where ky != 0 || kx != 0 {
              let idx = first + ky * rowStride + kx * c + ch
              x[idx] = max(x[idx], 0)
              if x[idx] > best {
                best = x[idx]
                arg = idx
              }
            }
          }
          y[out + ch] = best
          argmax[out + ch] = Int32(truncatingIfNeeded: arg)
          ch += 1
        }
        out += c
      }
    }
    // Rows below and columns right of the last window.
    let coveredHeight = s.outHeight * s.kernelHeight
    let coveredWidth = s.outWidth * s.kernelWidth
    for row in 0..<s.inHeight {
      let from = row >= coveredHeight ? 0 : coveredWidth
      let p = x + base + row * rowStride + from * c
      reluForward(y: p, x: p, count: (s.inWidth - from) * c)
    }
  }
}

/// Routes each output gradient to the input that won its window.
public func maxPool2dBackward(
  dx: UnsafeMutablePointer<Float>,  // [B, H, W, C]
  dy: UnsafePointer<Float>,  // [B, OH, OW, C]
  argmax: UnsafePointer<Int32>,  // [B, OH, OW, C]
  shape s: PoolShape, batch: Int, accumulate: Bool = false
) {
  if !accumulate && s.isTiled {
    maxPool2dBackwardTiled(dx: dx, dy: dy, argmax: argmax, shape: s, samples: 0..<batch)
    return
  }
  if !accumulate { dx.update(repeating: 0, count: batch * s.inputSize) }
  for i in 0..<(batch * s.outputSize) { dx[Int(argmax[i])] += dy[i] }
}

/// `maxPool2dBackward` for windows that tile the input (`isTiled`), over the samples in `samples`
/// (`dx` holds just those, argmax indices are relative to it; `dy`, `argmax` and `reluOutput` are
/// the whole batch's): every input lies in at most one window, so each is written once — the
/// gradient where it won, else zero — instead of zeroing the whole input gradient and scattering
/// into it. Inputs past the last window get zero.
///
/// With `reluOutput` (the pool's output `y`, when a ReLU precedes the pool), a winner whose value
/// is not positive gets zero too: that is the ReLU's backward, since the winner's value is `y`.
func maxPool2dBackwardTiled(
  dx: UnsafeMutablePointer<Float>,  // [samples.count, H, W, C]
  dy: UnsafePointer<Float>,  // [B, OH, OW, C]
  argmax: UnsafePointer<Int32>,  // [B, OH, OW, C]
  reluOutput: UnsafePointer<Float>? = nil,  // [B, OH, OW, C]
  shape s: PoolShape, samples: Range<Int>
) {
  let c = s.channels
  let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
  let coveredHeight = s.outHeight * s.kernelHeight
  let coveredWidth = s.outWidth * s.kernelWidth
  var out = samples.lowerBound * s.outputSize
  for b in samples {
    let base = (b - samples.lowerBound) * s.inputSize
    for oy in 0..<s.outHeight {
      for ox in 0..<s.outWidth {
        var ch = 0
        while ch + 8 <= c {
          var g = UnsafeRawPointer(dy + out + ch).loadUnaligned(as: SIMD8<Float>.self)
          if let reluOutput {
            let y = UnsafeRawPointer(reluOutput + out + ch).loadUnaligned(as: SIMD8<Float>.self)
            g.replace(with: 0, where: .!(y .> 0))
          }
          let arg = UnsafeRawPointer(argmax + out + ch).loadUnaligned(as: SIMD8<Int32>.self)
          for ky in 0..<s.kernelHeight {
            for kx in 0..<s.kernelWidth {
              let idx = base + ((oy * s.kernelHeight + ky) * s.inWidth + ox * s.kernelWidth + kx) * c + ch
              var v = SIMD8<Float>()
              v.replace(with: g, where: arg .== SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: idx)) &+ lanes)
              UnsafeMutableRawPointer(dx + idx).storeBytes(of: v, as: SIMD8<Float>.self)
            }
          }
          ch += 8
        }
        while ch < c {
          let winner = Int(argmax[out + ch])
          let g = (reluOutput.map { $0[out + ch] > 0 } ?? true) ? dy[out + ch] : 0
          for ky in 0..<s.kernelHeight {
            for kx in 0..<s.kernelWidth {
              let idx = base + ((oy * s.kernelHeight + ky) * s.inWidth + ox * s.kernelWidth + kx) * c + ch
              dx[idx] = idx == winner ? g : 0
            }
          }
          ch += 1
        }
        out += c
      }
    }
    // Rows below and columns right of the last window.
    for y in 0..<s.inHeight {
      if y >= coveredHeight {
        (dx + base + y * s.inWidth * c).update(repeating: 0, count: s.inWidth * c)
      } else if coveredWidth < s.inWidth {
        (dx + base + (y * s.inWidth + coveredWidth) * c).update(repeating: 0, count: (s.inWidth - coveredWidth) * c)
      }
    }
  }
}

/// y[b, c] = mean over pixels of x[b, :, c].
public func globalAvgPoolForward(
  y: UnsafeMutablePointer<Float>,  // [B, C]
  x: UnsafePointer<Float>,  // [B, P, C]
  batch: Int, pixels: Int, channels: Int
) {
  let scale = 1 / Float(pixels)
  for b in 0..<batch {
    let yb = y + b * channels
    columnSums(yb, x + b * pixels * channels, rows: pixels, columns: channels)
    for c in 0..<channels { yb[c] *= scale }
  }
}

public func globalAvgPoolBackward(
  dx: UnsafeMutablePointer<Float>,  // [B, P, C]
  dy: UnsafePointer<Float>,  // [B, C]
  batch: Int, pixels: Int, channels: Int, accumulate: Bool = false
) {
  let scale = 1 / Float(pixels)
  for b in 0..<batch {
    let dyb = dy + b * channels
    for p in 0..<pixels {
      let row = dx + (b * pixels + p) * channels
      if accumulate {
        for c in 0..<channels { row[c] += dyb[c] * scale }
      } else {
        for c in 0..<channels { row[c] = dyb[c] * scale }
      }
    }
  }
}
