import Foundation
import GRDB
import Store

/// `train.finetune_from: KEY@E030 | KEY@latest`: another config's checkpoint. At submission the
/// reference becomes a path (`<its run dir>/checkpoints/ckpt-E030.safetensors`, or its run dir for
/// `latest`, where the engine picks the newest valid checkpoint) and the job waits for that config
/// (`afterok` on it): in the same submission, or the newest job with that key in the store.
struct CheckpointReference {
  static let binding = "train.finetune_from"

  var key: String
  /// `E030`, or nil for `latest`.
  var epoch: Int?

  /// nil for a plain path.
  static func parse(_ text: String) -> CheckpointReference? {
    guard let at = text.lastIndex(of: "@") else { return nil }
    let key = String(text[..<at])
    let tag = text[text.index(after: at)...]
    if tag == "latest" { return CheckpointReference(key: key, epoch: nil) }
    guard tag.first == "E", let epoch = Int(tag.dropFirst()) else { return nil }
    return CheckpointReference(key: key, epoch: epoch)
  }

  func path(runDir: String) -> String {
    guard let epoch else { return runDir }
    return runDir + "/checkpoints/ckpt-E" + String(format: "%03d", epoch) + ".safetensors"
  }

  /// The config with the reference replaced by a path, and the dependency row it needs; nil when
  /// the config has no reference. `inSubmission` maps keys of this submission's new jobs to their
  /// array indices.
  static func resolve(
    _ config: ConfigSpec, index: Int, outputRoot: String, inSubmission: [String: Int], tx: Submission
  ) throws -> (config: ConfigSpec, dependency: DependencyRow)? {
    guard case .string(let text)? = config.binding(binding), let ref = parse(text) else { return nil }
    let runDir: String
    let dependency: DependencyRow
    if let source = inSubmission[ref.key] {
      runDir = outputRoot + "/" + ref.key
      dependency = DependencyRow(
        kind: "afterok", targetArray: nil, targetIndex: source, onlyIndex: index, selfArray: true)
    } else if let job = try tx.newest(key: ref.key) {
      runDir = job.runDir
      dependency = DependencyRow(
        kind: "afterok", targetArray: job.arrayID, targetIndex: job.arrayIndex, onlyIndex: index)
    } else {
      throw OrchError.badInput(
        "config '\(config.key)': \(binding) names '\(ref.key)', which is neither in this submission nor in the store",
        at: config.location)
    }
    var bindings = config.bindings
    bindings[binding] = .string(ref.path(runDir: runDir))
    let resolved = ConfigSpec(
      key: config.key, file: config.file, bindings: bindings, kind: config.kind, resources: config.resources,
      location: config.location)
    return (resolved, dependency)
  }
}
