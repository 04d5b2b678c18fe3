import GRDB

/// The pending jobs of one array with the same reason and backend, as `orch queue` collapses them.
public struct PendingGroup: Sendable {
  public var arrayID: Int64
  public var isArray: Bool
  public var name: String
  public var reason: String?
  public var backend: String?
  public var count: Int
  public var firstIndex: Int?
  public var lastIndex: Int?
  /// The group's lowest job id (listings order by it), and that job's CPUs and SLURM id.
  public var firstID: Int64
  public var cpus: Int
  public var slurmID: String?
  public var key: String

  /// True when the indices are every one from first to last (no need to read them).
  public var contiguous: Bool {
    guard let firstIndex, let lastIndex else { return count == 1 }
    return lastIndex - firstIndex + 1 == count
  }
}

extension JobStore {
  /// Pending jobs grouped in SQL by (array, reason, backend) over the `jobs_pending` index, so a
  /// million pending elements are one index scan, not a million rows in memory.
  public func pendingGroups(sweep: String?) throws(StoreError) -> [PendingGroup] {
    try read("while listing pending jobs") { db in
      let sweepClause =
        sweep == nil
        ? "" : "AND j.array_id IN (SELECT a.id FROM arrays a JOIN sweeps s ON s.id = a.sweep_id WHERE s.name = ?)"
      let groups = try Row.fetchCursor(
        db,
        sql: """
          SELECT j.array_id, j.reason, j.backend, COUNT(*), MIN(j.array_index), MAX(j.array_index), MIN(j.id)
          FROM jobs j INDEXED BY jobs_pending
          WHERE j.state = 'PENDING' \(sweepClause)
          GROUP BY j.array_id, j.reason, j.backend
          """, arguments: StatementArguments(sweep.map { [$0] } ?? []))
      let first = try db.cachedStatement(
        sql: """
          SELECT a.is_array, a.name, j.cpus, j.slurm_id, j.key FROM jobs j JOIN arrays a ON a.id = j.array_id
          WHERE j.id = ?
          """)
      var out: [PendingGroup] = []
      while let g = try groups.next() {
        let firstID: Int64 = g[6]
        guard let r = try Row.fetchOne(first, arguments: [firstID]) else { continue }
        out.append(
          PendingGroup(
            arrayID: g[0], isArray: r[0], name: r[1], reason: g[1], backend: g[2], count: g[3], firstIndex: g[4],
            lastIndex: g[5], firstID: firstID, cpus: r[2], slurmID: r[3], key: r[4]))
      }
      return out.sorted { $0.firstID < $1.firstID }
    }
  }

  /// The array indices of a pending group, ascending (read from the index, for a group with gaps).
  public func pendingIndices(_ group: PendingGroup) throws(StoreError) -> [Int] {
    try read("while listing pending jobs") { db in
      try Int.fetchAll(
        db,
        sql: """
          SELECT array_index FROM jobs INDEXED BY jobs_pending
          WHERE state = 'PENDING' AND array_id = ? AND reason IS ? AND backend IS ? ORDER BY array_index
          """, arguments: [group.arrayID, group.reason, group.backend])
    }
  }

  /// The mean run time of the filter's completed jobs and the start times of its running ones.
  public func runStats(_ filter: JobFilter) throws(StoreError) -> (meanRun: Double?, runningStarts: [Double]) {
    try read("while reading run times") { db in
      let (whereSQL, args) = JobStore.whereClause(filter)
      let from = "FROM jobs j JOIN arrays a ON a.id = j.array_id LEFT JOIN sweeps s ON s.id = a.sweep_id"
      let and = whereSQL.isEmpty ? "WHERE" : whereSQL + " AND"
      let mean = try Double.fetchOne(
        db,
        sql: """
          SELECT AVG(j.end_time - j.start_time) \(from)
          \(and) j.state = 'COMPLETED' AND j.start_time IS NOT NULL AND j.end_time IS NOT NULL
          """, arguments: StatementArguments(args))
      let starts = try Double.fetchAll(
        db, sql: "SELECT j.start_time \(from) \(and) j.state = 'RUNNING' AND j.start_time IS NOT NULL",
        arguments: StatementArguments(args))
      return (mean, starts)
    }
  }

