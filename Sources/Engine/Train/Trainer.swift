import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Trains one config in one run directory, resuming from the newest valid checkpoint there.
///
/// Determinism: initialisation, shuffling, dropout and augmentation draw from separate streams
/// of `train.seed` (0, 1, 2, 3); checkpoints are taken at epoch boundaries with the parameters,
/// BatchNorm statistics, optimizer moments and all RNG states, so a run resumed from epoch E
/// ends bit-for-bit where an uninterrupted one does (with a fixed BLAS thread count; one thread
/// is what the workers use). CAML's margin noise of step s draws from stream 1000 + s, so it
/// needs no saved state; its clusters are recomputed (seeded) at every start.
public struct Trainer {
  public var config: TrainConfig
  public var runDir: String
  public var events: EventSink
  public var hooks: TrainHooks
  /// Pre-loaded data (already normalised as wanted; the config's transforms still apply); nil
  /// loads `config.dataName`.
  public var dataset: Dataset?

  public init(
    config: TrainConfig, runDir: String, events: EventSink, hooks: TrainHooks = TrainHooks(), dataset: Dataset? = nil
  ) {
    self.config = config
    self.runDir = runDir
    self.events = events
    self.hooks = hooks
    self.dataset = dataset
  }

  public func run() throws(EngineError) -> TrainResult {
    configureBLASThreads()
    var config = self.config
    // The select step runs first: the bindings it copies (a learning rate…) shape everything after.
    if let selected = try SelectStep.apply(to: config), let choice = selected.selection {
      config = selected
      hooks.log?(SelectStep.describe(choice))
      events.emit(.metric(name: "select_index", value: Double(choice.index), epoch: 0, step: 0))
      events.emit(.metric(name: "select_value", value: choice.chosen.value, epoch: 0, step: 0))
    }
    let dir = runDir.hasPrefix("/") ? runDir : FileManager.default.currentDirectoryPath + "/" + runDir
    let data: PreparedData
    if let dataset {
      data = try PreparedData.prepare(dataset, config: config.transforms, normalize: false)
    } else {
      data = try PreparedData.load(for: config)
    }
    let session = try TrainingSession(config: config, runDir: dir, dataset: data, events: events, hooks: hooks)
    return try session.run()
  }
}

/// Runs one training job: see `Trainer`.
public func train(
  config: TrainConfig, runDir: String, events: EventSink, hooks: TrainHooks = TrainHooks()
) throws(EngineError) -> TrainResult {
  try Trainer(config: config, runDir: runDir, events: events, hooks: hooks).run()
}

/// Sets OpenBLAS's thread count from `OPENBLAS_NUM_THREADS` (the worker sets it to the job's
/// CPU count): the library reads it at load time, this makes the choice explicit and also
/// applies it when the variable was set after start.
public func configureBLASThreads(environment: [String: String] = ProcessInfo.processInfo.environment) {
  if let value = environment["OPENBLAS_NUM_THREADS"], let n = Int(value), n >= 1 { BLAS.setThreadCount(n) }
}

/// What an `orch-worker` engine job does: reads `<runDir>/config.json`, validates it, sets the
/// BLAS threads, writes events to `ORCH_EVENTS_FD` and trains (`engine: train`, printing one line
/// per epoch) or evaluates a checkpoint (`engine: eval`, see `Evaluator`).
public enum EngineJob {
  public static func run(
    runDir: String, environment: [String: String] = ProcessInfo.processInfo.environment,
    events: EventSink? = nil, hooks: TrainHooks? = nil
  ) throws(EngineError) -> TrainResult {
    let path = runDir + "/config.json"
    let bytes = try rethrowingEngineError("reading the job config") { try readFile(path) }
    let json = String(decoding: bytes, as: UTF8.self)
    let engine = try EngineSchema.parseJob(json).engine
    configureBLASThreads(environment: environment)
    var h = hooks ?? TrainHooks()
    if h.log == nil {
      // Unbuffered: the log file is read while the job runs.
      h.log = { line in
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
      }
    }
    let sink = events ?? EventStream.fromEnvironment(environment)
    switch engine {
    case "train":
      return try Trainer(config: EngineSchema.validate(configJSON: json), runDir: runDir, events: sink, hooks: h).run()
    case "eval":
      return try Evaluator(config: EvalConfig.validate(configJSON: json), runDir: runDir, events: sink, hooks: h).run()
    default:
      throw EngineError(.config, "engine '\(engine)' is not supported by this worker (supported: train, eval)")
    }
  }
}

