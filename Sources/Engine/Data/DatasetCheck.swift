import Foundation

extension Dataset {
  /// Checks a dataset directory's files from their `.npy` headers alone, so a submission can
  /// refuse it before anything runs: per split present, the inputs (`_x` or `_feats`), the labels
  /// (`_targets` or `_y`) and the group labels (`_bias`) must have the same number of rows;
  /// `needsBias` (a CAML run, which clusters and reports by group) requires `train_bias.npy` and
  /// `test_bias.npy`.
  public static func checkFiles(directory: String, needsBias: Bool) throws(EngineError) {
    let fm = FileManager.default
    func path(_ file: String) -> String { directory + "/" + file }
    func rows(_ file: String) throws(EngineError) -> Int {
      guard let shape = NPY.readShape(path(file)), let n = shape.first else {
        throw EngineError(.format, "\(path(file)) is not a readable .npy file")
      }
      return n
    }
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
      if needsBias && split != "val" && !fm.fileExists(atPath: path("\(split)_bias.npy")) {
        throw EngineError(
          .io,
          "\(path("\(split)_bias.npy")) is missing: `train.loss: caml` needs group labels (int64 [N], one per sample of \(inputs))"
        )
      }
    }
  }
}
