// bench/engine: single-threaded training throughput of the engine on the two shapes, and the
// MLP step's GFLOP/s against raw sgemm at the same shapes, measured in the same run.
// The CNN is measured against raw sgemm at its own GEMM shapes (traced from one step), and each
// convolution's share of the step is measured alone.
// Usage: .build/release/engine-bench [seconds per measurement] [mlp|cnn|cnn-step|cnn-layers|all (default)]; one
// part alone is for profiling (`cnn-step`: only the CNN's training steps, no replay or per-layer runs;
// `cnn-layers`: only the per-layer runs);
// `cnn-digest` prints a hash of the CNN's logits, gradients and parameters after five SGD steps, to
// check that a change to the engine's kernels leaves every bit of a training step as it was.
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
func rates(for duration: Double = seconds, _ body: () -> Void) -> (wall: Double, cpu: Double) {
  body()
  var n = 0
  let start = now()
  let cpuStart = now(CLOCK_PROCESS_CPUTIME_ID)
  while now() - start < duration {
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

if part == "cnn-digest" {
  let spec = ModelSpec(
    architecture: .cnn, inputShape: [32, 32, 3], classes: 10, width: 32, depth: 3, kernelSize: 3, pool: true,
    globalPool: true, channelGrowth: 2)
  var rng = RNG(seed: 7)
  let model = try Model(spec: spec, maxBatch: batch, rng: &rng)
  var optimizer = Optimizer(.sgd(momentum: 0.9), parameterCount: model.parameters.count)
  var hash: UInt64 = 0xcbf2_9ce4_8422_2325
  func mix(_ values: [Float]) {
    for v in values {
      hash = (hash ^ UInt64(v.bitPattern)) &* 0x100_0000_01b3
    }
  }
  // 100 samples: the last chunk of each convolution is a partial one.
  for step in 0..<5 {
    let n = step == 4 ? 100 : batch
    let input = (0..<(n * spec.inputSize)).map { _ in Float(rng.uniform()) - 0.5 }
    let labels = (0..<n).map { ($0 + step) % spec.classes }
    input.withUnsafeBufferPointer { x in
      labels.withUnsafeBufferPointer { y in
        _ = model.trainBatch(input: x.baseAddress!, labels: y.baseAddress!, batch: n, rng: &rng)
      }
    }
    mix(model.logits)
    mix(model.gradients)
    optimizer.step(
      parameters: &model.parameters, gradients: model.gradients, ranges: model.trainableRanges, learningRate: 0.05)
    mix(model.parameters)
  }
  print(String(format: "CNN digest after 5 steps: %016llx", hash))
}

if part == "all" || part == "cnn" || part == "cnn-step" {
  // Small CNN on 3x32x32: conv 3->32, pool, 32->64, pool, 64->128, global average pool, linear 128->10
  // (3x3 kernels, stride 1, padding 1, conv biases, ReLU).
  let cnn = ModelSpec(
    architecture: .cnn, inputShape: [32, 32, 3], classes: 10, width: 32, depth: 3, kernelSize: 3, pool: true,
    globalPool: true, channelGrowth: 2)
  let (cnnRate, cnnCPURate, model) = try trainRate(cnn, batch: batch)
  if part == "cnn-step" {
    print(String(format: "CNN step: %.0f samples/s (%.0f samples per CPU-second)", cnnRate, cnnCPURate))
    exit(0)
  }
  // Forward ×3 (forward, weight gradients, input gradients) less the first conv's input gradient.
  let forward = Double(model.forwardFLOPsPerSample)
  let firstConv = 2.0 * 32 * 32 * 27 * 32
  let cnnGFLOPs = cnnRate * (3 * forward - firstConv) / 1e9
  print(
    String(
      format: "CNN 3x32x32 (32-64-128, GAP, 10), batch 128: %.0f samples/s, %.1f GFLOP/s (%.0f samples per CPU-second)",
      cnnRate, cnnGFLOPs, cnnCPURate))

  // Raw sgemm at the CNN's own GEMM shapes: the calls one training step makes, traced, then
  // replayed alone on buffers of the same sizes.
  var rng = RNG(seed: 2)
  let input = (0..<(batch * cnn.inputSize)).map { _ in Float(rng.uniform()) }
  let labels = (0..<batch).map { $0 % cnn.classes }
  let calls = GEMMTrace.calls {
    input.withUnsafeBufferPointer { x in
      labels.withUnsafeBufferPointer { y in
        _ = model.trainBatch(input: x.baseAddress!, labels: y.baseAddress!, batch: batch, rng: &rng)
      }
    }
  }
  let tracedFLOPs = calls.reduce(0) { $0 + $1.flops }
  let sizeA = calls.map { $0.m * $0.k }.max() ?? 1
  let sizeB = calls.map { $0.k * $0.n }.max() ?? 1
  let sizeC = calls.map { $0.m * $0.n }.max() ?? 1
  let a = (0..<sizeA).map { _ in Float(rng.uniform()) }
  let b = (0..<sizeB).map { _ in Float(rng.uniform()) }
  var c = [Float](repeating: 0, count: sizeC)
  let replay = rates {
    a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in
        c.withUnsafeMutableBufferPointer { c in
          for call in calls {
            gemm(
              transA: call.transA, transB: call.transB, m: call.m, n: call.n, k: call.k, a: a.baseAddress!,
              lda: call.transA ? call.m : call.k, b: b.baseAddress!, ldb: call.transB ? call.k : call.n,
              beta: call.beta,
              c: c.baseAddress!, ldc: call.n)
          }
        }
      }
    }
  }
  let rawCNN = replay.wall * tracedFLOPs / 1e9
  let rawCNNCPU = replay.cpu * tracedFLOPs / 1e9
  let cnnCPUGFLOPs = cnnCPURate * (3 * forward - firstConv) / 1e9
  let shapes = Dictionary(grouping: calls) { "\($0.m)x\($0.n)x\($0.k)" }.keys.sorted().joined(separator: " ")
  print(
    String(
      format: "raw sgemm at the CNN's shapes (%d calls per step, %.2f GFLOP, the step counts %.2f): "
        + "%.1f GFLOP/s (%.1f per CPU-second); CNN step / raw sgemm = %.2f (by CPU time %.2f, the step at %.1f GFLOP per CPU-second)",
      calls.count, tracedFLOPs / 1e9, Double(batch) * (3 * forward - firstConv) / 1e9, rawCNN, rawCNNCPU,
      cnnGFLOPs / rawCNN, cnnCPUGFLOPs / rawCNNCPU, cnnCPUGFLOPs))
  print("  the CNN's GEMM shapes (m x n x k): \(shapes)")

  layerShares(stepSeconds: Double(batch) / cnnCPURate)
}

