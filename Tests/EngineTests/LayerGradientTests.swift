import XCTest

@testable import Engine

/// Every layer's backward against central finite differences of L = Σ r·y (so dL/dy = r).
final class LayerGradientTests: XCTestCase {
  func testLinear() {
    let (batch, inF, outF) = (3, 4, 5)
    let x0 = randomArray(batch * inF, seed: 1)
    let w0 = randomArray(outF * inF, seed: 2)
    let b0 = randomArray(outF, seed: 3)
    let r = randomArray(batch * outF, seed: 4)
    func f(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
      var y = [Float](repeating: 0, count: batch * outF)
      y.withUnsafeMutableBufferPointer {
        linearForward(y: $0.baseAddress!, x: x, w: w, b: b, batch: batch, inFeatures: inF, outFeatures: outF)
      }
      return dot(r, y)
    }
    var dx = [Float](repeating: 0, count: x0.count)
    var dw = [Float](repeating: 0, count: w0.count)
    var db = [Float](repeating: 0, count: b0.count)
    dx.withUnsafeMutableBufferPointer { dxp in
      dw.withUnsafeMutableBufferPointer { dwp in
        db.withUnsafeMutableBufferPointer { dbp in
          linearBackward(
            dx: dxp.baseAddress!, dw: dwp.baseAddress!, db: dbp.baseAddress!, dy: r, x: x0, w: w0, batch: batch,
            inFeatures: inF, outFeatures: outF)
        }
      }
    }
    assertGradientsClose(dx, numericGradient(at: x0, h: 1e-2) { f($0, w0, b0) }, "linear dx")
    assertGradientsClose(dw, numericGradient(at: w0, h: 1e-2) { f(x0, $0, b0) }, "linear dW")
    assertGradientsClose(db, numericGradient(at: b0, h: 1e-2) { f(x0, w0, $0) }, "linear db")

    // accumulateDx adds onto what is there.
    var acc = [Float](repeating: 1, count: x0.count)
    acc.withUnsafeMutableBufferPointer {
      linearBackward(
        dx: $0.baseAddress!, dw: nil, db: nil, dy: r, x: x0, w: w0, batch: batch, inFeatures: inF,
        outFeatures: outF, accumulateDx: true)
    }
    for i in 0..<acc.count { XCTAssertEqual(acc[i], 1 + dx[i], accuracy: 1e-6) }
  }

