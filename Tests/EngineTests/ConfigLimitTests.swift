import Foundation
import XCTest

@testable import Engine

/// Every numeric binding has a range the schema checks (so `orch submit` and the engine refuse the
/// same values), and every size the model multiplies out is checked against `EngineLimits` before
/// it can overflow or be allocated: a hostile config is an error naming what is wrong, never a trap.
final class ConfigLimitTests: XCTestCase {
  func problem(_ name: String, _ value: ConfigValue) -> String? {
    do {
      _ = try EngineSchema.check(name: name, value: value)
      return nil
    } catch {
      return error.message
    }
  }

  func validation(_ bindings: [String: ConfigValue]) -> String? {
    do {
      _ = try EngineSchema.validate(bindings)
      return nil
    } catch {
      return error.message
    }
  }

  func testEveryNumberAndListBindingHasADocumentedRange() {
    for spec in EngineSchema.bindings + EngineSchema.evalBindings {
      switch spec.kind {
      case .int, .double, .intList, .stringList:
        XCTAssertFalse(spec.rangeText.isEmpty, spec.name)
        XCTAssertTrue(
          EngineSchema.documentation.contains("| `\(spec.name)` | "), "\(spec.name) is documented")
        XCTAssertTrue(
          EngineSchema.documentation.contains(" | \(spec.rangeText) | "), "\(spec.name)'s range is documented")
      default:
        break
      }
      if spec.kind == .int, !spec.name.hasSuffix("seed") {
        XCTAssertNotNil(spec.range, "\(spec.name): every integer but a seed has bounds")
      }
    }
  }

  /// data/README.md holds the schema's table, so the documented ranges are the checked ones.
  func testTheReadmeTableIsTheSchemas() throws {
    let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("data/README.md")
    let text = try String(contentsOf: readme, encoding: .utf8)
    XCTAssertTrue(text.contains(EngineSchema.documentation), "data/README.md's binding table is out of date")
  }

  func testIntegerBindingsRefuseValuesPastTheirRangeNamingBindingValueAndRange() throws {
    var checked = 0
    for spec in EngineSchema.bindings where spec.kind == .int {
      guard case .integers(let r)? = spec.range else { continue }
      XCTAssertNil(problem(spec.name, .int(r.lowerBound)), spec.name)
      XCTAssertNil(problem(spec.name, .int(r.upperBound)), spec.name)
      if r.upperBound < Int.max {
        let over = r.upperBound + 1
        XCTAssertEqual(
          problem(spec.name, .int(over)),
          "binding '\(spec.name)' expects a value in \(r.lowerBound)…\(r.upperBound), got the integer \(over)")
        XCTAssertEqual(
          problem(spec.name, .int(Int.max)),
          "binding '\(spec.name)' expects a value in \(r.lowerBound)…\(r.upperBound), got the integer \(Int.max)")
      }
      let under = problem(spec.name, .int(r.lowerBound - 1)) ?? ""
      XCTAssertTrue(under.hasPrefix("binding '\(spec.name)' expects a value "), under)
      XCTAssertTrue(under.hasSuffix("got the integer \(r.lowerBound - 1)"), under)
      checked += 1
    }
    XCTAssertGreaterThanOrEqual(checked, 17)
    // The reported case: a width of 2⁴⁰ trapped in the model's layout.
    XCTAssertEqual(
      validation(["data.name": "digits", "model.width": 1_099_511_627_776]),
      "binding 'model.width' expects a value in 1…65536, got the integer 1099511627776")
    for (name, value, range) in [
      ("train.epochs", 1 << 62, "0…1000000"), ("train.batch_size", 1 << 40, "1…1048576"),
      ("model.depth", 1025, "1…1024"), ("model.kernel_size", 1 << 50, "1…1024"),
      ("model.channel_growth", 1 << 33, "1…1024"), ("data.augment.crop_padding", 1 << 62, "0…65536"),
      ("data.block_shuffle", Int.max, "0…65536"), ("caml.clusters", 1 << 40, "2…1024"),
      ("caml.restarts", 1 << 40, "1…1000"), ("lr_scheduler.step_size", Int.max, "1…1000000"),
      ("train.checkpoint_every", 1 << 60, "0…1000000"),
    ] {
      let message = validation([name: .int(value)]) ?? ""
      for part in ["'\(name)'", String(value), range] { XCTAssertTrue(message.contains(part), "\(part) in \(message)") }
    }
  }

