// 2-D convolution over NHWC activations via im2col + one GEMM per chunk of samples. NHWC keeps
// each im2col row a run of contiguous channel vectors and makes the GEMM output [pixels, Cout]
// already the next layer's layout. A 1-D convolution is the height-1 case.

/// Geometry of a convolution; weights are [Cout, kh, kw, Cin].
public struct Conv2dShape: Sendable, Hashable {
  public var inChannels: Int
  public var outChannels: Int
  public var inHeight: Int
  public var inWidth: Int
  public var kernelHeight: Int
  public var kernelWidth: Int
  public var strideHeight: Int
  public var strideWidth: Int
  public var padHeight: Int
  public var padWidth: Int

  public init(
    inChannels: Int, outChannels: Int, inHeight: Int, inWidth: Int,
    kernelHeight: Int, kernelWidth: Int, strideHeight: Int = 1, strideWidth: Int = 1,
    padHeight: Int = 0, padWidth: Int = 0
  ) {
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.inHeight = inHeight
    self.inWidth = inWidth
    self.kernelHeight = kernelHeight
    self.kernelWidth = kernelWidth
    self.strideHeight = strideHeight
    self.strideWidth = strideWidth
    self.padHeight = padHeight
    self.padWidth = padWidth
  }

  /// Square kernel, same stride and padding on both axes.
  public init(
    inChannels: Int, outChannels: Int, height: Int, width: Int, kernel: Int, stride: Int = 1, padding: Int = 0
  ) {
    self.init(
      inChannels: inChannels, outChannels: outChannels, inHeight: height, inWidth: width,
      kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: stride,
      padHeight: padding, padWidth: padding)
  }

  public var outHeight: Int { (inHeight + 2 * padHeight - kernelHeight) / strideHeight + 1 }
  public var outWidth: Int { (inWidth + 2 * padWidth - kernelWidth) / strideWidth + 1 }
  /// Length of one im2col row: one receptive field.
  public var patchSize: Int { kernelHeight * kernelWidth * inChannels }
  public var weightCount: Int { outChannels * patchSize }
  public var inputSize: Int { inHeight * inWidth * inChannels }
  public var outputSize: Int { outHeight * outWidth * outChannels }
  /// A 1×1, stride-1, unpadded convolution reads its input as the im2col matrix directly.
  public var isPointwise: Bool {
    kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
      && padHeight == 0 && padWidth == 0
  }

  /// Samples per im2col chunk so that the column buffer holds at most `capacity` floats.
  public func samplesPerChunk(capacity: Int) -> Int {
    max(1, capacity / max(1, outHeight * outWidth * patchSize))
  }

  /// Samples per chunk of `conv2dForward`/`conv2dBackward` for this batch and column buffer (a
  /// pointwise convolution reads its input as the columns: one chunk).
  public func chunkSamples(batch: Int, colsCapacity: Int) -> Int {
    isPointwise ? batch : min(batch, samplesPerChunk(capacity: colsCapacity))
  }
}

/// Copies `count` floats between non-overlapping buffers. Runs shorter than 64 are copied inline
/// with 8-wide loads and stores: im2col copies one kernel row per call (9 floats for a 3-channel
/// image), where a `memmove` call per row cost more than the copy.
@inline(__always)
func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
  if count >= 64 {
    dst.update(from: src, count: count)
  } else if count >= 8 {
    var i = 0
    while i + 8 <= count {
      let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD8<Float>.self)
      i += 8
    }
    if i < count {
      // The last 8, overlapping what is already copied.
      let v = UnsafeRawPointer(src + count - 8).loadUnaligned(as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(dst + count - 8).storeBytes(of: v, as: SIMD8<Float>.self)
    }
  } else {
    for i in 0..<count { dst[i] = src[i] }
  }
}

