import XCTest

@testable import Engine

/// The im2col + GEMM convolution against a direct seven-loop convolution in Double.
final class ConvTests: XCTestCase {
  func naiveConv(_ x: [Float], _ w: [Float], _ b: [Float]?, _ s: Conv2dShape, batch: Int) -> [Double] {
    var y = [Double](repeating: 0, count: batch * s.outputSize)
    for n in 0..<batch {
      for oy in 0..<s.outHeight {
        for ox in 0..<s.outWidth {
          for co in 0..<s.outChannels {
            var sum = b.map { Double($0[co]) } ?? 0
            for ky in 0..<s.kernelHeight {
              for kx in 0..<s.kernelWidth {
                let iy = oy * s.strideHeight - s.padHeight + ky
                let ix = ox * s.strideWidth - s.padWidth + kx
                guard iy >= 0, iy < s.inHeight, ix >= 0, ix < s.inWidth else { continue }
                for ci in 0..<s.inChannels {
                  let xv = x[n * s.inputSize + (iy * s.inWidth + ix) * s.inChannels + ci]
                  let wv = w[((co * s.kernelHeight + ky) * s.kernelWidth + kx) * s.inChannels + ci]
                  sum += Double(xv) * Double(wv)
                }
              }
            }
            y[n * s.outputSize + (oy * s.outWidth + ox) * s.outChannels + co] = sum
          }
        }
      }
    }
    return y
  }

  func testForwardMatchesDirectConvolution() {
    var cases = LayerGradientTests.convCases.map { ($0.0, $0.bias, $0.batch, $0.chunkSamples) }
    cases.append(
      (Conv2dShape(inChannels: 3, outChannels: 8, height: 9, width: 7, kernel: 3, stride: 2, padding: 1), true, 5, 2))
    cases.append(
      (Conv2dShape(inChannels: 1, outChannels: 4, height: 8, width: 8, kernel: 5, stride: 1, padding: 2), false, 4, 3))
    for (index, (s, hasBias, batch, chunk)) in cases.enumerated() {
      let x = randomArray(batch * s.inputSize, seed: 100 + UInt64(index))
      let w = randomArray(s.weightCount, seed: 200 + UInt64(index))
      let b = randomArray(s.outChannels, seed: 300 + UInt64(index))
      let expected = naiveConv(x, w, hasBias ? b : nil, s, batch: batch)
      // Whole batch in one chunk and in small chunks must agree with the direct result.
      for capacity in [batch * s.outHeight * s.outWidth * s.patchSize, chunk * s.outHeight * s.outWidth * s.patchSize] {
        var cols = [Float](repeating: .nan, count: max(1, capacity))
        var y = [Float](repeating: .nan, count: batch * s.outputSize)
        y.withUnsafeMutableBufferPointer { yp in
          cols.withUnsafeMutableBufferPointer {
            conv2dForward(
              y: yp.baseAddress!, x: x, w: w, b: hasBias ? b : nil, shape: s, batch: batch, cols: $0.baseAddress!,
              colsCapacity: capacity)
          }
        }
        for i in 0..<y.count {
          XCTAssertEqual(Double(y[i]), expected[i], accuracy: 1e-5, "case \(index) capacity \(capacity) at \(i)")
        }
      }
    }
  }

  /// col2im is the adjoint of im2col: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩.
  func testCol2imIsAdjointOfIm2col() {
    let s = Conv2dShape(inChannels: 2, outChannels: 1, height: 5, width: 4, kernel: 3, stride: 2, padding: 1)
    let n = 2
    let x = randomArray(n * s.inputSize, seed: 400)
    let c = randomArray(n * s.outHeight * s.outWidth * s.patchSize, seed: 401)
    var cols = [Float](repeating: 0, count: c.count)
    var back = [Float](repeating: 0, count: x.count)
    im2col(cols: &cols, x: x, shape: s, samples: n)
    col2im(dx: &back, dcols: c, shape: s, samples: n, accumulate: false)
    XCTAssertEqual(dot(cols, c), dot(x, back), accuracy: 1e-4)
  }

  func testOutputGeometry() {
    let s = Conv2dShape(inChannels: 3, outChannels: 32, height: 32, width: 32, kernel: 3, stride: 1, padding: 1)
    XCTAssertEqual([s.outHeight, s.outWidth, s.patchSize], [32, 32, 27])
    let t = Conv2dShape(
      inChannels: 1, outChannels: 25, inHeight: 1, inWidth: 40, kernelHeight: 1, kernelWidth: 5, strideHeight: 1,
      strideWidth: 2, padHeight: 0, padWidth: 1)
    XCTAssertEqual([t.outHeight, t.outWidth], [1, 19])
  }
}
