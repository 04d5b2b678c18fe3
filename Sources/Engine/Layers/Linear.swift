// Fully connected layer, W in PyTorch's [out, in] layout.

/// y = x · Wᵀ + b.
public func linearForward(
  y: UnsafeMutablePointer<Float>,  // [B, out]
  x: UnsafePointer<Float>,  // [B, in]
  w: UnsafePointer<Float>,  // [out, in]
  b: UnsafePointer<Float>?,  // [out]
  batch: Int, inFeatures: Int, outFeatures: Int
) {
  if let b {
    // Bias rows first so the GEMM adds onto them (beta = 1) instead of a second pass.
    for r in 0..<batch { (y + r * outFeatures).update(from: b, count: outFeatures) }
  }
  gemm(
    transA: false, transB: true, m: batch, n: outFeatures, k: inFeatures,
    a: x, lda: inFeatures, b: w, ldb: inFeatures, beta: b == nil ? 0 : 1, c: y, ldc: outFeatures)
}

/// dW = dyᵀ · x, db = Σ_batch dy, dx = dy · W (added onto dx when `accumulateDx`).
/// Pass nil for gradients not needed (frozen weights, network input).
public func linearBackward(
  dx: UnsafeMutablePointer<Float>?,  // [B, in]
  dw: UnsafeMutablePointer<Float>?,  // [out, in]
  db: UnsafeMutablePointer<Float>?,  // [out]
  dy: UnsafePointer<Float>,  // [B, out]
  x: UnsafePointer<Float>,  // [B, in]
  w: UnsafePointer<Float>,  // [out, in]
  batch: Int, inFeatures: Int, outFeatures: Int, accumulateDx: Bool = false
) {
  if let dw {
    gemm(
      transA: true, transB: false, m: outFeatures, n: inFeatures, k: batch,
      a: dy, lda: outFeatures, b: x, ldb: inFeatures, beta: 0, c: dw, ldc: inFeatures)
  }
  if let db {
    columnSums(db, dy, rows: batch, columns: outFeatures)
  }
  if let dx {
    gemm(
      transA: false, transB: false, m: batch, n: inFeatures, k: outFeatures,
      a: dy, lda: outFeatures, b: w, ldb: inFeatures, beta: accumulateDx ? 1 : 0, c: dx, ldc: inFeatures)
  }
}

/// out[c] = Σ_r m[r, c]; row-outer so the inner loop vectorises over columns.
@inline(__always)
func columnSums(
  _ out: UnsafeMutablePointer<Float>,  // [C]
  _ m: UnsafePointer<Float>,  // [R, C]
  rows: Int, columns: Int
) {
  out.update(repeating: 0, count: columns)
  addColumnSums(out, m, rows: rows, columns: columns)
}

/// out[c] += Σ_r m[r, c], rows in order.
@inline(__always)
func addColumnSums(
  _ out: UnsafeMutablePointer<Float>,  // [C]
  _ m: UnsafePointer<Float>,  // [R, C]
  rows: Int, columns: Int
) {
  for r in 0..<rows {
    let row = m + r * columns
    for c in 0..<columns { out[c] += row[c] }
  }
}
