import GRDB

/// A job with what the analyses read: its stored config JSON (references resolved to paths), the
/// final metrics of its latest attempt and its artifacts by name.
public struct StoredJob: Sendable {
  public var row: JobRow
  public var config: String
  public var metrics: [String: Double]
  public var artifacts: [String: String]
}

extension JobStore {
  /// Every job of the filter, with config, final metrics and artifacts.
  public func storedJobs(_ filter: JobFilter) throws(StoreError) -> [StoredJob] {
    let rows = try jobs(filter)
    return try stored(rows)
  }

  /// The newest job whose run directory is `runDir` (any sweep), or nil.
  public func storedJob(runDir: String) throws(StoreError) -> StoredJob? {
    let id = try read("while finding the job of \(runDir)") { db in
      try Int64.fetchOne(
        db,
        sql: """
          SELECT j.id FROM jobs j JOIN arrays a ON a.id = j.array_id
          WHERE a.output_root || '/' || j.key = ? ORDER BY j.id DESC LIMIT 1
          """, arguments: [runDir])
    }
    guard let id else { return nil }
    return try stored(try jobs(JobFilter(jobs: [id]))).first
  }

  private func stored(_ rows: [JobRow]) throws(StoreError) -> [StoredJob] {
    let final = try finalMetrics(jobIDs: rows.map(\.id))
    return try read("while reading job configs and artifacts") { db in
      let config = try db.cachedStatement(sql: "SELECT config FROM jobs WHERE id = ?")
      let artifacts = try db.cachedStatement(sql: "SELECT name, path FROM artifacts WHERE job_id = ?")
      return try rows.map { r in
        var named: [String: String] = [:]
        for a in try Row.fetchAll(artifacts, arguments: [r.id]) { named[a[0]] = a[1] }
        return StoredJob(
          row: r, config: try String.fetchOne(config, arguments: [r.id]) ?? "{}", metrics: final[r.id] ?? [:],
          artifacts: named)
      }
    }
  }
}
