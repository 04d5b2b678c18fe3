/// One binding the engine understands: its name, type, default, range and a one-line doc.
public struct BindingSpec: Sendable {
  public enum Kind: Sendable, Equatable {
    case string
    case int
    /// Integers are accepted and widened.
    case double
    case bool
    case intList
    case stringList
    /// One of these strings; matched case-insensitively and stored in the spelling given here.
    case choice([String])
  }

  public let name: String
  public let kind: Kind
  public let defaultValue: ConfigValue
  public let doc: String
  /// The values accepted beyond the type; nil for any value of it (a double is still finite).
  public let range: BindingRange?

  init(_ name: String, _ kind: Kind, _ defaultValue: ConfigValue, _ doc: String, range: BindingRange? = nil) {
    self.name = name
    self.kind = kind
    self.defaultValue = defaultValue
    self.doc = doc
    self.range = range
  }

  /// "an integer", "one of sgd, adam, adamw", …
  public var expected: String {
    switch kind {
    case .string: "a string"
    case .int: "an integer"
    case .double: "a number"
    case .bool: "true or false"
    case .intList: "a list of integers"
    case .stringList: "a list of strings"
    case .choice(let options): "one of \(options.joined(separator: ", "))"
    }
  }

  /// The range as the documentation states it.
  public var rangeText: String {
    switch (kind, range) {
    case (.double, nil): "finite"
    case (.int, nil): "any (64-bit)"
    case (.intList, nil), (.stringList, nil): "≤ \(EngineLimits.maxListCount) entries"
    case (_, nil): ""
    case (_, let range?): range.text
    }
  }

  /// What is wrong with an already type-checked value — "a value in 1…65536, got the integer 0",
  /// the text after "expects" — or nil when it is in range.
  func outOfRange(_ value: ConfigValue) -> String? {
    let got = "got \(value.kindDescription)"
    switch value {
    case .double(let x):
      // Every float reaches the engine as a Float: past ±3.4e38 it is an infinity there.
      guard x.isFinite, abs(x) <= Double(Float.greatestFiniteMagnitude) else {
        return "a finite number (at most 3.4e38 in magnitude), \(got)"
      }
    case .list(let items) where items.count > EngineLimits.maxListCount:
      return "a list of at most \(EngineLimits.maxListCount) entries, got a list of \(items.count)"
    default:
      break
    }
    return range.flatMap { $0.outOfRange(value) }.map { $0.hasPrefix("a value") ? "\($0), \(got)" : $0 }
  }
}

/// The values a binding accepts beyond its type, stated once for the check and the documentation.
public enum BindingRange: Sendable {
  /// An integer in the range.
  case integers(ClosedRange<Int>)
  /// Each entry of a list of integers in the range; `what` names the entries ("class ids").
  case entries(ClosedRange<Int>, what: String)
  /// A number from `low` (included unless `lowOpen`) up to `high` (included unless `highOpen`).
  case numbers(Double, Double, lowOpen: Bool = false, highOpen: Bool = false)
  /// A probability, or -1 for "off".
  case probabilityOrOff

  /// Numbers ≥ `low` (> `low` when `open`), finite.
  static func atLeast(_ low: Double, open: Bool = false) -> BindingRange {
    .numbers(low, .infinity, lowOpen: open)
  }

  public var text: String {
    func int(_ i: Int) -> String { i == Int.max ? "2⁶³−1" : String(i) }
    switch self {
    case .integers(let r): return "\(int(r.lowerBound))…\(int(r.upperBound))"
    case .entries(let r, let what):
      return "\(what) \(int(r.lowerBound))…\(int(r.upperBound)), ≤ \(EngineLimits.maxListCount) entries"
    case .numbers(let low, let high, let lowOpen, let highOpen):
      if high == .infinity { return (lowOpen ? "> " : "≥ ") + ConfigValue.short(low) + ", finite" }
      return (lowOpen ? "(" : "[") + ConfigValue.short(low) + ", " + ConfigValue.short(high) + (highOpen ? ")" : "]")
    case .probabilityOrOff: return "[0, 1], or -1 (off)"
    }
  }

