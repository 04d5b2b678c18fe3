import Engine
import Foundation

/// `train.finetune_from`, `eval.checkpoint`, `eval.checkpoint_b`, `caml.reference` and each entry of
/// the list `select.from`: `KEY@E030 | KEY@final | KEY@latest` names another config's checkpoint. At
/// submission the reference becomes a path (`<its run dir>/checkpoints/ckpt-E030.safetensors`;
/// `final` is the source's `train.epochs`; its run dir for `latest`, where the engine picks the
/// newest valid checkpoint) and the job waits for that config (`afterok` on it): in the same
/// submission, or the newest job with that key in the store. A key found in neither, a source that is not an `engine: train` config (for `final` or
/// an epoch), or an epoch the source never checkpoints (E000, every `train.checkpoint_every`, the
/// last) is bad input at the referencing entry's location.
public struct CheckpointReference {
  public static let bindings = EngineSchema.checkpointBindings
  public static let listBindings = EngineSchema.checkpointListBindings

  /// One checkpoint-naming value of a config: a scalar binding, or an entry of a list binding.
  public struct Slot {
    public var name: String
    /// Position in a list binding; nil for a scalar one.
    public var position: Int?
    public var text: String

    /// `select.from[1]`, for messages.
    public var label: String { position.map { "\(name)[\($0)]" } ?? name }
  }

  /// Every checkpoint-naming string of `binding` (a lookup such as `ConfigSpec.binding`), in
  /// binding order.
  public static func slots(_ binding: (String) -> BindingValue?) -> [Slot] {
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
  public static func set(_ slot: Slot, to text: String, in bindings: inout [String: BindingValue]) {
    guard let i = slot.position else {
      bindings[slot.name] = .string(text)
      return
    }
    guard case .list(var items)? = bindings[slot.name], i < items.count else { return }
    items[i] = .string(text)
    bindings[slot.name] = .list(items)
  }

  public enum Tag: Equatable {
    case epoch(Int)
    case final
    case latest
  }

  public var key: String
  public var tag: Tag

  /// nil for a plain path.
  public static func parse(_ text: String) -> CheckpointReference? {
    guard let at = text.lastIndex(of: "@") else { return nil }
    let key = String(text[..<at])
    let tag = text[text.index(after: at)...]
    if tag == "latest" { return CheckpointReference(key: key, tag: .latest) }
    if tag == "final" { return CheckpointReference(key: key, tag: .final) }
    guard tag.first == "E", let epoch = Int(tag.dropFirst()), epoch >= 0 else { return nil }
    return CheckpointReference(key: key, tag: .epoch(epoch))
  }

  /// `references` of a config lent by address (`Submitter.Selection.forEach`), without copying it.
  public static func references(_ config: UnsafePointer<ConfigSpec>) -> Bool {
    if case .slots(let table, _) = config.pointee.storage, !table.mayHoldReferences { return false }
    return references(config.pointee)
  }

  /// Whether the config names a checkpoint by reference in any of `bindings`.
  public static func references(_ config: ConfigSpec) -> Bool {
    // Most sweeps bind no name that can hold a reference: no per-config look-ups then.
    if case .slots(let table, _) = config.storage, !table.mayHoldReferences { return false }
    return slots(config.binding).contains { parse($0.text) != nil }
  }

  public static func path(runDir: String, epoch: Int?) -> String {
    guard let epoch else { return runDir }
    return runDir + "/checkpoints/ckpt-E" + String(format: "%03d", epoch) + ".safetensors"
  }

  public struct Problem: Error, CustomStringConvertible {
    public var description: String
  }

  /// The epoch this reference loads, checked against what the source config (`sourceJSON`) will
  /// checkpoint; nil for `latest`.
  public func epoch(sourceJSON: String) throws(Problem) -> Int? {
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
}