/// Monotonic seconds.
func monotonicSeconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Loss and accuracy of one split, with per-class and per-group accuracies.
struct Evaluation {
  var loss: Double
  var accuracy: Double
  var classAccuracy: [Double?]  // [classes], nil where the split has no sample of the class
  var worstGroup: Double?
  var meanGroup: Double?
}

/// The mutable state of one training run.
final class TrainingSession {
  let config: TrainConfig
  let runDir: String
  let dataset: Dataset
  /// The spurious patch for the train split's marked samples, applied after augmentation.
  let patch: SpuriousPatch?
  let trainMarked: [Bool]
  let events: EventSink
  let hooks: TrainHooks
  let model: Model
  var optimizer: Optimizer
  var shuffleRNG: RNG
  var dropoutRNG: RNG
  var augmentRNG: RNG
  var loader: BatchLoader
  let evalBatch: Int
  let schedule: LRSchedule
  var epoch = 0
  var step = 0
  var lastMetrics: [String: Double]?
  var written: [Checkpoint.Written] = []
  var skipped: [String] = []
  var resumedFrom: Int?
  /// `train.loss: caml`: the clusters and margin table, prepared at the start of `run`.
  var caml: CAMLMargins?
  private var margins: [Float] = []  // [min(batchSize, N), classes] when training with CAML
  private var evalLogits: [Float]  // [evalBatch, classes]
  private(set) var patchedInputs: [Float]  // [batchSize, sampleSize] when patching, else empty

  init(config: TrainConfig, runDir: String, dataset data: PreparedData, events: EventSink, hooks: TrainHooks)
    throws(EngineError)
  {
    let dataset = data.dataset
    self.config = config
    self.runDir = runDir
    self.dataset = dataset
    patch = data.patch
    trainMarked = data.trainMarked
    self.events = events
    self.hooks = hooks
    let augmentation = Augmentation(cropPadding: config.cropPadding, flip: config.flip)
    if dataset.kind == .features && !augmentation.isIdentity {
      throw EngineError(
        .config, "data.augment.* applies to images, and \(dataset.name) holds feature vectors ({split}_feats.npy)")
    }
    let spec = config.modelSpec(inputShape: dataset.sampleShape, classes: dataset.classes)
    evalBatch = config.effectiveEvalBatchSize
    let evalCount = max(dataset.test.count, dataset.val?.count ?? 0)
    let maxBatch = max(1, min(config.batchSize, dataset.train.count), min(evalBatch, evalCount))
    // The test logits are kept whole (predictions.npy): bounded like the model's workspace.
    let logits = [dataset.test.count, dataset.classes]
    guard EngineLimits.product(logits, atMost: EngineLimits.maxWorkspaceElements) != nil else {
      throw EngineError(
        .config,
        "the test logits of \(dataset.name) (\(logits[0]) samples × \(logits[1]) classes) pass"
          + " \(EngineLimits.maxWorkspaceBytes >> 30) GiB")
    }
    var initRNG = RNG(seed: config.seed, stream: 0)
    model = try rethrowingEngineError { try Model(spec: spec, maxBatch: maxBatch, rng: &initRNG) }
    optimizer = Optimizer(config.optimizerConfig, parameterCount: model.layout.count)
    shuffleRNG = RNG(seed: config.seed, stream: 1)
    dropoutRNG = RNG(seed: config.seed, stream: 2)
    augmentRNG = RNG(seed: config.seed, stream: 3)
    loader = BatchLoader(
      split: dataset.train, sampleShape: dataset.sampleShape, batchSize: config.batchSize, dropLast: config.dropLast,
      augmentation: augmentation)
    schedule = config.schedule
    evalLogits = [Float](repeating: 0, count: min(evalBatch, maxBatch) * dataset.classes)
    patchedInputs = [Float](repeating: 0, count: patch == nil ? 0 : loader.inputs.count)
  }

  func log(_ line: String) { hooks.log?(line) }

