import Foundation
import XCTest

@testable import Engine

/// The cosine head, the angular-margin (CAML) loss and `train.loss: caml` end to end.
final class CAMLTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws {
    dir = try temporaryDirectory()
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: dir)
  }

  // MARK: Loss and gradients

  /// Mean CAML loss of features `x` [B, in] and head weights `w` [K, in]; with `gradients`, the
  /// analytic dL/dx and dL/dw.
  func camlLoss(
    _ x: [Float], _ w: [Float], labels: [Int], margins: [Float], batch: Int, inF: Int, k: Int, scale: Float,
    gradients: Bool = false
  ) -> (loss: Double, dx: [Float], dw: [Float]) {
    var logits = [Float](repeating: 0, count: batch * k)  // [B, K]
    var xHat = [Float](repeating: 0, count: batch * inF)  // [B, in]
    var xNorm = [Float](repeating: 0, count: batch)  // [B]
    var wHat = [Float](repeating: 0, count: k * inF)  // [K, in]
    var wNorm = [Float](repeating: 0, count: k)  // [K]
    var probs = [Float](repeating: 0, count: batch * k)  // [B, K]
    var slope = [Float](repeating: 0, count: batch * k)  // [B, K]
    cosineForward(
      y: &logits, xHat: &xHat, xNorm: &xNorm, wHat: &wHat, wNorm: &wNorm, x: x, w: w, batch: batch, inFeatures: inF,
      outFeatures: k, scale: scale)
    let loss = angularMarginCrossEntropyForward(
      probs: &probs, slope: &slope, logits: logits, labels: labels, margins: margins, batch: batch, classes: k,
      scale: scale)
    guard gradients else { return (Double(loss), [], []) }
    var dLogits = [Float](repeating: 0, count: batch * k)  // [B, K]
    angularMarginCrossEntropyBackward(
      dLogits: &dLogits, probs: probs, slope: slope, labels: labels, batch: batch, classes: k)
    var dx = [Float](repeating: 0, count: batch * inF)
    var dw = [Float](repeating: 0, count: k * inF)
    var dxHat = [Float](repeating: 0, count: batch * inF)
    var dwHat = [Float](repeating: 0, count: k * inF)
    cosineBackward(
      dx: &dx, dw: &dw, dxHat: &dxHat, dwHat: &dwHat, dy: dLogits, xHat: xHat, xNorm: xNorm, wHat: wHat, wNorm: wNorm,
      batch: batch, inFeatures: inF, outFeatures: k, scale: scale)
    return (Double(loss), dx, dw)
  }

  func testCAMLLossGradientMatchesFiniteDifferences() {
    let (batch, inF, k, scale): (Int, Int, Int, Float) = (5, 6, 3, 8)
    let x0 = randomArray(batch * inF, seed: 31, low: -2, high: 2)
    let w0 = randomArray(k * inF, seed: 32)
    let labels = [0, 2, 1, 1, 0]
    // Margins on the true class only (target), on every class (all), including a negative one
    // (a noise draw above P = 1) and large ones that take the monotone continuation.
    var target = [Float](repeating: 0, count: batch * k)
    for (b, m) in zip(0..<batch, [0.05, 0.9, 0.4, -0.1, 2.8] as [Float]) { target[b * k + labels[b]] = m }
    let all = randomArray(batch * k, seed: 33, low: -0.2, high: 1.2)
    for (name, margins) in [("target", target), ("all", all), ("none", [Float](repeating: 0, count: batch * k))] {
      let g = camlLoss(
        x0, w0, labels: labels, margins: margins, batch: batch, inF: inF, k: k, scale: scale, gradients: true)
      let nx = numericGradient(at: x0, h: 1e-3) {
        self.camlLoss($0, w0, labels: labels, margins: margins, batch: batch, inF: inF, k: k, scale: scale).loss
      }
      let nw = numericGradient(at: w0, h: 1e-3) {
        self.camlLoss(x0, $0, labels: labels, margins: margins, batch: batch, inF: inF, k: k, scale: scale).loss
      }
      assertGradientsClose(g.dx, nx, atol: 2e-3, rtol: 2e-2, "CAML dL/dx (\(name))")
      assertGradientsClose(g.dw, nw, atol: 2e-3, rtol: 2e-2, "CAML dL/dW (\(name))")
    }
  }

  func testCAMLLossIsCrossEntropyOfMarginLogits() {
    // One sample, cosines (0.3, −0.2), label 0, margin 0.5 on it: logits (s·cos(acos 0.3 + 0.5), s·(−0.2)).
    let s: Float = 8
    let logits: [Float] = [s * 0.3, s * -0.2]
    var probs = [Float](repeating: 0, count: 2)
    var slope = [Float](repeating: 0, count: 2)
    let loss = angularMarginCrossEntropyForward(
      probs: &probs, slope: &slope, logits: logits, labels: [0], margins: [0.5, 0], batch: 1, classes: 2, scale: s)
    let z0 = Double(s) * cos(acos(0.3) + 0.5)
    let z1 = Double(s) * -0.2
    let expected = -(z0 - log(exp(z0) + exp(z1)))
    XCTAssertEqual(Double(loss), expected, accuracy: 1e-5)
    // dφ/dc = sin(θ + m) / sin θ on the main branch.
    XCTAssertEqual(Double(slope[0]), sin(acos(0.3) + 0.5) / sin(acos(0.3)), accuracy: 1e-5)
    XCTAssertEqual(slope[1], 1)
    // Zero margins are the plain cross-entropy of the cosine logits.
    var plain = [Float](repeating: 0, count: 2)
    let ce = softmaxCrossEntropyForward(probs: &plain, logits: logits, labels: [1], batch: 1, classes: 2)
    XCTAssertEqual(
      angularMarginCrossEntropyForward(
        probs: &probs, slope: &slope, logits: logits, labels: [1], margins: [0, 0], batch: 1, classes: 2, scale: s),
      ce, accuracy: 1e-6)
  }

  func testModelWithCosineHeadBackpropagatesTheMarginLoss() throws {
    // Whole model: mlp (tanh) → cosine head, margin loss; every parameter against central differences.
    let spec = ModelSpec(
      architecture: .mlp, inputShape: [4], classes: 3, width: 5, depth: 1, activation: .tanh, cosineScale: 8)
    var initRNG = RNG(seed: 41)
    let batch = 6
    let model = try Model(spec: spec, maxBatch: batch, rng: &initRNG)
    XCTAssertEqual(model.layout.entries.map(\.name), ["fc1.weight", "fc1.bias", "head.weight"], "no head bias")
    let input = randomArray(batch * 4, seed: 42, low: -2, high: 2)
    let labels = (0..<batch).map { $0 % 3 }
    let margins = randomArray(batch * 3, seed: 43, low: 0, high: 1)
    var rng = RNG(seed: 0)
    _ = model.trainBatch(input: input, labels: labels, batch: batch, margins: margins, rng: &rng)
    let analytic = model.gradients
    func loss() -> Double {
      model.forward(input: input, batch: batch, training: true, rng: &rng)
      return Double(model.marginLoss(labels: labels, margins: margins))
    }
    var numeric = [Double](repeating: 0, count: analytic.count)
    for entry in model.layout.entries {
      for i in entry.range {
        let saved = model.parameters[i]
        model.parameters[i] = saved + 1e-3
        let plus = loss()
        model.parameters[i] = saved - 1e-3
        let minus = loss()
        model.parameters[i] = saved
        numeric[i] = (plus - minus) / 2e-3
      }
    }
    let used = model.layout.entries.flatMap { Array($0.range) }
    assertGradientsClose(used.map { analytic[$0] }, used.map { numeric[$0] }, atol: 2e-3, rtol: 2e-2, "model")
    // Evaluation gives the plain cosine logits s·cos θ, all within ±s.
    _ = model.evaluateBatch(input: input, labels: labels, batch: batch)
    XCTAssertTrue(model.logits.allSatisfy { abs($0) <= 8.0001 })
  }

  func testMarginsFollowTheTableAndTheMode() {
    // Two clusters, P(y|c): c0 (0.9, 0.1), c1 (0.2, 0.8); σ 0 makes the draw the mean.
    func margins(_ mode: MarginTarget, sigma: Float) -> [Float] {
      let m = CAMLMargins(
        clusterCount: 2, classes: 2, clusters: [0, 1, 1], table: [0.9, 0.1, 0.2, 0.8], inertia: 0, nmiTarget: 0,
        nmiBias: nil, sigma: sigma, marginOn: mode, referencePath: "")
      var out = [Float](repeating: 7, count: 6)
      var rng = RNG(seed: 1)
      m.fill(&out, indices: [0, 1, 2][...], labels: [0, 0, 1], rng: &rng)
      return out
    }
    let one: Float = 1
    let (p00, p01, p10, p11): (Float, Float, Float, Float) = (0.9, 0.1, 0.2, 0.8)
    let target = margins(.target, sigma: 0)
    let expectedTarget: [Float] = [one - p00, 0, one - p10, 0, 0, one - p11]
    XCTAssertEqual(target, expectedTarget)
    let expectedAll: [Float] = [one - p00, one - p01, one - p10, one - p11, one - p10, one - p11]
    XCTAssertEqual(margins(.all, sigma: 0), expectedAll)
    let noisy = margins(.target, sigma: 0.15)
    XCTAssertNotEqual(noisy[0], target[0])
    XCTAssertEqual(noisy[0], target[0], accuracy: 0.8, "within a few σ")
  }

  // MARK: Training

  /// ERM and CAML bindings of the reference setup, scaled to the generated data.
  func bindings(_ data: String, _ extra: [String: ConfigValue] = [:]) -> [String: ConfigValue] {
    let base: [String: ConfigValue] = [
      "data.name": .string(data), "model.arch": "mlp", "model.depth": 1, "model.width": 128,
      "model.activation": "tanh", "optimizer.name": "sgd", "optimizer.momentum": 0.0, "optimizer.weight_decay": 0.1,
      "optimizer.base_lr": 0.1, "train.batch_size": 512, "train.epochs": 3, "train.checkpoint_every": 1,
    ]
    return base.merging(extra) { _, new in new }
  }

  func testERMThenCAMLOnWaterbirdsFeatsReportsGroupsAndNMI() throws {
    let data = try GeneratedDatasets.materialize("waterbirds_feats", root: dir)
    let erm = try train(
      config: EngineSchema.validate(bindings(data)), runDir: dir + "/erm", events: EventRecorder())
    // ERM leans on the spurious feature: its worst group is far below the mean.
    let ermWorst = try XCTUnwrap(erm.metrics["test_worst_group_acc"])
    let ermMean = try XCTUnwrap(erm.metrics["test_mean_group_acc"])
    XCTAssertLessThan(ermWorst, ermMean - 0.15, "ERM worst \(ermWorst) vs mean \(ermMean)")
    XCTAssertNil(erm.metrics["nmi_bias"], "only CAML clusters")

    // The reference as a run directory (what KEY@latest resolves to): its newest valid checkpoint.
    let camlConfig = try EngineSchema.validate(
      bindings(data, ["train.loss": "caml", "caml.reference": .string(dir + "/erm")]))
    var lines: [String] = []
    let events = EventRecorder()
    let caml = try Trainer(
      config: camlConfig, runDir: dir + "/caml", events: events, hooks: TrainHooks(log: { lines.append($0) })
    ).run()
    for name in ["test_worst_group_acc", "test_mean_group_acc", "nmi_bias", "nmi_target"] {
      XCTAssertNotNil(caml.metrics[name], name)
    }
    XCTAssertEqual(events.metric("nmi_bias").count, 1, "once, with the final epoch")
    // The clusters follow the bias (train: b = y for 95 %, so they share much with y too).
    XCTAssertGreaterThan(caml.metrics["nmi_bias"]!, 0.7)
    XCTAssertGreaterThan(caml.metrics["nmi_bias"]!, caml.metrics["nmi_target"]!)
    XCTAssertTrue(lines.contains { $0.hasPrefix("caml: reference \(dir)/erm/checkpoints/ckpt-E003") }, "\(lines)")
    let model = try Checkpoint.read(Checkpoint.path(runDir: dir + "/caml", epoch: 3))
    XCTAssertNil(model.tensors["head.bias"], "cosine head")

    // Resumed after epoch 1, it ends bit for bit where the uninterrupted run ended (same
    // clusters, same margin draws).
    final class Done: @unchecked Sendable { var epochs = 0 }
    let done = Done()
    let stopAfterOne = TrainHooks(onEpoch: { done.epochs = $0.epoch }, shouldStop: { done.epochs >= 1 })
    _ = try Trainer(config: camlConfig, runDir: dir + "/caml2", events: EventRecorder(), hooks: stopAfterOne).run()
    XCTAssertEqual(Checkpoint.list(runDir: dir + "/caml2").map(\.epoch), [1, 0])
    let resumed = try Trainer(config: camlConfig, runDir: dir + "/caml2", events: EventRecorder()).run()
    XCTAssertEqual(resumed.resumedFrom, 1)
    let a = model.tensors
    let b = try Checkpoint.read(Checkpoint.path(runDir: dir + "/caml2", epoch: 3)).tensors
    for name in ["fc1.weight", "fc1.bias", "head.weight"] {
      XCTAssertTrue(a[name]?.bytes() == b[name]?.bytes(), "\(name) differs after resume")
    }
    XCTAssertEqual(resumed.metrics["nmi_bias"], caml.metrics["nmi_bias"])

    // An eval job of the CAML checkpoint evaluates the cosine head with plain cosine logits.
    let evaluated = try Evaluator(
      config: EvalConfig.validate(["eval.checkpoint": .string(dir + "/caml")]), runDir: dir + "/eval",
      events: EventRecorder()
    ).run()
    XCTAssertEqual(evaluated.metrics["test_worst_group_acc"], caml.metrics["test_worst_group_acc"])
  }

  // MARK: Bad input

  func write(_ directory: String, _ arrays: [String: NDArray]) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, array) in arrays { try NPY.write(array, to: "\(directory)/\(name).npy") }
  }

  func features(_ n: Int, bias: Int? = nil, targets: Int? = nil) -> [String: NDArray] {
    var out: [String: NDArray] = [:]
    for split in ["train", "test"] {
      out["\(split)_feats"] = NDArray(shape: [n, 3], float32: randomArray(n * 3, seed: 5))
      out["\(split)_targets"] = NDArray(shape: [targets ?? n], int64: (0..<(targets ?? n)).map { Int64($0 % 2) })
      if let bias { out["\(split)_bias"] = NDArray(shape: [bias], int64: (0..<bias).map { Int64($0 / 2 % 2) }) }
    }
    return out
  }

  func testMismatchedLengthsNameTheFileAndWhatWasExpected() throws {
    try write(dir + "/short_bias", features(10, bias: 9))
    XCTAssertThrowsError(try Dataset.load(directory: dir + "/short_bias")) { error in
      let e = error as! EngineError
      XCTAssertEqual(e.kind, .shape)
      XCTAssertTrue("\(e)".contains("loading dataset \(dir)/short_bias"), "\(e)")
      XCTAssertTrue(e.message.contains("train_bias.npy has shape [9], expected [10]"), e.message)
    }
    try write(dir + "/short_targets", features(10, bias: 10, targets: 8))
    XCTAssertThrowsError(try Dataset.load(directory: dir + "/short_targets")) { error in
      XCTAssertTrue(
        (error as! EngineError).message.contains("train_targets.npy has shape [8], expected [10]"), "\(error)")
    }
  }

  func testCAMLWithoutBiasLabelsOrReferenceIsAClearError() throws {
    try write(dir + "/nobias", features(20))
    let reference = dir + "/ref"
    _ = try train(
      config: EngineSchema.validate(bindings(dir + "/nobias", ["train.epochs": 1])), runDir: reference,
      events: EventRecorder())
    let c = try EngineSchema.validate(
      bindings(dir + "/nobias", ["train.loss": "caml", "caml.reference": .string(reference), "train.epochs": 1]))
    XCTAssertThrowsError(try train(config: c, runDir: dir + "/run", events: EventRecorder())) { error in
      let e = error as! EngineError
      XCTAssertTrue(e.message.contains("\(dir)/nobias/train_bias.npy is missing"), e.message)
      XCTAssertTrue(e.message.contains("bias labels (int64 [N], one per sample)"), e.message)
    }
    // No reference, a missing one, one of another input size.
    XCTAssertThrowsError(try EngineSchema.validate(bindings("x", ["train.loss": "caml"]))) {
      XCTAssertTrue("\($0)".contains("needs 'caml.reference'"), "\($0)")
    }
    try write(
      dir + "/wide",
      features(20, bias: 20).mapValues { a in
        a.shape.count == 2 ? NDArray(shape: [20, 5], float32: randomArray(100, seed: 6)) : a
      })
    for (ref, expected) in [(dir + "/absent", "caml.reference '\(dir)/absent' does not exist"), (reference, "shape")] {
      let c = try EngineSchema.validate(
        bindings(dir + "/wide", ["train.loss": "caml", "caml.reference": .string(ref), "train.epochs": 1]))
      XCTAssertThrowsError(try train(config: c, runDir: dir + "/run-\(expected.count)", events: EventRecorder())) {
        XCTAssertTrue("\($0)".contains(expected), "\($0)")
      }
    }
    // Bindings are checked like every other.
    XCTAssertThrowsError(try EngineSchema.validate(["caml.clusters": 1])) {
      XCTAssertTrue("\($0)".contains("caml.clusters"), "\($0)")
    }
    XCTAssertThrowsError(try EngineSchema.validate(["train.loss": "arcface"]))
  }
}