  func testReLUAndTanh() {
    let n = 24
    let x0 = awayFromZero(n, seed: 5)
    let r = randomArray(n, seed: 6)
    for kind in ["relu", "tanh"] {
      func forward(_ x: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: n)
        y.withUnsafeMutableBufferPointer {
          if kind == "relu" {
            reluForward(y: $0.baseAddress!, x: x, count: n)
          } else {
            tanhForward(y: $0.baseAddress!, x: x, count: n)
          }
        }
        return y
      }
      let y = forward(x0)
      var dx = [Float](repeating: 0, count: n)
      dx.withUnsafeMutableBufferPointer {
        if kind == "relu" {
          reluBackward(dx: $0.baseAddress!, dy: r, y: y, count: n)
        } else {
          tanhBackward(dx: $0.baseAddress!, dy: r, y: y, count: n)
        }
      }
      assertGradientsClose(dx, numericGradient(at: x0, h: 1e-2) { dot(r, forward($0)) }, "\(kind) dx")
    }
  }

  func testReLUInPlace() {
    var v: [Float] = [-1, 2, -3, 4]
    v.withUnsafeMutableBufferPointer { reluForward(y: $0.baseAddress!, x: $0.baseAddress!, count: 4) }
    XCTAssertEqual(v, [0, 2, 0, 4])
  }

  func testDropout() {
    let n = 64
    let x0 = randomArray(n, seed: 7)
    let r = randomArray(n, seed: 8)
    let p: Float = 0.25
    let rng0 = RNG(seed: 42)
    var mask = [Float](repeating: 0, count: n)
    func forward(_ x: [Float]) -> [Float] {
      var rng = rng0  // the same mask for every evaluation
      var y = [Float](repeating: 0, count: n)
      y.withUnsafeMutableBufferPointer { yp in
        mask.withUnsafeMutableBufferPointer {
          dropoutForward(y: yp.baseAddress!, mask: $0.baseAddress!, x: x, count: n, p: p, rng: &rng)
        }
      }
      return y
    }
    _ = forward(x0)
    XCTAssert(mask.allSatisfy { $0 == 0 || $0 == 1 / (1 - p) })
    var dx = [Float](repeating: 0, count: n)
    dx.withUnsafeMutableBufferPointer { dropoutBackward(dx: $0.baseAddress!, dy: r, mask: mask, count: n) }
    assertGradientsClose(dx, numericGradient(at: x0, h: 1e-2) { dot(r, forward($0)) }, "dropout dx")

    // The drop rate is p.
    let big = 100_000
    var m = [Float](repeating: 0, count: big)
    var y = m
    let ones = [Float](repeating: 1, count: big)
    var rng = RNG(seed: 1)
    y.withUnsafeMutableBufferPointer { yp in
      m.withUnsafeMutableBufferPointer {
        dropoutForward(y: yp.baseAddress!, mask: $0.baseAddress!, x: ones, count: big, p: p, rng: &rng)
      }
    }
    let dropped = Double(m.filter { $0 == 0 }.count) / Double(big)
    XCTAssertEqual(dropped, 0.25, accuracy: 0.01)
    XCTAssertEqual(y.reduce(0, +) / Float(big), 1, accuracy: 0.02)
  }

  /// Several geometries: same padding, stride 2, pointwise, strided 1×1, 1-D as height 1, and a
  /// column buffer small enough to force chunking.
  static let convCases: [(Conv2dShape, bias: Bool, batch: Int, chunkSamples: Int)] = [
    (Conv2dShape(inChannels: 2, outChannels: 3, height: 5, width: 6, kernel: 3, stride: 1, padding: 1), true, 2, 2),
    (Conv2dShape(inChannels: 2, outChannels: 3, height: 5, width: 6, kernel: 3, stride: 2, padding: 1), false, 3, 1),
    (Conv2dShape(inChannels: 3, outChannels: 4, height: 3, width: 4, kernel: 1), true, 2, 2),
    (Conv2dShape(inChannels: 3, outChannels: 2, height: 5, width: 5, kernel: 1, stride: 2), false, 2, 1),
    (Conv2dShape(inChannels: 2, outChannels: 3, height: 4, width: 5, kernel: 2, stride: 1, padding: 0), true, 2, 1),
    (
      Conv2dShape(
        inChannels: 2, outChannels: 3, inHeight: 1, inWidth: 11, kernelHeight: 1, kernelWidth: 5,
        strideHeight: 1, strideWidth: 2, padHeight: 0, padWidth: 2), true, 3, 2
    ),
  ]

  func testConv2d() {
    for (index, (s, hasBias, batch, chunk)) in Self.convCases.enumerated() {
      let x0 = randomArray(batch * s.inputSize, seed: 10 + UInt64(index))
      let w0 = randomArray(s.weightCount, seed: 20 + UInt64(index))
      let b0 = randomArray(s.outChannels, seed: 30 + UInt64(index))
      let r = randomArray(batch * s.outputSize, seed: 40 + UInt64(index))
      let capacity = max(1, chunk * s.outHeight * s.outWidth * s.patchSize)
      var cols = [Float](repeating: 0, count: capacity)
      func f(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
        var y = [Float](repeating: 0, count: batch * s.outputSize)
        y.withUnsafeMutableBufferPointer { yp in
          cols.withUnsafeMutableBufferPointer {
            conv2dForward(
              y: yp.baseAddress!, x: x, w: w, b: hasBias ? b : nil, shape: s, batch: batch, cols: $0.baseAddress!,
              colsCapacity: capacity)
          }
        }
        return dot(r, y)
      }
      var dx = [Float](repeating: 0, count: x0.count)
      var dw = [Float](repeating: 0, count: w0.count)
      var db = [Float](repeating: 0, count: b0.count)
      dx.withUnsafeMutableBufferPointer { dxp in
        dw.withUnsafeMutableBufferPointer { dwp in
          db.withUnsafeMutableBufferPointer { dbp in
            cols.withUnsafeMutableBufferPointer {
              conv2dBackward(
                dx: dxp.baseAddress!, dw: dwp.baseAddress!, db: hasBias ? dbp.baseAddress! : nil, dy: r, x: x0, w: w0,
                shape: s, batch: batch, cols: $0.baseAddress!, colsCapacity: capacity)
            }
          }
        }
      }
      assertGradientsClose(dx, numericGradient(at: x0, h: 1e-2) { f($0, w0, b0) }, "conv case \(index) dx")
      assertGradientsClose(dw, numericGradient(at: w0, h: 1e-2) { f(x0, $0, b0) }, "conv case \(index) dW")
      if hasBias {
        assertGradientsClose(db, numericGradient(at: b0, h: 1e-2) { f(x0, w0, $0) }, "conv case \(index) db")
      }
      // accumulateDx adds onto what is there, for both the col2im and the pointwise path.
      var acc = [Float](repeating: 0.5, count: x0.count)
      acc.withUnsafeMutableBufferPointer { ap in
        cols.withUnsafeMutableBufferPointer {
          conv2dBackward(
            dx: ap.baseAddress!, dw: nil, db: nil, dy: r, x: x0, w: w0, shape: s, batch: batch, cols: $0.baseAddress!,
            colsCapacity: capacity, accumulateDx: true)
        }
      }
      for i in 0..<acc.count { XCTAssertEqual(acc[i], 0.5 + dx[i], accuracy: 1e-5, "conv case \(index) accumulate") }
    }
  }

  func testMaxPool() {
    let shapes = [
      PoolShape(channels: 2, inHeight: 4, inWidth: 6, kernelHeight: 2, kernelWidth: 2),
      PoolShape(channels: 3, inHeight: 5, inWidth: 5, kernelHeight: 2, kernelWidth: 2),  // odd: last row/column dropped
      PoolShape(channels: 2, inHeight: 1, inWidth: 9, kernelHeight: 1, kernelWidth: 2),
      PoolShape(channels: 1, inHeight: 5, inWidth: 5, kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2),
    ]
    for (index, s) in shapes.enumerated() {
      let batch = 2
      let n = batch * s.inputSize
      // Distinct values spaced 0.05 apart, so a step of 0.01 never changes a window's winner.
      var rng = RNG(seed: 50 + UInt64(index))
      let x0 = rng.permutation(n).map { Float($0) * 0.05 - 1 }
      let r = randomArray(batch * s.outputSize, seed: 60 + UInt64(index))
      var argmax = [Int32](repeating: 0, count: batch * s.outputSize)
      func forward(_ x: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: batch * s.outputSize)
        y.withUnsafeMutableBufferPointer { yp in
          argmax.withUnsafeMutableBufferPointer {
            maxPool2dForward(y: yp.baseAddress!, argmax: $0.baseAddress!, x: x, shape: s, batch: batch)
          }
        }
        return y
      }
      let y = forward(x0)
      // Direct check of the maxima.
      for b in 0..<batch {
        for oy in 0..<s.outHeight {
          for ox in 0..<s.outWidth {
            for c in 0..<s.channels {
              var best = -Float.infinity
              for ky in 0..<s.kernelHeight {
                for kx in 0..<s.kernelWidth {
                  let iy = oy * s.strideHeight + ky
                  let ix = ox * s.strideWidth + kx
                  best = max(best, x0[b * s.inputSize + (iy * s.inWidth + ix) * s.channels + c])
                }
              }
              XCTAssertEqual(y[b * s.outputSize + (oy * s.outWidth + ox) * s.channels + c], best)
            }
          }
        }
      }
      var dx = [Float](repeating: 0, count: n)
      dx.withUnsafeMutableBufferPointer {
        maxPool2dBackward(dx: $0.baseAddress!, dy: r, argmax: argmax, shape: s, batch: batch)
      }
      assertGradientsClose(dx, numericGradient(at: x0, h: 1e-2) { dot(r, forward($0)) }, "maxpool case \(index) dx")
      // Tiled windows take a direct path; the scattering one (adding onto zeros) gives the same.
      var scattered = [Float](repeating: 0, count: n)
      scattered.withUnsafeMutableBufferPointer {
        maxPool2dBackward(dx: $0.baseAddress!, dy: r, argmax: argmax, shape: s, batch: batch, accumulate: true)
      }
      XCTAssertEqual(dx, scattered, "maxpool case \(index): direct and scattering backward")
    }
  }

  func testGlobalAvgPool() {
    let (batch, pixels, channels) = (2, 6, 3)
    let x0 = randomArray(batch * pixels * channels, seed: 70)
    let r = randomArray(batch * channels, seed: 71)
    func forward(_ x: [Float]) -> [Float] {
      var y = [Float](repeating: 0, count: batch * channels)
      y.withUnsafeMutableBufferPointer {
        globalAvgPoolForward(y: $0.baseAddress!, x: x, batch: batch, pixels: pixels, channels: channels)
      }
      return y
    }
    var dx = [Float](repeating: 0, count: x0.count)
    dx.withUnsafeMutableBufferPointer {
      globalAvgPoolBackward(dx: $0.baseAddress!, dy: r, batch: batch, pixels: pixels, channels: channels)
    }
    assertGradientsClose(dx, numericGradient(at: x0, h: 1e-2) { dot(r, forward($0)) }, "gap dx")
    XCTAssertEqual(
      forward(x0)[1], (0..<pixels).map { x0[$0 * channels + 1] }.reduce(0, +) / Float(pixels), accuracy: 1e-6)
  }

  func testBatchNormTrainAndEval() {
    let (rows, c) = (6, 4)
    let x0 = randomArray(rows * c, seed: 80, low: -2, high: 2)
    let g0 = randomArray(c, seed: 81, low: 0.5, high: 1.5)
    let b0 = randomArray(c, seed: 82)
    let r = randomArray(rows * c, seed: 83)
    let runningVar0 = randomArray(c, seed: 84, low: 0.5, high: 2)
    let runningMean0 = randomArray(c, seed: 85)
    for training in [true, false] {
      var mean = [Float](repeating: 0, count: c)
      var invStd = [Float](repeating: 0, count: c)
      func forward(_ x: [Float], _ gamma: [Float], _ beta: [Float]) -> [Float] {
        var rm = runningMean0
        var rv = runningVar0
        var y = [Float](repeating: 0, count: rows * c)
        y.withUnsafeMutableBufferPointer { yp in
          batchNormForward(
            y: yp.baseAddress!, mean: &mean, invStd: &invStd, runningMean: &rm, runningVar: &rv, x: x, gamma: gamma,
            beta: beta, rows: rows, channels: c, training: training)
        }
        return y
      }
      let y = forward(x0, g0, b0)
      if training {
        // Normalised output: per channel mean β and std γ (biased variance, ε aside).
        for j in 0..<c {
          let col = (0..<rows).map { Double(y[$0 * c + j]) }
          let m = col.reduce(0, +) / Double(rows)
          let v = col.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(rows)
          XCTAssertEqual(m, Double(b0[j]), accuracy: 1e-5)
          XCTAssertEqual(v.squareRoot(), Double(g0[j]), accuracy: 1e-3)
        }
      }
      var dx = [Float](repeating: 0, count: x0.count)
      var dg = [Float](repeating: 0, count: c)
      var db = [Float](repeating: 0, count: c)
      batchNormBackward(
        dx: &dx, dgamma: &dg, dbeta: &db, dy: r, x: x0, gamma: g0, mean: mean, invStd: invStd, rows: rows,
        channels: c, training: training)
      let mode = training ? "train" : "eval"
      assertGradientsClose(
        dx, numericGradient(at: x0, h: 1e-2) { dot(r, forward($0, g0, b0)) }, atol: 2e-3, "batchnorm \(mode) dx")
      assertGradientsClose(
        dg, numericGradient(at: g0, h: 1e-2) { dot(r, forward(x0, $0, b0)) }, "batchnorm \(mode) dgamma")
      assertGradientsClose(
        db, numericGradient(at: b0, h: 1e-2) { dot(r, forward(x0, g0, $0)) }, "batchnorm \(mode) dbeta")
    }
  }

  func testBatchNormRunningStatistics() {
    let (rows, c) = (4, 2)
    let x: [Float] = [1, 10, 2, 20, 3, 30, 6, 40]  // channel 0: 1,2,3,6 (mean 3, unbiased var 14/3)
    let gamma: [Float] = [1, 1]
    let beta: [Float] = [0, 0]
    var rm: [Float] = [0, 0]
    var rv: [Float] = [1, 1]
    var mean = [Float](repeating: 0, count: c)
    var invStd = mean
    var y = [Float](repeating: 0, count: rows * c)
    batchNormForward(
      y: &y, mean: &mean, invStd: &invStd, runningMean: &rm, runningVar: &rv, x: x, gamma: gamma, beta: beta,
      rows: rows, channels: c, training: true, momentum: 0.1)
    XCTAssertEqual(rm[0], 0.3, accuracy: 1e-6)
    XCTAssertEqual(rv[0], 0.9 + 0.1 * 14 / 3, accuracy: 1e-6)
    XCTAssertEqual(rm[1], 2.5, accuracy: 1e-6)
    // Eval mode uses (and leaves) the running statistics.
    let (savedMean, savedVar) = (rm, rv)
    batchNormForward(
      y: &y, mean: &mean, invStd: &invStd, runningMean: &rm, runningVar: &rv, x: x, gamma: gamma, beta: beta,
      rows: rows, channels: c, training: false)
    XCTAssertEqual(rm, savedMean)
    XCTAssertEqual(rv, savedVar)
    XCTAssertEqual(y[0], (1 - 0.3) / (rv[0] + 1e-5).squareRoot(), accuracy: 1e-6)
  }

  func testSoftmaxCrossEntropy() {
    let (batch, k) = (3, 4)
    let labels = [2, 0, 3]
    let z0 = randomArray(batch * k, seed: 90, low: -3, high: 3)
    for smoothing: Float in [0, 0.1] {
      var probs = [Float](repeating: 0, count: batch * k)
      func loss(_ z: [Float]) -> Double {
        Double(
          softmaxCrossEntropyForward(
            probs: &probs, logits: z, labels: labels, batch: batch, classes: k, labelSmoothing: smoothing))
      }
      // Reference in Double: −Σ q·log softmax, mean over the batch.
      var expected = 0.0
      for b in 0..<batch {
        let row = (0..<k).map { Double(z0[b * k + $0]) }
        let lse = log(row.map { exp($0) }.reduce(0, +))
        for j in 0..<k {
          let q = (j == labels[b] ? 1 - Double(smoothing) : 0) + Double(smoothing) / Double(k)
          expected -= q * (row[j] - lse)
        }
      }
      expected /= Double(batch)
      XCTAssertEqual(loss(z0), expected, accuracy: 1e-6)
      var dz = [Float](repeating: 0, count: z0.count)
      softmaxCrossEntropyBackward(
        dLogits: &dz, probs: probs, labels: labels, batch: batch, classes: k, labelSmoothing: smoothing)
      assertGradientsClose(
        dz, numericGradient(at: z0, h: 1e-2, loss), atol: 1e-4, rtol: 1e-3, "cross-entropy dlogits ε=\(smoothing)")
    }
    // Uniform logits over two classes: ln 2 whatever the smoothing.
    var probs = [Float](repeating: 0, count: 2)
    XCTAssertEqual(
      softmaxCrossEntropyForward(
        probs: &probs, logits: [0, 0], labels: [1], batch: 1, classes: 2, labelSmoothing: 0.2),
      Float(log(2.0)), accuracy: 1e-6)
    // Large logits stay finite.
    XCTAssertEqual(
      softmaxCrossEntropyForward(probs: &probs, logits: [1000, 0], labels: [1], batch: 1, classes: 2), 1000,
      accuracy: 1e-3)
    XCTAssertEqual(countCorrect(logits: [0, 1, 5, 2], labels: [1, 1], batch: 2, classes: 2), 1)
  }
}