if part == "cnn-layers" { layerShares(stepSeconds: nil) }

/// Each convolution's share of the step: its forward (with the fused ReLU and pool) and backward
/// run alone on the model's shapes and chunking, and the GEMMs among them replayed alone; in CPU
/// time, which other processes on the machine move less than the wall clock.
func layerShares(stepSeconds: Double?) {
  var rng = RNG(seed: 3)
  let colsCapacity = 1 << 18  // Graph.colsLimit: the model's im2col buffer for this CNN at batch 128
  let layers: [(name: String, shape: Conv2dShape, pool: Bool, dx: Bool)] = [
    (
      "conv1 3->32 32x32 +pool",
      Conv2dShape(inChannels: 3, outChannels: 32, height: 32, width: 32, kernel: 3, padding: 1), true, false
    ),
    (
      "conv2 32->64 16x16 +pool",
      Conv2dShape(inChannels: 32, outChannels: 64, height: 16, width: 16, kernel: 3, padding: 1), true, true
    ),
    (
      "conv3 64->128 8x8", Conv2dShape(inChannels: 64, outChannels: 128, height: 8, width: 8, kernel: 3, padding: 1),
      false, true
    ),
  ]
  var layerTotal = 0.0
  for layer in layers {
    let sh = layer.shape
    func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
      let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
      for i in 0..<n { p[i] = Float(rng.uniform()) - 0.5 }
      return p
    }
    let x = buffer(batch * sh.inputSize), w = buffer(sh.weightCount), bias = buffer(sh.outChannels)
    let cols = buffer(colsCapacity)
    let dw = buffer(sh.weightCount), db = buffer(sh.outChannels), dx = buffer(batch * sh.inputSize)
    let chunk = sh.chunkSamples(batch: batch, colsCapacity: colsCapacity)
    let poolShape = PoolShape(
      channels: sh.outChannels, inHeight: sh.outHeight, inWidth: sh.outWidth, kernelHeight: 2, kernelWidth: 2)
    let y = buffer((layer.pool ? chunk : batch) * sh.outputSize)
    let dy = buffer((layer.pool ? chunk : batch) * sh.outputSize)
    let poolY = buffer(batch * poolShape.outputSize), poolDy = buffer(batch * poolShape.outputSize)
    let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: batch * poolShape.outputSize)
    argmax.initialize(repeating: 0, count: batch * poolShape.outputSize)
    let fused = layer.pool ? FusedMaxPool(shape: poolShape, y: poolY, argmax: argmax, dy: poolDy) : nil
    func forward() {
      conv2dForward(
        y: y, x: x, w: w, b: bias, shape: sh, batch: batch, cols: cols, colsCapacity: colsCapacity, relu: true,
        pool: fused)
    }
    func backward() {
      // Without a pool, dy is masked in place by the ReLU: the same values every call.
      conv2dReLUBackward(
        dx: layer.dx ? dx : nil, dw: dw, db: db, dy: dy, y: y, x: x, w: w, shape: sh, batch: batch, cols: cols,
        colsCapacity: colsCapacity, pool: fused)
    }
    let f = rates(for: seconds / 3, forward), bw = rates(for: seconds / 3, backward)
    let layerCalls = GEMMTrace.calls {
      forward()
      backward()
    }
    let ra = buffer(layerCalls.map { $0.m * $0.k }.max() ?? 1)
    let rb = buffer(layerCalls.map { $0.k * $0.n }.max() ?? 1)
    let rc = buffer(layerCalls.map { $0.m * $0.n }.max() ?? 1)
    let gemmRate = rates(for: seconds / 3) {
      for call in layerCalls {
        gemm(
          transA: call.transA, transB: call.transB, m: call.m, n: call.n, k: call.k, a: ra,
          lda: call.transA ? call.m : call.k, b: rb, ldb: call.transB ? call.k : call.n, beta: call.beta, c: rc,
          ldc: call.n)
      }
    }
    let seconds = 1 / f.cpu + 1 / bw.cpu
    layerTotal += seconds
    let share = stepSeconds.map { String(format: " (%.0f%% of the step)", 100 * seconds / $0) } ?? ""
    print(
      "  \(layer.name): "
        + String(format: "forward %.2f ms, backward %.2f ms", 1e3 / f.cpu, 1e3 / bw.cpu) + share
        + String(
          format: "; its %d GEMMs alone %.2f ms, the rest (im2col, col2im, bias, ReLU, pool) %.2f ms (CPU time)",
          layerCalls.count, 1e3 / gemmRate.cpu, 1e3 * (seconds - 1 / gemmRate.cpu)))
    for p in [x, w, bias, cols, dw, db, dx, y, dy, poolY, poolDy, ra, rb, rc] { p.deallocate() }
    argmax.deallocate()
  }
  guard let stepSeconds else { return }
  print(
    String(
      format: "  the step %.2f ms (CPU time); the rest (global pool, linear, loss, SGD update) %.2f ms (%.0f%%)",
      1e3 * stepSeconds,
      1e3 * (stepSeconds - layerTotal), 100 * (stepSeconds - layerTotal) / stepSeconds))
}
