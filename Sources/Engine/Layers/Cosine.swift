#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

// Cosine classifier (the CAML head): y = s · x̂ · Ŵᵀ with x̂ and the rows of Ŵ L2-normalised, so
// each logit is s·cos θ_j between a sample's features and class j's weight. No bias.

/// Smallest norm divided by, as PyTorch's `F.normalize` (eps 1e-12).
let normalizeEpsilon: Float = 1e-12

/// out[r] = v[r] / max(‖v[r]‖, ε) for each row; norms[r] = max(‖v[r]‖, ε).
func normalizeRows(
  _ out: UnsafeMutablePointer<Float>,  // [R, C]
  norms: UnsafeMutablePointer<Float>,  // [R]
  _ v: UnsafePointer<Float>,  // [R, C]
  rows: Int, columns: Int
) {
  for r in 0..<rows {
    let row = v + r * columns
    var sum: Float = 0
    for c in 0..<columns { sum += row[c] * row[c] }
    let n = max(sum.squareRoot(), normalizeEpsilon)
    norms[r] = n
    let inv = 1 / n
    let o = out + r * columns
    for c in 0..<columns { o[c] = row[c] * inv }
  }
}

/// Backward of `normalizeRows`: dv = (du − (du·û) û) / n where the norm was above ε, du / ε
/// where it was clamped (there the map is linear).
func normalizeRowsBackward(
  dv: UnsafeMutablePointer<Float>,  // [R, C]
  du: UnsafePointer<Float>,  // [R, C]
  u: UnsafePointer<Float>,  // [R, C] the normalised rows
  norms: UnsafePointer<Float>,  // [R]
  rows: Int, columns: Int, accumulate: Bool
) {
  for r in 0..<rows {
    let (g, uh, d) = (du + r * columns, u + r * columns, dv + r * columns)
    let inv = 1 / norms[r]
    var proj: Float = 0
    if norms[r] > normalizeEpsilon { for c in 0..<columns { proj += g[c] * uh[c] } }
    if accumulate {
      for c in 0..<columns { d[c] += (g[c] - proj * uh[c]) * inv }
    } else {
      for c in 0..<columns { d[c] = (g[c] - proj * uh[c]) * inv }
    }
  }
}

/// y = s · x̂ · Ŵᵀ. Keeps x̂, Ŵ and both norms for the backward pass.
public func cosineForward(
  y: UnsafeMutablePointer<Float>,  // [B, out]
  xHat: UnsafeMutablePointer<Float>,  // [B, in]
  xNorm: UnsafeMutablePointer<Float>,  // [B]
  wHat: UnsafeMutablePointer<Float>,  // [out, in]
  wNorm: UnsafeMutablePointer<Float>,  // [out]
  x: UnsafePointer<Float>,  // [B, in]
  w: UnsafePointer<Float>,  // [out, in]
  batch: Int, inFeatures: Int, outFeatures: Int, scale: Float
) {
  normalizeRows(xHat, norms: xNorm, x, rows: batch, columns: inFeatures)
  normalizeRows(wHat, norms: wNorm, w, rows: outFeatures, columns: inFeatures)
  gemm(
    transA: false, transB: true, m: batch, n: outFeatures, k: inFeatures, alpha: scale,
    a: xHat, lda: inFeatures, b: wHat, ldb: inFeatures, beta: 0, c: y, ldc: outFeatures)
}

/// dx̂ = s·dy·Ŵ and dŴ = s·dyᵀ·x̂, each taken back through its normalisation. `dxHat`/`dwHat`
/// are scratch. Pass nil for gradients not needed.
public func cosineBackward(
  dx: UnsafeMutablePointer<Float>?,  // [B, in]
  dw: UnsafeMutablePointer<Float>?,  // [out, in]
  dxHat: UnsafeMutablePointer<Float>,  // [B, in] scratch
  dwHat: UnsafeMutablePointer<Float>,  // [out, in] scratch
  dy: UnsafePointer<Float>,  // [B, out]
  xHat: UnsafePointer<Float>,  // [B, in]
  xNorm: UnsafePointer<Float>,  // [B]
  wHat: UnsafePointer<Float>,  // [out, in]
  wNorm: UnsafePointer<Float>,  // [out]
  batch: Int, inFeatures: Int, outFeatures: Int, scale: Float, accumulateDx: Bool = false
) {
  if let dw {
    gemm(
      transA: true, transB: false, m: outFeatures, n: inFeatures, k: batch, alpha: scale,
      a: dy, lda: outFeatures, b: xHat, ldb: inFeatures, beta: 0, c: dwHat, ldc: inFeatures)
    normalizeRowsBackward(
      dv: dw, du: dwHat, u: wHat, norms: wNorm, rows: outFeatures, columns: inFeatures, accumulate: false)
  }
  if let dx {
    gemm(
      transA: false, transB: false, m: batch, n: inFeatures, k: outFeatures, alpha: scale,
      a: dy, lda: outFeatures, b: wHat, ldb: inFeatures, beta: 0, c: dxHat, ldc: inFeatures)
    normalizeRowsBackward(
      dv: dx, du: dxHat, u: xHat, norms: xNorm, rows: batch, columns: inFeatures, accumulate: accumulateDx)
  }
}
