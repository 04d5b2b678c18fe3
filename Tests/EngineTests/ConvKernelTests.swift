import XCTest

@testable import Engine

/// The convolution's data movement (im2col), the ReLU fused into the pool's pass and the column
/// sums of the bias gradients, against plain per-element references: equal bit for bit.
final class ConvKernelTests: XCTestCase {
  /// Every geometry path: padded edges on both sides, stride 2, kernels wider than the image (no
  /// interior column), 1-D signals, unpadded and 1×1 kernels, 3 to 24 channels.
  static let shapes: [Conv2dShape] = [
    Conv2dShape(inChannels: 3, outChannels: 4, height: 8, width: 8, kernel: 3, stride: 1, padding: 1),
    Conv2dShape(inChannels: 3, outChannels: 4, height: 9, width: 7, kernel: 3, stride: 2, padding: 1),
    Conv2dShape(inChannels: 1, outChannels: 2, height: 8, width: 8, kernel: 5, stride: 1, padding: 2),
    Conv2dShape(inChannels: 2, outChannels: 2, height: 4, width: 3, kernel: 5, stride: 1, padding: 2),
    Conv2dShape(inChannels: 4, outChannels: 2, height: 6, width: 5, kernel: 3, stride: 1, padding: 0),
    Conv2dShape(inChannels: 24, outChannels: 2, height: 5, width: 6, kernel: 3, stride: 1, padding: 1),
    Conv2dShape(inChannels: 5, outChannels: 2, height: 5, width: 5, kernel: 1, stride: 2, padding: 0),
    Conv2dShape(
      inChannels: 2, outChannels: 3, inHeight: 1, inWidth: 10, kernelHeight: 1, kernelWidth: 3, strideHeight: 1,
      strideWidth: 2, padHeight: 0, padWidth: 1),
  ]

  /// im2col element by element: cols[pixel, (ky, kx, c)] = x at the tap, zero outside.
  func referenceIm2col(_ x: [Float], _ s: Conv2dShape, samples n: Int) -> [Float] {
    var cols: [Float] = []
    for sample in 0..<n {
      for oy in 0..<s.outHeight {
        for ox in 0..<s.outWidth {
          for ky in 0..<s.kernelHeight {
            for kx in 0..<s.kernelWidth {
              let iy = oy * s.strideHeight - s.padHeight + ky
              let ix = ox * s.strideWidth - s.padWidth + kx
              for c in 0..<s.inChannels {
                let inside = iy >= 0 && iy < s.inHeight && ix >= 0 && ix < s.inWidth
                cols.append(inside ? x[sample * s.inputSize + (iy * s.inWidth + ix) * s.inChannels + c] : 0)
              }
            }
          }
        }
      }
    }
    return cols
  }

  func testIm2colMatchesElementwiseGather() {
    for (index, s) in Self.shapes.enumerated() {
      let n = 3
      let x = randomArray(n * s.inputSize, seed: 900 + UInt64(index))
      var cols = [Float](repeating: .nan, count: n * s.outHeight * s.outWidth * s.patchSize)
      im2col(cols: &cols, x: x, shape: s, samples: n)
      XCTAssertEqual(cols.map(\.bitPattern), referenceIm2col(x, s, samples: n).map(\.bitPattern), "shape \(index)")
    }
  }

  /// col2im element by element: each column's value added onto its tap, output pixels in order.
  func referenceCol2im(_ dcols: [Float], _ s: Conv2dShape, samples n: Int, onto start: [Float]) -> [Float] {
    var dx = start
    var i = 0
    for sample in 0..<n {
      for oy in 0..<s.outHeight {
        for ox in 0..<s.outWidth {
          for ky in 0..<s.kernelHeight {
            for kx in 0..<s.kernelWidth {
              let iy = oy * s.strideHeight - s.padHeight + ky
              let ix = ox * s.strideWidth - s.padWidth + kx
              for c in 0..<s.inChannels {
                if iy >= 0 && iy < s.inHeight && ix >= 0 && ix < s.inWidth {
                  dx[sample * s.inputSize + (iy * s.inWidth + ix) * s.inChannels + c] += dcols[i]
                }
                i += 1
              }
            }
          }
        }
      }
    }
    return dx
  }

  /// col2im (one kernel row of an output row at a time, rows zeroed as first reached) against the
  /// element-by-element scatter: the same sums bit for bit, onto zeros and accumulated, for every
  /// geometry (overlapping windows, stride 2, rows and columns no window reaches).
  func testCol2imMatchesElementwiseScatter() {
    var shapes = Self.shapes
    // Stride past the kernel: input rows and columns that no window touches.
    shapes.append(Conv2dShape(inChannels: 2, outChannels: 2, height: 7, width: 7, kernel: 2, stride: 3, padding: 0))
    for (index, s) in shapes.enumerated() {
      let n = 3
      let dcols = randomArray(
        n * s.outHeight * s.outWidth * s.patchSize, seed: 1040 + UInt64(index), low: -1e3, high: 1e3)
      let start = randomArray(n * s.inputSize, seed: 1050 + UInt64(index))
      var dx = [Float](repeating: .nan, count: n * s.inputSize)
      col2im(dx: &dx, dcols: dcols, shape: s, samples: n, accumulate: false)
      let zeros = [Float](repeating: 0, count: dx.count)
      XCTAssertEqual(
        dx.map(\.bitPattern), referenceCol2im(dcols, s, samples: n, onto: zeros).map(\.bitPattern), "shape \(index)")
      var acc = start
      col2im(dx: &acc, dcols: dcols, shape: s, samples: n, accumulate: true)
      XCTAssertEqual(
        acc.map(\.bitPattern), referenceCol2im(dcols, s, samples: n, onto: start).map(\.bitPattern),
        "shape \(index) accumulated")
    }
  }