  /// What is expected of `value` when it is out of range: "a value in 1…65536" for a scalar (the
  /// caller adds what it got), a whole "class ids ≥ 0, got -1" for a list entry.
  func outOfRange(_ value: ConfigValue) -> String? {
    switch (self, value) {
    case (.integers(let r), .int(let x)):
      if r.contains(x) { return nil }
      // Below the range, the bound as it always read; above it, the whole range.
      if x < r.lowerBound { return r.lowerBound == 1 ? "a value > 0" : "a value ≥ \(r.lowerBound)" }
      return "a value in \(text)"
    case (.entries(let r, let what), .list(let items)):
      for case .int(let x) in items where !r.contains(x) {
        return x < r.lowerBound
          ? "\(what) ≥ \(r.lowerBound), got \(x)" : "\(what) in \(r.lowerBound)…\(r.upperBound), got \(x)"
      }
      return nil
    case (.numbers(let low, let high, let lowOpen, let highOpen), _):
      guard let x = value.number else { return nil }
      let above = lowOpen ? x > low : x >= low
      let below = highOpen ? x < high : x <= high
      return above && below
        ? nil : "a value " + (high == .infinity ? (lowOpen ? "> " : "≥ ") + ConfigValue.short(low) : "in \(text)")
    case (.probabilityOrOff, _):
      let x = value.number ?? 0
      return x == -1 || (x >= 0 && x <= 1) ? nil : "a value in [0, 1], or -1 (off)"
    default:
      return nil
    }
  }
}

private let side = BindingRange.integers(0...EngineLimits.maxSide)
private let layers = BindingRange.integers(1...EngineLimits.maxLayers)
private let epochs = BindingRange.integers(0...EngineLimits.maxEpochs)
private let classIDs = BindingRange.entries(0...(ClassLabels.maxClasses - 1), what: "class ids")
private let unit = BindingRange.numbers(0, 1)
private let unitOpen = BindingRange.numbers(0, 1, highOpen: true)
private let nonNegative = BindingRange.atLeast(0)
private let positive = BindingRange.atLeast(0, open: true)

/// The engine's binding schema, declared once: the sweep loader checks names against it, the
/// worker turns a job's bindings into a `TrainConfig` with it.
///
/// Only names in an engine namespace (`data.`, `model.`, `optimizer.`, `lr_scheduler.`,
/// `train.`) are checked, plus names whose namespace is a typo of one; other bindings (`init`,
/// `seed`, … used only in key templates) pass through untouched.
public enum EngineSchema {
  public static let namespaces = [
    "data.", "model.", "optimizer.", "lr_scheduler.", "train.", "spurious.", "shift.", "eval.", "caml.",
    "select.",
  ]

  /// Bindings naming a checkpoint another config writes (`KEY@E030`, `KEY@final`, a path).
  public static let checkpointBindings = [
    "train.finetune_from", "eval.checkpoint", "eval.checkpoint_b", "caml.reference",
  ]
  /// Bindings holding a list of checkpoints: the select step's candidates.
  public static let checkpointListBindings = ["select.from"]

