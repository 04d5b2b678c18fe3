// bench/engine: single-threaded training throughput of the engine on the two shapes, and the
// MLP step's GFLOP/s against raw sgemm at the same shapes, measured in the same run.
// Usage: .build/release/engine-bench [seconds per measurement]
import Engine
import Foundation

BLAS.setThreadCount(1)
let seconds = Double(CommandLine.arguments.dropFirst().first ?? "") ?? 3

func now() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Runs `body` repeatedly for about `seconds` after one warm-up call; returns calls per second.
func rate(_ body: () -> Void) -> Double {
  body()
  var n = 0
  let start = now()
  while now() - start < seconds {
    body()
    n += 1
  }
  return Double(n) / (now() - start)
}

/// Samples/s of forward + backward + SGD (momentum) steps on random data.
func trainRate(_ spec: ModelSpec, batch: Int) throws -> (samplesPerSecond: Double, model: Model) {
  var rng = RNG(seed: 1)
  let model = try Model(spec: spec, maxBatch: batch, rng: &rng)
  var optimizer = Optimizer(.sgd(momentum: 0.9), parameterCount: model.parameters.count)
  let input = (0..<(batch * spec.inputSize)).map { _ in Float(rng.uniform()) }  // [B, input]
  let labels = (0..<batch).map { $0 % spec.classes }  // [B]
  let steps = rate {
    input.withUnsafeBufferPointer { x in
      labels.withUnsafeBufferPointer { y in
        _ = model.trainBatch(input: x.baseAddress!, labels: y.baseAddress!, batch: batch, rng: &rng)
      }
    }
    optimizer.step(
      parameters: &model.parameters, gradients: model.gradients, ranges: model.trainableRanges, learningRate: 0.01)
  }
  return (steps * Double(batch), model)
}

// MLP 784-512-512-10, batch 128.
let batch = 128
let mlp = ModelSpec(architecture: .mlp, inputShape: [784], classes: 10, width: 512, depth: 2)
let (mlpRate, _) = try trainRate(mlp, batch: batch)
// The GEMMs of one step: forward, weight gradients, and input gradients except the first layer's.
let layers = [(784, 512), (512, 512), (512, 10)]
let stepFLOPs = layers.enumerated().reduce(0.0) { total, item in
  let (i, (fanIn, fanOut)) = item
  let one = 2.0 * Double(batch * fanIn * fanOut)
  return total + one * (i == 0 ? 2 : 3)
}
let mlpGFLOPs = mlpRate / Double(batch) * stepFLOPs / 1e9

// Raw sgemm at exactly those shapes (row-major, as the engine calls it).
var buffers: [[Float]] = [[Float](repeating: 0.5, count: batch * 784), [Float](repeating: 0.5, count: 784 * 512)]
buffers.append([Float](repeating: 0, count: batch * 512))
let big = [Float](repeating: 0.25, count: 784 * 512)
var out = [Float](repeating: 0, count: 784 * 512)
let gemmRate = rate {
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
let rawGFLOPs = gemmRate * stepFLOPs / 1e9

// Small CNN on 3x32x32: conv 3->32, pool, 32->64, pool, 64->128, global average pool, linear 128->10.
let cnn = ModelSpec(
  architecture: .cnn, inputShape: [32, 32, 3], classes: 10, width: 32, depth: 3, kernelSize: 3, pool: true,
  globalPool: true, channelGrowth: 2)
let (cnnRate, _) = try trainRate(cnn, batch: batch)

print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, OPENBLAS threads 1")
print(String(format: "MLP 784-512-512-10, batch 128: %.0f samples/s, %.1f GFLOP/s", mlpRate, mlpGFLOPs))
print(
  String(
    format: "raw sgemm at the same shapes: %.1f GFLOP/s; MLP step / raw sgemm = %.2f", rawGFLOPs, mlpGFLOPs / rawGFLOPs)
)
print(String(format: "CNN 3x32x32 (32-64-128, GAP, 10), batch 128: %.0f samples/s", cnnRate))
