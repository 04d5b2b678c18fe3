import Foundation

/// The select step of a tune → select → copies pipeline, in the training job that needs it:
/// `select.from` lists candidate checkpoints (the tuning runs' `KEY@final`, resolved to paths at
/// submission, where the job also gets an `afterok` on each), `select.metric` the metric to compare
/// (default `test_acc`; higher is better, lower for names ending in `loss`) and `select.bindings`
/// the bindings to copy from the best candidate over the job's own (`[optimizer.base_lr]`).
///
/// A candidate's metrics and bindings are those its checkpoint's metadata carries (`metrics`: the
/// metrics of that epoch; `config`: the resolved bindings of the job that wrote it), so any
/// checkpoint the reference names works, not only a run's last one, and nothing else has to be
/// written for it. Ties go to the earlier candidate, so the choice is a function of the list.
public enum SelectStep {
  public struct Candidate: Sendable, Hashable {
    /// The checkpoint file read (a run directory's newest valid one for `KEY@latest`).
    public var path: String
    public var value: Double
    public var bindings: [String: ConfigValue]
  }

  public struct Choice: Sendable, Hashable {
    public var metric: String
    /// Position of the chosen candidate in `select.from`.
    public var index: Int
    public var candidates: [Candidate]
    /// The copied bindings with the chosen candidate's values.
    public var applied: [String: ConfigValue]

    public var chosen: Candidate { candidates[index] }

    /// What `resolved_config.json` records under `"selected"`.
    public var record: ConfigValue {
      .map([
        "metric": .string(metric), "index": .int(index), "checkpoint": .string(chosen.path),
        "value": .double(chosen.value), "bindings": .map(applied),
        "candidates": .list(candidates.map { .map(["checkpoint": .string($0.path), "value": .double($0.value)]) }),
      ])
    }
  }

  static func lowerIsBetter(_ metric: String) -> Bool { metric.hasSuffix("loss") }

  /// Reads one candidate: its checkpoint's metric and bindings.
  static func candidate(_ source: String, position: Int, metric: String) throws(EngineError) -> Candidate {
    let binding = "select.from[\(position)]"
    let path = try Evaluator.resolve(source, binding: binding)
    let file = try Checkpoint.read(path)
    let bindings = try Evaluator.sourceBindings(file, path: path)
    guard let text = file.metadata["metrics"], case .map(let metrics)? = try? ConfigValue.parse(json: text) else {
      // E000 is written before any evaluation.
      throw EngineError(
        .config,
        "\(binding) \(path) carries no metrics (a checkpoint before the first epoch?); select.metric '\(metric)'"
          + " needs an evaluated checkpoint such as KEY@final")
    }
    guard let value = metrics[metric]?.number, value.isFinite else {
      let known = metrics.keys.filter { !$0.contains("_class_") }.sorted().joined(separator: ", ")
      throw EngineError(.config, "\(binding) \(path) has no metric '\(metric)' (select.metric); it has: \(known)")
    }
    return Candidate(path: path, value: value, bindings: bindings)
  }

  /// Reads every candidate and picks the best by `metric`; `names` must be bound in each.
  public static func choose(from sources: [String], metric: String, bindings names: [String]) throws(EngineError)
    -> Choice
  {
    guard !sources.isEmpty else {
      throw EngineError(.config, "select.from is empty: name the candidates (KEY@final, …) to select from")
    }
    var candidates: [Candidate] = []
    for (i, source) in sources.enumerated() {
      let c = try candidate(source, position: i, metric: metric)
      for name in names where c.bindings[name] == nil {
        throw EngineError(
          .config, "select.bindings names '\(name)', which select.from[\(i)] \(c.path) does not bind")
      }
      candidates.append(c)
    }
    let lower = lowerIsBetter(metric)
    var best = 0
    for i in candidates.indices.dropFirst() {
      let v = candidates[i].value
      let b = candidates[best].value
      if lower ? v < b : v > b { best = i }
    }
    var applied: [String: ConfigValue] = [:]
    for name in names { applied[name] = candidates[best].bindings[name] }
    return Choice(metric: metric, index: best, candidates: candidates, applied: applied)
  }

  /// The config with the chosen candidate's bindings laid over its own and the choice recorded;
  /// nil when it has no select step or the step already ran.
  public static func apply(to config: TrainConfig) throws(EngineError) -> TrainConfig? {
    guard !config.selectFrom.isEmpty, config.selection == nil else { return nil }
    let choice = try choose(from: config.selectFrom, metric: config.selectMetric, bindings: config.selectBindings)
    var bindings = config.extraBindings
    for (name, value) in config.bindings { bindings[name] = value }
    for (name, value) in choice.applied { bindings[name] = value }
    var selected: TrainConfig
    do {
      selected = try EngineSchema.validate(bindings)
    } catch {
      throw error.adding(context: "applying the selected bindings")
    }
    selected.selection = choice
    return selected
  }

  /// One log line: which candidate won, and every candidate's value.
  public static func describe(_ choice: Choice) -> String {
    let values = choice.candidates.enumerated().map { i, c in
      "[\(i)] \(ConfigValue.short(c.value))\(i == choice.index ? " *" : "")"
    }
    let applied = choice.applied.keys.sorted().map { "\($0)=\(choice.applied[$0]!.json)" }.joined(separator: " ")
    return "select: \(choice.metric) \(values.joined(separator: ", ")) → \(choice.chosen.path): \(applied)"
  }
}
