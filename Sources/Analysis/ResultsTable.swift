import Engine
import Foundation
import OrchCore
import Store

/// One job of `orch results`: where it comes from, its bindings and the metrics chosen for it.
public struct ResultRow: Sendable {
  public var sweep: String
  public var key: String
  public var job: Int64
  public var display: String
  public var state: String
  public var bindings: [String: ConfigValue]
  public var metrics: [String: Double]

  /// A name as `--where` and `--sort` see it: the row's own fields, a binding, or a metric.
  public func value(_ name: String) -> ConfigValue? {
    switch name {
    case "sweep": return .string(sweep)
    case "key": return .string(key)
    case "state": return .string(state)
    case "job": return .int(Int(job))
    case _ where name.hasPrefix("metric:"): return metrics[String(name.dropFirst(7))].map { .double($0) }
    default:
      if let b = bindings[name] { return b }
      return metrics[name].map { .double($0) }
    }
  }
}

/// Per group of `--group-by`: its binding values, how many jobs, and per metric the mean and the
/// sample standard deviation over the jobs that reported it (sd nil below two values).
public struct ResultGroup: Sendable {
  public var bindings: [String: ConfigValue]
  public var n: Int
  public var mean: [String: Double]
  public var sd: [String: Double]

  public func value(_ name: String) -> ConfigValue? {
    if name == "n" { return .int(n) }
    if let b = bindings[name] { return b }
    if let m = mean[name] { return .double(m) }
    if name.hasSuffix("_mean"), let m = mean[String(name.dropLast(5))] { return .double(m) }
    if name.hasSuffix("_sd"), let s = sd[String(name.dropLast(3))] { return .double(s) }
    return nil
  }
}

/// Which metrics a row carries: the final ones (`done`, or the last reported of a job that has not
/// ended), or those of the epoch where `by` was best (highest; lowest for names ending in `loss`).
public enum MetricChoice: Sendable {
  case last
  case bestEpoch(by: String)
}

public enum ResultsTable {
  /// The rows of the sweeps, newest job per key, in sweep then job order.
  public static func rows(store: JobStore, sweeps: [String], choice: MetricChoice) throws(OrchError) -> [ResultRow] {
    var out: [ResultRow] = []
    for sweep in sweeps {
      let jobs = try storeCall { () throws(StoreError) in try store.resultJobs(sweep: sweep) }
      if jobs.isEmpty { throw OrchError.badInput("no jobs in sweep '\(sweep)' (see `orch history`)") }
      out += try rows(store: store, jobs: jobs, choice: choice)
    }
    return out
  }

  public static func rows(store: JobStore, jobs: [ResultJob], choice: MetricChoice) throws(OrchError) -> [ResultRow] {
    let points = try storeCall { () throws(StoreError) in try store.metricPoints(jobIDs: jobs.map(\.row.id)) }
    return jobs.map { job in
      ResultRow(
        sweep: job.row.sweep ?? "", key: job.row.key, job: job.row.id, display: job.row.display,
        state: job.row.state.rawValue, bindings: bindings(job.config),
        metrics: metrics(points[job.row.id] ?? [], choice: choice))
    }
  }

  /// The `bindings` object of a stored config JSON (empty when it has none or does not parse).
  public static func bindings(_ config: String) -> [String: ConfigValue] {
    guard case .map(let object)? = try? ConfigValue.parse(json: config), case .map(let b)? = object["bindings"]
    else { return [:] }
    return b
  }