/// Sets `count` floats to zero; short runs inline, as in `copyFloats`.
@inline(__always)
func zeroFloats(_ dst: UnsafeMutablePointer<Float>, count: Int) {
  if count >= 64 {
    dst.update(repeating: 0, count: count)
  } else if count >= 8 {
    var i = 0
    while i + 8 <= count {
      UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD8<Float>(), as: SIMD8<Float>.self)
      i += 8
    }
    if i < count { UnsafeMutableRawPointer(dst + count - 8).storeBytes(of: SIMD8<Float>(), as: SIMD8<Float>.self) }
  } else {
    for i in 0..<count { dst[i] = 0 }
  }
}

/// The output columns `ox` whose kernel row lies wholly inside the image horizontally (one
/// contiguous run of kw·Cin input values in NHWC); those before and after touch the padding.
@inline(__always)
func interiorColumns(_ s: Conv2dShape) -> Range<Int> {
  let ow = s.outWidth
  let first = min(ow, (s.padWidth + s.strideWidth - 1) / s.strideWidth)
  let room = s.inWidth + s.padWidth - s.kernelWidth
  let end = room >= 0 ? min(ow, room / s.strideWidth + 1) : 0
  return first..<max(first, end)
}

/// Gathers receptive fields into rows; out-of-image taps are zero.
///
/// Walks one kernel row of every output pixel of an output row at a time (the input row it reads
/// is fixed), so the bounds are tested once per run instead of once per pixel and tap: im2col of
/// a 3-channel image copies runs of 9 floats, where that bookkeeping cost more than the copies.
public func im2col(
  cols: UnsafeMutablePointer<Float>,  // [n·OH·OW, kh·kw·Cin]
  x: UnsafePointer<Float>,  // [n, H, W, Cin]
  shape s: Conv2dShape, samples n: Int
) {
  let cin = s.inChannels
  let (oh, ow) = (s.outHeight, s.outWidth)
  let patch = s.patchSize
  let rowRun = s.kernelWidth * cin
  let step = s.strideWidth * cin
  let interior = interiorColumns(s)
  for sample in 0..<n {
    let xs = x + sample * s.inputSize
    for oy in 0..<oh {
      let pixelRow = cols + (sample * oh + oy) * ow * patch
      for ky in 0..<s.kernelHeight {
        let iy = oy * s.strideHeight - s.padHeight + ky
        var dst = pixelRow + ky * rowRun
        if iy < 0 || iy >= s.inHeight {
          for _ in 0..<ow {
            zeroFloats(dst, count: rowRun)
            dst += patch
          }
          continue
        }
        let xrow = xs + iy * s.inWidth * cin
        func edge(_ ox: Int) {
          let d = pixelRow + ox * patch + ky * rowRun
          let ix0 = ox * s.strideWidth - s.padWidth
          for kx in 0..<s.kernelWidth {
            let ix = ix0 + kx
            if ix >= 0 && ix < s.inWidth {
              copyFloats(d + kx * cin, xrow + ix * cin, count: cin)
            } else {
              zeroFloats(d + kx * cin, count: cin)
            }
          }
        }
        for ox in 0..<interior.lowerBound { edge(ox) }
        if !interior.isEmpty {
          // NHWC: a kernel row inside the image is one contiguous run of kw·Cin values.
          dst = pixelRow + interior.lowerBound * patch + ky * rowRun
          var src = xrow + (interior.lowerBound * s.strideWidth - s.padWidth) * cin
          if rowRun == 9 {
            // 3×3 over 3 channels (the usual first layer): 8 floats and 1, no size tests per run.
            for _ in interior {
              let v = UnsafeRawPointer(src).loadUnaligned(as: SIMD8<Float>.self)
              UnsafeMutableRawPointer(dst).storeBytes(of: v, as: SIMD8<Float>.self)
              dst[8] = src[8]
              dst += patch
              src += step
            }
          } else {
            for _ in interior {
              copyFloats(dst, src, count: rowRun)
              dst += patch
              src += step
            }
          }
        }
        for ox in interior.upperBound..<ow { edge(ox) }
      }
    }
  }
}

