import GRDB

/// A job as `orch results`, `compare` and `plot` read it: its listing row and stored config JSON.
public struct ResultJob: Sendable {
  public var row: JobRow
  public var config: String
}

/// One metric value of one attempt, in report order.
public struct MetricPoint: Sendable {
  public var name: String
  public var value: Double
  public var step: Int?
  public var epoch: Int?
  public var final: Bool
  /// Seconds from the attempt's start to the event that reported it (nil when unknown).
  public var time: Double?
}

extension JobStore {
  /// The newest job of each key of each sweep, in job id order (a key submitted again with
  /// `--force` is reported by its newest job). Rows are read through a cursor.
  public func resultJobs(sweep: String) throws(StoreError) -> [ResultJob] {
    try read("while reading the jobs of sweep \(sweep)") { db in
      let cursor = try Row.fetchCursor(
        db,
        sql: """
          SELECT \(JobRow.listedColumns), j.config
          FROM sweeps s JOIN arrays a ON a.sweep_id = s.id JOIN jobs j ON j.array_id = a.id
          WHERE s.name = ? ORDER BY j.id
          """, arguments: [sweep])
      var newest: [String: Int] = [:]
      var out: [ResultJob] = []
      while let r = try cursor.next() {
        let row = JobRow(listed: r)
        let job = ResultJob(row: row, config: r[21])
        if let at = newest[row.key] {
          out[at] = job
        } else {
          newest[row.key] = out.count
          out.append(job)
        }
      }
      return out.sorted { $0.row.id < $1.row.id }
    }
  }

  /// Jobs by id (any sweep), with their configs.
  public func resultJobs(ids: [Int64]) throws(StoreError) -> [ResultJob] {
    try read("while reading jobs") { db in
      let statement = try db.cachedStatement(
        sql: """
          SELECT \(JobRow.listedColumns), j.config \(JobRow.listedFrom) WHERE j.id = ?
          """)
      return try ids.compactMap { id in
        guard let r = try Row.fetchOne(statement, arguments: [id]) else { return nil }
        let row = JobRow(listed: r)
        return ResultJob(row: row, config: r[21])
      }
    }
  }

  /// The newest job with this key (any sweep), or nil.
  public func newestJob(key: String) throws(StoreError) -> Int64? {
    try read("while finding the job of key \(key)") { db in
      try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM jobs WHERE key = ?", arguments: [key])
    }
  }

  /// Every metric of each job's latest attempt that reported any, in report order; `names`
  /// restricts them. The time is the reporting event's, from the attempt's start.
  public func metricPoints(jobIDs: [Int64], names: [String]? = nil) throws(StoreError) -> [Int64: [MetricPoint]] {
    try read("while reading metrics") { db in
      var nameFilter = ""
      var args: [any DatabaseValueConvertible] = []
      if let names {
        nameFilter = "AND m.name IN (SELECT value FROM json_each(?))"
        args.append("[" + names.map(JobStore.jsonString).joined(separator: ",") + "]")
      }
      let statement = try db.cachedStatement(
        sql: """
          SELECT m.name, m.value, m.step, m.epoch, m.final, e.time - t.start_time
          FROM metrics m
          LEFT JOIN events e ON e.job_id = m.job_id AND e.attempt = m.attempt AND e.seq = m.seq
          LEFT JOIN attempts t ON t.job_id = m.job_id AND t.attempt = m.attempt
          WHERE m.job_id = ? AND m.attempt = (SELECT MAX(attempt) FROM metrics WHERE job_id = ?) \(nameFilter)
          ORDER BY m.seq, m.name
          """)
      var out: [Int64: [MetricPoint]] = [:]
      for id in jobIDs {
        let points = try Row.fetchAll(statement, arguments: StatementArguments([id, id] + args)).map { r in
          MetricPoint(name: r[0], value: r[1], step: r[2], epoch: r[3], final: r[4], time: r[5])
        }
        if !points.isEmpty { out[id] = points }
      }
      return out
    }
  }

  static func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
