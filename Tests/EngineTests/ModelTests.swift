import XCTest

@testable import Engine

final class ModelTests: XCTestCase {
  /// Whole-model gradient (loss, every layer, residual fan-out, frozen parts) against central
  /// differences of the mean loss for a sample of each entry's parameters. Points where the
  /// difference quotient changes with the step (a ReLU or max-pool kink inside the step) are
  /// skipped, at most 10% of them.
  func checkModelGradients(
    _ spec: ModelSpec, batch: Int, mask: ((LayoutEntry) -> Bool)? = nil, perEntry: Int = 5, smoothing: Float = 0.1,
    file: StaticString = #filePath, line: UInt = #line
  ) throws {
    var initRNG = RNG(seed: 11)
    let model = try Model(spec: spec, maxBatch: batch + 2, rng: &initRNG)
    if let mask { model.setTrainable(model.layout.entries.map(mask)) }
    let input = randomArray(batch * spec.inputSize, seed: 12, low: -2, high: 2)
    let labels = (0..<batch).map { ($0 * 7 + 1) % spec.classes }
    let dropout = RNG(seed: 13)
    var rng = dropout
    _ = model.trainBatch(input: input, labels: labels, batch: batch, labelSmoothing: smoothing, rng: &rng)
    let analytic = model.gradients
    func loss() -> Double {
      var r = dropout
      model.forward(input: input, batch: batch, training: true, rng: &r)
      return Double(model.loss(labels: labels, labelSmoothing: smoothing))
    }
    func difference(_ i: Int, _ h: Float) -> Double {
      let saved = model.parameters[i]
      model.parameters[i] = saved + h
      let plus = loss()
      model.parameters[i] = saved - h
      let minus = loss()
      model.parameters[i] = saved
      return (plus - minus) / (2 * Double(h))
    }
    var checked = 0
    var skipped = 0
    var pick = RNG(seed: 14)
    for (e, entry) in model.layout.entries.enumerated() {
      let indices = (0..<min(perEntry, entry.count)).map { _ in entry.offset + pick.below(entry.count) }
      for i in indices {
        guard model.trainable[e] else {
          XCTAssertEqual(analytic[i], 0, "\(entry.name): frozen entry has a gradient", file: file, line: line)
          continue
        }
        let coarse = difference(i, 2e-3)
        let fine = difference(i, 1e-3)
        checked += 1
        if abs(coarse - fine) > 2e-4 + 0.05 * abs(fine) {
          skipped += 1
          continue
        }
        let a = Double(analytic[i])
        XCTAssert(
          abs(a - fine) <= 3e-4 + 2e-2 * abs(fine),
          "\(spec.architecture) \(entry.name)[\(i - entry.offset)]: analytic \(a) vs numeric \(fine)", file: file,
          line: line)
      }
    }
    XCTAssertLessThanOrEqual(skipped * 10, checked, "too many kinks: \(skipped) of \(checked)", file: file, line: line)
  }

  func testLinearGradients() throws {
    try checkModelGradients(ModelSpec(architecture: .linear, inputShape: [6], classes: 3), batch: 4)
  }

  func testMLPGradients() throws {
    try checkModelGradients(
      ModelSpec(architecture: .mlp, inputShape: [2, 3], classes: 3, width: 6, depth: 2), batch: 5)
    try checkModelGradients(
      ModelSpec(
        architecture: .mlp, inputShape: [5], classes: 4, width: 5, depth: 2, activation: .tanh, dropout: 0.3,
        batchNorm: true),
      batch: 6)
  }

  func testCNNGradients() throws {
    try checkModelGradients(
      ModelSpec(architecture: .cnn, inputShape: [6, 6, 2], classes: 3, width: 3, depth: 2), batch: 3)
    try checkModelGradients(
      ModelSpec(
        architecture: .cnn, inputShape: [7, 7, 1], classes: 3, width: 2, depth: 2, batchNorm: true, convStride: 2,
        globalPool: false),
      batch: 4)
  }

  func testOneDimensionalCNNGradients() throws {
    try checkModelGradients(
      ModelSpec(
        architecture: .cnn, inputShape: [12], classes: 3, width: 3, depth: 2, kernelSize: 5, convStride: 2, pool: false,
        globalPool: false, channelGrowth: 1),
      batch: 3)
  }

  /// tanh instead of ReLU: BatchNorm puts half the ReLU inputs near zero, so ReLU kinks lie
  /// inside any useful finite-difference step; the smooth net checks the residual graph exactly.
  func testResNetGradients() throws {
    try checkModelGradients(
      ModelSpec(
        architecture: .resnet, inputShape: [6, 6, 2], classes: 3, width: 4, depth: 2, activation: .tanh,
        blocksPerStage: 2),
      batch: 4, perEntry: 3)
  }

