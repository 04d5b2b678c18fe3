import XCTest

@testable import Engine

final class GEMMTests: XCTestCase {
  /// Every transpose combination, with padded leading dimensions, alpha and beta, against the
  /// naive reference.
  func testAllTransposeCombinationsMatchReference() {
    let (m, n, k) = (7, 5, 9)
    for transA in [false, true] {
      for transB in [false, true] {
        for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (-2, 0.25)] {
          let lda = (transA ? m : k) + 3
          let ldb = (transB ? k : n) + 2
          let ldc = n + 1
          let a = randomArray((transA ? k : m) * lda, seed: 1)
          let b = randomArray((transB ? n : k) * ldb, seed: 2)
          let c0 = randomArray(m * ldc, seed: 3)
          var fast = c0
          var slow = c0
          fast.withUnsafeMutableBufferPointer { c in
            gemm(
              transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c.baseAddress!, ldc: ldc)
          }
          slow.withUnsafeMutableBufferPointer { c in
            referenceGEMM(
              transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c.baseAddress!, ldc: ldc)
          }
          for i in 0..<(m * ldc) {
            XCTAssertEqual(
              fast[i], slow[i], accuracy: 1e-5, "transA \(transA) transB \(transB) alpha \(alpha) beta \(beta) at \(i)")
          }
        }
      }
    }
  }

  func testReferenceOnHandExample() {
    let a: [Float] = [1, 2, 3, 4, 5, 6]  // [2, 3]
    let b: [Float] = [1, 0, 0, 1, 1, 1]  // [3, 2]
    var c = [Float](repeating: 0, count: 4)
    c.withUnsafeMutableBufferPointer {
      referenceGEMM(
        transA: false, transB: false, m: 2, n: 2, k: 3, a: a, lda: 3, b: b, ldb: 2, beta: 0, c: $0.baseAddress!, ldc: 2)
    }
    XCTAssertEqual(c, [4, 5, 10, 11])
  }

  func testLargerShapesUsedByTheModels() {
    // The MLP's three products at a small batch: x·Wᵀ, dyᵀ·x, dy·W.
    let (batch, inF, outF) = (16, 70, 33)
    let x = randomArray(batch * inF, seed: 4)
    let w = randomArray(outF * inF, seed: 5)
    let dy = randomArray(batch * outF, seed: 6)
    func both(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ lda: Int, _ b: [Float], _ ldb: Int)
    {
      var f = [Float](repeating: 0, count: m * n)
      var r = f
      f.withUnsafeMutableBufferPointer {
        gemm(
          transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: $0.baseAddress!, ldc: n)
      }
      r.withUnsafeMutableBufferPointer {
        referenceGEMM(
          transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: $0.baseAddress!, ldc: n)
      }
      for i in 0..<(m * n) { XCTAssertEqual(f[i], r[i], accuracy: 1e-4) }
    }
    both(false, true, batch, outF, inF, x, inF, w, inF)
    both(true, false, outF, inF, batch, dy, outF, x, inF)
    both(false, false, batch, inF, outF, dy, outF, w, inF)
  }
}