  func testFloatBindingsRefuseNaNAndInfinityNamingTheBinding() {
    var checked = 0
    for spec in EngineSchema.bindings + EngineSchema.evalBindings where spec.kind == .double {
      for (value, shown) in [(Double.nan, "nan"), (.infinity, "inf"), (-.infinity, "-inf"), (1e39, "1e+39")] {
        XCTAssertEqual(
          problem(spec.name, .double(value)),
          "binding '\(spec.name)' expects a finite number (at most 3.4e38 in magnitude), got the number \(shown)")
      }
      checked += 1
    }
    XCTAssertGreaterThanOrEqual(checked, 20)
    // Finite values keep their ranges.
    XCTAssertEqual(
      problem("optimizer.base_lr", -0.5), "binding 'optimizer.base_lr' expects a value ≥ 0, got the number -0.5")
    XCTAssertEqual(
      problem("lr_scheduler.peak_epoch", 2e6),
      "binding 'lr_scheduler.peak_epoch' expects a value in [0, 1000000], got the number 2000000.0")
    XCTAssertNil(problem("optimizer.weight_decay", 3e38))
  }

  /// Python's json writes NaN and Infinity; a config.json holding them fails naming the binding.
  func testNonFiniteJSONNumbersAreRefusedByBinding() throws {
    for (text, shown) in [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf"), ("1e999", "inf")] {
      let json = #"{"engine":"train","bindings":{"optimizer.weight_decay":\#(text),"model.width":8}}"#
      XCTAssertThrowsError(try EngineSchema.validate(configJSON: json)) { error in
        XCTAssertEqual(
          (error as? EngineError)?.message,
          "binding 'optimizer.weight_decay' expects a finite number (at most 3.4e38 in magnitude), got the number"
            + " \(shown)")
      }
    }
    guard case .list(let items) = try ConfigValue.parse(json: "[NaN, Infinity, -Infinity, -1e999, 1]") else {
      return XCTFail("not a list")
    }
    XCTAssertTrue(items[0].number?.isNaN == true)
    XCTAssertEqual(items.dropFirst().map(\.number), [.infinity, -.infinity, -.infinity, 1])
    XCTAssertThrowsError(try ConfigValue.parse(json: "-Inf"))
    XCTAssertThrowsError(try ConfigValue.parse(json: "Nan"))
  }

  func testListBindingsRefuseEntriesPastTheirRangeAndTooManyEntries() {
    XCTAssertEqual(
      validation(["data.classes": [3, 100_000]]), "binding 'data.classes' expects class ids in 0…99999, got 100000")
    XCTAssertEqual(
      validation(["data.exclude_classes": [.int(Int.max)]]),
      "binding 'data.exclude_classes' expects class ids in 0…99999, got \(Int.max)")
    XCTAssertEqual(
      validation(["spurious.classes": [.int(1 << 62)]]),
      "binding 'spurious.classes' expects class indices in 0…99999, got \(1 << 62)")
    XCTAssertEqual(
      validation(["lr_scheduler.milestones": [-1]]), "binding 'lr_scheduler.milestones' expects epochs ≥ 0, got -1")
    XCTAssertEqual(
      validation(["lr_scheduler.milestones": [10, 1_000_001]]),
      "binding 'lr_scheduler.milestones' expects epochs in 0…1000000, got 1000001")
    let many = ConfigValue.list((0...100_000).map { .int($0 % 7) })
    XCTAssertEqual(
      validation(["lr_scheduler.milestones": many]),
      "binding 'lr_scheduler.milestones' expects a list of at most 100000 entries, got a list of 100001")
    XCTAssertEqual(
      problem("select.bindings", .list((0...100_000).map { _ in "optimizer.base_lr" })),
      "binding 'select.bindings' expects a list of at most 100000 entries, got a list of 100001")
    // Every class id once: accepted by the schema (the data decides whether they exist), in
    // linear time — the duplicate check was quadratic.
    let all = ConfigValue.list((0..<ClassLabels.maxClasses).map { .int($0) })
    XCTAssertNil(validation(["data.classes": all]))
    XCTAssertEqual(
      validation(["data.exclude_classes": [4, 7, 7, 4]]), "binding 'data.exclude_classes' lists class 4 more than once")
  }

  // MARK: Model sizes

  func modelError(_ spec: ModelSpec, maxBatch: Int = 1) -> String? {
    var rng = RNG(seed: 0)
    do {
      _ = try Model(spec: spec, maxBatch: maxBatch, rng: &rng)
      return nil
    } catch {
      return "\(error)"
    }
  }

