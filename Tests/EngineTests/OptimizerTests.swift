import XCTest

@testable import Engine

/// Updates against values worked out by hand from PyTorch's update rules.
final class OptimizerTests: XCTestCase {
  func steps(_ config: OptimizerConfig, lr: Float, gradients: [Float]) -> [Float] {
    var optimizer = Optimizer(config, parameterCount: 1)
    var p: [Float] = [1]
    var trace: [Float] = []
    for g in gradients {
      optimizer.step(parameters: &p, gradients: [g], ranges: [0..<1], learningRate: lr)
      trace.append(p[0])
    }
    return trace
  }

  func testPlainSGD() {
    // p ← p − lr·(g + wd·p): 1 − 0.5·(0.2 + 0.1) = 0.85; 0.85 − 0.5·(0.2 + 0.085) = 0.7075
    let t = steps(.sgd(momentum: 0, nesterov: false, weightDecay: 0.1), lr: 0.5, gradients: [0.2, 0.2])
    XCTAssertEqual(t[0], 0.85, accuracy: 1e-6)
    XCTAssertEqual(t[1], 0.7075, accuracy: 1e-6)
  }

  func testSGDMomentumWithWeightDecay() {
    // d = g + wd·p; b = μ·b + d; p ← p − lr·b
    // step 1: d = 0.3, b = 0.3, p = 0.85; step 2: d = 0.285, b = 0.555, p = 0.5725
    let t = steps(.sgd(momentum: 0.9, nesterov: false, weightDecay: 0.1), lr: 0.5, gradients: [0.2, 0.2])
    XCTAssertEqual(t[0], 0.85, accuracy: 1e-6)
    XCTAssertEqual(t[1], 0.5725, accuracy: 1e-6)
  }

  func testNesterov() {
    // p ← p − lr·(d + μ·b)
    // step 1: d = 0.3, b = 0.3, p = 1 − 0.5·0.57 = 0.715
    // step 2: d = 0.2715, b = 0.5415, p = 0.715 − 0.5·(0.2715 + 0.48735) = 0.335575
    let t = steps(.sgd(momentum: 0.9, nesterov: true, weightDecay: 0.1), lr: 0.5, gradients: [0.2, 0.2])
    XCTAssertEqual(t[0], 0.715, accuracy: 1e-6)
    XCTAssertEqual(t[1], 0.335575, accuracy: 1e-6)
  }