  static func metrics(_ points: [MetricPoint], choice: MetricChoice) -> [String: Double] {
    switch choice {
    case .last:
      var final: [String: Double] = [:]
      var last: [String: Double] = [:]
      for p in points {
        if p.final { final[p.name] = p.value } else { last[p.name] = p.value }
      }
      return final.isEmpty ? last : final
    case .bestEpoch(let by):
      var byEpoch: [Int: [String: Double]] = [:]
      for p in points where !p.final {
        guard let e = p.epoch else { continue }
        byEpoch[e, default: [:]][p.name] = p.value
      }
      let lowerIsBetter = by.hasSuffix("loss")
      var best: (epoch: Int, value: Double)?
      for epoch in byEpoch.keys.sorted() {
        guard let v = byEpoch[epoch]?[by], v.isFinite else { continue }
        if let b = best, lowerIsBetter ? v >= b.value : v <= b.value { continue }
        best = (epoch, v)
      }
      guard let best, var chosen = byEpoch[best.epoch] else { return [:] }
      chosen["epoch"] = Double(best.epoch)
      return chosen
    }
  }

  /// Binding names whose values are not all the same across `rows` (a name some rows lack varies).
  public static func varying(_ rows: [ResultRow]) -> [String] {
    let names = Set(rows.flatMap(\.bindings.keys))
    return names.filter { name in
      guard let first = rows.first else { return false }
      let v = first.bindings[name]
      return rows.contains { $0.bindings[name] != v }
    }.sorted(by: bytewise)
  }

  /// Metric names in a reading order: train, val, test (per-class and per-group last), the rest.
  public static func metricOrder(_ names: some Sequence<String>) -> [String] {
    func rank(_ s: String) -> Int {
      if s == "epoch" { return -1 }
      if s.hasPrefix("train_") { return 0 }
      if s.hasPrefix("val_") { return 1 }
      if s.hasPrefix("test_") { return s.contains("_class_") || s.contains("group") ? 3 : 2 }
      return 4
    }
    return Set(names).sorted { a, b in
      let (ra, rb) = (rank(a), rank(b))
      if ra != rb { return ra < rb }
      if a.count != b.count && a.hasPrefix("test_acc_class_") && b.hasPrefix("test_acc_class_") {
        return a.count < b.count
      }
      return bytewise(a, b)
    }
  }

  public static func bytewise(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

  /// The rows passing `filter`; a name that no row has is an error naming what there is.
  public static func filter(_ rows: [ResultRow], _ filter: ResultsFilter) throws(OrchError) -> [ResultRow] {
    let metrics = Set(rows.flatMap(\.metrics.keys))
    let known =
      Set(["sweep", "key", "state", "job"]).union(rows.flatMap(\.bindings.keys)).union(metrics)
      .union(metrics.map { "metric:" + $0 })
    for name in filter.names.sorted() where !known.contains(name) {
      throw OrchError.badInput(
        "--where: no binding or metric '\(name)' in the selected jobs; there are: "
          + suggestions(name, known: known))
    }
    return rows.filter { row in filter.matches { row.value($0) } }
  }

  public static func suggestions(_ name: String, known: Set<String>) -> String {
    let last = name.split(separator: ".").last.map(String.init) ?? name
    let close = known.filter { $0.hasSuffix(last) || $0.contains(last) || last.contains($0) }.sorted(by: bytewise)
    let shown = (close.isEmpty ? known.sorted(by: bytewise) : close).prefix(12)
    return shown.joined(separator: ", ") + (known.count > shown.count && close.isEmpty ? ", …" : "")
  }

  /// One key of `--sort`: a name, descending when written `-name`.
  public struct SortKey: Sendable {
    public var name: String
    public var descending: Bool

    public static func parse(_ text: String) throws(OrchError) -> [SortKey] {
      var keys: [SortKey] = []
      for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        var name = part.trimmingCharacters(in: .whitespaces)
        var descending = false
        if name.hasPrefix("-") {
          descending = true
          name.removeFirst()
        } else if name.hasPrefix("+") {
          name.removeFirst()
        }
        guard !name.isEmpty else {
          throw OrchError.badInput("--sort: empty name in '\(text)' (e.g. -test_acc,model.width)")
        }
        keys.append(SortKey(name: name, descending: descending))
      }
      return keys
    }
  }