  /// True when a job of the filter runs on SLURM (listings then show the SLURM column).
  public func anySlurm(_ filter: JobFilter) throws(StoreError) -> Bool {
    try read("while listing jobs") { db in
      let (whereSQL, args) = JobStore.whereClause(filter)
      return try Int.fetchOne(
        db,
        sql: """
          SELECT 1 FROM jobs j INDEXED BY jobs_slurm JOIN arrays a ON a.id = j.array_id
          LEFT JOIN sweeps s ON s.id = a.sweep_id
          \(whereSQL.isEmpty ? "WHERE" : whereSQL + " AND") j.backend = 'slurm' LIMIT 1
          """, arguments: StatementArguments(args)) != nil
    }
  }

  /// A scan that streams gains nothing from the store's 256 MiB page cache (what a large
  /// submission needs), and its pages would stay resident: it reads through an 8 MiB one.
  static func withSmallCache<T>(_ db: Database, _ body: () throws -> T) throws -> T {
    try db.execute(sql: "PRAGMA cache_size = -8192")
    defer { try? db.execute(sql: "PRAGMA cache_size = -262144") }
    return try body()
  }

  /// The running jobs (of one sweep), over the `jobs_running` index: `JobFilter`'s bound state list
  /// cannot use a partial index and would scan every job.
  public func runningJobs(sweep: String?) throws(StoreError) -> [JobRow] {
    let ids = try read("while listing running jobs") { db in
      try Int64.fetchAll(
        db,
        sql: """
          SELECT j.id FROM jobs j INDEXED BY jobs_running
          WHERE j.state = 'RUNNING' \(sweep == nil ? "" : """
            AND j.array_id IN (SELECT a.id FROM arrays a JOIN sweeps s ON s.id = a.sweep_id WHERE s.name = ?)
            """)
          ORDER BY j.id
          """, arguments: StatementArguments(sweep.map { [$0] } ?? []))
    }
    return ids.isEmpty ? [] : try jobs(JobFilter(jobs: ids))
  }

  /// Calls `body` with each job of the filter in id order, read through a cursor: a listing of
  /// a million jobs holds one row at a time.
  public func eachJob(_ filter: JobFilter, _ body: (JobRow) throws -> Void) throws(StoreError) {
    try read("while listing jobs") { db in
      try JobStore.withSmallCache(db) { try JobStore.eachListed(db, filter, body) }
    }
  }

  static func eachListed(_ db: Database, _ filter: JobFilter, _ body: (JobRow) throws -> Void) throws {
    let (whereSQL, args) = JobStore.whereClause(filter)
    let cursor = try Row.fetchCursor(
      db,
      sql: """
        SELECT \(JobRow.listedColumns)
        \(JobRow.listedFrom)
        \(whereSQL) ORDER BY j.id
        """, arguments: StatementArguments(args))
    while let r = try cursor.next() { try body(JobRow(listed: r)) }
  }

  /// Calls `body` with each attempt of the filter's jobs, in job then attempt order.
  public func eachAttempt(_ filter: JobFilter, _ body: (JobRow, AttemptRow) throws -> Void) throws(StoreError) {
    try read("while listing attempts") { db in
      try JobStore.withSmallCache(db) {
        let statement = try db.cachedStatement(sql: AttemptRow.ofJobSQL)
        try JobStore.eachListed(db, filter) { job in
          let attempts = try Row.fetchCursor(statement, arguments: [job.id])
          while let a = try attempts.next() { try body(job, AttemptRow(listed: a)) }
        }
      }
    }
  }
}
