import Foundation
import OrchCore

/// `orch analyze block-shuffle` and `orch analyze trajectory` (Neyshabur et al.): target accuracy
/// of the sweep's training jobs, grouped by how the target data were shuffled or by which source
/// checkpoint they were fine-tuned from. Random init = no `train.finetune_from`.
public enum WhatIsTransferred {
  struct Run {
    var job: AnalysisJob
    var target: String
    /// `data.block_shuffle` (0 = none), or -1 for `data.pixel_shuffle`.
    var block: Int
    var finetune: Bool
    /// Epoch of the source checkpoint fine-tuned from, and whether it is the source's last.
    var sourceEpoch: Int?
    var sourceFinal: Bool
    var source: AnalysisJob?
    var value: Double
  }

  static func runs(_ set: AnalysisSet, metric: String) throws(OrchError) -> [Run] {
    var out: [Run] = []
    for job in set.jobs where job.engine == "train" {
      guard let target = job.string("data.name"), let value = job.metrics[metric] else { continue }
      let source = try set.source(of: job)
      var final = true
      if let source, let epochs = source.job?.int("train.epochs"), let e = source.epoch { final = e >= epochs }
      out.append(
        Run(
          job: job, target: target, block: job.bool("data.pixel_shuffle") ? -1 : (job.int("data.block_shuffle") ?? 0),
          finetune: source != nil, sourceEpoch: source?.epoch, sourceFinal: final, source: source?.job ?? nil,
          value: value))
    }
    return out
  }

  static func blockLabel(_ b: Int) -> String { b == 0 ? "none" : b < 0 ? "pixel" : String(b) }

  /// Target accuracy vs block size, random init vs fine-tuning from the source's final checkpoint.
  public static func blockShuffle(_ set: AnalysisSet, metric: String = "test_acc") throws(OrchError) -> Report {
    let runs = try runs(set, metric: metric).filter { !$0.finetune || $0.sourceFinal }
    var report = Report(
      title: "Block shuffle — \(set.sweep): \(metric) by block size (none = unshuffled), random init vs fine-tuned",
      columns: [
        "target", "block", "randinit_mean", "randinit_sd", "randinit_n", "finetune_mean", "finetune_sd", "finetune_n",
        "benefit",
      ],
      rows: [])
    let targets = Array(Set(runs.map(\.target))).sorted()
    // Finer shuffles first: pixel, 1, 2, …, none.
    func order(_ b: Int) -> Int { b < 0 ? -1 : b == 0 ? Int.max : b }
    for target in targets {
      let mine = runs.filter { $0.target == target }
      let blocks = Array(Set(mine.map(\.block))).sorted { order($0) < order($1) }
      var ri: [Chart.Point] = []
      var ft: [Chart.Point] = []
      let positive = blocks.filter { $0 > 0 }
      let fullX = Double((positive.max() ?? 1) * 2)
      var ticks: [(x: Double, label: String)] = []
      for b in blocks {
        let r = Summary(mine.filter { $0.block == b && !$0.finetune }.map(\.value))
        let f = Summary(mine.filter { $0.block == b && $0.finetune }.map(\.value))
        report.rows.append([
          .text(target), .text(blockLabel(b)), r.map { .number($0.mean) } ?? .missing,
          r.map { .number($0.sd) } ?? .missing, .number(Double(r?.n ?? 0)), f.map { .number($0.mean) } ?? .missing,
          f.map { .number($0.sd) } ?? .missing, .number(Double(f?.n ?? 0)),
          r != nil && f != nil ? .number(f!.mean - r!.mean) : .missing,
        ])
        let x = b > 0 ? Double(b) : b == 0 ? fullX : 0.5
        ticks.append((x, blockLabel(b)))
        if let r { ri.append(Chart.Point(x: x, y: r.mean, error: r.sd)) }
        if let f { ft.append(Chart.Point(x: x, y: f.mean, error: f.sd)) }
      }
      report.charts.append(
        Chart(
          title: target, xLabel: "block size (none = unshuffled)", yLabel: metric,
          series: [Chart.Series(name: "random init", points: ri), Chart.Series(name: "fine-tuned", points: ft)],
          log2X: true, xTicks: ticks))
    }
    if runs.isEmpty { report.notes.append("no completed training job with a final '\(metric)' in this sweep") }
    if let note = set.unfinishedNote { report.notes.append(note) }
    return report
  }

  /// Target accuracy when fine-tuning (unshuffled data) from each checkpoint of the source's
  /// trajectory; random init as the reference.
  public static func trajectory(_ set: AnalysisSet, metric: String = "test_acc") throws(OrchError) -> Report {
    let runs = try runs(set, metric: metric).filter { $0.block == 0 }
    var report = Report(
      title: "Trajectory — \(set.sweep): \(metric) when fine-tuning from source checkpoint E### (randinit: no source)",
      columns: ["target", "source_epoch", "source_key", "source_test_acc", "mean", "sd", "n", "benefit_over_randinit"],
      rows: [])
    for target in Array(Set(runs.map(\.target))).sorted() {
      let mine = runs.filter { $0.target == target }
      let random = Summary(mine.filter { !$0.finetune }.map(\.value))
      if let random {
        report.rows.append([
          .text(target), .text("randinit"), .missing, .missing, .number(random.mean), .number(random.sd),
          .number(Double(random.n)), .number(0),
        ])
      }
      struct Checkpoint: Hashable {
        var key: String
        var epoch: Int
      }
      var groups: [Checkpoint: [Run]] = [:]
      for r in mine where r.finetune {
        guard let e = r.sourceEpoch else { continue }
        groups[Checkpoint(key: r.source?.key ?? "?", epoch: e), default: []].append(r)
      }
      var points: [Chart.Point] = []
      for c in groups.keys.sorted(by: { ($0.key, $0.epoch) < ($1.key, $1.epoch) }) {
        let s = Summary(groups[c]!.map(\.value))!
        let sourceAcc = try groups[c]!.first?.source.flatMap { source throws(OrchError) in
          try sourceMetric(source, epoch: c.epoch, set: set)
        }
        report.rows.append([
          .text(target), .number(Double(c.epoch)), .text(c.key), sourceAcc.map { .number($0) } ?? .missing,
          .number(s.mean), .number(s.sd), .number(Double(s.n)), random.map { .number(s.mean - $0.mean) } ?? .missing,
        ])
        points.append(Chart.Point(x: Double(c.epoch), y: s.mean, error: s.sd))
      }
      var series = [Chart.Series(name: "fine-tuned from E###", points: points)]
      if let random, let lo = points.first?.x, let hi = points.last?.x {
        series.append(
          Chart.Series(
            name: "random init", points: [Chart.Point(x: lo, y: random.mean), Chart.Point(x: hi, y: random.mean)],
            dashed: true))
      }
      report.charts.append(
        Chart(title: target, xLabel: "source checkpoint epoch", yLabel: metric, series: series))
    }
    if runs.isEmpty { report.notes.append("no completed training job with a final '\(metric)' in this sweep") }
    if let note = set.unfinishedNote { report.notes.append(note) }
    return report
  }

  /// The source's own test accuracy at that epoch (E000: before training, not evaluated).
  static func sourceMetric(_ source: AnalysisJob, epoch: Int, set: AnalysisSet) throws(OrchError) -> Double? {
    let metrics = try set.metrics(of: source)
    return metrics.last { $0.name == "test_acc" && $0.epoch == epoch }?.value
  }
}
