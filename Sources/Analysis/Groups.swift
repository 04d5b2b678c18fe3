import Engine
import Foundation

/// `orch analyze groups SWEEP` (group robustness, CAML): the sweep's training jobs on data with
/// group labels (`{split}_bias.npy`), grouped into methods — every engine binding but the seeds
/// and per-seed references — and, per method, worst-group and mean-of-groups test accuracy over
/// the seeds, with the NMI of a CAML run's clusters with the bias and the target labels. A method
/// is named by the bindings that differ between the sweep's methods, so the command reads any
/// feature directory's sweep the same way.
public enum GroupsAnalysis {
  /// Bindings that vary per seed within one method.
  static let perSeed: Set<String> = ["train.seed", "caml.seed", "caml.reference", "train.finetune_from"]

  public static func report(_ set: AnalysisSet) -> Report {
    let runs = set.jobs.filter { $0.engine == "train" && $0.metrics["test_worst_group_acc"] != nil }
    func identity(_ job: AnalysisJob) -> [String: ConfigValue] {
      job.bindings.filter { EngineSchema.isEngineName($0.key) && !perSeed.contains($0.key) }
    }
    var methods: [[String: ConfigValue]] = []
    var members: [[AnalysisJob]] = []
    for job in runs {
      let id = identity(job)
      if let i = methods.firstIndex(of: id) {
        members[i].append(job)
      } else {
        methods.append(id)
        members.append([job])
      }
    }
    // The bindings that tell the methods apart, in name order.
    let names = Set(methods.flatMap(\.keys)).sorted().filter { name in
      Set(methods.map { $0[name]?.json ?? "—" }).count > 1
    }
    // A method is named by its keys' common path (`…/erm-lr0.1` of `…/erm-lr0.1/seed2411`), or
    // else by the bindings that differ.
    func label(_ i: Int) -> String {
      let paths = members[i].map { $0.key.split(separator: "/") }
      var common = paths[0]
      for p in paths.dropFirst() { common = Array(zip(common, p).prefix { $0 == $1 }.map(\.0)) }
      if paths.count > 1, !common.isEmpty { return common.joined(separator: "/") }
      if paths.count == 1 { return members[i][0].key }
      if names.isEmpty { return "all runs" }
      return names.map { "\($0)=\(methods[i][$0].map(display) ?? "—")" }.joined(separator: " ")
    }
    var report = Report(
      title:
        "Group robustness — \(set.sweep): test accuracy of the worst (target, bias) group and the mean over groups",
      columns: [
        "method", "seeds", "worst_group", "worst_group_sd", "mean_group", "mean_group_sd", "test_acc", "nmi_bias",
        "nmi_target",
      ], rows: [])
    var worst: [Chart.Point] = []
    var mean: [Chart.Point] = []
    var labels: [String] = []
    for i in methods.indices {
      let jobs = members[i]
      func summary(_ metric: String) -> Summary? { Summary(jobs.compactMap { $0.metrics[metric] }) }
      let w = summary("test_worst_group_acc")!
      let g = summary("test_mean_group_acc")
      func cell(_ s: Summary?) -> Report.Cell { s.map { .number($0.mean) } ?? .missing }
      report.rows.append([
        .text(label(i)), .text(jobs.compactMap { $0.int("train.seed") }.map(String.init).joined(separator: " ")),
        .number(w.mean), .number(w.sd), cell(g), g.map { .number($0.sd) } ?? .missing, cell(summary("test_acc")),
        cell(summary("nmi_bias")), cell(summary("nmi_target")),
      ])
      labels.append(label(i))
      worst.append(Chart.Point(x: Double(i), y: w.mean, error: w.sd))
      if let g { mean.append(Chart.Point(x: Double(i), y: g.mean, error: g.sd)) }
    }
    if runs.isEmpty {
      report.notes.append(
        "no completed training job of this sweep reported test_worst_group_acc (does its data have test_bias.npy?)")
    }
    if let note = set.unfinishedNote { report.notes.append(note) }
    // The chart names methods by what is left after their common path.
    let paths = labels.map { $0.split(separator: "/") }
    var shared = paths.first ?? []
    for p in paths.dropFirst() { shared = Array(zip(shared, p).prefix { $0 == $1 }.map(\.0)) }
    if paths.contains(where: { $0.count <= shared.count }) { shared = [] }
    let short = paths.map { $0.dropFirst(shared.count).joined(separator: "/") }
    report.charts = [
      Chart(
        title: "test accuracy by group" + (shared.isEmpty ? "" : " — \(shared.joined(separator: "/"))/…"),
        xLabel: "method", yLabel: "accuracy",
        series: [Chart.Series(name: "worst group", points: worst), Chart.Series(name: "mean of groups", points: mean)],
        categories: short, yRange: 0...1)
    ]
    return report
  }

  static func display(_ v: ConfigValue) -> String {
    if case .string(let s) = v { return s }
    return v.json
  }
}
