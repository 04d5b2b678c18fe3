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
      if s.kernelHeight == 2 && s.kernelWidth == 2 {
        reluPoolBand2x2(y: y + out, argmax: argmax + out, x: x, band: base + oy * 2 * rowStride, s)
        out += s.outWidth * c
        continue
      }
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

/// One output row of 2×2 windows of `reluMaxPool2dForward`, the common case: `band` is the offset in
/// `x` of the row's first input, `y` and `argmax` point at the row's outputs. The taps' offsets and
/// their indices' vectors are computed once per window (wrapping Int32 arithmetic, as the stored
/// indices); the same comparisons in the same order as the general loop.
@inline(__always)
private func reluPoolBand2x2(
  y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>, x: UnsafeMutablePointer<Float>, band: Int,
  _ s: PoolShape
) {
  let c = s.channels
  let rowStride = s.inWidth &* c
  let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
  let zero = SIMD8<Float>()
  let right = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: c))
  let below = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: rowStride))
  let belowRight = below &+ right
  for ox in 0..<s.outWidth {
    let first = band &+ ox &* 2 &* c
    let o = ox &* c
    var ch = 0
    while ch &+ 8 <= c {
      let p = x + first + ch
      var v0 = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
      var v1 = UnsafeRawPointer(p + c).loadUnaligned(as: SIMD8<Float>.self)
      var v2 = UnsafeRawPointer(p + rowStride).loadUnaligned(as: SIMD8<Float>.self)
      var v3 = UnsafeRawPointer(p + rowStride + c).loadUnaligned(as: SIMD8<Float>.self)
      v0.replace(with: zero, where: zero .>= v0)
      v1.replace(with: zero, where: zero .>= v1)
      v2.replace(with: zero, where: zero .>= v2)
      v3.replace(with: zero, where: zero .>= v3)
      UnsafeMutableRawPointer(p).storeBytes(of: v0, as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(p + c).storeBytes(of: v1, as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(p + rowStride).storeBytes(of: v2, as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(p + rowStride + c).storeBytes(of: v3, as: SIMD8<Float>.self)
      let at = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: first &+ ch)) &+ lanes
      var best = v0
      var arg = at
      var better = v1 .> best
      best.replace(with: v1, where: better)
      arg.replace(with: at &+ right, where: better)
      better = v2 .> best
      best.replace(with: v2, where: better)
      arg.replace(with: at &+ below, where: better)
      better = v3 .> best
      best.replace(with: v3, where: better)
      arg.replace(with: at &+ belowRight, where: better)
      UnsafeMutableRawPointer(y + o + ch).storeBytes(of: best, as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(argmax + o + ch).storeBytes(of: arg, as: SIMD8<Int32>.self)
      ch &+= 8
    }
    while ch < c {
      var best = max(x[first + ch], 0)
      x[first + ch] = best
      var arg = first + ch
      var k = 0
      while k < 3 {
        let idx = first + ch + (k == 0 ? c : k == 1 ? rowStride : rowStride + c)
        x[idx] = max(x[idx], 0)
        if x[idx] > best {
          best = x[idx]
          arg = idx
        }
        k += 1
      }
      y[o + ch] = best
      argmax[o + ch] = Int32(truncatingIfNeeded: arg)
      ch += 1
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
///
/// With `columnSums`, each row of `dx` (one pixel's channels) is also added into it, rows in order
/// (`addColumnSums` of the whole of `dx`, the same bits): a band of `kernelHeight` image rows is
/// summed just after it is written, while it is in L1, instead of in a second pass over `dx`.
func maxPool2dBackwardTiled(
  dx: UnsafeMutablePointer<Float>,  // [samples.count, H, W, C]
  dy: UnsafePointer<Float>,  // [B, OH, OW, C]
  argmax: UnsafePointer<Int32>,  // [B, OH, OW, C]
  reluOutput: UnsafePointer<Float>? = nil,  // [B, OH, OW, C]
  columnSums: UnsafeMutablePointer<Float>? = nil,  // [C]
  shape s: PoolShape, samples: Range<Int>
) {
  let c = s.channels
  let rowFloats = s.inWidth * c
  let bandFloats = s.kernelHeight * rowFloats
  let coveredHeight = s.outHeight * s.kernelHeight
  let coveredWidth = s.outWidth * s.kernelWidth
  var out = samples.lowerBound * s.outputSize
  for b in samples {
    let base = (b - samples.lowerBound) * s.inputSize
    for oy in 0..<s.outHeight {
      let band = base + oy * bandFloats
      if s.kernelHeight == 2 && s.kernelWidth == 2 {
        routeBand2x2(dx: dx, band: band, dy: dy + out, argmax: argmax + out, reluOutput: reluOutput.map { $0 + out }, s)
      } else {
        routeBand(dx: dx, band: band, dy: dy + out, argmax: argmax + out, reluOutput: reluOutput.map { $0 + out }, s)
      }
      out += s.outWidth * c
      if coveredWidth < s.inWidth {
        for row in 0..<s.kernelHeight {
          (dx + band + row * rowFloats + coveredWidth * c).update(
            repeating: 0, count: (s.inWidth - coveredWidth) * c)
        }
      }
      if let columnSums { addColumnSums(columnSums, dx + band, rows: s.kernelHeight * s.inWidth, columns: c) }
    }
    // Rows below the last window.
    if coveredHeight < s.inHeight {
      let rest = dx + base + coveredHeight * rowFloats
      rest.update(repeating: 0, count: (s.inHeight - coveredHeight) * rowFloats)
      if let columnSums { addColumnSums(columnSums, rest, rows: (s.inHeight - coveredHeight) * s.inWidth, columns: c) }
    }
  }
}

/// One band of windows (output row) of `maxPool2dBackwardTiled`, any window size: `band` is the
/// offset in `dx` of the band's first input, `dy`, `argmax` and `reluOutput` point at the band's
/// outputs.
@inline(__always)
private func routeBand(
  dx: UnsafeMutablePointer<Float>, band: Int, dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
  reluOutput: UnsafePointer<Float>?, _ s: PoolShape
) {
  let c = s.channels
  let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
  for ox in 0..<s.outWidth {
    let o = ox * c
    var ch = 0
    while ch + 8 <= c {
      var g = UnsafeRawPointer(dy + o + ch).loadUnaligned(as: SIMD8<Float>.self)
      if let reluOutput {
        let y = UnsafeRawPointer(reluOutput + o + ch).loadUnaligned(as: SIMD8<Float>.self)
        g.replace(with: 0, where: .!(y .> 0))
      }
      let arg = UnsafeRawPointer(argmax + o + ch).loadUnaligned(as: SIMD8<Int32>.self)
      for ky in 0..<s.kernelHeight {
        for kx in 0..<s.kernelWidth {
          let idx = band + (ky * s.inWidth + ox * s.kernelWidth + kx) * c + ch
          var v = SIMD8<Float>()
          v.replace(with: g, where: arg .== SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: idx)) &+ lanes)
          UnsafeMutableRawPointer(dx + idx).storeBytes(of: v, as: SIMD8<Float>.self)
        }
      }
      ch += 8
    }
    while ch < c {
      let winner = Int(argmax[o + ch])
      let g = (reluOutput.map { $0[o + ch] > 0 } ?? true) ? dy[o + ch] : 0
      for ky in 0..<s.kernelHeight {
        for kx in 0..<s.kernelWidth {
          let idx = band + (ky * s.inWidth + ox * s.kernelWidth + kx) * c + ch
          dx[idx] = idx == winner ? g : 0
        }
      }
      ch += 1
    }
  }
}

/// `routeBand` for 2×2 windows, the common case: the winner's offset from its window's first input
/// is compared with the four taps' (wrapping Int32 arithmetic, as the stored indices), so the same
/// selections with the index arithmetic out of the inner loop.
@inline(__always)
private func routeBand2x2(
  dx: UnsafeMutablePointer<Float>, band: Int, dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
  reluOutput: UnsafePointer<Float>?, _ s: PoolShape
) {
  let c = s.channels
  let rowFloats = s.inWidth &* c
  let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
  let right = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: c))
  let below = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: rowFloats))
  let belowRight = below &+ right
  var p = dx + band
  var first = Int32(truncatingIfNeeded: band)
  let step = Int32(truncatingIfNeeded: 2 &* c)
  for ox in 0..<s.outWidth {
    let o = ox &* c
    var ch = 0
    while ch &+ 8 <= c {
      var g = UnsafeRawPointer(dy + o + ch).loadUnaligned(as: SIMD8<Float>.self)
      if let reluOutput {
        let y = UnsafeRawPointer(reluOutput + o + ch).loadUnaligned(as: SIMD8<Float>.self)
        g.replace(with: 0, where: .!(y .> 0))
      }
      let arg = UnsafeRawPointer(argmax + o + ch).loadUnaligned(as: SIMD8<Int32>.self)
      let rel = arg &- (SIMD8<Int32>(repeating: first &+ Int32(truncatingIfNeeded: ch)) &+ lanes)
      let zero = SIMD8<Float>()
      @inline(__always) func put(_ at: UnsafeMutablePointer<Float>, _ mask: SIMDMask<SIMD8<Int32>>) {
        UnsafeMutableRawPointer(at).storeBytes(of: zero.replacing(with: g, where: mask), as: SIMD8<Float>.self)
      }
      put(p + ch, rel .== SIMD8<Int32>())
      put(p + c + ch, rel .== right)
      put(p + rowFloats + ch, rel .== below)
      put(p + rowFloats + c + ch, rel .== belowRight)
      ch &+= 8
    }
    while ch < c {
      let winner = Int(argmax[o + ch])
      let g = (reluOutput.map { $0[o + ch] > 0 } ?? true) ? dy[o + ch] : 0
      let idx = band + ox &* 2 &* c + ch
      p[ch] = idx == winner ? g : 0
      p[c + ch] = idx + c == winner ? g : 0
      p[rowFloats + ch] = idx + rowFloats == winner ? g : 0
      p[rowFloats + c + ch] = idx + rowFloats + c == winner ? g : 0
      ch += 1
    }
    p += 2 &* c
    first &+= step
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