/// Scatters column gradients back onto the image (the adjoint of `im2col`), summing overlaps.
public func col2im(
  dx: UnsafeMutablePointer<Float>,  // [n, H, W, Cin]
  dcols: UnsafePointer<Float>,  // [n·OH·OW, kh·kw·Cin]
  shape s: Conv2dShape, samples n: Int, accumulate: Bool
) {
  if !accumulate { dx.update(repeating: 0, count: n * s.inputSize) }
  let cin = s.inChannels
  let rowRun = s.kernelWidth * cin
  var row = dcols
  for sample in 0..<n {
    let xs = dx + sample * s.inputSize
    for oy in 0..<s.outHeight {
      for ox in 0..<s.outWidth {
        var src = row
        let ix0 = ox * s.strideWidth - s.padWidth
        let inside = ix0 >= 0 && ix0 + s.kernelWidth <= s.inWidth
        for ky in 0..<s.kernelHeight {
          let iy = oy * s.strideHeight - s.padHeight + ky
          if iy >= 0 && iy < s.inHeight {
            if inside {
              let dst = xs + (iy * s.inWidth + ix0) * cin
              for c in 0..<rowRun { dst[c] += src[c] }
            } else {
              for kx in 0..<s.kernelWidth {
                let ix = ix0 + kx
                if ix >= 0 && ix < s.inWidth {
                  let dst = xs + (iy * s.inWidth + ix) * cin
                  let from = src + kx * cin
                  for c in 0..<cin { dst[c] += from[c] }
                }
              }
            }
          }
          src += rowRun
        }
        row += s.patchSize
      }
    }
  }
}

/// A max pool that a convolution with ReLU runs on each chunk of its output while the chunk is in
/// cache, so that the convolution's output is never held for the whole batch: the pool's geometry
/// and buffers. `argmax` indices are relative to the chunk.
public struct FusedMaxPool {
  public var shape: PoolShape
  public var y: UnsafeMutablePointer<Float>  // [B, POH, POW, Cout]: the pool's output
  public var argmax: UnsafeMutablePointer<Int32>  // [B, POH, POW, Cout]
  /// The gradient of the pool's output, for the backward.
  public var dy: UnsafePointer<Float>?  // [B, POH, POW, Cout]

  public init(
    shape: PoolShape, y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
    dy: UnsafePointer<Float>? = nil
  ) {
    self.shape = shape
    self.y = y
    self.argmax = argmax
    self.dy = dy
  }
}

/// y = conv(x, W) + b, processed in chunks of samples whose im2col fits `colsCapacity`. With
/// `relu`, y = max(conv(x, W) + b, 0), applied to each chunk while it is in cache; its backward is
/// `conv2dReLUBackward`.
///
/// With `pool` (tiled windows, after the ReLU), each chunk of y is max-pooled into `pool.y` as it
/// is computed, with the values of `maxPool2dForward` over the whole of y, and `y` is only a
/// workspace for one chunk (`shape.chunkSamples` samples): the pre-pool activation is not kept.
public func conv2dForward(
  y: UnsafeMutablePointer<Float>,  // [B, OH, OW, Cout], or [chunk, OH, OW, Cout] with pool
  x: UnsafePointer<Float>,  // [B, H, W, Cin]
  w: UnsafePointer<Float>,  // [Cout, kh, kw, Cin]
  b: UnsafePointer<Float>?,  // [Cout]
  shape s: Conv2dShape, batch: Int,
  cols: UnsafeMutablePointer<Float>,  // [colsCapacity]
  colsCapacity: Int, relu: Bool = false, pool: FusedMaxPool? = nil
) {
  if let pool { precondition(relu && pool.shape.fits(s), "a fused pool follows a ReLU and matches the output") }
  let pixels = s.outHeight * s.outWidth
  let chunk = s.chunkSamples(batch: batch, colsCapacity: colsCapacity)
  var start = 0
  while start < batch {
    let n = min(chunk, batch - start)
    let rows = n * pixels
    let yc = pool == nil ? y + start * s.outputSize : y
    let a: UnsafePointer<Float>
    if s.isPointwise {
      a = x + start * s.inputSize
    } else {
      im2col(cols: cols, x: x + start * s.inputSize, shape: s, samples: n)
      a = UnsafePointer(cols)
    }
    if let b {
      for r in 0..<rows { copyFloats(yc + r * s.outChannels, b, count: s.outChannels) }
    }
    gemm(
      transA: false, transB: true, m: rows, n: s.outChannels, k: s.patchSize,
      a: a, lda: s.patchSize, b: w, ldb: s.patchSize, beta: b == nil ? 0 : 1, c: yc, ldc: s.outChannels)
    if let pool {
      reluMaxPool2dForward(y: pool.y, argmax: pool.argmax, x: yc, shape: pool.shape, samples: start..<(start + n))
    } else if relu {
      reluForward(y: yc, x: yc, count: rows * s.outChannels)
    }
    start += n
  }
}

