import Engine
import Foundation
import OrchCore

/// `orch analyze effective-robustness SWEEP` (Cohen-Wang et al.): the sweep's evaluation jobs
/// are grouped by the checkpoint they evaluate, so each checkpoint of a model gives one point —
/// its ID accuracy (an evaluation with no shift override: the reference test set) against its OOD
/// accuracy under a shift (`shift.tint_test: 0`, the tint no longer tied to the class; or
/// `shift.vflip: true`). Per shift, the line g(OOD) = a·g(ID) + b (g = probit or logit) is fitted
/// to the baseline — models trained from scratch (no `train.finetune_from`), every checkpoint
/// evaluated — and each fine-tuned model's effective robustness OOD − g⁻¹(a·g(ID) + b) is reported
/// with its 95% interval (`EffectiveRobustness.interval`, n = the test set's size).
public enum EffectiveRobustnessAnalysis {
  public enum Shift: String, CaseIterable {
    case tint, vflip

    var label: String {
      switch self {
      case .tint: "tint (shift.tint_test 0, in-support)"
      case .vflip: "vertical flip (shift.vflip, out-of-support)"
      }
    }
  }

  /// One evaluated checkpoint: a model at one epoch, with its accuracies and test-set sizes.
  public struct Point {
    public var model: AnalysisJob
    public var epoch: Int?
    public var finetuned: Bool
    public var id: (acc: Double, n: Int)?
    public var ood: [Shift: (acc: Double, n: Int)] = [:]

    public init(
      model: AnalysisJob, epoch: Int? = nil, finetuned: Bool, id: (acc: Double, n: Int)? = nil,
      ood: [Shift: (acc: Double, n: Int)] = [:]
    ) {
      self.model = model
      self.epoch = epoch
      self.finetuned = finetuned
      self.id = id
      self.ood = ood
    }
  }

  /// Which test set an evaluation job measures: nil for ID, a shift, or not part of the analysis
  /// (interpolations, other overrides, both shifts at once).
  static func condition(of eval: AnalysisJob) -> Shift?? {
    guard eval.string("eval.checkpoint_b") == nil else { return .none }
    let tint = eval.double("shift.tint_test")
    let flip = eval.bool("shift.vflip")
    let other = eval.bindings.keys.contains {
      ($0.hasPrefix("data.") || $0.hasPrefix("spurious.") || $0.hasPrefix("shift.")) && $0 != "shift.tint_test"
        && $0 != "shift.vflip"
    }
    if other || (tint != nil && tint != 0) { return .none }
    switch (tint, flip) {
    case (nil, false): return .some(nil)
    case (0?, false): return .some(.tint)
    case (nil, true): return .some(.vflip)
    default: return .none
    }
  }

  /// Test-set size of an evaluation: the length of its per-example output.
  static func testCount(_ eval: AnalysisJob) -> Int? {
    for name in ["correct", "predictions"] {
      if let path = eval.stored.artifacts[name], let array = try? NPY.read(path), let n = array.shape.first {
        return n
      }
    }
    return nil
  }

  static func points(_ set: AnalysisSet) throws(OrchError) -> [Point] {
    var byCheckpoint: [String: Point] = [:]
    var order: [String] = []
    for eval in set.jobs where eval.engine == "eval" {
      guard let checkpoint = eval.string("eval.checkpoint"), case .some(let shift) = condition(of: eval),
        let acc = eval.metrics["test_acc"], let n = testCount(eval),
        let model = try set.owner(ofCheckpoint: checkpoint), model.engine == "train"
      else { continue }
      if byCheckpoint[checkpoint] == nil {
        order.append(checkpoint)
        byCheckpoint[checkpoint] = Point(
          model: model, epoch: AnalysisJob.checkpointEpoch(checkpoint) ?? model.int("train.epochs"),
          finetuned: model.string("train.finetune_from") != nil)
      }
      if let shift { byCheckpoint[checkpoint]!.ood[shift] = (acc, n) } else { byCheckpoint[checkpoint]!.id = (acc, n) }
    }
    return order.map { byCheckpoint[$0]! }.sorted { ($0.model.key, $0.epoch ?? 0) < ($1.model.key, $1.epoch ?? 0) }
  }

