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
}

/// y = window maximum; `argmax` records the winning input index (within the batch) per output.
public func maxPool2dForward(
  y: UnsafeMutablePointer<Float>,  // [B, OH, OW, C]
  argmax: UnsafeMutablePointer<Int32>,  // [B, OH, OW, C]
  x: UnsafePointer<Float>,  // [B, H, W, C]
  shape s: PoolShape, batch: Int
) {
  let c = s.channels
  let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
  var out = 0
  for b in 0..<batch {
    let base = b * s.inputSize
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

/// Routes each output gradient to the input that won its window.
public func maxPool2dBackward(
  dx: UnsafeMutablePointer<Float>,  // [B, H, W, C]
  dy: UnsafePointer<Float>,  // [B, OH, OW, C]
  argmax: UnsafePointer<Int32>,  // [B, OH, OW, C]
  shape s: PoolShape, batch: Int, accumulate: Bool = false
) {
  if !accumulate { dx.update(repeating: 0, count: batch * s.inputSize) }
  for i in 0..<(batch * s.outputSize) { dx[Int(argmax[i])] += dy[i] }
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