/// dW = dyᵀ · cols, db = Σ dy, dx = col2im(dy · W). Pass nil for gradients not needed.
public func conv2dBackward(
  dx: UnsafeMutablePointer<Float>?,  // [B, H, W, Cin]
  dw: UnsafeMutablePointer<Float>?,  // [Cout, kh, kw, Cin]
  db: UnsafeMutablePointer<Float>?,  // [Cout]
  dy: UnsafePointer<Float>,  // [B, OH, OW, Cout]
  x: UnsafePointer<Float>,  // [B, H, W, Cin]
  w: UnsafePointer<Float>,  // [Cout, kh, kw, Cin]
  shape s: Conv2dShape, batch: Int,
  cols: UnsafeMutablePointer<Float>,  // [colsCapacity]
  colsCapacity: Int, accumulateDx: Bool = false
) {
  conv2dBackward(
    dx: dx, dw: dw, db: db, dy: UnsafeMutablePointer(mutating: dy), reluOutput: nil, pool: nil, x: x, w: w,
    shape: s, batch: batch, cols: cols, colsCapacity: colsCapacity, accumulateDx: accumulateDx)
}

/// The backward of `conv2dForward(relu: true)`: `dy` (the gradient of the ReLU's output) is
/// masked in place by y > 0 one chunk at a time, just before that chunk's GEMMs, then as
/// `conv2dBackward`. Same arithmetic as a separate `reluBackward` pass first.
///
/// With `pool` (the forward's, with `pool.dy` set), `dy` is a workspace for one chunk (like the
/// forward's `y`), written for each chunk by the pool's backward from `pool.dy`, with the ReLU's
/// mask applied at the same time since a window's winner holds the pool's output; `y` is not read.
public func conv2dReLUBackward(
  dx: UnsafeMutablePointer<Float>?,  // [B, H, W, Cin]
  dw: UnsafeMutablePointer<Float>?,  // [Cout, kh, kw, Cin]
  db: UnsafeMutablePointer<Float>?,  // [Cout]
  dy: UnsafeMutablePointer<Float>,  // [B, OH, OW, Cout], overwritten with the pre-activation gradient
  y: UnsafePointer<Float>,  // [B, OH, OW, Cout]: the forward's output, after the ReLU (not read with pool)
  x: UnsafePointer<Float>,  // [B, H, W, Cin]
  w: UnsafePointer<Float>,  // [Cout, kh, kw, Cin]
  shape s: Conv2dShape, batch: Int,
  cols: UnsafeMutablePointer<Float>,  // [colsCapacity]
  colsCapacity: Int, accumulateDx: Bool = false, pool: FusedMaxPool? = nil
) {
  if let pool { precondition(pool.dy != nil && pool.shape.fits(s), "a fused pool's backward needs its dy") }
  conv2dBackward(
    dx: dx, dw: dw, db: db, dy: dy, reluOutput: y, pool: pool, x: x, w: w, shape: s, batch: batch, cols: cols,
    colsCapacity: colsCapacity, accumulateDx: accumulateDx)
}

