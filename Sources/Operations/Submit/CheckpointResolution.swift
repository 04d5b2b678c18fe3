import Foundation
import OrchCore
import Registry
import Store

extension CheckpointReference {
  /// The config with every reference replaced by a path, and the dependency rows it needs; nil
  /// when the config has no reference. `inSubmission` maps keys of this submission's new jobs to
  /// their array indices and config JSON.
  public static func resolve(
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