  public static let bindings: [BindingSpec] = [
    // data
    BindingSpec(
      "data.name", .string, "digits",
      "built-in dataset (digits, mnist1d; generated on first use: glyphs, glyphs_heldout, digits_rgb,"
        + " waterbirds_feats), a dataset"
        + " directory name under the data root, or a path to a directory of {split}_x.npy or {split}_feats.npy with"
        + " {split}_targets.npy or {split}_y.npy"),
    BindingSpec("data.normalize", .bool, true, "standardise inputs with per-channel mean/std of the train split"),
    BindingSpec(
      "data.layout", .choice(["auto", "NCHW", "NHWC"]), "auto",
      "layout of 4-D image arrays; auto: NCHW when dimension 1 is 1 or 3, else NHWC"),
    BindingSpec(
      "data.num_classes", .int, 0,
      "number of classes; 0 infers max(train label) + 1 when the train labels are 0…K−1 without gaps",
      range: .integers(0...ClassLabels.maxClasses)),
    BindingSpec(
      "data.augment.crop_padding", .int, 0, "random crop with this zero padding on each side (0 = off)",
      range: side),
    BindingSpec("data.augment.flip", .bool, false, "random horizontal flip"),
    BindingSpec(
      "data.block_shuffle", .int, 0,
      "split images into b×b blocks and permute the blocks with one fixed permutation (0 = off); b divides H and W",
      range: side),
    BindingSpec(
      "data.pixel_shuffle", .bool, false, "permute all H·W·C entries of every image with one fixed permutation"),
    BindingSpec("data.shuffle_seed", .int, 0, "seed of the block or pixel permutation"),
    BindingSpec(
      "data.classes", .intList, [],
      "train only on images of these class ids (labels kept, the model keeps every class; val and test unfiltered);"
        + " empty = all",
      range: classIDs),
    BindingSpec(
      "data.exclude_classes", .intList, [], "train on every class but these ids (labels kept)", range: classIDs),
    BindingSpec(
      "data.class_subset_seed", .int, -1,
      "train on a seeded random half of the classes (⌊C/2⌋, ClassSubset.randomHalf; labels kept); -1 = off",
      range: .integers(-1...Int.max)),
    // model
    BindingSpec("model.arch", .choice(Architecture.allCases.map(\.rawValue)), "mlp", "architecture"),
    BindingSpec(
      "model.width", .int, 128, "hidden units (mlp) or channels of the first stage (cnn, resnet)",
      range: .integers(1...EngineLimits.maxWidth)),
    BindingSpec("model.depth", .int, 2, "hidden layers (mlp), conv blocks (cnn) or stages (resnet)", range: layers),
    BindingSpec("model.activation", .choice(Activation.allCases.map(\.rawValue)), "relu", "hidden activation"),
    BindingSpec(
      "model.dropout", .double, 0.0, "dropout probability after each hidden layer", range: unitOpen),
    BindingSpec("model.batch_norm", .bool, false, "BatchNorm after each hidden linear/conv layer (resnet always)"),
    BindingSpec("model.kernel_size", .int, 3, "convolution kernel size (cnn)", range: layers),
    BindingSpec("model.stride", .int, 1, "convolution stride (cnn)", range: layers),
    BindingSpec("model.pool", .bool, true, "2×2 max pool between conv blocks (cnn)"),
    BindingSpec("model.global_pool", .bool, true, "global average pool before the head (cnn); false flattens"),
    BindingSpec("model.channel_growth", .int, 2, "channel multiplier per conv block (cnn)", range: layers),
    BindingSpec("model.blocks_per_stage", .int, 1, "residual blocks per stage (resnet)", range: layers),
    BindingSpec(
      "model.bn_momentum", .double, 0.1, "BatchNorm running-statistics momentum", range: unit),
    // optimizer
    BindingSpec("optimizer.name", .choice(["sgd", "adam", "adamw"]), "sgd", "update rule (PyTorch semantics)"),
    BindingSpec("optimizer.base_lr", .double, 0.1, "base learning rate, scaled by the schedule", range: nonNegative),
    BindingSpec("optimizer.momentum", .double, 0.9, "SGD momentum", range: unitOpen),
    BindingSpec("optimizer.nesterov", .bool, false, "Nesterov momentum (SGD; needs momentum > 0)"),
    BindingSpec(
      "optimizer.weight_decay", .double, 0.0, "L2 weight decay (sgd, adam) or decoupled decay (adamw)",
      range: nonNegative),
    BindingSpec("optimizer.beta1", .double, 0.9, "Adam β1", range: unitOpen),
    BindingSpec("optimizer.beta2", .double, 0.999, "Adam β2", range: unitOpen),
    BindingSpec("optimizer.eps", .double, 1e-8, "Adam ε", range: positive),
    // lr_scheduler
    BindingSpec(
      "lr_scheduler.name", .choice(["constant", "step", "MultiStepLR", "cosine", "cyclic"]), "constant",
      "learning-rate schedule"),
    BindingSpec(
      "lr_scheduler.milestones", .intList, [], "epochs at which MultiStepLR multiplies the rate by gamma",
      range: .entries(0...EngineLimits.maxEpochs, what: "epochs")),
    BindingSpec("lr_scheduler.gamma", .double, 0.1, "decay factor (step, MultiStepLR)", range: nonNegative),
    BindingSpec(
      "lr_scheduler.step_size", .int, 30, "epochs between decays (step)", range: .integers(1...EngineLimits.maxEpochs)),
    BindingSpec(
      "lr_scheduler.warmup_epochs", .int, 0, "linear warmup epochs before the cosine decay", range: epochs),
    BindingSpec(
      "lr_scheduler.peak_epoch", .double, 2.0, "cyclic: epoch of the peak of the linear ramp up and down",
      range: .numbers(0, Double(EngineLimits.maxEpochs))),
    BindingSpec("lr_scheduler.min_lr", .double, 0.0, "final learning rate of the cosine decay", range: nonNegative),
    // train
    BindingSpec("train.epochs", .int, 10, "training epochs", range: epochs),
    BindingSpec(
      "train.batch_size", .int, 128, "training mini-batch size", range: .integers(1...EngineLimits.maxBatchSize)),
    BindingSpec(
      "train.eval_batch_size", .int, 0, "evaluation batch size; 0 uses train.batch_size",
      range: .integers(0...EngineLimits.maxBatchSize)),
    BindingSpec("train.drop_last", .bool, false, "drop the last incomplete training batch of each epoch"),
    BindingSpec("train.seed", .int, 0, "seed of initialisation, shuffling, dropout and augmentation"),
    BindingSpec(
      "train.label_smoothing", .double, 0.0, "label smoothing of the training loss", range: unitOpen),
    BindingSpec("train.grad_clip", .double, 0.0, "clip the global gradient norm to this (0 = off)", range: nonNegative),
    BindingSpec(
      "train.checkpoint_every", .int, 5, "checkpoint every N epochs (plus E000 and the final one; 0 = only those)",
      range: epochs),
    BindingSpec(
      "train.finetune_from", .string, "",
      "path of a checkpoint whose backbone (all but the head) initialises this model; empty = from scratch"),
    BindingSpec(
      "train.transfer", .choice(["FULL", "FIXED"]), "FULL",
      "FULL trains everything; FIXED freezes the backbone (and its BatchNorm statistics) and trains the head"),
    BindingSpec(
      "train.loss", .choice(["cross_entropy", "caml"]), "cross_entropy",
      "training loss: softmax cross-entropy, or CAML's angular-margin loss on a cosine head (see caml.*)"),
    // caml
    BindingSpec(
      "caml.reference", .string, "",
      "checkpoint of the reference (ERM) model whose hidden features are clustered: KEY@final, KEY@latest"
        + " (resolved at submission) or a path"),
    BindingSpec(
      "caml.clusters", .int, 2, "k-means clusters K of the reference features",
      range: .integers(2...EngineLimits.maxClusters)),
    BindingSpec(
      "caml.sigma", .double, 0.15, "standard deviation σ of the margin draw m = 1 − N(P(y|cluster), σ)",
      range: nonNegative),
    BindingSpec("caml.scale", .double, 8.0, "scale s of the cosine logits s·cos θ", range: positive),
    BindingSpec("caml.seed", .int, 0, "seed of the k-means initialisations"),
    BindingSpec(
      "caml.restarts", .int, 10, "k-means restarts (k-means++ each); the lowest inertia wins",
      range: .integers(1...EngineLimits.maxRestarts)),
    BindingSpec(
      "caml.margin_on", .choice(["target", "all"]), "target",
      "target: margin on the true class only; all: every class j gets m_j from P(j|cluster) (the published code)"),
    // spurious
    BindingSpec(
      "spurious.type", .choice(TransformConfig.SpuriousType.allCases.map(\.rawValue)), "none",
      "spurious feature added after augmentation: square (yellow, top-left, side H/4) or gaussian (fixed pattern)"),
    BindingSpec(
      "spurious.fraction", .double, 1.0, "fraction of the images of spurious.classes that carry it, in every split",
      range: unit),
    BindingSpec(
      "spurious.classes", .intList, [], "classes whose images may carry it; empty = every class",
      range: .entries(0...(ClassLabels.maxClasses - 1), what: "class indices")),
    BindingSpec(
      "spurious.scale", .double, 0.05, "gaussian: pattern scale as a fraction of the data's value range",
      range: nonNegative),
    BindingSpec(
      "spurious.seed", .int, 0, "seed of the gaussian pattern and of which images are marked"),
    // shift
    BindingSpec(
      "shift.tint", .double, -1.0,
      "tint: probability that an image is blended (0.75·x + 0.25·colour) with its class's colour, else another"
        + " class's; train split, and val/test unless shift.tint_test; -1 = off",
      range: .probabilityOrOff),
    BindingSpec(
      "shift.tint_test", .double, -1.0,
      "tint probability of the val and test splits (0 = the shifted set); -1 = as shift.tint",
      range: .probabilityOrOff),
    BindingSpec(
      "shift.seed", .int, 0, "seed of the tint's class colours and of each image's colour draw"),
    BindingSpec("shift.vflip", .bool, false, "flip every image of every split upside down"),
    // select (see `SelectStep`); absent from the resolved bindings unless select.from is bound
    BindingSpec(
      "select.from", .stringList, [],
      "candidate checkpoints (KEY@final, … resolved at submission, or paths): before training, copy select.bindings"
        + " from the one with the best select.metric"),
    BindingSpec(
      "select.metric", .string, "test_acc",
      "metric of the candidates' checkpoints to compare; higher is better (lower for names ending in 'loss')"),
    BindingSpec(
      "select.bindings", .stringList, [], "binding names copied from the chosen candidate over this config's"),
  ]

