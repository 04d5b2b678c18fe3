import Analysis
import ArgumentParser
import Foundation
import OrchCore
import Registry
import SlurmSyntax
import Store

struct Compare: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Jobs side by side: the bindings that differ, then the metrics.",
    discussion: """
      Each argument is a job id (12_3; an array id stands for all its jobs) or a config key (its
      newest job, any sweep). One column per job; rows: sweep, key, state, every binding whose
      value is not the same in all of them (--all: every binding), then the final metrics (--metrics
      as in `orch results`). --json prints the rows of `orch results --json` for these jobs: sweep,
      key, job, state, the bindings shown, the metrics.

      Examples:
        orch compare 12_0 12_5
        orch compare demo/digits/mlp_w64/lr0.1/seed0 \\
          demo/digits/mlp_w128/lr0.1/seed0 --json
      """)

  @Argument(help: "Job ids or config keys.") var jobs: [String]
  @Flag(help: "Every binding, not only those that differ.") var all = false
  @Option(help: "Metrics to show: all, or names a,b (default: all but per-class ones).") var metrics: String?
  @Flag(help: "Print JSON.") var json = false

  func validate() throws {
    if jobs.isEmpty { throw ValidationError("give two or more job ids or keys") }
  }

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    var ids: [Int64] = []
    for text in jobs {
      try UserText.check(text, "job or key")
      if (try? JobSelector.parse(text)) != nil, let found = try? JobIDs.resolve([text], store: store) {
        ids += found
      } else if let id = try storeCall({ () throws(StoreError) in try store.newestJob(key: text) }) {
        ids.append(id)
      } else {
        throw OrchError.badInput("'\(text)' is neither a job id nor the key of a job in the store")
      }
    }
    var seen = Set<Int64>()
    ids = ids.filter { seen.insert($0).inserted }
    let jobs = try storeCall { () throws(StoreError) in try store.resultJobs(ids: ids) }
    let rows = try ResultsTable.rows(store: store, jobs: jobs, choice: .last)
    let bindings =
      all ? Set(rows.flatMap(\.bindings.keys)).sorted(by: ResultsTable.bytewise) : ResultsTable.varying(rows)
    let allMetrics = Set(rows.flatMap(\.metrics.keys))
    let metricNames: [String]
    switch metrics {
    case nil: metricNames = ResultsTable.metricOrder(allMetrics.filter { !$0.contains("_class_") })
    case "all"?: metricNames = ResultsTable.metricOrder(allMetrics)
    case let text?: metricNames = try Results.names(text, "--metrics")
    }
    if json { return Output.print(ResultsOutput.json(rows, bindings: bindings, metrics: metricNames)) }
    var lines: [[String]] = [
      ["sweep"] + rows.map(\.sweep), ["key"] + rows.map(\.key), ["state"] + rows.map(\.state),
    ]
    for b in bindings { lines.append([b] + rows.map { ResultsOutput.terminalValue($0.bindings[b]) }) }
    for m in metricNames {
      let values = rows.map { $0.metrics[m] }
      let best = m.hasSuffix("loss") ? values.compactMap { $0 }.min() : values.compactMap { $0 }.max()
      lines.append(
        [m] + values.map { v in v.map { ResultsOutput.rounded($0) + (rows.count > 1 && $0 == best ? " *" : "") } ?? "" }
      )
    }
    Output.print(Output.table([""] + rows.map(\.display), lines))
    if rows.count > 1 && !metricNames.isEmpty {
      Output.print("* the best of the row (lowest for a loss, else highest)\n")
    }
  }
}
