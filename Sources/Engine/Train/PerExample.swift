/// Per-test-example outputs written beside `predictions.npy` by training and evaluation jobs, for
/// influence analyses that average them over many models:
///
/// - `margins.npy`: float32 [N], logit of the correct class − the largest other logit;
/// - `correct.npy`: uint8 [N], 1 when the prediction (first largest logit, as accuracy counts it)
///   is the label.
///
/// A tie for the largest logit gives margin 0, correct only when the label is the first of them.
public enum PerExampleOutputs {
  public static func compute(
    logits: [Float],  // [N, classes]
    labels: [Int],  // [N]
    classes k: Int
  ) -> (margins: [Float], correct: [UInt8]) {
    precondition(k >= 2 && logits.count == labels.count * k)
    var margins = [Float](repeating: 0, count: labels.count)  // [N]
    var correct = [UInt8](repeating: 0, count: labels.count)  // [N]
    logits.withUnsafeBufferPointer { z in
      for (i, y) in labels.enumerated() {
        let row = z.baseAddress! + i * k
        var other = -Float.infinity
        for j in 0..<k where j != y { other = max(other, row[j]) }
        margins[i] = row[y] - other
        correct[i] = argmax(row, count: k) == y ? 1 : 0
      }
    }
    return (margins, correct)
  }

  /// Writes `margins.npy` and `correct.npy` into `directory`; returns (artifact name, path) pairs.
  static func write(
    logits: [Float], labels: [Int], classes: Int, directory: String
  ) throws(EngineError) -> [(name: String, path: String)] {
    let (margins, correct) = compute(logits: logits, labels: labels, classes: classes)
    let files = [
      ("margins", NDArray(shape: [labels.count], float32: margins)),
      ("correct", NDArray(shape: [labels.count], uint8: correct)),
    ]
    var written: [(name: String, path: String)] = []
    for (name, array) in files {
      let path = directory + "/\(name).npy"
      try rethrowingEngineError("writing \(path)") { try NPY.write(array, to: path) }
      written.append((name, path))
    }
    return written
  }
}