  /// The bindings only `engine: eval` configs take (see `EvalConfig`).
  public static let evalBindings: [BindingSpec] = [
    BindingSpec(
      "eval.checkpoint", .string, "",
      "checkpoint to evaluate: KEY@E010, KEY@final, KEY@latest (resolved at submission) or a path"),
    BindingSpec(
      "eval.checkpoint_b", .string, "",
      "second checkpoint (same forms): evaluate θ = (1−α)·θ_checkpoint + α·θ_checkpoint_b; empty = no interpolation"),
    BindingSpec("eval.alpha", .double, 0.0, "interpolation weight α of eval.checkpoint_b"),
  ]

  static let byName: [String: BindingSpec] = Dictionary(
    uniqueKeysWithValues: (bindings + evalBindings).map { ($0.name, $0) })

  /// Every engine binding name, in declaration order.
  public static var names: [String] { bindings.map(\.name) }

  /// Whether `name` lies in an engine namespace.
  public static func isEngineName(_ name: String) -> Bool {
    namespaces.contains { name.hasPrefix($0) }
  }

  /// A dotted name whose namespace is one typo away from an engine one (`lr_schedular.name`):
  /// checked, so the typo is reported rather than passed through as a key-only binding.
  static func misspellsNamespace(_ name: String) -> Bool {
    guard let dot = name.firstIndex(of: ".") else { return false }
    let head = String(name[..<dot])
    return namespaces.contains { ns in
      let namespace = String(ns.dropLast())
      let allowed = namespace.count > 5 ? 2 : 1
      return head != namespace && abs(head.count - namespace.count) <= allowed
        && editDistance(head, namespace) <= allowed
    }
  }