  func run() throws(EngineError) -> TrainResult {
    try rethrowingEngineError("creating run directory \(runDir)") {
      try FileManager.default.createDirectory(
        atPath: Checkpoint.directory(runDir: runDir), withIntermediateDirectories: true)
      try writeFileAtomically(runDir + "/resolved_config.json", Array((config.resolvedJSON + "\n").utf8))
    }
    if config.loss == .caml { try prepareCAML() }
    try resumeOrStart()
    if config.transfer == .fixed { model.freezeBackbone() }
    log(memoryLine())
    // The first batch is next: the end of the job's start-up (bench/engine/startup.sh times it).
    if epoch < config.epochs { events.emit(.heartbeat) }

    let stepsPerEpoch = loader.batchesPerEpoch
    var predictions: [Float]?  // [test N, classes]
    while epoch < config.epochs {
      let e = epoch + 1
      loader.shuffle(rng: &shuffleRNG)
      let smoothing = Float(config.labelSmoothing)
      let clip = Float(config.gradClip)
      let firstLR = schedule.learningRate(base: Float(config.baseLR), step: step, stepsPerEpoch: stepsPerEpoch)
      var lossSum = 0.0
      var correct = 0
      var seen = 0
      let start = monotonicSeconds()
      for b in 0..<stepsPerEpoch {
        let n = loader.load(batch: b, rng: &augmentRNG)
        if let patch { patchBatch(patch, index: b, count: n) }
        if let caml {
          // The margin noise of step s comes from its own stream, so a resumed run draws the same.
          var noise = RNG(seed: config.seed, stream: 1000 + UInt64(step))
          let first = b * loader.batchSize
          loader.labels.withUnsafeBufferPointer { y in
            caml.fill(&margins, indices: loader.order[first..<(first + n)], labels: y.baseAddress!, rng: &noise)
          }
        }
        let r = model.trainBatch(
          input: patch == nil ? loader.inputs : patchedInputs, labels: loader.labels, batch: n,
          labelSmoothing: smoothing, margins: caml == nil ? nil : margins, rng: &dropoutRNG)
        if clip > 0 { clipGradientNorm(&model.gradients, ranges: model.trainableRanges, maxNorm: clip) }
        let lr = schedule.learningRate(base: Float(config.baseLR), step: step, stepsPerEpoch: stepsPerEpoch)
        optimizer.step(
          parameters: &model.parameters, gradients: model.gradients, ranges: model.trainableRanges, learningRate: lr)
        step += 1
        lossSum += Double(r.loss) * Double(n)
        correct += r.correct
        seen += n
        hooks.onBatch?(e, b + 1, stepsPerEpoch)
        if hooks.shouldStop?() == true { return finish(stopped: true, predictions: nil) }
      }
      let seconds = monotonicSeconds() - start
      epoch = e

      var metrics: [String: Double] = [
        "train_loss": lossSum / Double(max(1, seen)),
        "train_acc": Double(correct) / Double(max(1, seen)),
        "lr": Double(firstLR),
      ]
      if e == config.epochs {
        predictions = evaluateAllCapturing(into: &metrics)
        if let caml {
          metrics["nmi_target"] = caml.nmiTarget
          if let b = caml.nmiBias { metrics["nmi_bias"] = b }
        }
      } else {
        evaluateAll(into: &metrics, capture: nil)
      }
      lastMetrics = metrics
      metrics["samples_per_s"] = seconds > 0 ? Double(seen) / seconds : 0
      for name in metrics.keys.sorted(by: metricOrder) {
        events.emit(.metric(name: name, value: metrics[name]!, epoch: e, step: step))
      }
      if e == config.epochs || (config.checkpointEvery > 0 && e % config.checkpointEvery == 0) {
        try saveCheckpoint()
      }
      log(epochLine(metrics))
      hooks.onEpoch?(
        EpochMetrics(epoch: e, epochs: config.epochs, step: step, values: metrics, trainSeconds: seconds))
      if e < config.epochs && hooks.shouldStop?() == true { return finish(stopped: true, predictions: nil) }
    }

    if predictions == nil {
      // Resumed at the end, or no epochs to train: evaluate once for the predictions.
      var metrics: [String: Double] = [:]
      predictions = evaluateAllCapturing(into: &metrics)
      if lastMetrics == nil { lastMetrics = metrics }
    }
    let path = runDir + "/predictions.npy"
    try rethrowingEngineError {
      try NPY.write(NDArray(shape: [dataset.test.count, dataset.classes], float32: predictions!), to: path)
    }
    events.emit(.artifact(name: "predictions", path: path))
    for (name, file) in try PerExampleOutputs.write(
      logits: predictions!, labels: dataset.test.labels, classes: dataset.classes, directory: runDir)
    {
      events.emit(.artifact(name: name, path: file))
    }
    let result = finish(stopped: false, predictions: path)
    events.emit(.done(metrics: result.metrics))
    let summary = result.metrics.keys.filter { !$0.contains("_class_") }.sorted(by: metricOrder)
    log("done: " + summary.map { "\($0) \(format(result.metrics[$0]!))" }.joined(separator: " "))
    return result
  }

