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
    // Kernel rows of 12 and 72 floats, and 24-float taps at the edges: each copy path of im2col.
    cases.append(
      (Conv2dShape(inChannels: 4, outChannels: 5, height: 6, width: 5, kernel: 3, stride: 1, padding: 1), true, 3, 2))
    cases.append(
      (Conv2dShape(inChannels: 24, outChannels: 9, height: 5, width: 6, kernel: 3, stride: 1, padding: 1), true, 2, 1))
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

  /// The fused convolution (ReLU and a tiled max pool run on each chunk inside it, the conv's own
  /// output only in a one-chunk workspace) against the separate layers, bit for bit: the pooled
  /// output and every gradient.
  func testFusedReLUAndPoolMatchSeparateLayers() {
    let cases: [(Conv2dShape, bias: Bool, batch: Int, chunkSamples: Int)] = [
      (Conv2dShape(inChannels: 3, outChannels: 16, height: 8, width: 8, kernel: 3, stride: 1, padding: 1), true, 3, 2),
      // Odd output: the last row and column are outside every window; 12 channels: SIMD and scalar lanes.
      (Conv2dShape(inChannels: 4, outChannels: 12, height: 7, width: 7, kernel: 3, stride: 1, padding: 1), false, 2, 1),
      // A 1-D signal: 1×2 windows.
      (
        Conv2dShape(
          inChannels: 2, outChannels: 3, inHeight: 1, inWidth: 10, kernelHeight: 1, kernelWidth: 3, padHeight: 0,
          padWidth: 1), true, 3, 3
      ),
    ]
    for (index, (s, hasBias, batch, chunk)) in cases.enumerated() {
      let pool = PoolShape(
        channels: s.outChannels, inHeight: s.outHeight, inWidth: s.outWidth,
        kernelHeight: s.outHeight == 1 ? 1 : 2, kernelWidth: 2)
      let x = randomArray(batch * s.inputSize, seed: 500 + UInt64(index))
      let w = randomArray(s.weightCount, seed: 600 + UInt64(index))
      let b = randomArray(s.outChannels, seed: 700 + UInt64(index))
      let poolDy = randomArray(batch * pool.outputSize, seed: 800 + UInt64(index))
      let capacity = chunk * s.outHeight * s.outWidth * s.patchSize
      var cols = [Float](repeating: 0, count: capacity)
      let bias = hasBias ? b : nil

      // Separate layers.
      var y = [Float](repeating: .nan, count: batch * s.outputSize)
      var pooled = [Float](repeating: .nan, count: batch * pool.outputSize)
      var argmax = [Int32](repeating: -1, count: batch * pool.outputSize)
      var dy = [Float](repeating: 0, count: y.count)
      var dx = [Float](repeating: .nan, count: x.count)
      var dw = [Float](repeating: .nan, count: w.count)
      var db = [Float](repeating: .nan, count: b.count)
      conv2dForward(
        y: &y, x: x, w: w, b: bias, shape: s, batch: batch, cols: &cols, colsCapacity: capacity)
      y.withUnsafeMutableBufferPointer { reluForward(y: $0.baseAddress!, x: $0.baseAddress!, count: $0.count) }
      maxPool2dForward(y: &pooled, argmax: &argmax, x: y, shape: pool, batch: batch)
      // The scattering path of the pool's backward (onto zeros), then the ReLU's.
      maxPool2dBackward(dx: &dy, dy: poolDy, argmax: argmax, shape: pool, batch: batch, accumulate: true)
      dy.withUnsafeMutableBufferPointer {
        reluBackward(dx: $0.baseAddress!, dy: $0.baseAddress!, y: y, count: $0.count)
      }
      conv2dBackward(
        dx: &dx, dw: &dw, db: &db, dy: dy, x: x, w: w, shape: s, batch: batch, cols: &cols,
        colsCapacity: capacity)

      // Fused.
      let chunkSize = s.chunkSamples(batch: batch, colsCapacity: capacity) * s.outputSize
      var fy = [Float](repeating: .nan, count: chunkSize)
      var fPooled = [Float](repeating: .nan, count: pooled.count)
      var fArgmax = [Int32](repeating: -1, count: argmax.count)
      var workspace = [Float](repeating: .nan, count: chunkSize)
      var fdx = [Float](repeating: .nan, count: x.count)
      var fdw = [Float](repeating: .nan, count: w.count)
      var fdb = [Float](repeating: .nan, count: b.count)
      fPooled.withUnsafeMutableBufferPointer { pp in
        fArgmax.withUnsafeMutableBufferPointer { ap in
          poolDy.withUnsafeBufferPointer { gp in
            let fused = FusedMaxPool(shape: pool, y: pp.baseAddress!, argmax: ap.baseAddress!, dy: gp.baseAddress!)
            conv2dForward(
              y: &fy, x: x, w: w, b: bias, shape: s, batch: batch, cols: &cols, colsCapacity: capacity, relu: true,
              pool: fused)
            conv2dReLUBackward(
              dx: &fdx, dw: &fdw, db: &fdb, dy: &workspace, y: fy, x: x, w: w, shape: s,
              batch: batch, cols: &cols, colsCapacity: capacity, pool: fused)
          }
        }
      }
      XCTAssertEqual(fPooled, pooled, "case \(index): pooled")
      // The last chunk's activation and gradient are what the workspaces hold.
      let last = (batch - 1) / (chunkSize / s.outputSize) * chunkSize
      XCTAssertEqual(Array(fy[0..<(y.count - last)]), Array(y[last...]), "case \(index): last chunk's output")
      XCTAssertEqual(
        Array(workspace[0..<(dy.count - last)]), Array(dy[last...]), "case \(index): last chunk's gradient")
      XCTAssertEqual(fdx, dx, "case \(index): dx")
      XCTAssertEqual(fdw, dw, "case \(index): dW")
      XCTAssertEqual(fdb, db, "case \(index): db")

      // Without the pool: the ReLU alone inside the conv.
      var ry = [Float](repeating: .nan, count: y.count)
      var rdy = dy
      var reluDy = [Float](repeating: 0, count: y.count)
      maxPool2dBackward(dx: &reluDy, dy: poolDy, argmax: argmax, shape: pool, batch: batch)
      var rdx = [Float](repeating: .nan, count: x.count)
      conv2dForward(
        y: &ry, x: x, w: w, b: bias, shape: s, batch: batch, cols: &cols, colsCapacity: capacity, relu: true)
      rdy = reluDy
      conv2dReLUBackward(
        dx: &rdx, dw: nil, db: nil, dy: &rdy, y: ry, x: x, w: w, shape: s, batch: batch, cols: &cols,
        colsCapacity: capacity)
      XCTAssertEqual(ry, y, "case \(index): conv + ReLU output")
      XCTAssertEqual(rdy, dy, "case \(index): masked gradient")
      XCTAssertEqual(rdx, dx, "case \(index): dx through the ReLU")
    }
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