  /// The closest engine binding name to `name` by edit distance, if one is close enough to be a
  /// plausible typo.
  public static func suggestion(for name: String) -> String? {
    let candidates = names + evalBindings.map(\.name)
    // The distance is at least the difference in length: a name longer than the longest candidate
    // by more than its allowance has no suggestion, found without a quadratic comparison.
    let longest = candidates.map(\.count).max() ?? 0
    guard name.count <= longest + max(2, longest / 3) else { return nil }
    var best: (String, Int)?
    for candidate in candidates {
      let d = editDistance(name, candidate)
      if d < (best?.1 ?? Int.max) { best = (candidate, d) }
    }
    if let (candidate, d) = best, d <= 1 { return candidate }
    if let named = suggestion(byLastPart: name, among: candidates) { return named }
    guard let (candidate, d) = best, d <= max(2, min(name.count, candidate.count) / 3) else { return nil }
    return candidate
  }

  /// The last dotted part names the setting, so a short name for it beats a nearer spelling
  /// (`optimizer.lr` means `optimizer.base_lr`, not `optimizer.eps`): a candidate whose last part
  /// is it, or has it as one of its `_`-separated words; one in the same namespace first, then an
  /// exact last part, then the nearer whole name.
  static func suggestion(byLastPart name: String, among candidates: [String]) -> String? {
    func split(_ s: String) -> (head: Substring, last: Substring) {
      guard let dot = s.lastIndex(of: ".") else { return ("", s[...]) }
      return (s[..<dot], s[s.index(after: dot)...])
    }
    let (head, last) = split(name)
    guard last.count >= 2 else { return nil }
    var best: (candidate: String, rank: (Int, Int, Int))?
    for candidate in candidates {
      let (cHead, cLast) = split(candidate)
      let exact = cLast == last
      guard exact || cLast.split(separator: "_").contains(last) else { continue }
      let rank = (cHead == head ? 0 : 1, exact ? 0 : 1, editDistance(name, candidate))
      if best.map({ rank < $0.rank }) ?? true { best = (candidate, rank) }
    }
    return best?.candidate
  }

