import CBLAS

// The only file that calls into BLAS: every matrix product of the engine goes through `gemm`,
// so the naive reference below covers each path in tests.

/// Row-major single-precision matrix multiply: `C = alpha * op(A) * op(B) + beta * C`, where
/// `op(A)` is [m, k] and `op(B)` is [k, n]. `lda`/`ldb`/`ldc` are row strides of the stored
/// (untransposed) matrices.
@inlinable
public func gemm(
  transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m == 0 || n == 0 { return }
  cblas_sgemm(
    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// OpenBLAS thread control; training jobs run with one thread per assigned core.
public enum BLAS {
  public static var threadCount: Int { Int(openblas_get_num_threads()) }
  public static func setThreadCount(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
}