  /// `reluMaxPool2dForward` against `reluForward` then `maxPool2dForward`: the rectified input, the
  /// pooled values and the winners' indices, for NaN, ±0 and negative values too, odd sizes (values
  /// outside every window) and channel counts with SIMD and scalar lanes.
  func testFusedReLUPoolMatchesSeparatePasses() {
    let shapes = [
      PoolShape(channels: 16, inHeight: 8, inWidth: 8, kernelHeight: 2, kernelWidth: 2),
      PoolShape(channels: 12, inHeight: 7, inWidth: 5, kernelHeight: 2, kernelWidth: 2),
      PoolShape(channels: 3, inHeight: 1, inWidth: 9, kernelHeight: 1, kernelWidth: 2),
      PoolShape(channels: 9, inHeight: 6, inWidth: 6, kernelHeight: 3, kernelWidth: 3),
    ]
    for (index, s) in shapes.enumerated() {
      let batch = 3
      var x = randomArray(batch * s.inputSize, seed: 950 + UInt64(index))
      for i in stride(from: 0, to: x.count, by: 7) { x[i] = [Float.nan, -0.0, 0.0, -1][i / 7 % 4] }
      var rectified = x
      rectified.withUnsafeMutableBufferPointer { reluForward(y: $0.baseAddress!, x: $0.baseAddress!, count: $0.count) }
      var y = [Float](repeating: .nan, count: batch * s.outputSize)
      var argmax = [Int32](repeating: -1, count: y.count)
      maxPool2dForward(y: &y, argmax: &argmax, x: rectified, shape: s, batch: batch)

      // Two calls of samples 0..<2 and 2..<3, as the fused convolution pools its chunks.
      var fx = x
      var fy = [Float](repeating: .nan, count: y.count)
      var fArgmax = [Int32](repeating: -1, count: y.count)
      for chunk in [0..<2, 2..<3] {
        fx.withUnsafeMutableBufferPointer { xp in
          reluMaxPool2dForward(
            y: &fy, argmax: &fArgmax, x: xp.baseAddress! + chunk.lowerBound * s.inputSize, shape: s, samples: chunk)
        }
      }
      XCTAssertEqual(fx.map(\.bitPattern), rectified.map(\.bitPattern), "shape \(index): rectified input")
      XCTAssertEqual(fy.map(\.bitPattern), y.map(\.bitPattern), "shape \(index): pooled")
      // The chunked call's indices are relative to its chunk.
      let relative = argmax.enumerated().map { i, a in i >= 2 * s.outputSize ? a - Int32(2 * s.inputSize) : a }
      XCTAssertEqual(fArgmax, relative, "shape \(index): argmax")
    }
  }

  /// `addColumnSums` (running sums in registers, 32 columns at a time) against adding the rows one
  /// by one into `out`: every column's terms in the same order, so the same bits.
  func testColumnSumsMatchRowByRowAddition() {
    for (index, (rows, columns)) in [(1, 1), (3, 7), (5, 8), (9, 31), (17, 32), (4, 45), (33, 128), (2, 70)]
      .enumerated()
    {
      let m = randomArray(rows * columns, seed: 990 + UInt64(index), low: -1e3, high: 1e3)
      let start = randomArray(columns, seed: 980 + UInt64(index))
      var expected = start
      for r in 0..<rows {
        for c in 0..<columns { expected[c] += m[r * columns + c] }
      }
      var out = start
      addColumnSums(&out, m, rows: rows, columns: columns)
      XCTAssertEqual(out.map(\.bitPattern), expected.map(\.bitPattern), "\(rows)×\(columns)")
    }
  }