  /// Checks one binding: an unknown engine name (with the closest valid one), a wrong type or an
  /// out-of-range value is an error. Returns the value normalised (ints widened to doubles,
  /// choices in their canonical spelling); names outside the engine namespaces are returned as is.
  public static func check(name: String, value: ConfigValue) throws(EngineError) -> ConfigValue {
    if let slash = name.lastIndex(of: "/"), isEngineName(String(name[name.index(after: slash)...])) {
      throw EngineError(
        .config, "scoped binding '\(name)' is not supported; bind '\(name[name.index(after: slash)...])'")
    }
    guard isEngineName(name) || misspellsNamespace(name) else { return value }
    guard let spec = byName[name] else {
      let hint = suggestion(for: name).map { "; did you mean '\($0)'?" } ?? namespaceHint(name)
      throw EngineError(.config, "unknown binding '\(name)'\(hint)")
    }
    func wrong(_ expected: String? = nil) -> EngineError {
      EngineError(.config, "binding '\(name)' expects \(expected ?? spec.expected), got \(value.kindDescription)")
    }
    let normalised: ConfigValue
    switch (spec.kind, value) {
    case (.string, .string), (.int, .int), (.double, .double), (.bool, .bool):
      normalised = value
    case (.double, .int(let i)):
      normalised = .double(Double(i))
    case (.intList, .list(let items)):
      guard items.allSatisfy({ if case .int = $0 { true } else { false } }) else { throw wrong() }
      normalised = value
    case (.stringList, .list(let items)):
      guard items.allSatisfy({ if case .string = $0 { true } else { false } }) else { throw wrong() }
      normalised = value
    case (.choice(let options), .string(let s)):
      guard let match = options.first(where: { $0 == s }) ?? options.first(where: { $0.lowercased() == s.lowercased() })
      else {
        // A hint is within 2 edits, so never for a value longer than every option by more.
        let close =
          s.count > (options.map(\.count).max() ?? 0) + 2
          ? nil
          : options.min {
            editDistance(s.lowercased(), $0.lowercased()) < editDistance(s.lowercased(), $1.lowercased())
          }
        let hint =
          close.map { editDistance(s.lowercased(), $0.lowercased()) <= 2 ? "; did you mean '\($0)'?" : "" } ?? ""
        throw EngineError(
          .config, "binding '\(name)' expects \(spec.expected), got \(value.kindDescription)\(hint)")
      }
      normalised = .string(match)
    default:
      throw wrong()
    }
    if let problem = spec.outOfRange(normalised) { throw EngineError(.config, "binding '\(name)' expects \(problem)") }
    return normalised
  }

