// bench/engine: single-threaded training throughput of the engine on the two shapes, and the
// MLP step's GFLOP/s against raw sgemm at the same shapes, measured in the same run.
// Usage: .build/release/engine-bench [seconds per measurement] [mlp|cnn|all (default)]; one part alone is
// for profiling.
import Engine
import Foundation

BLAS.setThreadCount(1)
let seconds = Double(CommandLine.arguments.dropFirst().first ?? "") ?? 3
let part = CommandLine.arguments.dropFirst(2).first ?? "all"

func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Double {
  var t = timespec()
  clock_gettime(clock, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Calls per second of `body`, run repeatedly for about `seconds` after one warm-up call, by the
/// wall clock and by this process's CPU time (which other processes on the machine move less).
func rates(_ body: () -> Void) -> (wall: Double, cpu: Double) {
  body()
  var n = 0
  let start = now()
  let cpuStart = now(CLOCK_PROCESS_CPUTIME_ID)
  while now() - start < seconds {
    body()
    n += 1
  }
  return (Double(n) / (now() - start), Double(n) / (now(CLOCK_PROCESS_CPUTIME_ID) - cpuStart))
}

/// Samples/s of forward + backward + SGD (momentum) steps on random data.
func trainRate(_ spec: ModelSpec, batch: Int) throws -> (samplesPerSecond: Double, perCPUSecond: Double, model: Model) {
  var rng = RNG(seed: 1)
  let model = try Model(spec: spec, maxBatch: batch, rng: &rng)
  var optimizer = Optimizer(.sgd(momentum: 0.9), parameterCount: model.parameters.count)
  let input = (0..<(batch * spec.inputSize)).map { _ in Float(rng.uniform()) }  // [B, input]
  let labels = (0..<batch).map { $0 % spec.classes }  // [B]
  let steps = rates {
    input.withUnsafeBufferPointer { x in
      labels.withUnsafeBufferPointer { y in
        _ = model.trainBatch(input: x.baseAddress!, labels: y.baseAddress!, batch: batch, rng: &rng)
      }
    }
    optimizer.step(
      parameters: &model.parameters, gradients: model.gradients, ranges: model.trainableRanges, learningRate: 0.01)
  }
  return (steps.wall * Double(batch), steps.cpu * Double(batch), model)
}

let batch = 128
print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, OPENBLAS threads 1")

if part == "all" || part == "mlp" {
  // MLP 784-512-512-10, batch 128.
  let mlp = ModelSpec(architecture: .mlp, inputShape: [784], classes: 10, width: 512, depth: 2)
  let (mlpRate, mlpCPURate, _) = try trainRate(mlp, batch: batch)
  // The GEMMs of one step: forward, weight gradients, and input gradients except the first layer's.
  let layers = [(784, 512), (512, 512), (512, 10)]
  let stepFLOPs = layers.enumerated().reduce(0.0) { total, item in
    let (i, (fanIn, fanOut)) = item
    let one = 2.0 * Double(batch * fanIn * fanOut)
    return total + one * (i == 0 ? 2 : 3)
  }
  let mlpGFLOPs = mlpRate / Double(batch) * stepFLOPs / 1e9
  print(
    String(
      format: "MLP 784-512-512-10, batch 128: %.0f samples/s, %.1f GFLOP/s (%.0f samples per CPU-second)", mlpRate,
      mlpGFLOPs, mlpCPURate))

  // Raw sgemm at exactly those shapes (row-major, as the engine calls it).
  let big = [Float](repeating: 0.25, count: 784 * 512)
  var out = [Float](repeating: 0, count: 784 * 512)
  let gemmRates = rates {
    for (i, (fanIn, fanOut)) in layers.enumerated() {
      big.withUnsafeBufferPointer { a in
        big.withUnsafeBufferPointer { b in
          out.withUnsafeMutableBufferPointer { c in
            let (a, b, c) = (a.baseAddress!, b.baseAddress!, c.baseAddress!)
            // forward: [B, in] x [in, out]
            gemm(
              transA: false, transB: false, m: batch, n: fanOut, k: fanIn, a: a, lda: fanIn, b: b, ldb: fanOut,
              beta: 0, c: c, ldc: fanOut)
            // weight gradient: [in, B] x [B, out]
            gemm(
              transA: true, transB: false, m: fanIn, n: fanOut, k: batch, a: a, lda: fanIn, b: b, ldb: fanOut,
              beta: 0, c: c, ldc: fanOut)
            // input gradient: [B, out] x [out, in]
            if i > 0 {
              gemm(
                transA: false, transB: true, m: batch, n: fanIn, k: fanOut, a: a, lda: fanOut, b: b, ldb: fanOut,
                beta: 0, c: c, ldc: fanIn)
            }
          }
        }
      }
    }
  }
  let rawGFLOPs = gemmRates.wall * stepFLOPs / 1e9
  // The same ratio by CPU time: GFLOP per CPU-second of the step and of sgemm.
  let mlpCPUGFLOPs = mlpCPURate / Double(batch) * stepFLOPs / 1e9
  let rawCPUGFLOPs = gemmRates.cpu * stepFLOPs / 1e9
  print(
    String(
      format: "raw sgemm at the same shapes: %.1f GFLOP/s (%.1f per CPU-second); MLP step / raw sgemm = %.2f "
        + "(by CPU time %.2f, the step at %.1f GFLOP per CPU-second)", rawGFLOPs, rawCPUGFLOPs,
      mlpGFLOPs / rawGFLOPs, mlpCPUGFLOPs / rawCPUGFLOPs, mlpCPUGFLOPs))
}

if part == "all" || part == "cnn" {
  // Small CNN on 3x32x32: conv 3->32, pool, 32->64, pool, 64->128, global average pool, linear 128->10
  // (3x3 kernels, stride 1, padding 1, conv biases, ReLU).
  let cnn = ModelSpec(
    architecture: .cnn, inputShape: [32, 32, 3], classes: 10, width: 32, depth: 3, kernelSize: 3, pool: true,
    globalPool: true, channelGrowth: 2)
  let (cnnRate, cnnCPURate, model) = try trainRate(cnn, batch: batch)
  // Forward ×3 (forward, weight gradients, input gradients) less the first conv's input gradient.
  let forward = Double(model.forwardFLOPsPerSample)
  let firstConv = 2.0 * 32 * 32 * 27 * 32
  let cnnGFLOPs = cnnRate * (3 * forward - firstConv) / 1e9
  print(
    String(
      format: "CNN 3x32x32 (32-64-128, GAP, 10), batch 128: %.0f samples/s, %.1f GFLOP/s (%.0f samples per CPU-second)",
      cnnRate, cnnGFLOPs, cnnCPURate))
}