  func finish(stopped: Bool, predictions: String?) -> TrainResult {
    TrainResult(
      metrics: stopped ? [:] : (lastMetrics ?? [:]), epoch: epoch, step: step, resumedFrom: resumedFrom,
      skippedCheckpoints: skipped, checkpoints: written, predictionsPath: predictions, stopped: stopped)
  }

  /// Clusters the reference model's features for `train.loss: caml`. The group metrics it exists
  /// for need bias labels, so a train or test split without them is an error.
  func prepareCAML() throws(EngineError) {
    for split in [dataset.train, dataset.test] where split.bias == nil {
      let file = dataset.directory.isEmpty ? "\(split.name)_bias.npy" : "\(dataset.directory)/\(split.name)_bias.npy"
      throw EngineError(
        .config,
        "\(file) is missing: train.loss caml reports nmi_bias and test group accuracies, which need the"
          + " \(split.name) split's bias labels (int64 [N], one per sample)")
    }
    let prepared = try CAMLMargins.prepare(config: config, dataset: dataset)
    caml = prepared
    margins = [Float](repeating: 0, count: loader.labels.count * dataset.classes)
    log(
      "caml: reference \(prepared.referencePath); k-means K \(prepared.clusterCount), inertia "
        + "\(format(prepared.inertia)); P(y|cluster) \(prepared.summary); nmi_bias "
        + "\(prepared.nmiBias.map(format) ?? "-") nmi_target \(format(prepared.nmiTarget))")
  }

  /// Copies batch `index` (of `count` samples) from the loader and patches its marked samples.
  func patchBatch(_ patch: SpuriousPatch, index: Int, count: Int) {
    let size = dataset.sampleSize
    let start = index * loader.batchSize
    let (inputs, order, marked) = (loader.inputs, loader.order, trainMarked)
    patchedInputs.withUnsafeMutableBufferPointer { out in
      out.baseAddress!.update(from: inputs, count: count * size)
      for i in 0..<count where marked[order[start + i]] { patch.apply(to: out.baseAddress! + i * size) }
    }
  }

  // MARK: Evaluation

  /// Evaluates val and test; returns the test logits ([N, classes]).
  func evaluateAllCapturing(into metrics: inout [String: Double]) -> [Float] {
    var logits = [Float](repeating: 0, count: dataset.test.count * dataset.classes)
    logits.withUnsafeMutableBufferPointer { evaluateAll(into: &metrics, capture: $0.baseAddress) }
    return logits
  }

  func evaluateAll(into metrics: inout [String: Double], capture: UnsafeMutablePointer<Float>?) {
    if let val = dataset.val {
      let r = evaluate(val, capture: nil)
      metrics["val_loss"] = r.loss
      metrics["val_acc"] = r.accuracy
      if let w = r.worstGroup { metrics["val_worst_group_acc"] = w }
      if let m = r.meanGroup { metrics["val_mean_group_acc"] = m }
    }
    let r = evaluate(dataset.test, capture: capture)
    metrics["test_loss"] = r.loss
    metrics["test_acc"] = r.accuracy
    for (k, a) in r.classAccuracy.enumerated() { if let a { metrics["test_acc_class_\(k)"] = a } }
    if let w = r.worstGroup { metrics["test_worst_group_acc"] = w }
    if let m = r.meanGroup { metrics["test_mean_group_acc"] = m }
  }

  /// Evaluation-mode pass over `split` in batches of `evalBatch`; logits go to `capture`
  /// ([N, classes]) when given.
  func evaluate(_ split: Split, capture: UnsafeMutablePointer<Float>?) -> Evaluation {
    let k = dataset.classes
    let size = dataset.sampleSize
    let n = split.count
    var lossSum = 0.0
    var correct = 0
    var classCorrect = [Int](repeating: 0, count: k)
    var classTotal = [Int](repeating: 0, count: k)
    var groups = GroupAccuracy()
    let batch = evalLogits.count / k
    split.inputs.withUnsafeBufferPointer { x in
      split.labels.withUnsafeBufferPointer { y in
        evalLogits.withUnsafeMutableBufferPointer { logits in
          var start = 0
          while start < n {
            let m = min(batch, n - start)
            let r = model.evaluateBatch(input: x.baseAddress! + start * size, labels: y.baseAddress! + start, batch: m)
            lossSum += Double(r.loss) * Double(m)
            correct += r.correct
            model.copyLogits(to: logits.baseAddress!)
            if let capture { (capture + start * k).update(from: logits.baseAddress!, count: m * k) }
            for i in 0..<m {
              let label = y[start + i]
              let hit = argmax(logits.baseAddress! + i * k, count: k) == label
              classTotal[label] += 1
              if hit { classCorrect[label] += 1 }
              if let bias = split.bias { groups.add(label: label, bias: bias[start + i], correct: hit) }
            }
            start += m
          }
        }
      }
    }
    return Evaluation(
      loss: lossSum / Double(max(1, n)), accuracy: Double(correct) / Double(max(1, n)),
      classAccuracy: (0..<k).map { classTotal[$0] > 0 ? Double(classCorrect[$0]) / Double(classTotal[$0]) : nil },
      worstGroup: groups.worst, meanGroup: groups.mean)
  }

