import Engine
import Foundation
import OrchCore

/// The counterfactual of the data-based transfer paper: retrain the source without the K classes
/// of highest (`top`) or lowest (`bottom`) mean influence, or K random ones, transfer each as the
/// influence sweep did, and compare target accuracy. `orch derive counterfactual` writes those
/// configs as a sweep file (registering them); `orch analyze counterfactual` reads their results.
public enum Counterfactual {
  public enum Removal: String, CaseIterable {
    case top, bottom, random
  }

  public struct Options {
    public var sweep: String
    public var target: String
    public var order: [Int]
    public var ks: [Int]
    public var removals: [Removal]
    public var seeds: Int
    public var command: String

    public init(
      sweep: String, target: String, order: [Int], ks: [Int], removals: [Removal], seeds: Int, command: String
    ) {
      self.sweep = sweep
      self.target = target
      self.order = order
      self.ks = ks
      self.removals = removals
      self.seeds = seeds
      self.command = command
    }
  }

  /// `rank,class,…` rows (order.csv of `orch analyze influence`), one per source class.
  public static func readOrder(_ path: String, classes: Int) throws(OrchError) -> [Int] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw OrchError.badInput("cannot read order file \(path)")
    }
    var order: [Int] = []
    for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let fields = line.split(separator: ",", omittingEmptySubsequences: false)
      if n == 0 && fields.first == "rank" { continue }
      if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
      guard fields.count >= 2, let c = Int(fields[1].trimmingCharacters(in: .whitespaces)) else {
        throw OrchError.badInput("\(path):\(n + 1): expected 'rank,class,…' with an integer class, got '\(line)'")
      }
      guard (0..<classes).contains(c) else {
        throw OrchError.badInput("\(path):\(n + 1): class \(c) is outside the source's 0..<\(classes)")
      }
      order.append(c)
    }
    guard order.count == classes, Set(order).count == classes else {
      throw OrchError.badInput(
        "\(path) lists \(order.count) classes (\(Set(order).count) distinct); the source has \(classes): "
          + "one row per class, as `orch analyze influence` writes it")
    }
    return order
  }

  /// `MIN:MAX:STEP` (or a single K).
  public static func parseK(_ text: String, classes: Int) throws(OrchError) -> [Int] {
    let parts = text.split(separator: ":").map { Int($0) }
    guard (1...3).contains(parts.count), parts.allSatisfy({ $0 != nil }) else {
      throw OrchError.badInput("--k '\(text)': expected K or MIN:MAX:STEP such as 8:32:8")
    }
    let lo = parts[0]!
    let hi = parts.count > 1 ? parts[1]! : lo
    let step = parts.count > 2 ? parts[2]! : 1
    guard lo >= 1, hi >= lo, step >= 1 else {
      throw OrchError.badInput("--k '\(text)': need 1 ≤ MIN ≤ MAX and STEP ≥ 1")
    }
    guard hi < classes else {
      throw OrchError.badInput(
        "--k '\(text)': K = \(hi) would remove \(hi) of the source's \(classes) classes; K must be below \(classes)")
    }
    return Array(stride(from: lo, through: hi, by: step))
  }

  /// The classes removed for one (removal, K, seed).
  static func removed(_ removal: Removal, k: Int, order: [Int], seed: Int) -> [Int] {
    switch removal {
    case .top: return Array(order.prefix(k)).sorted()
    case .bottom: return Array(order.suffix(k)).sorted()
    case .random:
      var rng = RNG(seed: UInt64(seed), stream: 0xCF)
      let classes = order.sorted()
      return rng.permutation(classes.count).prefix(k).map { classes[$0] }.sorted()
    }
  }

  static let sourceOnly = ["data.class_subset_seed", "data.classes", "data.exclude_classes"]

  /// The sweep file text: per seed a baseline (nothing removed), then per removal and K a source
  /// without those classes and its transfer, with `cf_remove` and `cf_k` to group them by.
  public static func sweepFile(_ set: AnalysisSet, _ o: Options) throws(OrchError) -> (text: String, count: Int) {
    guard
      let model = set.jobs.first(where: {
        $0.engine == "train" && $0.string("data.name") == o.target && $0.string("train.finetune_from") != nil
      })
    else {
      throw OrchError.badInput(
        "no completed training job of sweep '\(set.sweep)' on '\(o.target)' was fine-tuned from a source")
    }
    guard let sourceJob = try set.source(of: model)?.job else {
      throw OrchError.failure("the source of \(model.key) is not in the store")
    }
    var source = sourceJob.bindings.filter { EngineSchema.isEngineName($0.key) }
    for name in sourceOnly { source[name] = nil }
    var transfer = model.bindings.filter { EngineSchema.isEngineName($0.key) }
    transfer["train.finetune_from"] = nil
    let sourceData = sourceJob.string("data.name") ?? "source"
    var text = """
      # Registered by `\(o.command)`
      # on \(ISO8601DateFormatter().string(from: Date())): the counterfactual of sweep \(o.sweep).
      # Source `\(sourceJob.key)` retrained on all its dataset's classes but the K removed (data.exclude_classes),
      # each transferred to \(o.target) like `\(model.key)`. Removal `top` drops the K classes of highest
      # mean influence, `bottom` the K lowest, `random` K drawn per seed; `none` removes nothing.
      # Order (most positive first): \(o.order.map(String.init).joined(separator: " "))
      register:

      """
    var count = 0
    func entry(_ key: String, _ bindings: [String: ConfigValue]) {
      text += "  - key: \(ConfigValue.string(key).json)\n    engine: train\n    bindings:\n"
      for name in bindings.keys.sorted() { text += "      \(name): \(bindings[name]!.json)\n" }
      count += 1
    }
    // Source and target may be the same dataset: the keys say which is which.
    func pair(_ label: String, removed: [Int], removal: String, k: Int, seed: Int) {
      let sourceKey = "counterfactual/\(label)/seed\(seed)/source-\(sourceData)"
      var s = source
      if !removed.isEmpty { s["data.exclude_classes"] = .list(removed.map { .int($0) }) }
      s["train.seed"] = .int(seed)
      s["cf_remove"] = .string(removal)
      s["cf_k"] = .int(k)
      entry(sourceKey, s)
      var t = transfer
      t["train.finetune_from"] = .string(sourceKey + "@final")
      t["train.seed"] = .int(seed)
      t["cf_remove"] = .string(removal)
      t["cf_k"] = .int(k)
      entry("counterfactual/\(label)/seed\(seed)/target-\(o.target)", t)
    }
    for seed in 0..<o.seeds {
      pair("remove-none-k0", removed: [], removal: "none", k: 0, seed: seed)
      for removal in o.removals {
        for k in o.ks {
          pair(
            "remove-\(removal.rawValue)-k\(k)", removed: removed(removal, k: k, order: o.order, seed: seed),
            removal: removal.rawValue, k: k, seed: seed)
        }
      }
    }
    return (text, count)
  }

  /// Target accuracy per (removal, K) of a counterfactual sweep's transferred models.
  public static func report(_ set: AnalysisSet, metric: String = "test_acc") -> Report {
    struct Group: Hashable {
      var removal: String
      var k: Int
    }
    var groups: [Group: [Double]] = [:]
    for job in set.jobs where job.engine == "train" && job.string("train.finetune_from") != nil {
      guard let removal = job.string("cf_remove"), let k = job.int("cf_k"), let v = job.metrics[metric] else {
        continue
      }
      groups[Group(removal: removal, k: k), default: []].append(v)
    }
    let baseline = Summary(groups.filter { $0.key.removal == "none" }.flatMap(\.value))
    var report = Report(
      title: "Counterfactual — \(set.sweep): target \(metric) after removing K source classes",
      columns: ["removal", "k", "mean", "sd", "n", "vs_none"], rows: [])
    let order = ["none", "top", "bottom", "random"]
    let keys = groups.keys.sorted {
      ((order.firstIndex(of: $0.removal) ?? 9), $0.k) < ((order.firstIndex(of: $1.removal) ?? 9), $1.k)
    }
    var series: [String: [Chart.Point]] = [:]
    for g in keys {
      let s = Summary(groups[g]!)!
      report.rows.append([
        .text(g.removal), .number(Double(g.k)), .number(s.mean), .number(s.sd), .number(Double(s.n)),
        baseline.map { .number(s.mean - $0.mean) } ?? .missing,
      ])
      if g.removal != "none" {
        series[g.removal, default: []].append(Chart.Point(x: Double(g.k), y: s.mean, error: s.sd))
      }
    }
    if groups.isEmpty {
      report.notes.append(
        "no completed transferred model with cf_remove/cf_k bindings (see `orch derive counterfactual`)")
    }
    if let note = set.unfinishedNote { report.notes.append(note) }
    var chartSeries = order.compactMap { name in series[name].map { Chart.Series(name: "remove \(name)", points: $0) } }
    let ks = keys.map(\.k).filter { $0 > 0 }
    if let baseline, let lo = ks.min(), let hi = ks.max() {
      chartSeries.append(
        Chart.Series(
          name: "nothing removed",
          points: [Chart.Point(x: Double(lo), y: baseline.mean), Chart.Point(x: Double(hi), y: baseline.mean)],
          dashed: true))
    }
    report.charts = [
      Chart(
        title: "target \(metric) vs classes removed", xLabel: "K (source classes removed)", yLabel: metric,
        series: chartSeries)
    ]
    return report
  }
}
