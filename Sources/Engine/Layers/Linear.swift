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
///
/// 32 columns at a time, their running sums kept in registers down all the rows instead of read
/// and written back once per row; each column still adds its rows one by one, in order, so the
/// sums are the same bits.
@inline(__always)
func addColumnSums(
  _ out: UnsafeMutablePointer<Float>,  // [C]
  _ m: UnsafePointer<Float>,  // [R, C]
  rows: Int, columns: Int
) {
  @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
  }
  @inline(__always) func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
  }
  var c = 0
  while c + 32 <= columns {
    var (s0, s1, s2, s3) = (load(out + c), load(out + c + 8), load(out + c + 16), load(out + c + 24))
    var row = m + c
    for _ in 0..<rows {
      s0 += load(row)
      s1 += load(row + 8)
      s2 += load(row + 16)
      s3 += load(row + 24)
      row += columns
    }
    store(s0, out + c)
    store(s1, out + c + 8)
    store(s2, out + c + 16)
    store(s3, out + c + 24)
    c += 32
  }
  while c + 8 <= columns {
    var sum = load(out + c)
    var row = m + c
    for _ in 0..<rows {
      sum += load(row)
      row += columns
    }
    store(sum, out + c)
    c += 8
  }
  while c < columns {
    var sum = out[c]
    var row = m + c
    for _ in 0..<rows {
      sum += row[0]
      row += columns
    }
    out[c] = sum
    c += 1
  }
}