  /// Orders by the keys in turn; a missing value sorts last whatever the direction; ties keep
  /// their order.
  public static func sort<T>(_ items: [T], by keys: [SortKey], value: (T, String) -> ConfigValue?) -> [T] {
    guard !keys.isEmpty else { return items }
    let indexed = items.enumerated().map { ($0.offset, $0.element) }
    return indexed.sorted { a, b in
      for key in keys {
        let (va, vb) = (value(a.1, key.name), value(b.1, key.name))
        switch (va, vb) {
        case (nil, nil): continue
        case (nil, _): return false
        case (_, nil): return true
        case (let x?, let y?):
          let c = compare(x, y)
          if c != 0 { return key.descending ? c > 0 : c < 0 }
        }
      }
      return a.0 < b.0
    }.map(\.1)
  }

  /// A total order over values: numbers (NaN last), then strings, booleans, the rest by JSON.
  static func compare(_ a: ConfigValue, _ b: ConfigValue) -> Int {
    func rank(_ v: ConfigValue) -> Int {
      switch v {
      case .int, .double: 0
      case .string: 1
      case .bool: 2
      default: 3
      }
    }
    if rank(a) != rank(b) { return rank(a) < rank(b) ? -1 : 1 }
    switch (a, b) {
    case (.string(let x), .string(let y)): return x == y ? 0 : (bytewise(x, y) ? -1 : 1)
    case (.bool(let x), .bool(let y)): return x == y ? 0 : (!x ? -1 : 1)
    default: break
    }
    if let x = ResultsFilter.number(a), let y = ResultsFilter.number(b) {
      if x.isNaN || y.isNaN { return x.isNaN == y.isNaN ? 0 : (x.isNaN ? 1 : -1) }
      return x < y ? -1 : (x > y ? 1 : 0)
    }
    let (x, y) = (a.json, b.json)
    return x == y ? 0 : (bytewise(x, y) ? -1 : 1)
  }

  /// Groups by the values of `by`, in the order of those values; mean and sd of each metric.
  public static func group(_ rows: [ResultRow], by names: [String], metrics: [String]) -> [ResultGroup] {
    var order: [String] = []
    var members: [String: [ResultRow]] = [:]
    for row in rows {
      let id = names.map { row.bindings[$0]?.json ?? "null" }.joined(separator: "\u{1}")
      if members[id] == nil { order.append(id) }
      members[id, default: []].append(row)
    }
    let groups = order.map { id -> ResultGroup in
      let rows = members[id] ?? []
      var bindings: [String: ConfigValue] = [:]
      for name in names { bindings[name] = rows.first?.bindings[name] ?? .null }
      var mean: [String: Double] = [:]
      var sd: [String: Double] = [:]
      for m in metrics {
        let values = rows.compactMap { $0.metrics[m] }
        guard !values.isEmpty else { continue }
        let mu = values.reduce(0, +) / Double(values.count)
        mean[m] = mu
        if values.count >= 2 {
          sd[m] = (values.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
        }
      }
      return ResultGroup(bindings: bindings, n: rows.count, mean: mean, sd: sd)
    }
    return sort(groups, by: names.map { SortKey(name: $0, descending: false) }) { $0.bindings[$1] }
  }

  /// The best row of each group of `by` (all rows one group when empty) by the first sort key.
  public static func best(_ rows: [ResultRow], by names: [String], key: SortKey) -> [ResultRow] {
    var order: [String] = []
    var winner: [String: ResultRow] = [:]
    for row in sort(rows, by: [key], value: { $0.value($1) }) {
      let id = names.map { row.bindings[$0]?.json ?? "null" }.joined(separator: "\u{1}")
      if winner[id] == nil, row.value(key.name) != nil {
        order.append(id)
        winner[id] = row
      }
    }
    let best = order.compactMap { winner[$0] }
    return names.isEmpty ? best : sort(best, by: names.map { SortKey(name: $0, descending: false) }) { $0.value($1) }
  }
}
