import Engine
import Foundation
import OrchCore

/// `orch analyze bias-transfer SWEEP` (Salman et al.): for every evaluation job of the sweep that
/// patches the test images (`spurious.type` square|gaussian), the model it evaluates, that model's
/// source (followed through `train.finetune_from`; `clean` when trained without `spurious.type`)
/// and transfer mode (`none` for a model evaluated on its own training data's task: a source, or
/// the scratch control of a target). Per model, the backdoor's class in the target
/// task is the class c that the patch pulls most non-c test images into; the table gives, per
/// (target, source, transfer, patch), the rate at which non-c test images are predicted as c with
/// and without the patch (the clean predictions are the model's own final evaluation), and clean
/// accuracy. Choosing c per model by the patched predictions is done for every row alike, the
/// controls included, so their rates are the bar the backdoored sources have to clear.
public enum BiasTransfer {
  struct Model {
    var target: String
    var source: String
    var transfer: String
    var patch: String
    var cleanAccuracy: Double
    var patchedAccuracy: Double
    var backdoorClass: Int
    var rateClean: Double
    var ratePatched: Double
    /// Fraction of test images whose prediction the patch changes (no class chosen).
    var changed: Double
  }

  /// `clean`, or the `spurious.type` a model was trained with.
  static func backdoor(of job: AnalysisJob) -> String {
    guard let type = job.string("spurious.type"), type != "none" else { return "clean" }
    return type
  }

  static func argmax(_ logits: [Float], _ i: Int, _ classes: Int) -> Int {
    var best = 0
    for j in 1..<max(classes, 1) where logits[i * classes + j] > logits[i * classes + best] { best = j }
    return best
  }

  /// Fraction of test images not of class k predicted as k, for every k.
  static func rates(logits: [Float], labels: [Int], classes: Int) -> [Double] {
    var hits = [Int](repeating: 0, count: classes)
    var others = [Int](repeating: 0, count: classes)
    for (i, label) in labels.enumerated() {
      let predicted = argmax(logits, i, classes)
      for k in 0..<classes where k != label {
        others[k] += 1
        if predicted == k { hits[k] += 1 }
      }
    }
    return (0..<classes).map { others[$0] == 0 ? 0 : Double(hits[$0]) / Double(others[$0]) }
  }

  static func models(_ set: AnalysisSet, labels: (String) throws(OrchError) -> [Int]) throws(OrchError) -> [Model] {
    var out: [Model] = []
    var labelsOf: [String: [Int]] = [:]
    for eval in set.jobs where eval.engine == "eval" {
      guard let patch = eval.string("spurious.type"), patch != "none",
        let checkpoint = eval.string("eval.checkpoint"), eval.string("eval.checkpoint_b") == nil,
        let model = try set.owner(ofCheckpoint: checkpoint), model.completed, model.engine == "train"
      else { continue }
      // Where the weights came from: a source's backdoor (or none), or the model's own training.
      let source = try set.source(of: model)
      let origin = source.map { $0.job } ?? model
      let sourceName = origin.map { Self.backdoor(of: $0) } ?? "?"
      let transfer = source == nil ? "none" : (model.string("train.transfer") ?? "FULL")
      guard let target = model.string("data.name") else { continue }
      if labelsOf[target] == nil { labelsOf[target] = try labels(target) }
      let labels = labelsOf[target]!
      guard let cleanPath = model.stored.artifacts["predictions"],
        let patchedPath = eval.stored.artifacts["predictions"]
      else { continue }
      let clean = try readLogits(cleanPath, count: labels.count)
      let patched = try readLogits(patchedPath, count: labels.count)
      let classes = clean.count / labels.count
      guard patched.count == clean.count else {
        throw OrchError.failure(
          "\(eval.key) predicts \(patched.count / labels.count) classes, its model \(model.key) \(classes)")
      }
      let patchedRates = rates(logits: patched, labels: labels, classes: classes)
      let cleanRates = rates(logits: clean, labels: labels, classes: classes)
      let c = patchedRates.indices.max { patchedRates[$0] < patchedRates[$1] } ?? 0
      var changed = 0
      for i in labels.indices where argmax(clean, i, classes) != argmax(patched, i, classes) { changed += 1 }
      out.append(
        Model(
          target: target, source: sourceName, transfer: transfer, patch: patch,
          cleanAccuracy: model.metrics["test_acc"] ?? .nan, patchedAccuracy: eval.metrics["test_acc"] ?? .nan,
          backdoorClass: c, rateClean: cleanRates[c], ratePatched: patchedRates[c],
          changed: Double(changed) / Double(labels.count)))
    }
    return out
  }

