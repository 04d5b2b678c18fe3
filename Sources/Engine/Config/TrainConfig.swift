import Crypto

/// How a 4-D image array is laid out on disk.
public enum DataLayout: String, Sendable, Hashable {
  case auto, nchw = "NCHW", nhwc = "NHWC"
}

public enum OptimizerName: String, Sendable, Hashable {
  case sgd, adam, adamw
}

public enum ScheduleName: String, Sendable, Hashable {
  case constant, step, multiStep = "MultiStepLR", cosine, cyclic
}

public enum LossName: String, Sendable, Hashable {
  case crossEntropy = "cross_entropy", caml
}

/// Which classes' logits get CAML's angular margin.
public enum MarginTarget: String, Sendable, Hashable {
  /// Only the true class: s·cos(θ_y + m), m = 1 − N(P[cluster, y], σ).
  case target
  /// Every class j with its own m_j = 1 − N(P[cluster, j], σ), as the published code does.
  case all
}

public enum TransferMode: String, Sendable, Hashable {
  case full = "FULL", fixed = "FIXED"
}

/// A validated training job: every engine binding typed, defaults filled in. Built only by
/// `EngineSchema.validate`, so the typed fields always agree with `bindings` (the resolved
/// engine bindings they were read from) and with `hash`.
public struct TrainConfig: Sendable, Hashable {
  // data
  public let dataName: String
  public let normalize: Bool
  public let layout: DataLayout
  public let numClasses: Int
  public let cropPadding: Int
  public let flip: Bool
  // model
  public let architecture: Architecture
  public let width: Int
  public let depth: Int
  public let activation: Activation
  public let dropout: Double
  public let batchNorm: Bool
  public let kernelSize: Int
  public let convStride: Int
  public let pool: Bool
  public let globalPool: Bool
  public let channelGrowth: Int
  public let blocksPerStage: Int
  public let batchNormMomentum: Double
  // optimizer
  public let optimizerName: OptimizerName
  public let baseLR: Double
  public let momentum: Double
  public let nesterov: Bool
  public let weightDecay: Double
  public let beta1: Double
  public let beta2: Double
  public let eps: Double
  // lr_scheduler
  public let scheduleName: ScheduleName
  public let milestones: [Int]
  public let gamma: Double
  public let stepSize: Int
  public let warmupEpochs: Int
  public let peakEpoch: Double
  public let minLR: Double
  // train
  public let epochs: Int
  public let batchSize: Int
  public let evalBatchSize: Int
  public let dropLast: Bool
  public let seed: UInt64
  public let labelSmoothing: Double
  public let gradClip: Double
  public let checkpointEvery: Int
  /// nil: train from scratch.
  public let finetuneFrom: String?
  public let transfer: TransferMode
  public let loss: LossName
  // caml (used when loss == .caml)
  /// Checkpoint of the reference (ERM) model: a file, or a run directory meaning its newest valid one.
  public let camlReference: String
  public let camlClusters: Int
  public let camlSigma: Double
  public let camlScale: Double
  public let camlSeed: UInt64
  public let camlRestarts: Int
  public let camlMarginOn: MarginTarget
  /// `data.block_shuffle`, `data.pixel_shuffle`, `data.shuffle_seed`, the class subset (`data.classes`,
  /// `data.exclude_classes`, `data.class_subset_seed`), `spurious.*` and `shift.*`.
  public let transforms: TransformConfig
  // select (`SelectStep`)
  /// Candidate checkpoints (paths once submitted); empty = no select step.
  public let selectFrom: [String]
  public let selectMetric: String
  public let selectBindings: [String]
  /// What the select step chose, once it ran: these bindings already hold the chosen values.
  public internal(set) var selection: SelectStep.Choice?

  /// Resolved engine bindings (every schema name, defaults filled in, values normalised).
  public let bindings: [String: ConfigValue]
  /// Bindings outside the engine namespaces (used by key templates only), kept for the
  /// resolved config file.
  public let extraBindings: [String: ConfigValue]

