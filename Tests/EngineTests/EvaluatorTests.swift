import XCTest

@testable import Engine

/// `engine: eval`: a checkpoint, or the interpolation of two, evaluated like a training job's
/// final epoch.
final class EvaluatorTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws {
    dir = try temporaryDirectory()
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: dir)
  }

  /// A small digits MLP with BatchNorm (so buffers are interpolated too), 2 epochs.
  func train(seed: Int, _ name: String) throws -> (runDir: String, result: TrainResult) {
    let c = try EngineSchema.validate([
      "data.name": "digits", "model.arch": "mlp", "model.width": 32, "model.depth": 1, "model.batch_norm": true,
      "train.epochs": 2, "train.batch_size": 32, "train.eval_batch_size": 100, "optimizer.base_lr": 0.05,
      "train.checkpoint_every": 1, "train.seed": .int(seed),
    ])
    let runDir = dir + "/" + name
    return (runDir, try Trainer(config: c, runDir: runDir, events: EventRecorder()).run())
  }

  func evaluate(_ bindings: [String: ConfigValue], _ name: String) throws -> (
    result: TrainResult, logits: [UInt32], events: EventRecorder
  ) {
    let events = EventRecorder()
    let result = try Evaluator(config: EvalConfig.validate(bindings), runDir: dir + "/" + name, events: events).run()
    let logits = try NPY.read(XCTUnwrap(result.predictionsPath)).floats().map(\.bitPattern)
    return (result, logits, events)
  }

  func logits(_ runDir: String) throws -> [UInt32] {
    try NPY.read(runDir + "/predictions.npy").floats().map(\.bitPattern)
  }

  /// The evaluation metrics of a training result (its final test/val metrics).
  func evaluationMetrics(_ m: [String: Double]) -> [String: Double] {
    m.filter { $0.key.hasPrefix("test_") || $0.key.hasPrefix("val_") }
  }

  func testInterpolationEndpointsReproduceEachModelsFinalEvaluationBitForBit() throws {
    let a = try train(seed: 0, "a")
    let b = try train(seed: 1, "b")
    let finalA = Checkpoint.path(runDir: a.runDir, epoch: 2)
    let finalB = Checkpoint.path(runDir: b.runDir, epoch: 2)
    XCTAssertNotEqual(try logits(a.runDir), try logits(b.runDir), "two different models")

    let alone = try evaluate(["eval.checkpoint": .string(finalA)], "alone")
    XCTAssertEqual(alone.result.metrics, evaluationMetrics(a.result.metrics))
    XCTAssertEqual(alone.logits, try logits(a.runDir))

    for (alpha, source) in [(0.0, a), (1.0, b)] {
      let e = try evaluate(
        ["eval.checkpoint": .string(finalA), "eval.checkpoint_b": .string(finalB), "eval.alpha": .double(alpha)],
        "alpha\(alpha)")
      var expected = evaluationMetrics(source.result.metrics)
      expected["alpha"] = alpha
      XCTAssertEqual(e.result.metrics, expected, "α = \(alpha)")
      XCTAssertEqual(e.logits, try logits(source.runDir), "α = \(alpha)")
      XCTAssertEqual(e.events.metric("alpha"), [alpha])
      guard case .done(let done)? = e.events.events.last else { return XCTFail("last event is not done") }
      XCTAssertEqual(done, e.result.metrics)
    }

    let middle = try evaluate(
      ["eval.checkpoint": .string(finalA), "eval.checkpoint_b": .string(finalB), "eval.alpha": 0.5], "middle")
    XCTAssertNotEqual(middle.logits, try logits(a.runDir))
    XCTAssertNotEqual(middle.logits, try logits(b.runDir))
    XCTAssertNotNil(middle.result.metrics["test_acc_class_9"])
    XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/middle/evaluated.json"))
  }

  func testInterpolationIsLinearInEveryFloatTensor() throws {
    let a: [String: NDArray] = [
      "w": NDArray(shape: [3], float32: [1, -2, 4]), "rng.x": NDArray(shape: [1], int64: [7]),
    ]
    let b: [String: NDArray] = [
      "w": NDArray(shape: [3], float32: [3, 2, 0]), "rng.x": NDArray(shape: [1], int64: [9]),
    ]
    let mid = try Evaluator.interpolate(a, b, alpha: 0.25)
    XCTAssertEqual(mid["w"]?.floats(), [1.5, -1, 3])
    XCTAssertEqual(mid["rng.x"], a["rng.x"])
    XCTAssertThrowsError(try Evaluator.interpolate(a, ["rng.x": b["rng.x"]!], alpha: 0.5))
  }

  func testEpochZeroDiffersFromLatestAndARunDirectoryMeansItsNewestCheckpoint() throws {
    let a = try train(seed: 0, "a")
    let start = try evaluate(["eval.checkpoint": .string(Checkpoint.path(runDir: a.runDir, epoch: 0))], "e0")
    let latest = try evaluate(["eval.checkpoint": .string(a.runDir)], "latest")
    XCTAssertNotEqual(start.logits, latest.logits)
    XCTAssertNotEqual(start.result.metrics["test_loss"], latest.result.metrics["test_loss"])
    XCTAssertEqual(latest.logits, try logits(a.runDir))
    XCTAssertGreaterThan(latest.result.metrics["test_acc"]!, start.result.metrics["test_acc"]!)
  }

  func testDataBindingsOverrideTheCheckpointsOwn() throws {
    let a = try train(seed: 0, "a")
    let patched = try evaluate(
      ["eval.checkpoint": .string(a.runDir), "spurious.type": "square", "spurious.classes": [3]], "patched")
    XCTAssertNotEqual(patched.logits, try logits(a.runDir))
    // Only class-3 images carry the patch: other classes' logits are the model's own.
    let own = try logits(a.runDir)
    let labels = try NPY.read(DataLocation.resolve("digits") + "/test_y.npy").integers()
    for i in 0..<labels.count where labels[i] != 3 {
      XCTAssertEqual(Array(patched.logits[(i * 10)..<(i * 10 + 10)]), Array(own[(i * 10)..<(i * 10 + 10)]))
    }
  }

  func testBadEvalConfigsAreRejected() throws {
    func message(_ bindings: [String: ConfigValue]) -> String {
      do {
        _ = try EvalConfig.validate(bindings)
        return "accepted"
      } catch {
        return error.message
      }
    }
    XCTAssertTrue(message([:]).contains("needs 'eval.checkpoint'"))
    XCTAssertTrue(message(["eval.checkpoint": "x", "model.arch": "cnn"]).contains("'model.arch' does not apply"))
    XCTAssertTrue(message(["eval.checkpoint": "x", "eval.alpha": 0.5]).contains("needs 'eval.checkpoint_b'"))
    XCTAssertTrue(message(["eval.checkpoint": "x", "eval.alpah": 0.5]).contains("did you mean 'eval.alpha'"))
    XCTAssertEqual(message(["eval.checkpoint": "x", "data.name": "glyphs", "seed": 3]), "accepted")
    XCTAssertThrowsError(try EngineSchema.validate(["eval.checkpoint": "x"]), "eval.* in a training config")
    XCTAssertThrowsError(
      try Evaluator(
        config: EvalConfig.validate(["eval.checkpoint": "k@E001"]), runDir: dir + "/x", events: EventRecorder()
      ).run()
    ) { XCTAssertTrue("\($0)".contains("resolved to a path"), "\($0)") }
  }
}
