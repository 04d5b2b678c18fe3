/// A validated `engine: eval` job: which checkpoint(s) to evaluate and the data bindings that
/// override the checkpoint's own.
///
/// The model (every `model.*` binding) and the evaluation batch size come from the checkpoint's
/// metadata (`config`, the resolved bindings of the training job that wrote it), so an eval config
/// never repeats them. The data (`data.*`) and transforms (`spurious.*`, `shift.*`) are the
/// checkpoint's too, except for the ones the eval config binds itself: `shift.tint_test: 0`
/// evaluates a tint-trained checkpoint on the shifted test set, `shift.vflip: true` on flipped
/// images. `model.*`, `optimizer.*`, `lr_scheduler.*`
/// and `train.*` (but `train.eval_batch_size`) are errors in an eval config.
public struct EvalConfig: Sendable, Hashable {
  /// A path (file, or a run directory meaning its newest valid checkpoint) once submitted; a
  /// `KEY@…` reference before.
  public let checkpoint: String
  /// nil: evaluate `checkpoint` alone.
  public let checkpointB: String?
  public let alpha: Double
  /// Explicit `data.*`, `spurious.*`, `shift.*` and `train.eval_batch_size` bindings, normalised.
  public let overrides: [String: ConfigValue]
  /// Bindings outside the engine namespaces (key templates only).
  public let extraBindings: [String: ConfigValue]

  /// Binding names an eval config may set outside `eval.*`.
  public static func isOverride(_ name: String) -> Bool {
    name.hasPrefix("data.") || name.hasPrefix("spurious.") || name.hasPrefix("shift.")
      || name == "train.eval_batch_size"
  }

  /// Checks an eval config's bindings; every problem is reported, one per line.
  public static func validate(_ bindings: [String: ConfigValue]) throws(EngineError) -> EvalConfig {
    var problems: [String] = []
    var overrides: [String: ConfigValue] = [:]
    var extra: [String: ConfigValue] = [:]
    var eval: [String: ConfigValue] = [:]
    for name in bindings.keys.sorted() {
      let isEngine = EngineSchema.isEngineName(name)
      if isEngine && !name.hasPrefix("eval.") && !isOverride(name) {
        problems.append(
          "binding '\(name)' does not apply to `engine: eval`: the model and its training come from the checkpoint"
            + " (an eval config takes eval.*, data.*, spurious.*, shift.* and train.eval_batch_size)")
        continue
      }
      do {
        let value = try EngineSchema.check(name: name, value: bindings[name]!)
        if name.hasPrefix("eval.") {
          eval[name] = value
        } else if isEngine {
          overrides[name] = value
        } else {
          extra[name] = value
        }
      } catch {
        problems.append(error.message)
      }
    }
    if problems.isEmpty {
      var named = false
      if case .string(let s)? = eval["eval.checkpoint"] { named = !s.isEmpty }
      if !named {
        problems.append("`engine: eval` needs 'eval.checkpoint' (KEY@E010, KEY@final, KEY@latest or a path)")
      }
      if eval["eval.alpha"] != nil, eval["eval.checkpoint_b"] == nil {
        problems.append("binding 'eval.alpha' needs 'eval.checkpoint_b' (the checkpoint to interpolate towards)")
      }
      if case .double(let a)? = eval["eval.alpha"], !a.isFinite {
        problems.append("binding 'eval.alpha' must be finite")
      }
    }
    if !problems.isEmpty { throw EngineError(.config, problems.joined(separator: "\n")) }
    guard case .string(let a)? = eval["eval.checkpoint"] else { preconditionFailure("checked above") }
    var b: String?
    if case .string(let s)? = eval["eval.checkpoint_b"], !s.isEmpty { b = s }
    var alpha = 0.0
    if case .double(let x)? = eval["eval.alpha"] { alpha = x }
    return EvalConfig(checkpoint: a, checkpointB: b, alpha: alpha, overrides: overrides, extraBindings: extra)
  }

  /// Parses a job's config JSON (`{"bindings":{…},"engine":"eval"}`) and validates it.
  public static func validate(configJSON: String) throws(EngineError) -> EvalConfig {
    let (engine, bindings) = try EngineSchema.parseJob(configJSON)
    guard engine == "eval" else { throw EngineError(.config, "engine '\(engine)' is not eval") }
    return try validate(bindings)
  }

  /// The training config the evaluation runs under: the checkpoint's resolved bindings
  /// (`sourceBindings`) with `overrides` laid over them and no fine-tuning source.
  public func trainConfig(sourceBindings: [String: ConfigValue]) throws(EngineError) -> TrainConfig {
    // A selected model's checkpoint already holds the chosen bindings: an evaluation selects nothing.
    var merged = sourceBindings.filter {
      EngineSchema.isEngineName($0.key) && !$0.key.hasPrefix("eval.") && !$0.key.hasPrefix("select.")
    }
    merged["train.finetune_from"] = ""
    for (name, value) in overrides { merged[name] = value }
    return try EngineSchema.validate(merged)
  }
}
