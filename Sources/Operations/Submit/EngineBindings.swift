import Engine
import Foundation
import OrchCore
import Registry

/// Engine configs are checked against the engine's binding schema before anything is stored:
/// an unknown name fails with the entry's location and the closest valid name. The data
/// transforms are checked against the dataset's image shape when the dataset can be found here
/// (a block size that does not divide the image, a transform on feature vectors), and so is the
/// size of a training config's model (`TrainConfig.checkModel`: parameters past the engine's bound
/// are refused here rather than when the job starts). An
/// `engine: eval` config is checked against `EvalConfig` (its transforms when it names its
/// `data.name`).
public enum EngineBindings {
  public static func check(_ selection: Submitter.Selection) throws(OrchError) {
    var seen = Set<String>()
    var shapes: [String: (shape: [Int], kind: Dataset.Kind)?] = [:]
    var failure: OrchError?
    var checkedData = Set<String>()
    selection.forEach { _, lent in
      guard failure == nil, case .engine = lent.pointee.kind else { return }
      let config = lent.pointee
      guard seen.insert(config.hash).inserted else { return }
      do {
        try checkPaths(config)
        let train: TrainConfig
        let isEval = try EngineSchema.parseJob(config.canonicalJSON).engine == "eval"
        if isEval {
          // The checkpoint supplies the rest; its own data is checked when it trains.
          let eval = try EvalConfig.validate(configJSON: config.canonicalJSON)
          guard eval.overrides["data.name"] != nil else { return }
          train = try EngineSchema.validate(eval.overrides)
        } else {
          train = try EngineSchema.validate(configJSON: config.canonicalJSON)
          try checkFiles(train, checked: &checkedData)
        }
        guard !isEval || !train.transforms.isIdentity else { return }
        let probeKey = "\(train.layout.rawValue) \(train.dataName)"
        if shapes[probeKey] == nil {
          shapes[probeKey] = .some(TransformConfig.probeSampleShape(dataName: train.dataName, layout: train.layout))
        }
        guard let (shape, kind) = shapes[probeKey]! else { return }
        if !train.transforms.isIdentity {
          try train.transforms.check(sampleShape: shape, kind: kind, dataName: train.dataName)
        }
        // An eval config's model is its checkpoint's, checked when that trained.
        if !isEval {
          try train.checkModel(sampleShape: shape, classes: GeneratedDatasets.classCount(train.dataName))
        }
      } catch {
        // The engine lists its problems a line each; an error is one line.
        let problems = "\(error)".split(separator: "\n").joined(separator: "; ")
        failure = OrchError.badInput("config '\(config.key)': \(problems)", at: config.location)
      }
    }
    if let failure { throw failure }
  }

  /// A dataset directory of the user's (not a generated one) whose files disagree, whose labels
  /// do not fit the declared or inferred class count, or a CAML run on data without group labels,
  /// fails here rather than when the job loads it.
  static func checkFiles(_ train: TrainConfig, checked: inout Set<String>) throws(EngineError) {
    let needsBias = train.loss == .caml
    guard !GeneratedDatasets.names.contains(train.dataName),
      checked.insert("\(needsBias) \(train.numClasses) \(train.dataName)").inserted,
      let directory = try? DataLocation.resolve(train.dataName)
    else { return }
    try Dataset.checkFiles(directory: directory, needsBias: needsBias, classes: train.numClasses)
  }

  /// A checkpoint named by path (not `KEY@…`) must exist when the sweep is submitted: the job
  /// runs in the submission's working directory, and a typo would otherwise fail only when it runs.
  static func checkPaths(_ config: ConfigSpec) throws(EngineError) {
    for slot in CheckpointReference.slots(config.binding) {
      let (name, text) = (slot.label, slot.text)
      guard !text.isEmpty, CheckpointReference.parse(text) == nil else { continue }
      let path = (text as NSString).expandingTildeInPath
      if !FileManager.default.fileExists(atPath: path) {
        throw EngineError(
          .config,
          "\(name) '\(text)' does not exist (to wait for another config's checkpoint, name it KEY@E010, KEY@final or KEY@latest)"
        )
      }
    }
  }
}
