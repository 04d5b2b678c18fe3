import Foundation
import XCTest

@testable import Engine

/// A job's config.json as the engine reads it: parsed, validated, its transforms checked and its
/// model planned and (when small) built for each dataset shape the engine ships, as a job would
/// before its first batch. A bad config is an EngineError, never a trap, a hang or an allocation
/// past `EngineLimits`. The seed corpus is `orch show KEY --json` of configs in sweeps/*.yaml, one
/// resolved_config.json of a resnet run, and the reported width of 2⁴⁰.
final class EngineConfigFuzzTests: XCTestCase {
  static let tokens = [
    "\"model.width\":", "\"model.depth\":", "\"model.kernel_size\":", "\"model.channel_growth\":",
    "\"model.blocks_per_stage\":", "\"model.arch\":\"resnet\"", "\"model.arch\":\"cnn\"", "\"train.batch_size\":",
    "\"train.epochs\":", "\"data.num_classes\":", "\"data.classes\":[", "\"data.block_shuffle\":",
    "\"data.augment.crop_padding\":", "\"lr_scheduler.name\":\"cyclic\"", "\"lr_scheduler.milestones\":[",
    "\"caml.clusters\":", "\"optimizer.base_lr\":", "\"engine\":\"eval\"", "NaN", "Infinity", "-Infinity", "1e999",
    "65536", "65537", "1024", "1048576", "1099511627776", "4611686018427387904", "268435456", "100000", "-2",
    "0.5", "true", "null",
  ]

  /// Per-sample shape, kind, class count and split sizes of the built-in and generated datasets.
  static let datasets: [(name: String, shape: [Int], kind: Dataset.Kind, classes: Int, train: Int, test: Int)] = [
    ("digits", [8, 8, 1], .images, 10, 1347, 450),
    ("mnist1d", [40], .images, 10, 4000, 1000),
    ("glyphs", GeneratedDatasets.sampleShape, .images, 64, 6400, 1280),
    ("waterbirds_feats", GeneratedDatasets.probe("waterbirds_feats").shape, .features, 2, 4795, 5794),
  ]

  func testEngineConfig() {
    // Every class id once: the duplicate check of a class list was quadratic (10¹⁰ steps here).
    let everyClass = (0..<ClassLabels.maxClasses).map(String.init).joined(separator: ",")
    let long = #"{"engine":"train","bindings":{"data.exclude_classes":[\#(everyClass)]}}"#
    Fuzz.run("engine-config", seeds: [long], tokens: Self.tokens) { input in
      let (engine, bindings) = try EngineSchema.parseJob(Fuzz.text(input))
      guard engine == "train" else {
        _ = try EvalConfig.validate(bindings)
        return
      }
      let config = try EngineSchema.validate(bindings)
      for data in Self.datasets { try Self.prepare(config, data) }
    }
  }

  /// Every corner of the model's bindings (each at the ends of its range) on every dataset shape:
  /// the mutations rarely reach several extremes at once. Each combination runs bounded, as one
  /// fuzz input does.
  func testCornersOfTheModelBindings() throws {
    let corners: [(String, [ConfigValue])] = [
      ("model.width", [1, 65536]), ("model.depth", [1, 1024]), ("model.kernel_size", [1, 1024]),
      ("model.stride", [1, 1024]), ("model.channel_growth", [1, 1024]), ("model.blocks_per_stage", [1, 1024]),
      ("train.batch_size", [1, 1_048_576]), ("data.num_classes", [0, 100_000]),
    ]
    var inputs: [String] = []
    for arch in Architecture.allCases {
      for index in 0..<(1 << corners.count) {
        var bindings: [String: ConfigValue] = ["model.arch": .string(arch.rawValue), "model.dropout": 0.5]
        for (bit, (name, values)) in corners.enumerated() { bindings[name] = values[(index >> bit) & 1] }
        inputs.append(ConfigValue.map(["engine": "train", "bindings": .map(bindings)]).json)
      }
    }
    // Each combination on one dataset shape, in turn: the shapes matter less than the bindings.
    Fuzz.run("engine-config-corners", seeds: inputs, tokens: []) { input in
      let config = try EngineSchema.validate(configJSON: Fuzz.text(input))
      try Self.prepare(config, Self.datasets[input.count % Self.datasets.count])
    }
  }

  /// What a job does with its config before training: the transforms against the data, the model
  /// planned within the bounds and built when small, the optimizer, the schedule over every epoch.
  static func prepare(
    _ config: TrainConfig, _ data: (name: String, shape: [Int], kind: Dataset.Kind, classes: Int, train: Int, test: Int)
  ) throws {
    let classes = config.numClasses > 0 ? config.numClasses : data.classes
    let transforms = config.transforms
    if (try? transforms.check(sampleShape: data.shape, kind: data.kind, dataName: data.name, classes: classes)) != nil {
      if transforms.subsetsClasses { _ = try transforms.keptClasses(classCount: classes) }
      if data.kind == .images && data.shape.count == 3 { _ = try transforms.permutation(sampleShape: data.shape) }
    }
    if data.kind == .images && config.cropPadding + (config.flip ? 1 : 0) > 0 {
      let size = data.shape.reduce(1, *)
      let (h, w, c) = data.shape.count == 3 ? (data.shape[0], data.shape[1], data.shape[2]) : (1, size, 1)
      let source = [Float](repeating: 1, count: size)
      var out = [Float](repeating: 0, count: size)
      var rng = RNG(seed: config.seed, stream: 3)
      Augmentation(cropPadding: config.cropPadding, flip: config.flip).apply(
        to: &out, from: source, height: h, width: w, channels: c, rng: &rng)
    }
    _ = try? config.checkModel(sampleShape: data.shape, classes: classes)
    let maxBatch = max(1, min(config.batchSize, data.train), min(config.effectiveEvalBatchSize, data.test))
    let spec = config.modelSpec(inputShape: data.shape, classes: classes)
    if let plan = try? spec.plan(maxBatch: maxBatch) {
      precondition(plan.parameterCount <= EngineLimits.maxParameters)
      precondition(plan.workspaceBytes <= EngineLimits.maxWorkspaceBytes)
      // Small models are built too (what is larger would take the fuzzer's time, not find more).
      if plan.parameterCount <= 1 << 18 && plan.workspaceBytes <= 64 << 20 {
        var rng = RNG(seed: config.seed)
        let model = try Model(spec: spec, maxBatch: maxBatch, rng: &rng)
        precondition(model.layout.count == plan.parameterCount && model.workspaceBytes == plan.workspaceBytes)
        _ = Optimizer(config.optimizerConfig, parameterCount: model.layout.count)
      }
    }
    let perEpoch = (data.train + config.batchSize - 1) / config.batchSize
    for step in [0, perEpoch / 2, perEpoch, config.epochs * perEpoch / 2, config.epochs * perEpoch] {
      _ = config.schedule.learningRate(base: Float(config.baseLR), step: step, stepsPerEpoch: perEpoch)
    }
  }
}