  static func readLogits(_ path: String, count: Int) throws(OrchError) -> [Float] {
    let array: NDArray
    do { array = try NPY.read(path) } catch { throw OrchError.failure("cannot read predictions \(path): \(error)") }
    let values = array.floats()
    guard count > 0, values.count % count == 0, array.shape.first == count else {
      throw OrchError.failure("predictions \(path) have shape \(array.shape), expected [\(count), classes]")
    }
    return values
  }

  /// Test labels of a dataset, as the engine reads them.
  public static func testLabels(_ name: String) throws(OrchError) -> [Int] {
    try DatasetLabels.read(name, split: "test")
  }

  static let sourceOrder = ["clean", "square", "gaussian"]
  static let transferOrder = ["none", "FIXED", "FULL"]

  public static func report(_ set: AnalysisSet, labels: (String) throws(OrchError) -> [Int] = testLabels)
    throws(OrchError)
    -> Report
  {
    let models = try models(set, labels: labels)
    var report = Report(
      title:
        "Bias transfer — \(set.sweep): rate at which non-c test images are predicted as c (c: the class the patch pulls most into, per model)",
      columns: [
        "target", "source", "transfer", "patch", "models", "clean_acc", "patched_acc", "rate_clean", "rate_patched",
        "rate_patched_sd", "changed", "classes_c",
      ],
      rows: [])
    struct Group: Hashable {
      var target, source, transfer, patch: String
    }
    var groups: [Group: [Model]] = [:]
    for m in models {
      groups[Group(target: m.target, source: m.source, transfer: m.transfer, patch: m.patch), default: []].append(m)
    }
    func rank(_ s: String, _ order: [String]) -> Int { order.firstIndex(of: s) ?? order.count }
    let ordered = groups.keys.sorted {
      ($0.target, $0.patch, rank($0.transfer, transferOrder), rank($0.source, sourceOrder), $0.source)
        < ($1.target, $1.patch, rank($1.transfer, transferOrder), rank($1.source, sourceOrder), $1.source)
    }
    for g in ordered {
      let ms = groups[g]!
      let clean = Summary(ms.map(\.cleanAccuracy))!
      let patched = Summary(ms.map(\.patchedAccuracy))!
      let rc = Summary(ms.map(\.rateClean))!
      let rp = Summary(ms.map(\.ratePatched))!
      report.rows.append([
        .text(g.target), .text(g.source), .text(g.transfer), .text(g.patch), .number(Double(ms.count)),
        .number(clean.mean), .number(patched.mean), .number(rc.mean), .number(rp.mean), .number(rp.sd),
        .number(Summary(ms.map(\.changed))!.mean), .text(ms.map { String($0.backdoorClass) }.joined(separator: " ")),
      ])
    }
    if models.isEmpty {
      report.notes.append(
        "no evaluation job of this sweep patches the test set (spurious.type square|gaussian) of a completed training job"
      )
    }
    if let note = set.unfinishedNote { report.notes.append(note) }
    // One panel per (target, patch): clean vs patched rate for each source × transfer.
    var panels: [String: [Group]] = [:]
    var panelOrder: [String] = []
    for g in ordered {
      let name = "\(g.target), \(g.patch) patch"
      if panels[name] == nil { panelOrder.append(name) }
      panels[name, default: []].append(g)
    }
    for name in panelOrder {
      let gs = panels[name]!
      let labels = gs.map { "\($0.source) \($0.transfer)" }
      func series(_ title: String, _ value: (Model) -> Double) -> Chart.Series {
        Chart.Series(
          name: title,
          points: gs.enumerated().map { i, g in
            let s = Summary(groups[g]!.map(value))!
            return Chart.Point(x: Double(i), y: s.mean, error: s.sd)
          })
      }
      report.charts.append(
        Chart(
          title: name, xLabel: "source, transfer", yLabel: "non-c images predicted as c",
          series: [series("clean test", \.rateClean), series("patched test", \.ratePatched)], categories: labels))
    }
    return report
  }
}
