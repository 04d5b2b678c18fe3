import Foundation

/// Runs one `engine: eval` job: loads the checkpoint (or interpolates two,
/// θ = (1−α)·θ_A + α·θ_B over every parameter and BatchNorm buffer, in Float), builds the model
/// the checkpoint's metadata describes, evaluates it on the config's data exactly as a training
/// job evaluates its final epoch (same code, same batch size), and reports the metrics (as
/// epoch-0 metric events plus `done`), `predictions.npy` (test logits, [N, classes]) and the
/// per-example `margins.npy` and `correct.npy` (see `PerExampleOutputs`).
public struct Evaluator {
  public var config: EvalConfig
  public var runDir: String
  public var events: EventSink
  public var hooks: TrainHooks

  public init(config: EvalConfig, runDir: String, events: EventSink, hooks: TrainHooks = TrainHooks()) {
    self.config = config
    self.runDir = runDir
    self.events = events
    self.hooks = hooks
  }

  /// A checkpoint file to read: a path, or the newest valid checkpoint of a run directory.
  static func resolve(_ source: String, binding: String) throws(EngineError) -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
      let hint =
        source.contains("@")
        ? "; KEY@E010 / KEY@final / KEY@latest must be resolved to a path at submission" : ""
      throw EngineError(.config, "\(binding) '\(source)' does not exist\(hint)")
    }
    guard isDirectory.boolValue else { return source }
    guard let newest = Checkpoint.newestValid(runDir: source) else {
      throw EngineError(.config, "\(binding): no valid checkpoint in \(source)")
    }
    return newest.path
  }

  static func sourceBindings(_ file: SafeTensorsFile, path: String) throws(EngineError) -> [String: ConfigValue] {
    guard let text = file.metadata["config"], case .map(let bindings)? = try? ConfigValue.parse(json: text) else {
      throw EngineError(.format, "checkpoint \(path) has no config in its metadata")
    }
    return bindings
  }

  public func run() throws(EngineError) -> TrainResult {
    configureBLASThreads()
    let dir = runDir.hasPrefix("/") ? runDir : FileManager.default.currentDirectoryPath + "/" + runDir
    let pathA = try Self.resolve(config.checkpoint, binding: "eval.checkpoint")
    let fileA = try Checkpoint.read(pathA)
    let bindingsA = try Self.sourceBindings(fileA, path: pathA)
    var tensors = fileA.tensors
    var pathB: String?
    if let b = config.checkpointB {
      let path = try Self.resolve(b, binding: "eval.checkpoint_b")
      let fileB = try Checkpoint.read(path)
      let bindingsB = try Self.sourceBindings(fileB, path: path)
      let modelA = bindingsA.filter { $0.key.hasPrefix("model.") }
      let modelB = bindingsB.filter { $0.key.hasPrefix("model.") }
      guard modelA == modelB else {
        throw EngineError(
          .config,
          "eval.checkpoint \(pathA) and eval.checkpoint_b \(path) are different models (model.* bindings differ)")
      }
      tensors = try Self.interpolate(tensors, fileB.tensors, alpha: config.alpha)
      pathB = path
    }
    let train = try config.trainConfig(sourceBindings: bindingsA)
    let data = try PreparedData.load(for: train)
    let session = try TrainingSession(config: train, runDir: dir, dataset: data, events: events, hooks: hooks)
    try rethrowingEngineError("loading \(pathA)") { try session.model.load(tensors) }

    var metrics: [String: Double] = [:]
    let logits = session.evaluateAllCapturing(into: &metrics)
    if pathB != nil { metrics["alpha"] = config.alpha }
    var record: [String: ConfigValue] = [
      "checkpoint": .string(pathA), "epoch": .int(Int(fileA.metadata["epoch"] ?? "") ?? -1),
      "config": .map(train.bindings),
    ]
    if let pathB {
      record["checkpoint_b"] = .string(pathB)
      record["alpha"] = .double(config.alpha)
    }
    let predictions = dir + "/predictions.npy"
    try rethrowingEngineError("writing \(dir)") {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      try writeFileAtomically(dir + "/evaluated.json", Array((ConfigValue.map(record).json + "\n").utf8))
      try NPY.write(NDArray(shape: [data.dataset.test.count, data.dataset.classes], float32: logits), to: predictions)
    }
    let perExample = try PerExampleOutputs.write(
      logits: logits, labels: data.dataset.test.labels, classes: data.dataset.classes, directory: dir)
    for name in metrics.keys.sorted(by: metricOrder) {
      events.emit(.metric(name: name, value: metrics[name]!, epoch: 0, step: 0))
    }
    events.emit(.artifact(name: "predictions", path: predictions))
    for (name, path) in perExample { events.emit(.artifact(name: name, path: path)) }
    events.emit(.done(metrics: metrics))
    let summary = metrics.keys.filter { !$0.contains("_class_") }.sorted(by: metricOrder)
    hooks.log?(
      "evaluated \(pathA)" + (pathB.map { " ⊕ \($0) at α \(config.alpha)" } ?? "") + ": "
        + summary.map { "\($0) \(session.format(metrics[$0]!))" }.joined(separator: " "))
    return TrainResult(
      metrics: metrics, epoch: 0, step: 0, resumedFrom: nil, skippedCheckpoints: [], checkpoints: [],
      predictionsPath: predictions, stopped: false)
  }

  /// (1−α)·a + α·b for every float32 model tensor of `a` — parameters and BatchNorm buffers —
  /// computed in Float, so α = 0 gives `a` and α = 1 gives `b` exactly; the rest (optimizer
  /// moments, RNG states, which evaluation does not read) are taken from `a`.
  public static func interpolate(
    _ a: [String: NDArray], _ b: [String: NDArray], alpha: Double
  ) throws(EngineError) -> [String: NDArray] {
    let wa = Float(1 - alpha)
    let wb = Float(alpha)
    var out = a
    for (name, ta) in a {
      guard case .float32(let x) = ta.storage, !name.hasPrefix("optimizer.") else { continue }
      guard let tb = b[name], tb.shape == ta.shape, case .float32(let y) = tb.storage else {
        throw EngineError(
          .shape, "tensor '\(name)' of the first checkpoint has no float32 match of shape \(ta.shape) in the second")
      }
      var z = [Float](repeating: 0, count: x.count)
      for i in 0..<x.count { z[i] = wa * x[i] + wb * y[i] }
      out[name] = NDArray(shape: ta.shape, float32: z)
    }
    return out
  }
}