  init(resolved b: [String: ConfigValue], extra: [String: ConfigValue]) throws(EngineError) {
    func string(_ n: String) -> String {
      guard case .string(let s)? = b[n] else { preconditionFailure("schema type of \(n)") }
      return s
    }
    func int(_ n: String) -> Int {
      guard case .int(let i)? = b[n] else { preconditionFailure("schema type of \(n)") }
      return i
    }
    func double(_ n: String) -> Double {
      guard case .double(let d)? = b[n] else { preconditionFailure("schema type of \(n)") }
      return d
    }
    func bool(_ n: String) -> Bool {
      guard case .bool(let v)? = b[n] else { preconditionFailure("schema type of \(n)") }
      return v
    }
    bindings = b
    extraBindings = extra
    dataName = string("data.name")
    normalize = bool("data.normalize")
    layout = DataLayout(rawValue: string("data.layout"))!
    numClasses = int("data.num_classes")
    cropPadding = int("data.augment.crop_padding")
    flip = bool("data.augment.flip")
    architecture = Architecture(rawValue: string("model.arch"))!
    width = int("model.width")
    depth = int("model.depth")
    activation = Activation(rawValue: string("model.activation"))!
    dropout = double("model.dropout")
    batchNorm = bool("model.batch_norm")
    kernelSize = int("model.kernel_size")
    convStride = int("model.stride")
    pool = bool("model.pool")
    globalPool = bool("model.global_pool")
    channelGrowth = int("model.channel_growth")
    blocksPerStage = int("model.blocks_per_stage")
    batchNormMomentum = double("model.bn_momentum")
    optimizerName = OptimizerName(rawValue: string("optimizer.name"))!
    baseLR = double("optimizer.base_lr")
    momentum = double("optimizer.momentum")
    nesterov = bool("optimizer.nesterov")
    weightDecay = double("optimizer.weight_decay")
    beta1 = double("optimizer.beta1")
    beta2 = double("optimizer.beta2")
    eps = double("optimizer.eps")
    scheduleName = ScheduleName(rawValue: string("lr_scheduler.name"))!
    guard case .list(let ms)? = b["lr_scheduler.milestones"] else { preconditionFailure("schema type of milestones") }
    milestones = ms.map { if case .int(let i) = $0 { i } else { 0 } }
    gamma = double("lr_scheduler.gamma")
    stepSize = int("lr_scheduler.step_size")
    warmupEpochs = int("lr_scheduler.warmup_epochs")
    peakEpoch = double("lr_scheduler.peak_epoch")
    minLR = double("lr_scheduler.min_lr")
    epochs = int("train.epochs")
    batchSize = int("train.batch_size")
    evalBatchSize = int("train.eval_batch_size")
    dropLast = bool("train.drop_last")
    seed = UInt64(bitPattern: Int64(int("train.seed")))
    labelSmoothing = double("train.label_smoothing")
    gradClip = double("train.grad_clip")
    checkpointEvery = int("train.checkpoint_every")
    let from = string("train.finetune_from")
    finetuneFrom = from.isEmpty ? nil : from
    transfer = TransferMode(rawValue: string("train.transfer"))!
    loss = LossName(rawValue: string("train.loss"))!
    camlReference = string("caml.reference")
    camlClusters = int("caml.clusters")
    camlSigma = double("caml.sigma")
    camlScale = double("caml.scale")
    camlSeed = UInt64(bitPattern: Int64(int("caml.seed")))
    camlRestarts = int("caml.restarts")
    camlMarginOn = MarginTarget(rawValue: string("caml.margin_on"))!
    transforms = try TransformConfig(bindings: b)
    func strings(_ n: String) -> [String] {
      guard case .list(let items)? = b[n] else { return [] }
      return items.map { if case .string(let s) = $0 { s } else { preconditionFailure("schema type of \(n)") } }
    }
    selectFrom = strings("select.from")
    if case .string(let m)? = b["select.metric"] { selectMetric = m } else { selectMetric = "test_acc" }
    selectBindings = strings("select.bindings")
    selection = nil

    // Rules that involve more than one binding.
    if dataName.isEmpty { throw EngineError(.config, "binding 'data.name' must not be empty") }
    if nesterov && optimizerName == .sgd && momentum == 0 {
      throw EngineError(.config, "binding 'optimizer.nesterov' needs 'optimizer.momentum' > 0")
    }
    if scheduleName == .multiStep && milestones != milestones.sorted() {
      throw EngineError(.config, "binding 'lr_scheduler.milestones' must be increasing, got \(milestones)")
    }
    if loss == .caml && camlReference.isEmpty {
      throw EngineError(
        .config,
        "binding 'train.loss: caml' needs 'caml.reference' (the ERM model's checkpoint: KEY@final, KEY@latest or a path)"
      )
    }
    if loss == .caml && labelSmoothing > 0 {
      throw EngineError(.config, "binding 'train.label_smoothing' does not apply to 'train.loss: caml'")
    }
    if scheduleName == .cyclic && peakEpoch > Double(epochs) {
      throw EngineError(
        .config, "binding 'lr_scheduler.peak_epoch' (\(peakEpoch)) is after the last epoch (train.epochs \(epochs))")
    }
    if b["select.from"] != nil {
      if selectFrom.isEmpty {
        throw EngineError(.config, "binding 'select.from' is empty: name the candidates (KEY@final, …) to select from")
      }
      if selectMetric.isEmpty { throw EngineError(.config, "binding 'select.metric' must not be empty") }
      if selectBindings.isEmpty {
        throw EngineError(
          .config, "binding 'select.bindings' is empty: name the bindings to copy from the chosen candidate")
      }
      for name in selectBindings where !EngineSchema.names.contains(name) || name.hasPrefix("select.") {
        let hint = EngineSchema.suggestion(for: name).map { "; did you mean '\($0)'?" } ?? ""
        throw EngineError(
          .config, "select.bindings names '\(name)', which is not a training binding the select step can copy\(hint)")
      }
    }
  }

