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
}

/// Gathers receptive fields into rows; out-of-image taps are zero.
public func im2col(
  cols: UnsafeMutablePointer<Float>,  // [n·OH·OW, kh·kw·Cin]
  x: UnsafePointer<Float>,  // [n, H, W, Cin]
  shape s: Conv2dShape, samples n: Int
) {
  let cin = s.inChannels
  let (oh, ow) = (s.outHeight, s.outWidth)
  let rowRun = s.kernelWidth * cin
  var row = cols
  for sample in 0..<n {
    let xs = x + sample * s.inputSize
    for oy in 0..<oh {
      for ox in 0..<ow {
        var dst = row
        let ix0 = ox * s.strideWidth - s.padWidth
        let inside = ix0 >= 0 && ix0 + s.kernelWidth <= s.inWidth
        for ky in 0..<s.kernelHeight {
          let iy = oy * s.strideHeight - s.padHeight + ky
          if iy < 0 || iy >= s.inHeight {
            dst.update(repeating: 0, count: rowRun)
          } else if inside {
            // NHWC: a kernel row inside the image is one contiguous run of kw·Cin values.
            dst.update(from: xs + (iy * s.inWidth + ix0) * cin, count: rowRun)
          } else {
            for kx in 0..<s.kernelWidth {
              let ix = ix0 + kx
              if ix >= 0 && ix < s.inWidth {
                (dst + kx * cin).update(from: xs + (iy * s.inWidth + ix) * cin, count: cin)
              } else {
                (dst + kx * cin).update(repeating: 0, count: cin)
              }
            }
          }
          dst += rowRun
        }
        row += s.patchSize
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

/// y = conv(x, W) + b, processed in chunks of samples whose im2col fits `colsCapacity`.
public func conv2dForward(
  y: UnsafeMutablePointer<Float>,  // [B, OH, OW, Cout]
  x: UnsafePointer<Float>,  // [B, H, W, Cin]
  w: UnsafePointer<Float>,  // [Cout, kh, kw, Cin]
  b: UnsafePointer<Float>?,  // [Cout]
  shape s: Conv2dShape, batch: Int,
  cols: UnsafeMutablePointer<Float>,  // [colsCapacity]
  colsCapacity: Int
) {
  let pixels = s.outHeight * s.outWidth
  let chunk = s.isPointwise ? batch : s.samplesPerChunk(capacity: colsCapacity)
  var start = 0
  while start < batch {
    let n = min(chunk, batch - start)
    let rows = n * pixels
    let yc = y + start * s.outputSize
    let a: UnsafePointer<Float>
    if s.isPointwise {
      a = x + start * s.inputSize
    } else {
      im2col(cols: cols, x: x + start * s.inputSize, shape: s, samples: n)
      a = UnsafePointer(cols)
    }
    if let b {
      for r in 0..<rows { (yc + r * s.outChannels).update(from: b, count: s.outChannels) }
    }
    gemm(
      transA: false, transB: true, m: rows, n: s.outChannels, k: s.patchSize,
      a: a, lda: s.patchSize, b: w, ldb: s.patchSize, beta: b == nil ? 0 : 1, c: yc, ldc: s.outChannels)
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
  let pixels = s.outHeight * s.outWidth
  if let db { columnSums(db, dy, rows: batch * pixels, columns: s.outChannels) }
  let chunk = s.isPointwise ? batch : s.samplesPerChunk(capacity: colsCapacity)
  var start = 0
  while start < batch {
    let n = min(chunk, batch - start)
    let rows = n * pixels
    let dyc = dy + start * s.outputSize
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