  /// `maxPool2dBackwardTiled` adding each band of its output into the bias gradient's column sums
  /// as it goes, against the plain call then `addColumnSums` over the whole output: the same input
  /// gradient and the same sums bit for bit (2×2 windows with SIMD and scalar lanes, odd sizes with
  /// rows and columns outside every window, 1×2 and 3×3 windows), with and without the ReLU mask.
  func testPoolBackwardColumnSumsMatchSeparatePass() {
    let shapes = [
      PoolShape(channels: 16, inHeight: 8, inWidth: 8, kernelHeight: 2, kernelWidth: 2),
      PoolShape(channels: 12, inHeight: 7, inWidth: 5, kernelHeight: 2, kernelWidth: 2),
      PoolShape(channels: 3, inHeight: 1, inWidth: 9, kernelHeight: 1, kernelWidth: 2),
      PoolShape(channels: 9, inHeight: 7, inWidth: 6, kernelHeight: 3, kernelWidth: 3),
    ]
    for (index, s) in shapes.enumerated() {
      let batch = 3
      var x = randomArray(batch * s.inputSize, seed: 1000 + UInt64(index))
      for i in stride(from: 0, to: x.count, by: 5) { x[i] = [-0.0, 0.0, -1][i / 5 % 3] }
      var pooled = [Float](repeating: .nan, count: batch * s.outputSize)
      var argmax = [Int32](repeating: -1, count: pooled.count)
      maxPool2dForward(y: &pooled, argmax: &argmax, x: x, shape: s, batch: batch)
      let dy = randomArray(pooled.count, seed: 1010 + UInt64(index), low: -1e3, high: 1e3)
      let start = randomArray(s.channels, seed: 1020 + UInt64(index))
      for relu in [false, true] {
        var expected = [Float](repeating: .nan, count: x.count)
        var expectedSums = start
        var dx = [Float](repeating: .nan, count: x.count)
        var sums = start
        pooled.withUnsafeBufferPointer { yp in
          let reluOutput = relu ? yp.baseAddress! : nil
          maxPool2dBackwardTiled(
            dx: &expected, dy: dy, argmax: argmax, reluOutput: reluOutput, shape: s, samples: 0..<batch)
          addColumnSums(&expectedSums, expected, rows: batch * s.inHeight * s.inWidth, columns: s.channels)
          // Two calls, samples 0..<2 then 2..<3, as the fused convolution's chunks.
          dx.withUnsafeMutableBufferPointer { dxp in
            sums.withUnsafeMutableBufferPointer { sp in
              for chunk in [0..<2, 2..<3] {
                // Indices relative to the chunk, as the fused forward stores them.
                let relative = argmax.enumerated().map { i, a in
                  i >= chunk.lowerBound * s.outputSize ? a - Int32(chunk.lowerBound * s.inputSize) : a
                }
                maxPool2dBackwardTiled(
                  dx: dxp.baseAddress! + chunk.lowerBound * s.inputSize, dy: dy, argmax: relative,
                  reluOutput: reluOutput, columnSums: sp.baseAddress!, shape: s, samples: chunk)
              }
            }
          }
        }
        XCTAssertEqual(dx.map(\.bitPattern), expected.map(\.bitPattern), "shape \(index) relu \(relu): dx")
        XCTAssertEqual(sums.map(\.bitPattern), expectedSums.map(\.bitPattern), "shape \(index) relu \(relu): sums")
      }
    }
  }

  /// The ReLU convolution's backward (mask and bias sums taken a block of rows at a time) against
  /// `reluBackward` over all of dy then `conv2dBackward`: every gradient bit for bit, with rows
  /// enough for several blocks and a chunked batch.
  func testReLUBackwardBiasSumsMatchSeparatePasses() {
    let s = Conv2dShape(inChannels: 3, outChannels: 24, height: 20, width: 20, kernel: 3, stride: 1, padding: 1)
    let batch = 3
    let x = randomArray(batch * s.inputSize, seed: 1030)
    let w = randomArray(s.weightCount, seed: 1031)
    var y = randomArray(batch * s.outputSize, seed: 1032)
    for i in stride(from: 0, to: y.count, by: 3) { y[i] = [0, -0.0, 0][i / 3 % 3] }
    let dy = randomArray(y.count, seed: 1033, low: -1e3, high: 1e3)
    let capacity = 2 * s.outHeight * s.outWidth * s.patchSize
    var cols = [Float](repeating: 0, count: capacity)

    var masked = dy
    masked.withUnsafeMutableBufferPointer {
      reluBackward(dx: $0.baseAddress!, dy: $0.baseAddress!, y: y, count: $0.count)
    }
    var dx = [Float](repeating: .nan, count: x.count)
    var dw = [Float](repeating: .nan, count: w.count)
    var db = [Float](repeating: .nan, count: s.outChannels)
    conv2dBackward(
      dx: &dx, dw: &dw, db: &db, dy: masked, x: x, w: w, shape: s, batch: batch, cols: &cols, colsCapacity: capacity)

    var fusedDy = dy
    var fdx = [Float](repeating: .nan, count: x.count)
    var fdw = [Float](repeating: .nan, count: w.count)
    var fdb = [Float](repeating: .nan, count: s.outChannels)
    conv2dReLUBackward(
      dx: &fdx, dw: &fdw, db: &fdb, dy: &fusedDy, y: y, x: x, w: w, shape: s, batch: batch, cols: &cols,
      colsCapacity: capacity)
    XCTAssertEqual(fusedDy.map(\.bitPattern), masked.map(\.bitPattern), "masked dy")
    XCTAssertEqual(fdx.map(\.bitPattern), dx.map(\.bitPattern), "dx")
    XCTAssertEqual(fdw.map(\.bitPattern), dw.map(\.bitPattern), "dW")
    XCTAssertEqual(fdb.map(\.bitPattern), db.map(\.bitPattern), "db")
  }
}
