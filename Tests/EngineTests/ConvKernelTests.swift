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
}