  /// Canonical JSON of the resolved engine bindings; its SHA-256 is `hash`.
  public var canonicalJSON: String { ConfigValue.map(bindings).json }

  /// Identifies the training computation: checkpoints carry it so a run directory is only
  /// resumed by the same config.
  public var hash: String { hex(SHA256.hash(data: Array(canonicalJSON.utf8))) }

  /// `{"bindings":{…every binding, defaults filled in…},"engine":"train"}`.
  /// With `"selected": {…}` (`SelectStep.Choice.record`) once the select step ran.
  public var resolvedJSON: String {
    var object: [String: ConfigValue] = [
      "bindings": .map(bindings.merging(extraBindings) { a, _ in a }), "engine": "train",
    ]
    if let selection { object["selected"] = selection.record }
    return ConfigValue.map(object).json
  }

  public var optimizerConfig: OptimizerConfig {
    switch optimizerName {
    case .sgd: .sgd(momentum: Float(momentum), nesterov: nesterov, weightDecay: Float(weightDecay))
    case .adam: .adam(beta1: Float(beta1), beta2: Float(beta2), epsilon: Float(eps), weightDecay: Float(weightDecay))
    case .adamw: .adamW(beta1: Float(beta1), beta2: Float(beta2), epsilon: Float(eps), weightDecay: Float(weightDecay))
    }
  }

  public var schedule: LRSchedule {
    switch scheduleName {
    case .constant: .constant
    case .step: .step(stepSize: stepSize, gamma: Float(gamma))
    case .multiStep: .multiStep(milestones: milestones, gamma: Float(gamma))
    case .cosine: .cosine(warmupEpochs: warmupEpochs, totalEpochs: epochs, minLR: Float(minLR))
    case .cyclic: .cyclic(peakEpoch: Float(peakEpoch), totalEpochs: epochs)
    }
  }

  /// Evaluation batch size with 0 meaning the training one.
  public var effectiveEvalBatchSize: Int { evalBatchSize > 0 ? evalBatchSize : batchSize }

  /// Checks the model this config builds for samples of `sampleShape` against `EngineLimits`,
  /// for batches of one: what a submission can check from a dataset's header, before any data is
  /// read. `classes` nil (not known without the labels) checks the smallest head, 2 classes; the
  /// batch's share of the workspace is checked when the job starts.
  public func checkModel(sampleShape: [Int], classes: Int?) throws(EngineError) {
    let count = numClasses > 0 ? numClasses : classes ?? 2
    do {
      _ = try modelSpec(inputShape: sampleShape, classes: count).plan(maxBatch: 1)
    } catch {
      let head = numClasses > 0 || classes != nil ? "\(count) classes" : "at least 2 classes"
      throw EngineError(
        .config, error.message,
        context: ["checking the \(architecture.rawValue) model for input \(sampleShape) and \(head)"])
    }
  }

  /// The model for inputs of per-sample `inputShape` ([H, W, C], [L] or [F]) and `classes`.
  public func modelSpec(inputShape: [Int], classes: Int) -> ModelSpec {
    let flat = architecture == .linear || architecture == .mlp
    return ModelSpec(
      architecture: architecture,
      inputShape: flat ? [EngineLimits.product(inputShape, atMost: Int.max) ?? Int.max] : inputShape, classes: classes,
      width: width, depth: depth, activation: activation, dropout: Float(dropout), batchNorm: batchNorm,
      kernelSize: kernelSize, convStride: convStride, pool: pool, globalPool: globalPool,
      channelGrowth: channelGrowth, blocksPerStage: blocksPerStage, batchNormMomentum: Float(batchNormMomentum),
      cosineScale: loss == .caml ? Float(camlScale) : 0)
  }
}