  func testAdam() {
    // step 1: m = 0.05, v = 0.00025, m̂ = 0.5, √v̂ = 0.5 → p = 1 − 0.1·0.5/(0.5 + 1e-8)
    // step 2 (g = −0.25): m = 0.02, v = 0.00031225 → p = 0.8733662987…
    let t = steps(.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0), lr: 0.1, gradients: [0.5, -0.25])
    XCTAssertEqual(t[0], 0.9, accuracy: 1e-6)
    XCTAssertEqual(t[1], 0.8733663, accuracy: 1e-6)
  }

  func testAdamL2AndAdamWDecoupled() {
    // Adam's L2 term enters the moments: g' = 0.5 + 0.1·1 = 0.6, the first step is still lr·sign.
    let adam = steps(.adam(weightDecay: 0.1), lr: 0.1, gradients: [0.5])
    XCTAssertEqual(adam[0], 0.9, accuracy: 1e-6)
    // AdamW shrinks first: p = 1·(1 − 0.1·0.1) − 0.1 = 0.89, then 0.8544662987…
    let adamW = steps(
      .adamW(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1), lr: 0.1, gradients: [0.5, -0.25])
    XCTAssertEqual(adamW[0], 0.89, accuracy: 1e-6)
    XCTAssertEqual(adamW[1], 0.8544663, accuracy: 1e-6)
  }

  func testOnlyTrainableRangesChange() {
    for config in [OptimizerConfig.sgd(momentum: 0.9, weightDecay: 0.1), .adamW()] {
      var optimizer = Optimizer(config, parameterCount: 6)
      var p: [Float] = [1, 2, 3, 4, 5, 6]
      optimizer.step(parameters: &p, gradients: [1, 1, 1, 1, 1, 1], ranges: [1..<3, 5..<6], learningRate: 0.1)
      XCTAssertEqual(p[0], 1)
      XCTAssertEqual(p[3], 4)
      XCTAssertEqual(p[4], 5)
      XCTAssertNotEqual(p[1], 2)
      XCTAssertNotEqual(p[5], 6)
      XCTAssertEqual(optimizer.moment1[0], 0)
      XCTAssertEqual(optimizer.moment1[4], 0)
    }
  }

  func testStateRoundTripContinuesIdentically() throws {
    var a = Optimizer(.adam(), parameterCount: 3)
    var p: [Float] = [1, -1, 0.5]
    a.step(parameters: &p, gradients: [0.1, 0.2, -0.3], ranges: [0..<3], learningRate: 0.01)
    var b = Optimizer(.adam(), parameterCount: 3)
    try b.load(Dictionary(uniqueKeysWithValues: a.namedTensors().map { ($0.name, $0.array) }))
    XCTAssertEqual(b.steps, 1)
    var q = p
    a.step(parameters: &p, gradients: [0.3, 0.1, 0.2], ranges: [0..<3], learningRate: 0.01)
    b.step(parameters: &q, gradients: [0.3, 0.1, 0.2], ranges: [0..<3], learningRate: 0.01)
    XCTAssertEqual(p, q)
    XCTAssertThrowsError(try b.load([:]))
  }

  func testGradientClipping() {
    var g: [Float] = [3, 4, 100]
    let norm = clipGradientNorm(&g, ranges: [0..<2], maxNorm: 1)
    XCTAssertEqual(norm, 5, accuracy: 1e-6)
    XCTAssertEqual(g[0], 0.6, accuracy: 1e-6)
    XCTAssertEqual(g[1], 0.8, accuracy: 1e-6)
    XCTAssertEqual(g[2], 100)  // outside the ranges
    var h: [Float] = [3, 4]
    XCTAssertEqual(clipGradientNorm(&h, ranges: [0..<2], maxNorm: 10), 5, accuracy: 1e-6)
    XCTAssertEqual(h, [3, 4])
  }
}

final class ScheduleTests: XCTestCase {
  func lr(_ s: LRSchedule, _ step: Int, base: Float = 0.1, perEpoch: Int = 10) -> Float {
    s.learningRate(base: base, step: step, stepsPerEpoch: perEpoch)
  }

  func testConstantAndStep() {
    XCTAssertEqual(lr(.constant, 12345), 0.1)
    let s = LRSchedule.step(stepSize: 30, gamma: 0.1)
    XCTAssertEqual(lr(s, 0), 0.1, accuracy: 1e-9)
    XCTAssertEqual(lr(s, 299), 0.1, accuracy: 1e-9)  // epoch 29
    XCTAssertEqual(lr(s, 300), 0.01, accuracy: 1e-9)  // epoch 30
    XCTAssertEqual(lr(s, 605), 0.001, accuracy: 1e-9)  // epoch 60
  }

  func testMultiStep() {
    let s = LRSchedule.multiStep(milestones: [2, 5], gamma: 0.5)
    XCTAssertEqual(lr(s, 0, base: 1, perEpoch: 4), 1)
    XCTAssertEqual(lr(s, 7, base: 1, perEpoch: 4), 1)  // epoch 1
    XCTAssertEqual(lr(s, 8, base: 1, perEpoch: 4), 0.5)  // epoch 2
    XCTAssertEqual(lr(s, 19, base: 1, perEpoch: 4), 0.5)  // epoch 4
    XCTAssertEqual(lr(s, 20, base: 1, perEpoch: 4), 0.25)  // epoch 5
    XCTAssertEqual(lr(s, 400, base: 1, perEpoch: 4), 0.25)
  }