  /// Freezing the stem: its BatchNorm runs on running statistics, nothing flows into it, and
  /// everything downstream still gets exact gradients.
  func testPartiallyFrozenResNetGradients() throws {
    try checkModelGradients(
      ModelSpec(architecture: .resnet, inputShape: [5, 5, 1], classes: 3, width: 3, depth: 2, activation: .tanh),
      batch: 4,
      mask: { !$0.name.hasPrefix("stem.") }, perEntry: 3)
  }

  func testBenchCNNLayout() throws {
    var rng = RNG(seed: 0)
    let model = try Model(
      spec: ModelSpec(architecture: .cnn, inputShape: [32, 32, 3], classes: 10, width: 32, depth: 3), maxBatch: 2,
      rng: &rng)
    XCTAssertEqual(
      model.layout.entries.map(\.name),
      [
        "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight", "conv3.bias", "head.weight",
        "head.bias",
      ])
    XCTAssertEqual(model.layout["conv2.weight"]?.shape, [64, 3, 3, 32])
    XCTAssertEqual(model.layout["head.weight"]?.shape, [10, 128])
    XCTAssert(model.layout.entries.allSatisfy { $0.offset % ParameterLayout.alignment == 0 })
    let flops = 2 * (27 * 32 * 1024 + 288 * 64 * 256 + 576 * 128 * 64 + 128 * 10)
    XCTAssertEqual(model.forwardFLOPsPerSample, flops)
    XCTAssertEqual(model.parameterCount, 896 + 18496 + 73856 + 1290)
    // conv1 and conv2 run their ReLU and pool inside; conv3 its ReLU (its output goes to the average pool).
    XCTAssertEqual(model.fusedPoolCount, 2)
  }

  func testResNetNamesAndBuffers() throws {
    var rng = RNG(seed: 0)
    let model = try Model(
      spec: ModelSpec(architecture: .resnet, inputShape: [8, 8, 1], classes: 10, width: 8, depth: 3), maxBatch: 2,
      rng: &rng)
    XCTAssertNotNil(model.layout["stage2.block0.shortcut.conv.weight"])
    XCTAssertNil(model.layout["stage1.block0.shortcut.conv.weight"])
    XCTAssertEqual(model.layout["stage3.block0.conv2.weight"]?.shape, [32, 3, 3, 32])
    XCTAssertEqual(model.bufferLayout["stem.bn.running_var"]?.shape, [8])
    let running = model.bufferLayout["stem.bn.running_var"]!
    XCTAssert(model.buffers[running.range].allSatisfy { $0 == 1 })
  }

  func testInvalidSpecsAreConfigErrors() {
    var rng = RNG(seed: 0)
    XCTAssertThrowsError(
      try Model(spec: ModelSpec(architecture: .mlp, inputShape: [4], classes: 1), maxBatch: 1, rng: &rng)
    ) {
      XCTAssertEqual(($0 as? EngineError)?.kind, .config)
    }
    XCTAssertThrowsError(
      try Model(spec: ModelSpec(architecture: .cnn, inputShape: [2, 2, 2, 2], classes: 3), maxBatch: 1, rng: &rng))
    XCTAssertThrowsError(
      try Model(spec: ModelSpec(architecture: .mlp, inputShape: [4], classes: 3, dropout: 1), maxBatch: 1, rng: &rng))
  }

  func testSameSeedSameModelAndGradients() throws {
    let spec = ModelSpec(architecture: .cnn, inputShape: [6, 6, 1], classes: 4, width: 3, depth: 2, dropout: 0.2)
    var r1 = RNG(seed: 5)
    var r2 = RNG(seed: 5)
    let a = try Model(spec: spec, maxBatch: 4, rng: &r1)
    let b = try Model(spec: spec, maxBatch: 4, rng: &r2)
    XCTAssertEqual(a.parameters, b.parameters)
    XCTAssertEqual(r1, r2)
    let x = randomArray(4 * 36, seed: 1)
    var d1 = RNG(seed: 9)
    var d2 = RNG(seed: 9)
    let ra = a.trainBatch(input: x, labels: [0, 1, 2, 3], batch: 4, rng: &d1)
    let rb = b.trainBatch(input: x, labels: [0, 1, 2, 3], batch: 4, rng: &d2)
    XCTAssertEqual(ra, rb)
    XCTAssertEqual(a.gradients, b.gradients)
  }