  /// Specs built without the schema (the Swift API) are held to its ranges too; before, a width of
  /// 2⁴⁰ trapped in `ParameterLayout.add`.
  func testModelSpecsPastTheSchemasRangesAreErrors() {
    let mlp = ModelSpec(architecture: .mlp, inputShape: [64], classes: 10, width: 1 << 40)
    XCTAssertEqual(
      modelError(mlp), "while building model mlp: width must be at most 65536, got 1099511627776")
    var cnn = ModelSpec(architecture: .cnn, inputShape: [8, 8, 1], classes: 10, width: 8, kernelSize: Int.max)
    XCTAssertTrue(modelError(cnn)?.contains("kernel size must be at most 1024") == true)
    cnn.kernelSize = 3
    cnn.inputShape = [1 << 40, 1 << 40, 3]
    XCTAssertTrue(modelError(cnn)?.contains("input shape [1099511627776, 1099511627776, 3] has more than") == true)
    XCTAssertTrue(modelError(cnn, maxBatch: 0)?.contains("input shape") == true)
  }

  /// Within every binding's range, products still pass the bounds: each is an error naming the
  /// layer, found while the graph is planned, before any of it is allocated.
  func testModelsPastTheParameterBoundAreErrorsNamingTheLayer() throws {
    let cases: [(ModelSpec, [String])] = [
      (
        ModelSpec(architecture: .mlp, inputShape: [64], classes: 10, width: 65536, depth: 2),
        ["fc2.weight of shape [65536, 65536]", "more than 268435456 (2^28", "lower model.width"]
      ),
      (
        ModelSpec(architecture: .mlp, inputShape: [64], classes: 100_000, width: 4096, depth: 1),
        ["head.weight of shape [100000, 4096]"]
      ),
      // Channels grow by 1024 per block: the product passes 2⁶³ by block 8 unless stopped.
      (
        ModelSpec(
          architecture: .cnn, inputShape: [8, 8, 1], classes: 10, width: 65536, depth: 1024, kernelSize: 1024,
          channelGrowth: 1024),
        ["conv1.weight of shape [65536, 1024, 1024, 1]"]
      ),
      (
        ModelSpec(
          architecture: .cnn, inputShape: [1, 1, 1], classes: 10, width: 1024, depth: 1024, kernelSize: 1,
          pool: false, channelGrowth: 1024),
        ["conv2.weight of shape [1048576, 1, 1, 1024]"]
      ),
      // Stages double the channels: `width << (stage − 1)` was 0 past stage 64.
      (
        ModelSpec(
          architecture: .resnet, inputShape: [4, 4, 3], classes: 10, width: 65536, depth: 1024),
        ["stage1.block0.conv1.weight of shape [65536, 3, 3, 65536]", "2^28"]
      ),
      (
        ModelSpec(architecture: .resnet, inputShape: [2, 2, 1], classes: 10, width: 1, depth: 1024),
        ["stage", ".weight of shape", "more than 268435456"]
      ),
    ]
    for (spec, parts) in cases {
      let message = modelError(spec) ?? "built"
      for part in parts { XCTAssertTrue(message.contains(part), "'\(part)' in: \(message)") }
      XCTAssertThrowsError(try spec.plan(maxBatch: 1))
    }
  }

  /// Depth × blocks within their ranges can still make a million layers: planning stops at the
  /// op bound, quickly, with the bindings to lower.
  func testGraphsPastTheOpBoundAreErrors() throws {
    let deep = ModelSpec(
      architecture: .resnet, inputShape: [2, 2, 1], classes: 10, width: 1, depth: 1024, blocksPerStage: 1024)
    let message = modelError(deep) ?? "built"
    XCTAssertTrue(message.contains("the model has more than 8192 layers"), message)
    XCTAssertTrue(message.contains("lower model.depth or model.blocks_per_stage"), message)
    // The deepest mlp, with every optional op, is within it.
    let mlp = ModelSpec(
      architecture: .mlp, inputShape: [4], classes: 2, width: 1, depth: 1024, dropout: 0.5, batchNorm: true)
    XCTAssertNoThrow(try mlp.plan(maxBatch: 1))
  }

  func testWorkspacePastItsBoundIsAnErrorNamingTheBatch() throws {
    let wide = ModelSpec(architecture: .mlp, inputShape: [64], classes: 10, width: 65536, depth: 1)
    XCTAssertNoThrow(try wide.plan(maxBatch: 1024))
    let message = modelError(wide, maxBatch: EngineLimits.maxBatchSize) ?? "built"
    for part in ["workspace for a batch of 1048576", "passes 8 GiB", "65536", "lower train.batch_size"] {
      XCTAssertTrue(message.contains(part), "'\(part)' in: \(message)")
    }
    // A large kernel on a small image: the im2col columns of one sample.
    let columns = ModelSpec(
      architecture: .cnn, inputShape: [64, 64, 1], classes: 10, width: 1, depth: 1, kernelSize: 1024)
    let text = modelError(columns) ?? "built"
    XCTAssertTrue(text.contains("passes 8 GiB at the im2col columns of conv1 for one sample (65×65×1048576"), text)
    // A model at the bounds' edge is planned, not built: nothing past them is allocated.
    XCTAssertThrowsError(
      try ModelSpec(architecture: .linear, inputShape: [1 << 30], classes: 4).plan(maxBatch: 2))
  }

