import GRDB

/// One sweep as `orch ui`'s overview shows it: jobs per state and its times.
public struct SweepSummary: Sendable {
  public var name: String
  public var counts: [JobState: Int]
  public var firstStart: Double?
  public var lastEnd: Double?
  public var meanRun: Double?
  public var runningStarts: [Double]
  public var total: Int { counts.values.reduce(0, +) }
}

/// A checkpoint or artifact a job reported.
public struct JobFileRow: Sendable {
  public var name: String
  public var path: String
  public var bytes: Int64?
  public var attempt: Int
}

/// A submission's jobs in one state, as squeue collapses an array (`1234_[0-9]`).
public struct SubmissionGroup: Sendable {
  public var arrayID: Int64
  public var name: String
  public var isArray: Bool
  public var state: JobState
  public var count: Int
  public var firstIndex: Int?
  public var lastIndex: Int?
  public var submitTime: Double
  public var startTime: Double?
  public var endTime: Double?
  public var reason: String?
  public var backend: String?
  public var slurmID: String?
}

/// A job's state as the live view follows it.
public struct JobStateChange: Sendable, Equatable {
  public var id: Int64
  public var state: JobState
  public var attempt: Int
}

extension JobStore {
  /// SQLite's `PRAGMA data_version`: changes when another connection commits. One integer, so a
  /// watcher polls it cheaply and reads the tables only when something changed.
  public func dataVersion() throws(StoreError) -> Int64 {
    try read("while reading the data version") { db in try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
  }

  /// Every sweep (or one) with its jobs per state; jobs of an array are the rowid range of its ids.
  public func sweepSummaries(sweep: String? = nil) throws(StoreError) -> [SweepSummary] {
    try read("while summarising sweeps") { db in
      let filter = sweep == nil ? "" : "WHERE s.name = ?"
      let rows = try Row.fetchAll(
        db,
        sql: """
          SELECT s.name, j.state, COUNT(*), MIN(j.start_time), MAX(j.end_time),
            AVG(CASE WHEN j.state = 'COMPLETED' THEN j.end_time - j.start_time END)
          FROM sweeps s JOIN arrays a ON a.sweep_id = s.id JOIN jobs j ON j.id >= a.id AND j.id < a.id + a.size
          \(filter) GROUP BY s.id, j.state ORDER BY s.id
          """, arguments: StatementArguments(sweep.map { [$0] } ?? []))
      var order: [String] = []
      var byName: [String: SweepSummary] = [:]
      for r in rows {
        let name: String = r[0]
        if byName[name] == nil {
          order.append(name)
          byName[name] = SweepSummary(name: name, counts: [:], runningStarts: [])
        }
        guard let state = JobState(rawValue: r[1]), var summary = byName[name] else { continue }
        summary.counts[state] = r[2]
        if let start: Double = r[3] { summary.firstStart = min(summary.firstStart ?? start, start) }
        if let end: Double = r[4] { summary.lastEnd = max(summary.lastEnd ?? end, end) }
        if let mean: Double = r[5] { summary.meanRun = mean }
        byName[name] = summary
      }
      let running = try db.cachedStatement(
        sql: """
          SELECT j.start_time FROM jobs j INDEXED BY jobs_running JOIN arrays a ON a.id = j.array_id
          JOIN sweeps s ON s.id = a.sweep_id WHERE j.state = 'RUNNING' AND s.name = ? AND j.start_time IS NOT NULL
          """)
      for name in order where (byName[name]?.counts[.running] ?? 0) > 0 {
        byName[name]?.runningStarts = try Double.fetchAll(running, arguments: [name])
      }
      return order.compactMap { byName[$0] }
    }
  }

  /// The states of a sweep's jobs (or of the given jobs) that may have changed since the watcher
  /// last looked: every unfinished job and every job that ended after `endedAfter`.
  public func changedStates(sweep: String?, jobs: [Int64]?, endedAfter: Double) throws(StoreError)
    -> (changes: [JobStateChange], lastEnd: Double)
  {
    try read("while reading job states") { db in
      var clauses = ["(j.state IN ('PENDING', 'RUNNING') OR j.end_time >= ?)"]
      var args: [any DatabaseValueConvertible] = [endedAfter]
      if let sweep {
        clauses.append(
          "j.array_id IN (SELECT a.id FROM arrays a JOIN sweeps s ON s.id = a.sweep_id WHERE s.name = ?)")
        args.append(sweep)
      }
      if let jobs {
        clauses.append("j.id IN (SELECT value FROM json_each(?))")
        args.append("[" + jobs.map(String.init).joined(separator: ",") + "]")
      }
      var lastEnd = endedAfter
      var out: [JobStateChange] = []
      for r in try Row.fetchAll(
        db, sql: "SELECT j.id, j.state, j.attempt, j.end_time FROM jobs j WHERE " + clauses.joined(separator: " AND "),
        arguments: StatementArguments(args))
      {
        if let end: Double = r[3] { lastEnd = max(lastEnd, end) }
        out.append(JobStateChange(id: r[0], state: JobState(rawValue: r[1]) ?? .failed, attempt: r[2]))
      }
      return (out, lastEnd)
    }
  }

  /// The metrics of one attempt reported after `seq` (the primary key's order: no scan).
  public func metrics(jobID: Int64, attempt: Int, afterSeq: Int) throws(StoreError) -> [MetricRow] {
    try read("while reading new metrics of job \(jobID)") { db in
      try Row.fetchAll(
        db,
        sql: """
          SELECT attempt, seq, name, value, step, epoch, final FROM metrics
          WHERE job_id = ? AND attempt = ? AND seq > ? ORDER BY seq, name LIMIT 10000
          """, arguments: [jobID, attempt, afterSeq]
      ).map {
        MetricRow(attempt: $0[0], seq: $0[1], name: $0[2], value: $0[3], step: $0[4], epoch: $0[5], final: $0[6])
      }
    }
  }

  /// A job's checkpoints (named `epoch N`) and artifacts as it reported them.
  public func jobFiles(jobID: Int64) throws(StoreError) -> (checkpoints: [JobFileRow], artifacts: [JobFileRow]) {
    try read("while reading the files of job \(jobID)") { db in
      let checkpoints = try Row.fetchAll(
        db, sql: "SELECT epoch, path, bytes, attempt FROM checkpoints WHERE job_id = ? ORDER BY epoch",
        arguments: [jobID]
      ).map { r in JobFileRow(name: "epoch \(r[0] as Int)", path: r[1], bytes: r[2], attempt: r[3]) }
      let artifacts = try Row.fetchAll(
        db, sql: "SELECT name, path, attempt FROM artifacts WHERE job_id = ? ORDER BY name", arguments: [jobID]
      ).map { r in JobFileRow(name: r[0], path: r[1], bytes: nil, attempt: r[2]) }
      return (checkpoints, artifacts)
    }
  }

  /// Submissions made by `sbatch` (their sweep is `sbatch/<name>`) or run on SLURM, newest first, each
  /// array's jobs grouped by state.
  public func submissionGroups(limit: Int) throws(StoreError) -> [SubmissionGroup] {
    try read("while listing submissions") { db in
      try Row.fetchAll(
        db,
        sql: """
          SELECT a.id, a.name, a.is_array, j.state, COUNT(*), MIN(j.array_index), MAX(j.array_index), a.submit_time,
            MIN(j.start_time), MAX(j.end_time), MIN(j.reason), MIN(j.backend), MIN(j.slurm_id)
          FROM (SELECT * FROM arrays WHERE sweep_id IS NULL
              OR sweep_id IN (SELECT id FROM sweeps WHERE name >= 'sbatch/' AND name < 'sbatch0')
              OR id IN (SELECT array_id FROM jobs WHERE backend = 'slurm')
            ORDER BY id DESC LIMIT ?) a
          JOIN jobs j ON j.id >= a.id AND j.id < a.id + a.size
          GROUP BY a.id, j.state ORDER BY a.id DESC, j.state
          """, arguments: [limit]
      ).map { r in
        SubmissionGroup(
          arrayID: r[0], name: r[1], isArray: r[2], state: JobState(rawValue: r[3]) ?? .failed, count: r[4],
          firstIndex: r[5], lastIndex: r[6], submitTime: r[7], startTime: r[8], endTime: r[9], reason: r[10],
          backend: r[11], slurmID: r[12])
      }
    }
  }
}

extension JobStore {
  /// `metricPoints` without the reporting time: the metrics of each job's latest attempt that
  /// reported any, read by primary key alone (no join per row), for tables that pick the last or
  /// best value and never plot against time.
  public func metricValues(jobIDs: [Int64]) throws(StoreError) -> [Int64: [MetricPoint]] {
    try read("while reading metrics") { db in
      let statement = try db.cachedStatement(
        sql: """
          SELECT name, value, step, epoch, final FROM metrics
          WHERE job_id = ? AND attempt = (SELECT MAX(attempt) FROM metrics WHERE job_id = ?)
          ORDER BY seq, name
          """)
      return try Self.pointsPerJob(statement, jobIDs: jobIDs)
    }
  }
}

extension JobStore {
  /// Per job (latest attempt) and metric name, the last final and the last non-final value, in
  /// report order: all that `MetricChoice.last` looks at, aggregated in SQLite (SQLite's bare
  /// columns beside MAX(seq) come from that row) instead of decoding every row.
  public func lastMetricValues(jobIDs: [Int64]) throws(StoreError) -> [Int64: [MetricPoint]] {
    try read("while reading metrics") { db in
      let statement = try db.cachedStatement(
        sql: """
          SELECT name, value, step, epoch, final, MAX(seq) AS last FROM metrics
          WHERE job_id = ? AND attempt = (SELECT MAX(attempt) FROM metrics WHERE job_id = ?)
          GROUP BY name, final ORDER BY last, name
          """)
      return try Self.pointsPerJob(statement, jobIDs: jobIDs)
    }
  }

  /// Runs `statement` (bound to a job id twice) per job: its points, jobs without any left out.
  private static func pointsPerJob(_ statement: Statement, jobIDs: [Int64]) throws -> [Int64: [MetricPoint]] {
    var out: [Int64: [MetricPoint]] = [:]
    for id in jobIDs {
      let points = try Row.fetchAll(statement, arguments: [id, id]).map { r in
        MetricPoint(name: r[0], value: r[1], step: r[2], epoch: r[3], final: r[4], time: nil)
      }
      if !points.isEmpty { out[id] = points }
    }
    return out
  }
}