  func testFreezeBackboneKeepsBackboneAndStatisticsBitIdentical() throws {
    var rng = RNG(seed: 3)
    let model = try Model(
      spec: ModelSpec(architecture: .resnet, inputShape: [6, 6, 1], classes: 3, width: 4, depth: 2), maxBatch: 8,
      rng: &rng)
    model.freezeBackbone()
    XCTAssertEqual(model.trainable.filter { $0 }.count, 2)
    XCTAssertEqual(
      model.trainableRanges, [model.layout["head.weight"]!.offset..<model.layout["head.bias"]!.range.upperBound])
    let before = model.parameters
    let buffersBefore = model.buffers
    var optimizer = Optimizer(.sgd(momentum: 0.9, weightDecay: 5e-4), parameterCount: model.layout.count)
    let x = randomArray(8 * 36, seed: 2)
    let labels = (0..<8).map { $0 % 3 }
    for _ in 0..<5 {
      _ = model.trainBatch(input: x, labels: labels, batch: 8, rng: &rng)
      optimizer.step(
        parameters: &model.parameters, gradients: model.gradients, ranges: model.trainableRanges, learningRate: 0.1)
    }
    let head = model.layout["head.weight"]!.offset..<model.layout["head.bias"]!.range.upperBound
    for i in 0..<before.count where !head.contains(i) {
      XCTAssertEqual(model.parameters[i].bitPattern, before[i].bitPattern)
    }
    XCTAssertNotEqual(Array(model.parameters[head]), Array(before[head]))
    XCTAssertEqual(model.buffers, buffersBefore)
  }

  func testNamedTensorsLoadAndHeadReplacement() throws {
    var rng = RNG(seed: 1)
    let source = try Model(
      spec: ModelSpec(architecture: .mlp, inputShape: [4], classes: 5, width: 6, depth: 1, batchNorm: true),
      maxBatch: 2, rng: &rng)
    let tensors = Dictionary(uniqueKeysWithValues: source.namedTensors().map { ($0.name, $0.array) })
    XCTAssertEqual(
      Set(tensors.keys),
      [
        "fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "head.weight",
        "head.bias",
      ])
    // Same architecture: exact copy.
    var other = RNG(seed: 2)
    let copy = try Model(spec: source.spec, maxBatch: 2, rng: &other)
    try copy.load(tensors)
    XCTAssertEqual(copy.parameters, source.parameters)
    XCTAssertEqual(copy.buffers, source.buffers)
    // New head with other classes: the backbone loads, the head keeps its fresh init.
    var spec = source.spec
    spec.classes = 3
    let target = try Model(spec: spec, maxBatch: 2, rng: &other)
    let freshHead = Array(target.parameters[target.layout["head.weight"]!.range])
    XCTAssertThrowsError(try target.load(tensors)) { error in
      XCTAssertEqual((error as? EngineError)?.kind, .shape)
      XCTAssert("\(error)".contains("head.weight"))
    }
    try target.load(tensors, include: { !$0.hasPrefix("head.") })
    XCTAssertEqual(
      Array(target.parameters[target.layout["fc1.weight"]!.range]),
      Array(source.parameters[source.layout["fc1.weight"]!.range]))
    XCTAssertEqual(Array(target.parameters[target.layout["head.weight"]!.range]), freshHead)
    var missing = tensors
    missing["fc1.bias"] = nil
    XCTAssertThrowsError(try copy.load(missing)) { XCTAssert("\($0)".contains("fc1.bias")) }
  }

  func testEvaluateUsesRunningStatisticsAndSmallerBatches() throws {
    var rng = RNG(seed: 4)
    let model = try Model(
      spec: ModelSpec(architecture: .cnn, inputShape: [4, 4, 1], classes: 2, width: 2, depth: 1, batchNorm: true),
      maxBatch: 6, rng: &rng)
    let x = randomArray(6 * 16, seed: 3)
    let labels = [0, 1, 0, 1, 0, 1]
    let first = model.evaluateBatch(input: x, labels: labels, batch: 6)
    let firstLogits = model.logits
    // Evaluation of a prefix gives the same per-sample logits (no batch statistics).
    _ = model.evaluateBatch(input: x, labels: labels, batch: 2)
    XCTAssertEqual(model.logits, Array(firstLogits[0..<4]))
    XCTAssertEqual(first.count, 6)
    let buffers = model.buffers
    _ = model.evaluateBatch(input: x, labels: labels, batch: 6)
    XCTAssertEqual(model.buffers, buffers)
    _ = model.trainBatch(input: x, labels: labels, batch: 6, rng: &rng)
    XCTAssertNotEqual(model.buffers, buffers)
  }
}