  public static func report(_ set: AnalysisSet, shifts: [Shift], link: AccuracyLink) throws(OrchError) -> Report {
    let points = try points(set)
    var report = Report(
      title:
        "Effective robustness — \(set.sweep): OOD − \(link.rawValue)⁻¹(a·\(link.rawValue)(ID) + b), line fitted to the"
        + " models trained from scratch (every evaluated checkpoint); 95% interval",
      columns: [
        "shift", "model", "key", "epoch", "id_acc", "ood_acc", "expected_ood", "er", "er_low", "er_high",
      ],
      rows: [])
    for shift in shifts {
      let paired = points.filter { $0.id != nil && $0.ood[shift] != nil }
      let baseline = paired.filter { !$0.finetuned }
      let finetuned = paired.filter(\.finetuned)
      guard baseline.count >= 2 else {
        report.notes.append(
          "\(shift.rawValue): \(baseline.count) baseline checkpoint(s) with both an ID and a \(shift.rawValue)"
            + " evaluation; the fit needs at least 2")
        continue
      }
      let fit = try EffectiveRobustness(
        id: baseline.map { $0.id!.acc }, ood: baseline.map { $0.ood[shift]!.acc }, link: link)
      report.summary += [
        ("\(shift.rawValue)_a", fit.line.a), ("\(shift.rawValue)_b", fit.line.b),
        ("\(shift.rawValue)_baseline_n", Double(fit.line.n)), ("\(shift.rawValue)_r2", fit.line.rSquared),
      ]
      var ers: [Double] = []
      func row(_ p: Point, _ kind: String, _ interval: EffectiveRobustness.Interval?) -> [Report.Cell] {
        let id = p.id!.acc
        let ood = p.ood[shift]!.acc
        return [
          .text(shift.rawValue), .text(kind), .text(p.model.key), p.epoch.map { .number(Double($0)) } ?? .missing,
          .number(id), .number(ood), .number(fit.expectedOOD(id: id)),
          .number(fit.effectiveRobustness(id: id, ood: ood)),
          interval.map { .number($0.low) } ?? .missing, interval.map { .number($0.high) } ?? .missing,
        ]
      }
      for p in baseline { report.rows.append(row(p, "baseline", nil)) }
      for p in finetuned {
        let interval = try fit.interval(
          id: p.id!.acc, ood: p.ood[shift]!.acc, oodCount: p.ood[shift]!.n, idCount: p.id!.n)
        report.rows.append(row(p, "fine-tuned", interval))
        ers.append(interval.estimate)
      }
      if let s = Summary(ers) {
        report.summary += [("\(shift.rawValue)_er_mean", s.mean), ("\(shift.rawValue)_er_sd", s.sd)]
      } else {
        report.notes.append("\(shift.rawValue): no fine-tuned model with both an ID and a \(shift.rawValue) evaluation")
      }
      report.charts.append(chart(shift: shift, fit: fit, baseline: baseline, finetuned: finetuned))
    }
    if points.isEmpty {
      report.notes.append(
        "no evaluation job of a training job's checkpoint with test_acc and its per-example outputs in this sweep")
    }
    if let note = set.unfinishedNote { report.notes.append(note) }
    return report
  }

  /// OOD vs ID accuracy: baseline checkpoints, the fitted line (a curve on these linear axes), the
  /// fine-tuned models.
  static func chart(shift: Shift, fit: EffectiveRobustness, baseline: [Point], finetuned: [Point]) -> Chart {
    func scatter(_ ps: [Point]) -> [Chart.Point] { ps.map { Chart.Point(x: $0.id!.acc, y: $0.ood[shift]!.acc) } }
    let xs = (baseline + finetuned).map { $0.id!.acc }
    let lo = xs.min()!
    let hi = xs.max()!
    let steps = 48
    let line = (0...steps).map { i -> Chart.Point in
      let x = lo + (hi - lo) * Double(i) / Double(steps)
      return Chart.Point(x: x, y: fit.expectedOOD(id: x))
    }
    return Chart(
      title: "\(shift.label): a \(Report.format(fit.line.a)), b \(Report.format(fit.line.b))",
      xLabel: "ID test accuracy (reference)", yLabel: "OOD test accuracy",
      series: [
        Chart.Series(name: "from scratch (checkpoints)", points: scatter(baseline), scatter: true),
        Chart.Series(name: "\(fit.link.rawValue) fit", points: line, markers: false),
        Chart.Series(name: "fine-tuned", points: scatter(finetuned), scatter: true),
      ])
  }
}
