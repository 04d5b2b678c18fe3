import Foundation

extension Dataset {
  /// Checks a dataset directory's files before anything runs, so a submission can refuse it: per
  /// split present, the inputs (`_x` or `_feats`), the labels (`_targets` or `_y`) and the group
  /// labels (`_bias`) must have the same number of rows (from the `.npy` headers); `needsBias` (a
  /// CAML run, which clusters and reports by group) requires `train_bias.npy` and
  /// `test_bias.npy`. Then the label files are read: integers, one per sample, in the class range
  /// `ClassLabels` decides from `classes` (`data.num_classes`; 0 = inferred from the train labels).
  public static func checkFiles(directory: String, needsBias: Bool, classes: Int = 0) throws(EngineError) {
    let fm = FileManager.default
    func path(_ file: String) -> String { directory + "/" + file }
    func rows(_ file: String) throws(EngineError) -> Int {
      guard let shape = NPY.readShape(path(file)), let n = shape.first else {
        throw EngineError(.format, "\(path(file)) is not a readable .npy file")
      }
      return n
    }
    var labelFiles: [String: (file: String, rows: Int)] = [:]
    for split in ["train", "val", "test"] {
      guard let inputs = ["\(split)_x.npy", "\(split)_feats.npy"].first(where: { fm.fileExists(atPath: path($0)) })
      else {
        if split != "val" {
          throw EngineError(.io, "\(directory) has no \(split)_x.npy or \(split)_feats.npy")
        }
        continue
      }
      let n = try rows(inputs)
      guard let labels = ["\(split)_targets.npy", "\(split)_y.npy"].first(where: { fm.fileExists(atPath: path($0)) })
      else {
        throw EngineError(.io, "\(directory) has \(inputs) but no \(split)_targets.npy or \(split)_y.npy")
      }
      for file in [labels, "\(split)_bias.npy"] where fm.fileExists(atPath: path(file)) {
        let m = try rows(file)
        if m != n {
          throw EngineError(.shape, "\(path(file)) has \(m) rows but \(inputs) has \(n): one label per sample")
        }
      }
      labelFiles[split] = (labels, n)
      if needsBias && split != "val" && !fm.fileExists(atPath: path("\(split)_bias.npy")) {
        throw EngineError(
          .io,
          "\(path("\(split)_bias.npy")) is missing: `train.loss: caml` needs group labels (int64 [N], one per sample of \(inputs))"
        )
      }
    }
    func integers(_ file: String, rows n: Int) throws(EngineError) -> [Int] {
      let array = try rethrowingEngineError { try NPY.read(path(file)) }
      guard array.shape == [n] else {
        throw EngineError(.shape, "\(path(file)) has shape \(array.shape), expected [\(n)] (one label per sample)")
      }
      return try rethrowingEngineError("reading \(path(file))") { try array.integers() }
    }
    // Train first: the class count comes from its labels when nothing declares it.
    var classCount = 0
    for split in ["train", "test", "val"] {
      guard let (file, n) = labelFiles[split] else { continue }
      let labels = try integers(file, rows: n)
      if split == "train" {
        classCount = try ClassLabels.classCount(trainLabels: labels, file: path(file), declared: classes)
      } else {
        try ClassLabels.check(labels, file: path(file), classes: classCount, inferred: classes == 0)
      }
      if fm.fileExists(atPath: path("\(split)_bias.npy")) { _ = try integers("\(split)_bias.npy", rows: n) }
    }
  }
}
