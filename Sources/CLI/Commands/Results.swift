import Analysis
import ArgumentParser
import Engine
import Foundation
import OrchCore
import Registry
import Store

struct Results: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "A sweep's configs as rows: the bindings that vary, then the metrics; sort, filter, group over seeds.",
    discussion: """
      One row per config (the newest job of each key) of one or more sweeps, local or --backend slurm
      (as far as collected: the daemon collects SLURM's jobs every 10 s, `orch collect` at once; results
      only reads the store).
      Columns: sweep (when several), key, job, state, the bindings that vary across the rows shown
      (--params), then the metrics (--metrics). The terminal rounds to 4 significant digits; --csv and
      --json keep full precision.

      --where EXPR keeps the rows where EXPR holds. Names are bindings (model.width), metrics
      (test_acc) and sweep, key, state, job; literals are numbers, 'strings', true, false, null;
      operators ==, !=, <, <=, >, >=, and, or, not, parentheses. Numbers compare as numbers
      (1 == 1.0); a row without the value fails every comparison but !=. An unknown name is an error.

      --sort -test_acc,model.width orders by each name in turn (- descending); missing values last.
      --group-by a,b aggregates the rest (seeds) per value of a, b: n jobs and per metric the mean and
      the sample sd (n-1) over the jobs that reported it; the terminal shows mean ± sd, JSON and CSV
      <metric>_mean and <metric>_sd. With --group-by, --sort also takes n, <metric> (its mean),
      <metric>_mean and <metric>_sd.
      --best keeps the best job by the first --sort key (of each --group-by group, as jobs, not
      aggregated).
      --last (the default) takes the final metrics (those of `done`, or the last reported by a job
      that has not ended); --best-epoch those of the epoch where --epoch-metric was best (highest;
      lowest for a name ending in loss), with that epoch as the metric `epoch`.

      --json prints an array of flat objects, keys in column order: sweep, key, job (integer id),
      state, each binding shown (JSON-typed), each metric (number or null); grouped: the group-by
      bindings, n, then <metric>_mean and <metric>_sd per metric. A metric named like a column before it
      (a binding, sweep, key, job, state) is written metric:<name>, in every format and in --where.

      Examples:
        orch results demo
        orch results demo --group-by model.width,optimizer.base_lr --sort -test_acc
        orch results demo --where 'test_acc > 0.9 and model.width == 128' \\
          --sort -test_acc --json
        orch results demo --best --sort -val_acc --best-epoch
        orch results p100_source p100_glyphs_transfer --params all --csv > results.csv
      """)

  @Argument(help: "The sweep names (see `orch history`).") var sweeps: [String]
  @Option(help: "Bindings to show: all, none, or names a,b (default: those that vary).") var params: String?
  @Option(help: "Metrics to show: all, or names a,b (default: all but per-class ones).") var metrics: String?
  @Option(name: .customLong("where"), help: "Keep rows where this holds, e.g. 'test_acc>0.9 and model.width==128'.")
  var condition: String?
  @Option(parsing: .unconditional, help: "Sort by these names, - for descending: -test_acc,model.width.")
  var sort: String?
  @Option(name: .customLong("group-by"), help: "Aggregate per value of these bindings: model.width,optimizer.base_lr.")
  var groupBy: String?
  @Flag(help: "Only the best job (of each --group-by group) by the first --sort key.") var best = false
  @Flag(help: "Final metrics (the default).") var last = false
  @Flag(name: .customLong("best-epoch"), help: "Metrics of the epoch where --epoch-metric was best.")
  var bestEpoch = false
  @Option(name: .customLong("epoch-metric"), help: "The metric that picks --best-epoch's epoch.")
  var epochMetric: String = "val_acc"
  @Flag(help: "Print CSV.") var csv = false
  @Flag(help: "Print JSON.") var json = false

  func validate() throws {
    if sweeps.isEmpty { throw ValidationError("give a sweep name (see `orch history`)") }
    if last && bestEpoch { throw ValidationError("--last and --best-epoch exclude each other") }
    if csv && json { throw ValidationError("--csv and --json exclude each other") }
    if best && sort == nil { throw ValidationError("--best needs --sort (its first key says what is best)") }
  }

  func run() throws {
    for s in sweeps { try UserText.check(s, "sweep name") }
    let filter = try condition.map { (text: String) throws(OrchError) in try ResultsFilter.parse(text) }
    let sortKeys = try sort.map { (text: String) throws(OrchError) in try ResultsTable.SortKey.parse(text) } ?? []
    let groupNames = try groupBy.map { try Self.names($0, "--group-by") } ?? []
    let home = try OrchHome()
    let store = try home.openStore()
    var rows = try ResultsTable.rows(
      store: store, sweeps: sweeps.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } },
      choice: bestEpoch ? .bestEpoch(by: epochMetric) : .last)
    if let filter { rows = try ResultsTable.filter(rows, filter) }
    let allBindings = Set(rows.flatMap(\.bindings.keys))
    let allMetrics = Set(rows.flatMap(\.metrics.keys))
    for name in groupNames where !allBindings.contains(name) {
      throw OrchError.badInput(
        "--group-by: no binding '\(name)' in the selected jobs; there are: "
          + ResultsTable.suggestions(name, known: allBindings))
    }
    let metricNames: [String]
    switch metrics {
    case nil: metricNames = ResultsTable.metricOrder(allMetrics.filter { !$0.contains("_class_") })
    case "all"?: metricNames = ResultsTable.metricOrder(allMetrics)
    case let text?:
      metricNames = try Self.names(text, "--metrics")
      // A metric no job has reported is a typo only once every job has ended; while a sweep runs
      // its column is empty.
      if !rows.isEmpty && rows.allSatisfy({ JobState(rawValue: $0.state)?.isTerminal ?? true }) {
        for name in metricNames where !allMetrics.contains(name) {
          throw OrchError.badInput(
            "--metrics: no metric '\(name)' in the selected jobs; there are: "
              + ResultsTable.suggestions(name, known: allMetrics))
        }
      }
    }
    let showSweep = sweeps.count > 1

    if !groupNames.isEmpty && !best {
      var groups = ResultsTable.group(rows, by: groupNames, metrics: metricNames)
      groups = ResultsTable.sort(groups, by: sortKeys) { $0.value($1) }
      return try printGroups(groups, names: groupNames, metrics: metricNames)
    }
    if !sortKeys.isEmpty {
      let known = Set(["sweep", "key", "state", "job"]).union(allBindings).union(allMetrics)
      for key in sortKeys where !known.contains(key.name) && !rows.isEmpty {
        throw OrchError.badInput(
          "--sort: no binding or metric '\(key.name)' in the selected jobs; there are: "
            + ResultsTable.suggestions(key.name, known: known))
      }
      rows = ResultsTable.sort(rows, by: sortKeys) { $0.value($1) }
    }
    if best, let first = sortKeys.first { rows = ResultsTable.best(rows, by: groupNames, key: first) }
    let bindingNames: [String]
    switch params {
    case nil: bindingNames = ResultsTable.varying(rows)
    case "all"?: bindingNames = allBindings.sorted(by: ResultsTable.bytewise)
    case "none"?: bindingNames = []
    case let text?:
      bindingNames = try Self.names(text, "--params")
      for name in bindingNames where !allBindings.contains(name) && !rows.isEmpty {
        throw OrchError.badInput(
          "--params: no binding '\(name)' in the selected jobs; there are: "
            + ResultsTable.suggestions(name, known: allBindings))
      }
    }
    try printRows(
      rows, bindings: groupNames + bindingNames.filter { !groupNames.contains($0) }, metrics: metricNames,
      showSweep: showSweep)
  }

  static func names(_ text: String, _ option: String) throws(OrchError) -> [String] {
    let names = text.split(separator: ",", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    if names.contains(where: \.isEmpty) { throw OrchError.badInput("\(option): empty name in '\(text)'") }
    return names
  }

  func printRows(_ rows: [ResultRow], bindings: [String], metrics: [String], showSweep: Bool) throws {
    let labels = ResultsOutput.metricLabels(metrics, taken: ["sweep", "key", "job", "state"] + bindings)
    if json { return Output.print(ResultsOutput.json(rows, bindings: bindings, metrics: metrics)) }
    if csv {
      let header = ["sweep", "key", "job", "state"] + bindings + labels
      let cells = rows.map { r in
        [r.sweep, r.key, String(r.job), r.state] + bindings.map { ResultsOutput.csvValue(r.bindings[$0]) }
          + metrics.map { r.metrics[$0].map { "\($0)" } ?? "" }
      }
      return Output.print(ResultsOutput.csv(header, cells))
    }
    let header = (showSweep ? ["sweep"] : []) + ["key", "job", "state"] + bindings + labels
    let cells = rows.map { r in
      (showSweep ? [r.sweep] : []) + [r.key, r.display, r.state]
        + bindings.map { ResultsOutput.terminalValue(r.bindings[$0]) }
        + metrics.map { r.metrics[$0].map(ResultsOutput.rounded) ?? "" }
    }
    Output.print(ResultsOutput.table(header, cells))
  }

  func printGroups(_ groups: [ResultGroup], names: [String], metrics: [String]) throws {
    if json {
      var out = "["
      for (i, g) in groups.enumerated() {
        var fields: [(String, String)] = names.map { ($0, g.bindings[$0]?.json ?? "null") }
        fields.append(("n", String(g.n)))
        for m in metrics {
          fields.append((m + "_mean", ResultsOutput.jsonNumber(g.mean[m])))
          fields.append((m + "_sd", ResultsOutput.jsonNumber(g.sd[m])))
        }
        out += (i == 0 ? "\n  " : ",\n  ") + ResultsOutput.jsonObject(fields)
      }
      return Output.print(out + (groups.isEmpty ? "]\n" : "\n]\n"))
    }
    if csv {
      let header = names + ["n"] + metrics.flatMap { [$0 + "_mean", $0 + "_sd"] }
      let cells = groups.map { g in
        names.map { ResultsOutput.csvValue(g.bindings[$0]) } + [String(g.n)]
          + metrics.flatMap { [g.mean[$0].map { "\($0)" } ?? "", g.sd[$0].map { "\($0)" } ?? ""] }
      }
      return Output.print(ResultsOutput.csv(header, cells))
    }
    let header = names + ["n"] + metrics
    let cells = groups.map { g in
      names.map { ResultsOutput.terminalValue(g.bindings[$0]) } + [String(g.n)]
        + metrics.map { m in
          guard let mean = g.mean[m] else { return "" }
          let text: String = ResultsOutput.rounded(mean)
          guard let sd = g.sd[m] else { return text }
          return text + " ± " + ResultsOutput.rounded(sd, digits: 2)
        }
    }
    Output.print(ResultsOutput.table(header, cells))
  }
}
