import Engine
import Foundation
import GRDB
import Store

/// `train.finetune_from`, `eval.checkpoint`, `eval.checkpoint_b`, `caml.reference` and each entry of
/// the list `select.from`: `KEY@E030 | KEY@final | KEY@latest` names another config's checkpoint. At
/// submission the reference becomes a path (`<its run dir>/checkpoints/ckpt-E030.safetensors`;
/// `final` is the source's `train.epochs`; its run dir for `latest`, where the engine picks the
/// newest valid checkpoint) and the job waits for that config (`afterok` on it): in the same
/// submission, or the newest job with that key in the store. A key found in neither, a source that is not an `engine: train` config (for `final` or
/// an epoch), or an epoch the source never checkpoints (E000, every `train.checkpoint_every`, the
/// last) is bad input at the referencing entry's location.
struct CheckpointReference {
  static let bindings = ["train.finetune_from", "eval.checkpoint", "eval.checkpoint_b", "caml.reference"]
  /// Bindings holding a list of checkpoints: the select step's candidates.
  static let listBindings = ["select.from"]

  /// One checkpoint-naming value of a config: a scalar binding, or an entry of a list binding.
  struct Slot {
    var name: String
    /// Position in a list binding; nil for a scalar one.
    var position: Int?
    var text: String

    /// `select.from[1]`, for messages.
    var label: String { position.map { "\(name)[\($0)]" } ?? name }
  }

  /// Every checkpoint-naming string of `binding` (a lookup such as `ConfigSpec.binding`), in
  /// binding order.
  static func slots(_ binding: (String) -> BindingValue?) -> [Slot] {
    var out: [Slot] = []
    for name in bindings {
      if case .string(let text)? = binding(name) { out.append(Slot(name: name, position: nil, text: text)) }
    }
    for name in listBindings {
      guard case .list(let items)? = binding(name) else { continue }
      for (i, item) in items.enumerated() {
        if case .string(let text) = item { out.append(Slot(name: name, position: i, text: text)) }
      }
    }
    return out
  }

  /// Replaces the value of `slot` in `bindings`.
  static func set(_ slot: Slot, to text: String, in bindings: inout [String: BindingValue]) {
    guard let i = slot.position else {
      bindings[slot.name] = .string(text)
      return
    }
    guard case .list(var items)? = bindings[slot.name], i < items.count else { return }
    items[i] = .string(text)
    bindings[slot.name] = .list(items)
  }

  enum Tag: Equatable {
    case epoch(Int)
    case final
    case latest
  }

  var key: String
  var tag: Tag

  /// nil for a plain path.
  static func parse(_ text: String) -> CheckpointReference? {
    guard let at = text.lastIndex(of: "@") else { return nil }
    let key = String(text[..<at])
    let tag = text[text.index(after: at)...]
    if tag == "latest" { return CheckpointReference(key: key, tag: .latest) }
    if tag == "final" { return CheckpointReference(key: key, tag: .final) }
    guard tag.first == "E", let epoch = Int(tag.dropFirst()), epoch >= 0 else { return nil }
    return CheckpointReference(key: key, tag: .epoch(epoch))
  }

  /// Whether the config names a checkpoint by reference in any of `bindings`.
  static func references(_ config: ConfigSpec) -> Bool {
    slots(config.binding).contains { parse($0.text) != nil }
  }

  static func path(runDir: String, epoch: Int?) -> String {
    guard let epoch else { return runDir }
    return runDir + "/checkpoints/ckpt-E" + String(format: "%03d", epoch) + ".safetensors"
  }

  struct Problem: Error, CustomStringConvertible {
    var description: String
  }

  /// The epoch this reference loads, checked against what the source config (`sourceJSON`) will
  /// checkpoint; nil for `latest`.
  func epoch(sourceJSON: String) throws(Problem) -> Int? {
    if tag == .latest { return nil }
    guard let engine = try? EngineSchema.parseJob(sourceJSON).engine else {
      // A command config: which checkpoints it writes is its own business.
      guard case .epoch(let e) = tag else {
        throw Problem(description: "'\(key)' is a command config, so it has no known final epoch")
      }
      return e
    }
    guard engine == "train", let train = try? EngineSchema.validate(configJSON: sourceJSON) else {
      throw Problem(description: "'\(key)' is an `engine: \(engine)` config, which writes no checkpoints")
    }
    switch tag {
    case .latest: return nil
    case .final: return train.epochs
    case .epoch(let e):
      let every = train.checkpointEvery
      guard e == 0 || e == train.epochs || (e < train.epochs && every > 0 && e % every == 0) else {
        var saved = [0]
        if every > 0 { saved += stride(from: every, to: train.epochs, by: every) }
        if train.epochs > 0 { saved.append(train.epochs) }
        let list = saved.prefix(12).map { String(format: "E%03d", $0) }.joined(separator: ", ")
        throw Problem(
          description:
            "'\(key)' has no epoch \(String(format: "E%03d", e)) (it checkpoints \(list)\(saved.count > 12 ? ", …" : ""))"
        )
      }
      return e
    }
  }

  /// The config with every reference replaced by a path, and the dependency rows it needs; nil
  /// when the config has no reference. `inSubmission` maps keys of this submission's new jobs to
  /// their array indices and config JSON.
  static func resolve(
    _ config: ConfigSpec, index: Int, outputRoot: String, inSubmission: [String: (index: Int, config: String)],
    tx: Submission
  ) throws -> (config: ConfigSpec, dependencies: [DependencyRow])? {
    var bindings = config.bindings
    var dependencies: [DependencyRow] = []
    var seen = Set<String>()
    for slot in slots(config.binding) {
      guard let ref = parse(slot.text) else { continue }
      let name = slot.label
      let text = slot.text
      let runDir: String
      let sourceJSON: String
      let dependency: DependencyRow
      if let source = inSubmission[ref.key] {
        runDir = outputRoot + "/" + ref.key
        sourceJSON = source.config
        dependency = DependencyRow(
          kind: "afterok", targetArray: nil, targetIndex: source.index, onlyIndex: index, selfArray: true)
      } else if let job = try tx.newest(key: ref.key) {
        runDir = job.runDir
        sourceJSON = job.config
        dependency = DependencyRow(
          kind: "afterok", targetArray: job.arrayID, targetIndex: job.arrayIndex, onlyIndex: index)
      } else {
        throw OrchError.badInput(
          "config '\(config.key)': \(name) names '\(ref.key)', which is neither in this submission nor in the store",
          at: config.location)
      }
      let epoch: Int?
      do {
        epoch = try ref.epoch(sourceJSON: sourceJSON)
      } catch {
        throw OrchError.badInput("config '\(config.key)': \(name) '\(text)': \(error)", at: config.location)
      }
      set(slot, to: path(runDir: runDir, epoch: epoch), in: &bindings)
      if seen.insert(ref.key).inserted { dependencies.append(dependency) }
    }
    guard !dependencies.isEmpty else { return nil }
    let resolved = ConfigSpec(
      key: config.key, file: config.file, bindings: bindings, kind: config.kind, resources: config.resources,
      location: config.location)
    return (resolved, dependencies)
  }
}
