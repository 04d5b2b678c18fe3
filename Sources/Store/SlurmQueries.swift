import GRDB

/// What the SLURM companions (`squeue`, `sacct`, `scontrol`) show about a submission beyond its jobs.
public struct ArrayRecord: Sendable {
  public var id: Int64
  public var name: String
  /// The script path (or `--wrap`/`stdin`) for sbatch submissions, the sweep path otherwise.
  public var source: String
  public var isArray: Bool
  public var throttle: Int?
  public var running: Int
  public var dependency: String?
  public var killOnInvalidDependency: Bool
  public var launch: String
  public var size: Int
  public var submitTime: Double
}

extension Submission {
  /// The id `insert` will give the next array: known before the insert so the launch record and
  /// keys can name it (the stored script is `scripts/<id>.sh`). Valid inside this transaction only.
  public func nextJobID() throws -> Int64 {
    (try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM jobs") ?? 0) + 1
  }

  /// Whether array `array` has an element with `index`.
  public func elementExists(array: Int64, index: Int) throws -> Bool {
    try Int64.fetchOne(
      db, sql: "SELECT id FROM jobs WHERE \(JobStore.inArray) AND array_index = ?", arguments: [array, array, index])
      != nil
  }

  /// `sbatch -H`: every job of the array starts held.
  public func hold(array: Int64) throws {
    try db.execute(
      sql: "UPDATE jobs SET held = 1, ready = 0, reason = 'JobHeldUser' WHERE \(JobStore.inArray)",
      arguments: [array, array])
  }
}

extension JobStore {
  /// Whether a job waits on `singleton` behind the name of array `arrayID`: when one of that
  /// array's jobs ends, the waiting one may run (singleton terms name no target array).
  public static func singletonWaits(_ db: Database, behind arrayID: Int64) throws -> Bool {
    try Int64.fetchOne(
      db.cachedStatement(
        sql: """
          SELECT d.id FROM arrays a JOIN arrays w ON w.name = a.name AND w.id <> a.id
            JOIN dependencies d ON d.array_id = w.id AND d.kind = 'singleton'
          WHERE a.id = ? AND EXISTS (SELECT 1 FROM jobs j INDEXED BY jobs_waiting
            WHERE j.array_id = w.id AND j.state = 'PENDING' AND j.ready = 0)
          LIMIT 1
          """), arguments: [arrayID]) != nil
  }

  /// Held jobs, for the dependency check (through the partial index `jobs_held`).
  public static func heldJobIDs(_ db: Database) throws -> Set<Int64> {
    Set(try Int64.fetchAll(db.cachedStatement(sql: "SELECT id FROM jobs WHERE held = 1")))
  }

  /// `scontrol hold`: PENDING jobs among `ids` become held; returns those that are now held.
  public func hold(jobIDs: [Int64]) throws(StoreError) -> [Int64] {
    try write("while holding jobs") { db in
      let statement = try db.cachedStatement(
        sql: """
          UPDATE jobs SET held = 1, ready = 0, reason = 'JobHeldUser' WHERE id = ? AND state = 'PENDING' RETURNING id
          """)
      return try jobIDs.compactMap { try Int64.fetchOne(statement, arguments: [$0]) }
    }
  }

  /// `scontrol release`: held jobs go back to waiting on their dependencies (the daemon's next
  /// check makes them ready) or straight to ready when they have none. Returns those released.
  public func release(jobIDs: [Int64]) throws(StoreError) -> [Int64] {
    try write("while releasing jobs") { db in
      let statement = try db.cachedStatement(
        sql: """
          UPDATE jobs SET held = 0,
            ready = NOT EXISTS (SELECT 1 FROM dependencies d WHERE d.array_id = jobs.array_id
              AND (d.job_id IS NULL OR d.job_id = jobs.id)),
            reason = CASE WHEN EXISTS (SELECT 1 FROM dependencies d WHERE d.array_id = jobs.array_id
              AND (d.job_id IS NULL OR d.job_id = jobs.id)) THEN 'Dependency' END
          WHERE id = ? AND held = 1 AND state = 'PENDING' RETURNING id
          """)
      return try jobIDs.compactMap { try Int64.fetchOne(statement, arguments: [$0]) }
    }
  }

  /// `scontrol requeue` of finished jobs: like `orch retry`, but COMPLETED ones too, as SLURM allows.
  public func requeueFinished(jobIDs: [Int64]) throws(StoreError) -> [Int64] {
    try write("while requeueing jobs") { db in try jobIDs.filter { try JobStore.requeueFinished(db, jobID: $0) } }
  }

  /// Puts one finished job back in the queue under the same id; false if it was not finished.
  public static func requeueFinished(_ db: Database, jobID: Int64) throws -> Bool {
    let statement = try db.cachedStatement(
      sql: """
        UPDATE jobs SET \(JobStore.backToQueue)
        WHERE id = ? AND state IN ('COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY') RETURNING id
        """)
    return try Int64.fetchOne(statement, arguments: [jobID]) != nil
  }

  /// The worker process of each RUNNING job's current attempt (its job process is the worker's
  /// child leading its own process group).
  public func workerPIDs(jobIDs: [Int64]) throws(StoreError) -> [Int64: Int32] {
    try read("while reading running jobs") { db in
      let statement = try db.cachedStatement(
        sql: """
          SELECT a.worker_pid FROM jobs j JOIN attempts a ON a.job_id = j.id AND a.attempt = j.attempt
          WHERE j.id = ? AND j.state = 'RUNNING'
          """)
      var out: [Int64: Int32] = [:]
      for id in jobIDs {
        if let row = try Row.fetchOne(statement, arguments: [id]), let pid = row[0] as Int32? { out[id] = pid }
      }
      return out
    }
  }

  public func arrayRecords(ids: [Int64]) throws(StoreError) -> [Int64: ArrayRecord] {
    try read("while reading arrays") { db in
      let statement = try db.cachedStatement(
        sql: """
          SELECT id, name, source, is_array, throttle, running, dependency, kill_on_invalid_dep, launch, size,
            submit_time FROM arrays WHERE id = ?
          """)
      var out: [Int64: ArrayRecord] = [:]
      for id in Set(ids) {
        guard let r = try Row.fetchOne(statement, arguments: [id]) else { continue }
        out[id] = ArrayRecord(
          id: r[0], name: r[1], source: r[2], isArray: r[3], throttle: r[4], running: r[5], dependency: r[6],
          killOnInvalidDependency: r[7], launch: r[8], size: r[9], submitTime: r[10])
      }
      return out
    }
  }

  /// The job with id `id` itself (an element typed by its own job id), if any.
  public func jobExists(_ id: Int64) throws(StoreError) -> Bool {
    try read("while resolving job \(id)") { db in
      try Int64.fetchOne(db, sql: "SELECT id FROM jobs WHERE id = ?", arguments: [id]) != nil
    }
  }
}