  // MARK: Checkpoints

  func saveCheckpoint() throws(EngineError) {
    var tensors: [String: NDArray] = [:]
    for (name, array) in model.namedTensors() + optimizer.namedTensors() { tensors[name] = array }
    for (name, rng) in zip(Checkpoint.rngNames, [shuffleRNG, dropoutRNG, augmentRNG]) {
      tensors[name] = NDArray(shape: [4], int64: rng.state.map { Int64(bitPattern: $0) })
    }
    var metadata = [
      "step": String(step),
      "config_hash": config.hash,
      "config": config.canonicalJSON,
      "model": "\(model.spec.architecture.rawValue) input \(model.spec.inputShape) classes \(model.spec.classes)",
    ]
    if let lastMetrics { metadata["metrics"] = ConfigValue.map(lastMetrics.mapValues { .double($0) }).json }
    let w = try Checkpoint.write(tensors, metadata: metadata, epoch: epoch, runDir: runDir)
    written.append(w)
    events.emit(.checkpoint(epoch: w.epoch, step: step, path: w.path, bytes: w.bytes, sha256: w.sha256))
  }

  private enum RestoreFailure: Error {
    case damaged(EngineError)
    case otherConfig(EngineError)
  }

  /// Resumes from the newest checkpoint that reads back whole (damaged ones are renamed
  /// `*.corrupt` and skipped); with none, initialises (from `train.finetune_from` when set)
  /// and writes E000. A valid checkpoint of another config is an error: its run directory
  /// belongs to a different computation.
  func resumeOrStart() throws(EngineError) {
    // Temporary files of a writer killed before its rename: one job owns a run directory.
    let checkpoints = Checkpoint.directory(runDir: runDir)
    for name in (try? FileManager.default.contentsOfDirectory(atPath: checkpoints)) ?? []
    where name.hasPrefix("ckpt-E") && name.contains(".safetensors.tmp-") {
      unlink(checkpoints + "/" + name)
    }
    for (e, path) in Checkpoint.list(runDir: runDir) {
      switch restore(from: path, epoch: e) {
      case .success:
        resumedFrom = e
        log("resumed from \(path) (epoch \(e), step \(step))")
        return
      case .failure(.otherConfig(let error)):
        throw error
      case .failure(.damaged(let error)):
        let aside = path + ".corrupt"
        if rename(path, aside) == 0 { skipped.append(aside) }
        log("skipping checkpoint \(path): \(error)")
      }
    }
    if var source = config.finetuneFrom {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue {
        // `KEY@latest` arrives as the source's run directory: its newest valid checkpoint.
        guard let newest = Checkpoint.newestValid(runDir: source) else {
          throw EngineError(.config, "no valid checkpoint in \(source)", context: ["loading train.finetune_from"])
        }
        source = newest.path
      }
      let context = "loading train.finetune_from \(source)"
      if source.contains("@") && !FileManager.default.fileExists(atPath: source) {
        throw EngineError(
          .config,
          "'\(source)' is not a checkpoint file; KEY@E030 / KEY@latest must be resolved to a path before the job runs",
          context: [context])
      }
      let file = try rethrowingEngineError(context) {
        let file = try SafeTensors.read(source)
        // Our own checkpoints are verified against their digest as well.
        return file.metadata["format"] == Checkpoint.format ? try Checkpoint.read(source) : file
      }
      try rethrowingEngineError(context) { try model.load(file.tensors) { !$0.hasPrefix("head.") } }
      log("initialised the backbone from \(source); new head")
    }
    epoch = 0
    step = 0
    try saveCheckpoint()
  }

