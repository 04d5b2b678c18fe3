import Engine
import Foundation
import OrchCore
import Store

extension ResultsTable {
  /// The rows of `jobs` with their bindings and no metrics yet: a page of a large sweep reads the
  /// metrics of its own rows only (`withMetrics`) when nothing filters or sorts on them.
  /// `parsed` may answer from a cache: a job's config never changes under its id.
  public static func bindingRows(
    _ jobs: [ResultJob], parsed: (ResultJob) -> [String: ConfigValue] = { bindings($0.config) }
  ) -> [ResultRow] {
    jobs.map { job in
      ResultRow(
        sweep: job.row.sweep ?? "", key: job.row.key, job: job.row.id, display: job.row.display,
        state: job.row.state.rawValue, bindings: parsed(job), metrics: [:])
    }
  }

  /// `rows` with the metrics `choice` picks, read for these rows only.
  public static func withMetrics(store: JobStore, _ rows: [ResultRow], choice: MetricChoice) throws(OrchError)
    -> [ResultRow]
  {
    let points = try storeCall { () throws(StoreError) in try store.metricPoints(jobIDs: rows.map(\.job)) }
    return rows.map { row in
      var row = row
      row.metrics = metrics(points[row.job] ?? [], choice: choice)
      return row
    }
  }
}