  /// Checks every binding and fills in defaults. All problems are reported, one per line, in
  /// name order.
  public static func validate(_ bindings: [String: ConfigValue]) throws(EngineError) -> TrainConfig {
    var resolved: [String: ConfigValue] = [:]
    var extra: [String: ConfigValue] = [:]
    var problems: [String] = []
    for name in bindings.keys.sorted() {
      if name.hasPrefix("eval.") {
        problems.append("binding '\(name)' applies only to `engine: eval` configs")
        continue
      }
      do {
        let value = try check(name: name, value: bindings[name]!)
        if isEngineName(name) { resolved[name] = value } else { extra[name] = value }
      } catch {
        problems.append(error.message)
      }
    }
    for spec in Self.bindings where resolved[spec.name] == nil { resolved[spec.name] = spec.defaultValue }
    // Without a select step its bindings stay out, so every other config's resolved bindings (and
    // the hash its checkpoints carry) are what they were before the step existed.
    if bindings["select.from"] == nil {
      for name in ["select.metric", "select.bindings"] where bindings[name] != nil {
        problems.append("binding '\(name)' needs 'select.from' (the candidates to select from)")
      }
      for spec in Self.bindings where spec.name.hasPrefix("select.") { resolved[spec.name] = nil }
    }
    if problems.isEmpty {
      do {
        return try TrainConfig(resolved: resolved, extra: extra)
      } catch {
        problems.append(error.message)
      }
    }
    throw EngineError(.config, problems.joined(separator: "\n"))
  }

  /// Parses a job's config JSON (`{"bindings":{…},"engine":"train"}`) and validates its bindings.
  public static func validate(configJSON: String) throws(EngineError) -> TrainConfig {
    let (engine, bindings) = try parseJob(configJSON)
    guard engine == "train" else {
      throw EngineError(.config, "engine '\(engine)' is not a training engine (this path takes: train)")
    }
    return try validate(bindings)
  }

  /// The engine name and bindings of a job's config JSON.
  public static func parseJob(_ configJSON: String) throws(EngineError) -> (
    engine: String, bindings: [String: ConfigValue]
  ) {
    guard case .map(let object) = try ConfigValue.parse(json: configJSON) else {
      throw EngineError(.config, "job config is not a JSON object")
    }
    guard case .string(let engine)? = object["engine"] else {
      throw EngineError(.config, "job config has no \"engine\" string")
    }
    var bindings: [String: ConfigValue] = [:]
    switch object["bindings"] {
    case .map(let m)?: bindings = m
    case nil, .null?: break
    default: throw EngineError(.config, "job config \"bindings\" is not an object")
    }
    return (engine, bindings)
  }

  /// Markdown table of the schema (name, type, default, range, doc), for documentation (data/README.md
  /// holds it) and `--help`.
  public static var documentation: String {
    var out = "| binding | type | default | range | meaning |\n|---|---|---|---|---|\n"
    for spec in bindings + evalBindings {
      let type: String
      switch spec.kind {
      case .string: type = "string"
      case .int: type = "int"
      case .double: type = "float"
      case .bool: type = "bool"
      case .intList: type = "list of int"
      case .stringList: type = "list of string"
      case .choice(let options): type = options.joined(separator: " \\| ")
      }
      let doc = spec.doc.split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|")
      out += "| `\(spec.name)` | \(type) | `\(spec.defaultValue.json)` | \(spec.rangeText) | \(doc) |\n"
    }
    return out
  }

  private static func namespaceHint(_ name: String) -> String {
    guard let ns = namespaces.first(where: { name.hasPrefix($0) }) else { return "" }
    let inNamespace = (names + evalBindings.map(\.name)).filter { $0.hasPrefix(ns) }
    return " (\(ns)* bindings: \(inNamespace.joined(separator: ", ")))"
  }
}

/// Levenshtein distance over characters.
func editDistance(_ a: String, _ b: String) -> Int {
  let x = Array(a), y = Array(b)
  if x.isEmpty { return y.count }
  if y.isEmpty { return x.count }
  var previous = Array(0...y.count)
  var current = [Int](repeating: 0, count: y.count + 1)
  for i in 1...x.count {
    current[0] = i
    for j in 1...y.count {
      current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
    }
    swap(&previous, &current)
  }
  return previous[y.count]
}

extension ConfigValue {
  var number: Double? {
    switch self {
    case .int(let i): Double(i)
    case .double(let d): d
    default: nil
    }
  }

  static func short(_ d: Double) -> String {
    d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
  }
}
