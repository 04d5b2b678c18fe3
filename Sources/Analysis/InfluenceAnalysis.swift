import Engine
import Foundation
import OrchCore

/// `orch analyze influence SWEEP --target T` (Jain et al.): the sweep's training jobs on T that
/// were fine-tuned from a source, each source's kept classes (its `data.classes`,
/// `data.exclude_classes` or `data.class_subset_seed`, as the engine reads them), and each target
/// model's per-example values (`margins.npy`, or `correct.npy`) → the class × example influence
/// matrix and the class ordering by mean influence.
public enum InfluenceAnalysis {
  public enum Value: String, CaseIterable {
    case margin
    case correct
  }

  public struct Result {
    var matrix: InfluenceMatrix
    var order: [Int]
    var mean: [Double]
    var models: Int
    var baseline: Double
  }

  public static func compute(_ set: AnalysisSet, target: String, value: Value) throws(OrchError) -> Result {
    var kept: [[Int]] = []
    var rows: [[Double]] = []
    var classCount: Int?
    var accuracy: [Double] = []
    for job in set.jobs where job.engine == "train" && job.string("data.name") == target {
      guard let source = try set.source(of: job), let sourceJob = source.job else { continue }
      let count: Int
      if let known = classCount { count = known } else { count = try sourceClasses(sourceJob) }
      classCount = count
      let config: TrainConfig
      do { config = try EngineSchema.validate(sourceJob.bindings) } catch {
        throw OrchError.failure("source \(sourceJob.key): \(error)")
      }
      let classes: [Int]
      do { classes = try config.transforms.keptClasses(classCount: count) } catch {
        throw OrchError.failure("source \(sourceJob.key): \(error)")
      }
      let artifact = value == .margin ? "margins" : "correct"
      guard let path = job.stored.artifacts[artifact] else {
        throw OrchError.failure(
          "\(job.key) (\(job.display)) has no \(artifact).npy; was it trained before per-example outputs existed?")
      }
      let values: [Double]
      do { values = try NPY.read(path).floats().map(Double.init) } catch {
        throw OrchError.failure("cannot read \(path): \(error)")
      }
      if let first = rows.first, first.count != values.count {
        throw OrchError.failure("\(path) has \(values.count) examples, the others \(first.count)")
      }
      kept.append(classes)
      rows.append(values)
      if let acc = job.metrics["test_acc"] { accuracy.append(acc) }
    }
    guard let classes = classCount, !rows.isEmpty else {
      throw OrchError.badInput(
        "no completed training job of sweep '\(set.sweep)' on '\(target)' was fine-tuned from a source")
    }
    let matrix = try InfluenceMatrix(
      masks: try InfluenceMatrix.masks(kept: kept, classes: classes), values: rows.flatMap { $0 },
      models: rows.count, classes: classes, targets: rows[0].count)
    return Result(
      matrix: matrix, order: matrix.classOrder(), mean: matrix.meanInfluence(), models: rows.count,
      baseline: Summary(accuracy)?.mean ?? .nan)
  }

  /// Number of classes of a source's dataset: `data.num_classes`, else max(train label) + 1.
  public static func sourceClasses(_ job: AnalysisJob) throws(OrchError) -> Int {
    if let n = job.int("data.num_classes"), n > 0 { return n }
    guard let name = job.string("data.name") else { throw OrchError.failure("\(job.key) names no data.name") }
    let labels = try DatasetLabels.read(name, split: "train")
    return (labels.max() ?? -1) + 1
  }

  public static func report(_ set: AnalysisSet, target: String, value: Value, result r: Result) -> Report {
    var report = Report(
      title:
        "Class influence — \(set.sweep) on \(target): mean over target test examples of "
        + "mean(\(value.rawValue) | class in source) − mean(\(value.rawValue) | class not in source), \(r.models) models",
      columns: ["rank", "class", "mean_influence", "positive_examples"],
      rows: [])
    for (rank, c) in r.order.enumerated() {
      let positive = (0..<r.matrix.targets).filter { r.matrix.influence(of: c, on: $0) > 0 }.count
      report.rows.append([
        .number(Double(rank)), .number(Double(c)), .number(r.mean[c]),
        .number(Double(positive) / Double(r.matrix.targets)),
      ])
    }
    report.summary = [("models", Double(r.models)), ("mean_target_test_acc", r.baseline)]
    if let note = set.unfinishedNote { report.notes.append(note) }
    report.charts = [
      Chart(
        title: "\(target): classes by mean influence", xLabel: "rank (most positive first)",
        yLabel: "mean influence on \(value.rawValue)",
        series: [
          Chart.Series(
            name: "source class", points: r.order.enumerated().map { Chart.Point(x: Double($0), y: r.mean[$1]) })
        ])
    ]
    return report
  }

  /// `influence.npy` (float32 [classes, targets]) and `order.csv` (rank, class, mean influence).
  public static func write(_ r: Result, to directory: String) throws(OrchError) -> [String] {
    let npy = directory + "/influence.npy"
    let csv = directory + "/order.csv"
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      try NPY.write(
        NDArray(shape: [r.matrix.classes, r.matrix.targets], float32: r.matrix.values.map(Float.init)), to: npy)
      let lines = ["rank,class,mean_influence"] + r.order.enumerated().map { "\($0),\($1),\(r.mean[$1])" }
      try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: csv), options: .atomic)
    } catch {
      throw OrchError.failure("cannot write \(directory): \(error)")
    }
    return [npy, csv]
  }
}

/// Labels of a dataset split, as the engine reads them (`{split}_targets.npy`, else `{split}_y.npy`).
enum DatasetLabels {
  static func read(_ name: String, split: String) throws(OrchError) -> [Int] {
    do {
      let directory = try DataLocation.resolve(name)
      let file = ["\(split)_targets.npy", "\(split)_y.npy"].map { directory + "/" + $0 }.first {
        FileManager.default.fileExists(atPath: $0)
      }
      guard let file else {
        throw OrchError.failure("dataset \(directory) has no \(split)_targets.npy or \(split)_y.npy")
      }
      return try NPY.read(file).integers()
    } catch let error as OrchError {
      throw error
    } catch {
      throw OrchError.failure("cannot read the \(split) labels of '\(name)': \(error)")
    }
  }
}
