import CKernels
import XCTest

@testable import Engine

/// The C kernels' baseline and AVX2 builds agree bit for bit (NaN, ±0, odd sizes, scalar lanes),
/// and the tiled pool's backward equals routing each gradient to its winner.
final class CKernelVariantTests: XCTestCase {
  static let shapes = [
    PoolShape(channels: 16, inHeight: 8, inWidth: 8, kernelHeight: 2, kernelWidth: 2),
    PoolShape(channels: 12, inHeight: 7, inWidth: 5, kernelHeight: 2, kernelWidth: 2),
    PoolShape(channels: 3, inHeight: 1, inWidth: 9, kernelHeight: 1, kernelWidth: 2),
    PoolShape(channels: 9, inHeight: 6, inWidth: 6, kernelHeight: 3, kernelWidth: 3),
    PoolShape(channels: 33, inHeight: 5, inWidth: 7, kernelHeight: 2, kernelWidth: 3),
  ]

  /// Random values with NaN, -0, +0 and negatives sprinkled in.
  func hostile(_ count: Int, seed: UInt64) -> [Float] {
    var x = randomArray(count, seed: seed)
    for i in stride(from: 0, to: x.count, by: 5) { x[i] = [Float.nan, -0.0, 0.0, -1, -.nan][i / 5 % 5] }
    return x
  }

  func forward(_ variant: Int32, _ x0: [Float], _ s: PoolShape, batch: Int) -> ([Float], [Float], [Int32]) {
    var x = x0
    var y = [Float](repeating: .nan, count: batch * s.outputSize)
    var argmax = [Int32](repeating: -1, count: y.count)
    // Two calls (samples 0..<1 and 1..<batch), as the fused convolution pools its chunks.
    for chunk in [0..<1, 1..<batch] {
      x.withUnsafeMutableBufferPointer { xp in
        orch_relu_max_pool_forward(
          variant, &y, &argmax, xp.baseAddress! + chunk.lowerBound * s.inputSize, s.channels, s.inHeight, s.inWidth,
          s.kernelHeight, s.kernelWidth, chunk.lowerBound, chunk.upperBound)
      }
    }
    return (x, y, argmax)
  }

  func backward(_ variant: Int32, _ dy: [Float], _ argmax: [Int32], _ y: [Float]?, _ s: PoolShape, batch: Int)
    -> [Float]
  {
    var dx = [Float](repeating: .nan, count: batch * s.inputSize)
    dx.withUnsafeMutableBufferPointer { dxp in
      orch_max_pool_backward_tiled(
        variant, dxp.baseAddress!, dy, argmax, y, s.channels, s.inHeight, s.inWidth, s.kernelHeight, s.kernelWidth, 0,
        batch)
    }
    return dx
  }

  func testPlainAndAVX2VariantsAgreeBitForBit() throws {
    try XCTSkipUnless(orch_kernels_variant() == 1, "no AVX2 on this CPU (or ORCH_KERNELS=plain)")
    for (index, s) in Self.shapes.enumerated() {
      let batch = 3
      let x = hostile(batch * s.inputSize, seed: 1200 + UInt64(index))
      let plain = forward(0, x, s, batch: batch)
      let avx2 = forward(1, x, s, batch: batch)
      XCTAssertEqual(plain.0.map(\.bitPattern), avx2.0.map(\.bitPattern), "shape \(index): rectified input")
      XCTAssertEqual(plain.1.map(\.bitPattern), avx2.1.map(\.bitPattern), "shape \(index): pooled")
      XCTAssertEqual(plain.2, avx2.2, "shape \(index): argmax")

      let dy = hostile(batch * s.outputSize, seed: 1300 + UInt64(index))
      // Whole-batch indices for the backward, which takes one chunk here.
      let argmax = plain.2.enumerated().map { i, a in i >= s.outputSize ? a + Int32(s.inputSize) : a }
      for reluOutput in [nil, plain.1] {
        let p = backward(0, dy, argmax, reluOutput, s, batch: batch)
        let a = backward(1, dy, argmax, reluOutput, s, batch: batch)
        XCTAssertEqual(p.map(\.bitPattern), a.map(\.bitPattern), "shape \(index): backward, relu \(reluOutput != nil)")
      }
    }
  }

  /// Each input gets its window's gradient where it won (zeroed where the ReLU'd output is not
  /// positive), else +0; inputs outside every window get +0.
  func testTiledPoolBackwardRoutesToWinners() {
    for (index, s) in Self.shapes.enumerated() {
      let batch = 3
      let x = hostile(batch * s.inputSize, seed: 1400 + UInt64(index))
      var rectified = x
      rectified.withUnsafeMutableBufferPointer { reluForward(y: $0.baseAddress!, x: $0.baseAddress!, count: $0.count) }
      var y = [Float](repeating: .nan, count: batch * s.outputSize)
      var argmax = [Int32](repeating: -1, count: y.count)
      maxPool2dForward(y: &y, argmax: &argmax, x: rectified, shape: s, batch: batch)
      let dy = hostile(y.count, seed: 1500 + UInt64(index))
      for relu in [false, true] {
        var expected = [Float](repeating: 0, count: batch * s.inputSize)
        for i in 0..<dy.count { expected[Int(argmax[i])] = !relu || y[i] > 0 ? dy[i] : 0 }
        var dx = [Float](repeating: .nan, count: expected.count)
        y.withUnsafeBufferPointer { yp in
          maxPool2dBackwardTiled(
            dx: &dx, dy: dy, argmax: argmax, reluOutput: relu ? yp.baseAddress! : nil, shape: s, samples: 0..<batch)
        }
        XCTAssertEqual(dx.map(\.bitPattern), expected.map(\.bitPattern), "shape \(index), relu \(relu)")
      }
    }
  }
}