/// Both backwards; `dy` is written only when `reluOutput` is given.
private func conv2dBackward(
  dx: UnsafeMutablePointer<Float>?,  // [B, H, W, Cin]
  dw: UnsafeMutablePointer<Float>?,  // [Cout, kh, kw, Cin]
  db: UnsafeMutablePointer<Float>?,  // [Cout]
  dy: UnsafeMutablePointer<Float>,  // [B, OH, OW, Cout]
  reluOutput: UnsafePointer<Float>?,  // [B, OH, OW, Cout]
  pool: FusedMaxPool?,
  x: UnsafePointer<Float>,  // [B, H, W, Cin]
  w: UnsafePointer<Float>,  // [Cout, kh, kw, Cin]
  shape s: Conv2dShape, batch: Int,
  cols: UnsafeMutablePointer<Float>,  // [colsCapacity]
  colsCapacity: Int, accumulateDx: Bool
) {
  let pixels = s.outHeight * s.outWidth
  // db is summed chunk by chunk, while the chunk of dy is in cache for the GEMMs (same order of
  // additions as one pass over the batch).
  db?.update(repeating: 0, count: s.outChannels)
  let chunk = s.chunkSamples(batch: batch, colsCapacity: colsCapacity)
  var start = 0
  while start < batch {
    let n = min(chunk, batch - start)
    let rows = n * pixels
    let dyc = pool == nil ? dy + start * s.outputSize : dy
    if let pool, let poolDy = pool.dy {
      // The pool's backward adds db's column sums band by band as it writes them.
      maxPool2dBackwardTiled(
        dx: dyc, dy: poolDy, argmax: pool.argmax, reluOutput: pool.y, columnSums: db, shape: pool.shape,
        samples: start..<(start + n))
    } else if let reluOutput {
      // The ReLU's mask then db's column sums, a block of rows at a time while it is in L1 (each
      // column still adds its rows in order).
      let yc = reluOutput + start * s.outputSize
      let block = max(1, 4096 / max(1, s.outChannels))
      var row = 0
      while row < rows {
        let r = min(block, rows - row)
        let at = row * s.outChannels
        reluBackward(dx: dyc + at, dy: dyc + at, y: yc + at, count: r * s.outChannels)
        if let db { addColumnSums(db, dyc + at, rows: r, columns: s.outChannels) }
        row += r
      }
    } else if let db {
      addColumnSums(db, dyc, rows: rows, columns: s.outChannels)
    }
    if let dw {
      let a: UnsafePointer<Float>
      if s.isPointwise {
        a = x + start * s.inputSize
      } else {
        im2col(cols: cols, x: x + start * s.inputSize, shape: s, samples: n)
        a = UnsafePointer(cols)
      }
      gemm(
        transA: true, transB: false, m: s.outChannels, n: s.patchSize, k: rows,
        a: dyc, lda: s.outChannels, b: a, ldb: s.patchSize, beta: start == 0 ? 0 : 1,
        c: dw, ldc: s.patchSize)
    }
    if let dx {
      let dxc = dx + start * s.inputSize
      if s.isPointwise {
        gemm(
          transA: false, transB: false, m: rows, n: s.patchSize, k: s.outChannels,
          a: dyc, lda: s.outChannels, b: w, ldb: s.patchSize, beta: accumulateDx ? 1 : 0,
          c: dxc, ldc: s.patchSize)
      } else {
        gemm(
          transA: false, transB: false, m: rows, n: s.patchSize, k: s.outChannels,
          a: dyc, lda: s.outChannels, b: w, ldb: s.patchSize, beta: 0, c: cols, ldc: s.patchSize)
        col2im(dx: dxc, dcols: cols, shape: s, samples: n, accumulate: accumulateDx)
      }
    }
    start += n
  }
}