  private func restore(from path: String, epoch expected: Int) -> Result<Void, RestoreFailure> {
    let file: SafeTensorsFile
    do {
      file = try Checkpoint.read(path)
    } catch {
      return .failure(.damaged(error))
    }
    let meta = file.metadata
    guard meta["config_hash"] == config.hash else {
      return .failure(
        .otherConfig(
          EngineError(
            .config,
            "checkpoint \(path) was written by another config (hash \(meta["config_hash"] ?? "none"), this config"
              + " \(config.hash)); use a new run directory or remove \(Checkpoint.directory(runDir: runDir))")))
    }
    func damaged(_ message: String) -> Result<Void, RestoreFailure> {
      .failure(.damaged(EngineError(.format, message, context: ["reading checkpoint \(path)"])))
    }
    guard let e = meta["epoch"].flatMap({ Int($0) }), e == expected else {
      return damaged("metadata epoch \(meta["epoch"] ?? "missing") does not match the file name (E\(expected))")
    }
    guard let s = meta["step"].flatMap({ Int($0) }), s >= 0 else { return damaged("metadata has no valid step") }
    for entry in model.layout.entries + model.bufferLayout.entries {
      guard let t = file.tensors[entry.name], t.shape == entry.shape, t.dtype == .float32 else {
        return damaged("tensor '\(entry.name)' is missing or not float32 of shape \(entry.shape)")
      }
    }
    var restoredOptimizer = optimizer
    do {
      try restoredOptimizer.load(file.tensors)
    } catch {
      return damaged("\(error)")
    }
    var rngs: [RNG] = []
    for name in Checkpoint.rngNames {
      guard case .int64(let words)? = file.tensors[name]?.storage,
        let rng = try? RNG(state: words.map { UInt64(bitPattern: $0) })
      else { return damaged("RNG state '\(name)' is missing or invalid") }
      rngs.append(rng)
    }
    var metrics: [String: Double]?
    if let text = meta["metrics"], case .map(let m)? = try? ConfigValue.parse(json: text) {
      metrics = m.compactMapValues(\.number)
    }
    do {
      try model.load(file.tensors)
    } catch {
      return damaged("\(error)")
    }
    optimizer = restoredOptimizer
    (shuffleRNG, dropoutRNG, augmentRNG) = (rngs[0], rngs[1], rngs[2])
    epoch = e
    step = s
    lastMetrics = metrics
    return .success(())
  }

  // MARK: Formatting

  /// What the run holds in memory, in bytes: the model's parameters; their gradients, buffers and
  /// optimizer moments; the activation workspace (arena) for the largest batch; the batch buffers
  /// and evaluation logits; the dataset.
  func memoryLine() -> String {
    let float = MemoryLayout<Float>.size
    let state =
      (model.gradients.count + model.buffers.count + optimizer.moment1.count + optimizer.moment2.count) * float
    let batchBuffers =
      loader.inputs.count * float + loader.labels.count * MemoryLayout<Int>.size + evalLogits.count * float
    return "memory: parameters \(model.parameters.count * float) B, gradients and optimizer state \(state) B, "
      + "workspace \(model.workspaceBytes + batchBuffers) B (batch \(model.maxBatch)), data \(dataset.bytes) B"
  }

  func epochLine(_ m: [String: Double]) -> String {
    var parts = ["epoch \(epoch)/\(config.epochs)", "step \(step)"]
    for name in ["train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "lr", "samples_per_s"] {
      if let v = m[name] { parts.append("\(name) \(format(v))") }
    }
    return parts.joined(separator: " ")
  }

  func format(_ v: Double) -> String {
    if v.isNaN { return "nan" }
    let magnitude = abs(v)
    if magnitude >= 1000 { return String(Int(v.rounded())) }
    if magnitude > 0 && magnitude < 1e-3 { return "\(Float(v))" }
    let scaled = (v * 10_000).rounded() / 10_000
    return "\(scaled)"
  }
}

/// Events in a stable, readable order: train, val, test, then the rest alphabetically.
func metricOrder(_ a: String, _ b: String) -> Bool {
  func rank(_ s: String) -> Int {
    if s.hasPrefix("train_") { return 0 }
    if s.hasPrefix("val_") { return 1 }
    if s.hasPrefix("test_") { return s.contains("_class_") || s.contains("group") ? 3 : 2 }
    return 4
  }
  let (ra, rb) = (rank(a), rank(b))
  if ra != rb { return ra < rb }
  // test_acc_class_10 after test_acc_class_9.
  if a.count != b.count && a.hasPrefix("test_acc_class_") && b.hasPrefix("test_acc_class_") { return a.count < b.count }
  return a < b
}
