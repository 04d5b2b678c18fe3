/// How a dataset's class count is decided and its labels checked, with one rule and the same
/// messages when a sweep is submitted (`Dataset.checkFiles`) and when a job loads its data.
///
/// The count is `data.num_classes` when set. Otherwise it is inferred as max(train label) + 1, and
/// only when the train labels are exactly the dense ids 0…K−1, every one present: a gap (labels
/// 0…9 and 99) says the files hold part of a larger label space, or a stray value, which only
/// `data.num_classes` can settle. Either way every label of every split lies in 0..<count, and the
/// count is at most `maxClasses`, since the model's head and every batch of logits grow with it.
public enum ClassLabels {
  public static let maxClasses = 100_000

  /// The class count of a dataset whose train labels (from `file`) are `labels`; `declared` > 0
  /// is `data.num_classes`. Checks the train labels against it.
  public static func classCount(trainLabels labels: [Int], file: String, declared: Int) throws(EngineError) -> Int {
    if declared > 0 {
      guard declared <= maxClasses else {
        throw EngineError(.config, "data.num_classes is \(declared); at most \(maxClasses) classes are supported")
      }
      guard declared >= 2 else {
        throw EngineError(.config, "a classifier needs at least 2 classes, data.num_classes is 1")
      }
      try check(labels, file: file, classes: declared, inferred: false)
      return declared
    }
    if let i = labels.firstIndex(where: { $0 < 0 }) {
      throw EngineError(.format, "\(file): label \(labels[i]) at index \(i) is negative (labels are class ids 0…C−1)")
    }
    guard let largest = labels.max() else {
      throw EngineError(.shape, "\(file) is empty: the train split has no samples")
    }
    guard largest < maxClasses else {
      let i = labels.firstIndex(of: largest)!
      throw EngineError(
        .format,
        "\(file): label \(largest) at index \(i) would make \(largest) + 1 classes; at most \(maxClasses) are"
          + " supported (labels are class ids 0…C−1)")
    }
    var present = [Bool](repeating: false, count: largest + 1)
    for label in labels { present[label] = true }
    let missing = present.indices.filter { !present[$0] }
    if !missing.isEmpty {
      let shown = missing.prefix(5).map(String.init).joined(separator: ", ") + (missing.count > 5 ? ", …" : "")
      throw EngineError(
        .format,
        "\(file): the labels are not the class ids 0…\(largest) without gaps: \(largest + 1 - missing.count) distinct"
          + " values up to \(largest), \(missing.count) ids missing (\(shown)); set data.num_classes to the class"
          + " count if the dataset has classes without training samples")
    }
    guard largest + 1 >= 2 else {
      throw EngineError(.config, "a classifier needs at least 2 classes, the train labels give \(largest + 1)")
    }
    return largest + 1
  }

  /// Every label of `file` lies in 0..<classes; `inferred` says where the count came from.
  public static func check(_ labels: [Int], file: String, classes: Int, inferred: Bool) throws(EngineError) {
    if let i = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
      let origin = inferred ? "inferred from the train labels; set data.num_classes" : "data.num_classes"
      throw EngineError(
        .format,
        "\(file): label \(labels[i]) at index \(i) is outside 0..<\(classes) (\(classes) classes, \(origin))")
    }
  }
}
