import Foundation
import XCTest

@testable import Engine

/// Deterministic test data.
func randomArray(_ n: Int, seed: UInt64, low: Float = -1, high: Float = 1) -> [Float] {
  var rng = RNG(seed: seed, stream: 99)
  return (0..<n).map { _ in rng.uniform(low, high) }
}

/// Values in ±[0.1, 1] so that ReLU kinks are further than any finite-difference step.
func awayFromZero(_ n: Int, seed: UInt64) -> [Float] {
  var rng = RNG(seed: seed, stream: 98)
  return (0..<n).map { _ in (rng.uniform() < 0.5 ? -1 : 1) * rng.uniform(0.1, 1) }
}

/// Central differences of a scalar function (evaluated in Float by the layers, summed in Double).
func numericGradient(at x: [Float], h: Float, _ f: ([Float]) -> Double) -> [Double] {
  var x = x
  var g = [Double](repeating: 0, count: x.count)
  for i in 0..<x.count {
    let saved = x[i]
    x[i] = saved + h
    let plus = f(x)
    x[i] = saved - h
    let minus = f(x)
    x[i] = saved
    g[i] = (plus - minus) / (2 * Double(h))
  }
  return g
}

/// Elementwise |a − n| ≤ atol + rtol·|n|.
func assertGradientsClose(
  _ analytic: [Float], _ numeric: [Double], atol: Double = 1e-3, rtol: Double = 1e-3, _ what: String,
  file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(analytic.count, numeric.count, what, file: file, line: line)
  var worst = 0.0
  var worstIndex = -1
  for (i, (a, n)) in zip(analytic, numeric).enumerated() {
    let excess = abs(Double(a) - n) - (atol + rtol * abs(n))
    if excess > worst {
      worst = excess
      worstIndex = i
    }
  }
  if worstIndex >= 0 {
    XCTFail(
      "\(what): gradient mismatch at \(worstIndex): analytic \(analytic[worstIndex]) vs numeric \(numeric[worstIndex])",
      file: file, line: line)
  }
}

/// Σ r·y in Double: the scalar whose gradient w.r.t. y is r.
func dot(_ r: [Float], _ y: [Float]) -> Double {
  zip(r, y).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

func temporaryDirectory() throws -> String {
  let path = NSTemporaryDirectory() + "engine-tests-\(UUID().uuidString)"
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
  .path

/// Runs python3 with `script`; nil when python3 or one of `modules` is unavailable.
func runPython(_ script: String, requiring modules: [String] = [], file: StaticString = #filePath, line: UInt = #line)
  throws -> String?
{
  func run(_ code: String) throws -> (Int32, String, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", code]
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }
  let probe = try? run(modules.map { "import \($0)" }.joined(separator: "\n") + "\n")
  guard let probe, probe.0 == 0 else { return nil }
  let (status, stdout, stderr) = try run(script)
  XCTAssertEqual(status, 0, "python failed: \(stderr)", file: file, line: line)
  return stdout
}

/// Keeps a run's events in memory.
final class EventRecorder: EventSink, @unchecked Sendable {
  private let lock = NSLock()
  private var recorded: [EngineEvent] = []

  init() {}

  func emit(_ event: EngineEvent) {
    lock.lock()
    recorded.append(event)
    lock.unlock()
  }

  var events: [EngineEvent] {
    lock.lock()
    defer { lock.unlock() }
    return recorded
  }

  /// Values of metric `name` in emission order.
  func metric(_ name: String) -> [Double] {
    events.compactMap { if case .metric(name, let v, _, _) = $0 { v } else { nil } }
  }
}

/// Naive triple loop with Double accumulation, same contract as `gemm`.
func referenceGEMM(
  transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  for i in 0..<m {
    for j in 0..<n {
      var sum = 0.0
      for p in 0..<k {
        let av = transA ? a[p * lda + i] : a[i * lda + p]
        let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
        sum += Double(av) * Double(bv)
      }
      let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
      c[i * ldc + j] = Float(Double(alpha) * sum + old)
    }
  }
}

/// Reorders images from NCHW (PyTorch, most `.npy` datasets) to the NHWC layout the
/// convolutional models run on.
func nchwToNHWC(
  _ x: [Float],  // [N, C, H, W]
  batch n: Int, channels c: Int, height h: Int, width w: Int
) -> [Float] {  // [N, H, W, C]
  precondition(x.count == n * c * h * w, "expected \(n * c * h * w) values, got \(x.count)")
  return [Float](unsafeUninitializedCapacity: x.count) { out, done in
    x.withUnsafeBufferPointer { src in
      for s in 0..<n {
        for ch in 0..<c {
          let plane = src.baseAddress! + (s * c + ch) * h * w
          let dst = out.baseAddress! + s * h * w * c + ch
          for p in 0..<(h * w) { dst[p * c] = plane[p] }
        }
      }
    }
    done = x.count
  }
}
