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
  if let record = GEMMTrace.record {
    record(GEMMTrace.Call(transA: transA, transB: transB, m: m, n: n, k: k, beta: beta))
  }
  cblas_sgemm(
    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// OpenBLAS thread control; training jobs run with one thread per assigned core.
public enum BLAS {
  public static var threadCount: Int { Int(openblas_get_num_threads()) }
  public static func setThreadCount(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
}

/// The shapes of the `gemm` calls a piece of code makes, for benchmarks that time raw sgemm at a
/// model's own shapes. Off (nil) except while a caller traces; not thread-safe.
public enum GEMMTrace {
  public struct Call: Sendable, Hashable {
    public var transA: Bool
    public var transB: Bool
    public var m: Int
    public var n: Int
    public var k: Int
    public var beta: Float

    public init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, beta: Float) {
      (self.transA, self.transB, self.m, self.n, self.k, self.beta) = (transA, transB, m, n, k, beta)
    }

    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
  }

  public nonisolated(unsafe) static var record: ((Call) -> Void)?

  /// The calls `body` makes, in order.
  public static func calls(_ body: () throws -> Void) rethrows -> [Call] {
    var out: [Call] = []
    record = { out.append($0) }
    defer { record = nil }
    try body()
    return out
  }
}