  func testCosineWithWarmup() {
    let s = LRSchedule.cosine(warmupEpochs: 1, totalEpochs: 3, minLR: 0)
    XCTAssertEqual(lr(s, 0, base: 1), 0)
    XCTAssertEqual(lr(s, 5, base: 1), 0.5, accuracy: 1e-6)
    XCTAssertEqual(lr(s, 10, base: 1), 1, accuracy: 1e-6)
    XCTAssertEqual(lr(s, 15, base: 1), 0.8535534, accuracy: 1e-6)  // ½(1 + cos π/4)
    XCTAssertEqual(lr(s, 20, base: 1), 0.5, accuracy: 1e-6)
    XCTAssertEqual(lr(s, 30, base: 1), 0, accuracy: 1e-6)
    XCTAssertEqual(lr(s, 40, base: 1), 0, accuracy: 1e-6)
    let floor = LRSchedule.cosine(warmupEpochs: 0, totalEpochs: 2, minLR: 0.1)
    XCTAssertEqual(lr(floor, 0, base: 1), 1, accuracy: 1e-6)
    XCTAssertEqual(lr(floor, 10, base: 1), 0.55, accuracy: 1e-6)
    XCTAssertEqual(lr(floor, 20, base: 1), 0.1, accuracy: 1e-6)
  }

  func testCyclicTriangle() {
    // np.interp(step, [0, 2·5, 4·5], [0, 1, 0]) · 0.4
    let s = LRSchedule.cyclic(peakEpoch: 2, totalEpochs: 4)
    XCTAssertEqual(lr(s, 0, base: 0.4, perEpoch: 5), 0)
    XCTAssertEqual(lr(s, 5, base: 0.4, perEpoch: 5), 0.2, accuracy: 1e-6)
    XCTAssertEqual(lr(s, 10, base: 0.4, perEpoch: 5), 0.4, accuracy: 1e-6)
    XCTAssertEqual(lr(s, 12, base: 0.4, perEpoch: 5), 0.32, accuracy: 1e-6)
    XCTAssertEqual(lr(s, 15, base: 0.4, perEpoch: 5), 0.2, accuracy: 1e-6)
    XCTAssertEqual(lr(s, 20, base: 0.4, perEpoch: 5), 0)
    XCTAssertEqual(lr(s, 27, base: 0.4, perEpoch: 5), 0)
  }
}

final class RNGTests: XCTestCase {
  func testKnownAnswerOfXoshiro256StarStar() throws {
    // Reference outputs of xoshiro256** from state {1, 2, 3, 4}.
    var rng = try RNG(state: [1, 2, 3, 4])
    XCTAssertEqual((0..<4).map { _ in rng.next() }, [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240])
  }

  func testSeedsStreamsAndStateRoundTrip() throws {
    var a = RNG(seed: 7)
    var b = RNG(seed: 7)
    var c = RNG(seed: 7, stream: 1)
    let xs = (0..<5).map { _ in a.next() }
    XCTAssertEqual(xs, (0..<5).map { _ in b.next() })
    XCTAssertNotEqual(xs, (0..<5).map { _ in c.next() })
    let saved = a.state
    let rest = (0..<10).map { _ in a.uniform() }
    var restored = try RNG(state: saved)
    XCTAssertEqual(rest, (0..<10).map { _ in restored.uniform() })
    XCTAssertThrowsError(try RNG(state: [0, 0, 0, 0]))
    XCTAssertThrowsError(try RNG(state: [1, 2]))
  }

  func testDistributions() {
    var rng = RNG(seed: 3)
    var counts = [Int](repeating: 0, count: 7)
    for _ in 0..<70_000 { counts[rng.below(7)] += 1 }
    XCTAssert(counts.allSatisfy { abs($0 - 10_000) < 500 }, "\(counts)")
    let u = (0..<100_000).map { _ in rng.uniform() }
    XCTAssert(u.allSatisfy { $0 >= 0 && $0 < 1 })
    let normals = (0..<100_000).map { _ in Double(rng.normal()) }
    let mean = normals.reduce(0, +) / Double(normals.count)
    let variance = normals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(normals.count)
    XCTAssertEqual(mean, 0, accuracy: 0.02)
    XCTAssertEqual(variance, 1, accuracy: 0.02)
    let p = rng.permutation(100)
    XCTAssertEqual(p.sorted(), Array(0..<100))
    XCTAssertNotEqual(p, Array(0..<100))
  }
}