  /// `plan` is what `Model` allocates.
  func testThePlanIsWhatTheModelAllocates() throws {
    let specs = [
      ModelSpec(architecture: .mlp, inputShape: [64], classes: 10, width: 32, depth: 2, dropout: 0.1, batchNorm: true),
      ModelSpec(architecture: .cnn, inputShape: [8, 8, 1], classes: 10, width: 8, depth: 3),
      ModelSpec(architecture: .resnet, inputShape: [8, 8, 3], classes: 5, width: 4, depth: 2, blocksPerStage: 2),
      ModelSpec(architecture: .linear, inputShape: [40], classes: 3, cosineScale: 8),
    ]
    for spec in specs {
      var rng = RNG(seed: 1)
      let model = try Model(spec: spec, maxBatch: 7, rng: &rng)
      let plan = try spec.plan(maxBatch: 7)
      XCTAssertEqual(plan.parameterCount, model.layout.count)
      XCTAssertEqual(plan.bufferCount, model.bufferLayout.count)
      XCTAssertEqual(plan.workspaceBytes, model.workspaceBytes)
    }
  }

  func testLayoutRefusesEntriesPastItsLimitBeforeOverflowing() throws {
    var layout = ParameterLayout()
    XCTAssertEqual(try layout.add("a", [3, 5]), 0)
    XCTAssertThrowsError(try layout.add("b", [1 << 40, 1 << 40])) { error in
      XCTAssertEqual(
        (error as? EngineError)?.message,
        "b of shape [1099511627776, 1099511627776] makes the model's parameters more than 268435456 (2^28, 1 GiB of"
          + " float32)")
    }
    XCTAssertThrowsError(try layout.add("c", [Int.max, 0, -1]))
    XCTAssertThrowsError(try layout.add("d", [EngineLimits.maxParameters]))
    XCTAssertEqual(try layout.add("e", [EngineLimits.maxParameters - 16]), 16)
    XCTAssertEqual(layout.count, EngineLimits.maxParameters)
    XCTAssertEqual(layout.entries.map(\.name), ["a", "e"])
  }

  // MARK: The engine and the submission

  /// What only the data decides — the input size, the class count — is checked when the model is
  /// built: the trainer fails with the message, before allocating anything.
  func testTheTrainerRefusesAModelTooLargeForItsData() throws {
    let wide = try EngineSchema.validate([
      "model.arch": "mlp", "model.width": 65536, "model.depth": 1, "train.epochs": 1, "train.batch_size": 2,
    ])
    let n = 4
    let features = 8192  // 8192 × 65536 inputs to the first layer: 2^29 parameters
    let split = Split(name: "train", inputs: [Float](repeating: 0.5, count: n * features), labels: [0, 1, 0, 1])
    let data = Dataset(name: "wide", kind: .features, sampleShape: [features], classes: 2, train: split, test: split)
    let dir = NSTemporaryDirectory() + "orch-limits-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    XCTAssertThrowsError(try Trainer(config: wide, runDir: dir, events: EventRecorder(), dataset: data).run()) {
      let message = "\($0)"
      XCTAssertTrue(message.contains("fc1.weight of shape [65536, 8192]"), message)
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/checkpoints/ckpt-E000.safetensors"))
    // The submission's check from the header alone, without the class count: the smallest head.
    XCTAssertThrowsError(try wide.checkModel(sampleShape: [features], classes: nil)) {
      let message = "\($0)"
      XCTAssertTrue(message.hasPrefix("while checking the mlp model for input [8192] and at least 2 classes"), message)
    }
    XCTAssertNoThrow(try wide.checkModel(sampleShape: [64], classes: 10))
  }

  /// A batch larger than the split asks for no more memory than the split: before, the loader
  /// held batch_size rows (2²⁰ × 64 floats for a 4-sample split).
  func testTheBatchBuffersAreNoLargerThanTheSplit() {
    let split = Split(name: "train", inputs: (0..<(4 * 64)).map(Float.init), labels: [0, 1, 2, 3])
    var loader = BatchLoader(split: split, sampleShape: [64], batchSize: EngineLimits.maxBatchSize)
    XCTAssertEqual(loader.inputs.count, 4 * 64)
    XCTAssertEqual(loader.labels.count, 4)
    XCTAssertEqual(loader.batchesPerEpoch, 1)
    var rng = RNG(seed: 0)
    XCTAssertEqual(loader.load(batch: 0, rng: &rng), 4)
    XCTAssertEqual(loader.inputs, split.inputs)
  }
}
