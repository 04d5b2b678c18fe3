import Foundation
import XCTest

@testable import Engine

/// The select step: a training job reads its candidates' checkpoints, takes the best one's
/// bindings and records the choice.
final class SelectStepTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws {
    dir = try temporaryDirectory()
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: dir)
  }

  func bindings(lr: Double, epochs: Int = 2) -> [String: ConfigValue] {
    [
      "data.name": "digits", "model.arch": "mlp", "model.width": 16, "model.depth": 1, "train.epochs": .int(epochs),
      "train.batch_size": 64, "optimizer.base_lr": .double(lr), "train.checkpoint_every": 0,
    ]
  }

  /// Trains a small digits MLP; returns its final checkpoint and test accuracy.
  func tune(lr: Double, _ name: String) throws -> (checkpoint: String, testAcc: Double) {
    let runDir = dir + "/" + name
    let result = try Trainer(config: EngineSchema.validate(bindings(lr: lr)), runDir: runDir, events: EventRecorder())
      .run()
    return (Checkpoint.path(runDir: runDir, epoch: 2), try XCTUnwrap(result.metrics["test_acc"]))
  }

  func testACopyTrainsWithTheBestCandidatesBindingAndRecordsTheChoice() throws {
    // A learning rate far too small against a reasonable one: the second wins on test_acc.
    let slow = try tune(lr: 1e-5, "slow")
    let good = try tune(lr: 0.1, "good")
    XCTAssertGreaterThan(good.testAcc, slow.testAcc)

    var copy = bindings(lr: 0.5, epochs: 1)
    copy["select.from"] = [.string(slow.checkpoint), .string(good.checkpoint)]
    copy["select.bindings"] = ["optimizer.base_lr"]
    let config = try EngineSchema.validate(copy)
    XCTAssertEqual(config.selectMetric, "test_acc")
    let events = EventRecorder()
    var lines: [String] = []
    var hooks = TrainHooks()
    hooks.log = { lines.append($0) }
    let runDir = dir + "/copy"
    _ = try Trainer(config: config, runDir: runDir, events: events, hooks: hooks).run()

    // The run trained with lr 0.1, and says so in its resolved config, log and metrics.
    let resolved = try ConfigValue.parse(
      json: String(decoding: try readFile(runDir + "/resolved_config.json"), as: UTF8.self))
    guard case .map(let object) = resolved, case .map(let b)? = object["bindings"],
      case .map(let selected)? = object["selected"]
    else { return XCTFail("resolved_config.json: \(resolved)") }
    XCTAssertEqual(b["optimizer.base_lr"], .double(0.1))
    XCTAssertEqual(selected["index"], .int(1))
    XCTAssertEqual(selected["checkpoint"], .string(good.checkpoint))
    XCTAssertEqual(selected["value"], .double(good.testAcc))
    XCTAssertEqual(selected["bindings"], .map(["optimizer.base_lr": .double(0.1)]))
    XCTAssertTrue(
      lines.contains { $0.hasPrefix("select: test_acc") && $0.contains("optimizer.base_lr=0.1") }, "\(lines)")
    let metrics = events.events.compactMap { e -> (String, Double)? in
      if case .metric(let name, let value, 0, _) = e, name.hasPrefix("select_") { return (name, value) }
      return nil
    }
    XCTAssertEqual(metrics.map(\.0), ["select_index", "select_value"])
    XCTAssertEqual(metrics.map(\.1), [1, good.testAcc])
    // The checkpoint carries the selected config, so an evaluation of it builds the same model.
    let final = try Checkpoint.read(Checkpoint.path(runDir: runDir, epoch: 1))
    XCTAssertTrue(final.metadata["config"]!.contains("\"optimizer.base_lr\":0.1"))
    let eval = try EvalConfig.validate(["eval.checkpoint": .string(runDir)])
    _ = try Evaluator(config: eval, runDir: dir + "/eval", events: EventRecorder()).run()

    // Lower is better for a loss; ties go to the earlier candidate.
    let byLoss = try SelectStep.choose(
      from: [slow.checkpoint, good.checkpoint], metric: "test_loss", bindings: ["optimizer.base_lr"])
    XCTAssertEqual(byLoss.index, 1)
    let tie = try SelectStep.choose(
      from: [good.checkpoint, good.checkpoint], metric: "test_acc", bindings: ["optimizer.base_lr"])
    XCTAssertEqual(tie.index, 0)
  }

  func testBadSelectionsAreClearErrors() throws {
    let a = try tune(lr: 0.1, "a")
    func fails(_ body: () throws -> Void, _ expected: String, line: UInt = #line) {
      do {
        try body()
        XCTFail("expected an error containing \(expected)", line: line)
      } catch {
        XCTAssertTrue("\(error)".contains(expected), "\(error)", line: line)
      }
    }
    fails(
      { _ = try SelectStep.choose(from: [a.checkpoint], metric: "val_acc", bindings: []) }, "has no metric 'val_acc'")
    fails({ _ = try SelectStep.choose(from: [], metric: "test_acc", bindings: []) }, "select.from is empty")
    fails(
      { _ = try SelectStep.choose(from: [a.checkpoint], metric: "test_acc", bindings: ["init"]) },
      "select.bindings names 'init', which select.from[0]")
    // E000 is saved before any evaluation.
    fails(
      {
        _ = try SelectStep.choose(
          from: [Checkpoint.path(runDir: dir + "/a", epoch: 0)], metric: "test_acc", bindings: [])
      },
      "carries no metrics")
    fails(
      { _ = try SelectStep.choose(from: [dir + "/missing@final"], metric: "test_acc", bindings: []) },
      "select.from[0] '\(dir)/missing@final' does not exist")

    // Checked when the config is validated (at submission).
    var b = bindings(lr: 0.1)
    b["select.from"] = []
    b["select.bindings"] = ["optimizer.base_lr"]
    fails({ _ = try EngineSchema.validate(b) }, "binding 'select.from' is empty")
    b["select.from"] = ["x@final"]
    b["select.bindings"] = ["optimizer.base_l"]
    fails({ _ = try EngineSchema.validate(b) }, "did you mean 'optimizer.base_lr'?")
    b["select.bindings"] = []
    fails({ _ = try EngineSchema.validate(b) }, "binding 'select.bindings' is empty")
    b["select.from"] = nil
    b["select.metric"] = "test_acc"
    fails({ _ = try EngineSchema.validate(b) }, "binding 'select.metric' needs 'select.from'")
    fails(
      { _ = try EvalConfig.validate(["eval.checkpoint": "x@final", "select.from": ["y@final"]]) },
      "binding 'select.from' does not apply to `engine: eval`")
  }
}
