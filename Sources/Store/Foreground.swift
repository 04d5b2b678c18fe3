import GRDB

/// An attempt run by a foreground `orch run` process instead of a pool worker (table `foreground`).
public struct ForegroundAttempt: Sendable {
  public var jobID: Int64
  public var attempt: Int
  /// The `orch run` process.
  public var pid: Int32
  /// The file that process holds an exclusive flock on while it runs the attempt.
  public var lock: String
  public var runDir: String
  /// A command config's process (its group's leader) and its /proc start time, once spawned.
  public var jobPID: Int32?
  public var jobStart: Int64?
}

extension Submission {
  /// Makes job `jobID` — PENDING, inserted or requeued in this transaction — RUNNING as a
  /// foreground attempt of process `pid`. `lock` gets the attempt number and returns the lock
  /// file, which the caller must hold before the transaction commits. Returns the job as claimed.
  public func startForeground(jobID: Int64, pid: Int32, cpus: [Int], lock: (_ attempt: Int) throws -> String) throws
    -> ClaimedJob
  {
    guard
      let row = try Row.fetchOne(
        db,
        sql: """
          UPDATE jobs SET state = 'RUNNING', attempt = attempt + 1, tries = tries + 1, start_time = ?,
            end_time = NULL, reason = NULL, exit_code = NULL, signal = NULL
          WHERE id = ? AND state = 'PENDING' AND backend IS NULL RETURNING attempt, array_id
          """, arguments: [now, jobID])
    else { throw StoreError("job \(jobID) is not pending") }
    let attempt: Int = row[0]
    let arrayID: Int64 = row[1]
    try db.execute(
      sql: "UPDATE arrays SET running = running + 1 WHERE id = ? AND throttle IS NOT NULL", arguments: [arrayID])
    try db.execute(
      sql:
        "INSERT INTO attempts(job_id, attempt, state, start_time, worker_pid, cpus) VALUES (?, ?, 'RUNNING', ?, ?, ?)",
      arguments: [jobID, attempt, now, pid, cpus.map(String.init).joined(separator: ",")])
    try db.execute(
      sql: "INSERT INTO foreground(job_id, attempt, pid, lock) VALUES (?, ?, ?, ?)",
      arguments: [jobID, attempt, pid, try lock(attempt)])
    guard let job = try JobStore.claimed(db, jobID: jobID) else { throw StoreError("job \(jobID) vanished") }
    return job
  }
}

extension JobStore {
  /// Foreground attempts the store records as RUNNING.
  public static func foregroundRunning(_ db: Database) throws -> [ForegroundAttempt] {
    try Row.fetchAll(
      db,
      sql: """
        SELECT f.job_id, f.attempt, f.pid, f.lock, a.output_root || '/' || j.key, f.job_pid, f.job_start
        FROM foreground f JOIN jobs j ON j.id = f.job_id AND j.attempt = f.attempt JOIN arrays a ON a.id = j.array_id
        WHERE j.state = 'RUNNING' ORDER BY f.job_id
        """
    ).map {
      ForegroundAttempt(
        jobID: $0[0], attempt: $0[1], pid: $0[2], lock: $0[3], runDir: $0[4], jobPID: $0[5], jobStart: $0[6])
    }
  }

  public func foregroundRunning() throws(StoreError) -> [ForegroundAttempt] {
    try read("while reading foreground runs") { try JobStore.foregroundRunning($0) }
  }

  /// Records the process a foreground attempt spawned (a command config's).
  public func setForegroundProcess(jobID: Int64, attempt: Int, pid: Int32, start: Int64?) throws(StoreError) {
    try write("while recording job \(jobID)'s process") { db in
      try db.execute(
        sql: "UPDATE foreground SET job_pid = ?, job_start = ? WHERE job_id = ? AND attempt = ?",
        arguments: [pid, start, jobID, attempt])
    }
  }

  /// Whether `orch cancel` asked to end this attempt.
  public func cancelRequested(jobID: Int64, attempt: Int) throws(StoreError) -> Bool {
    try read("while reading job \(jobID)") { db in
      try Bool.fetchOne(
        db, sql: "SELECT cancel_requested FROM jobs WHERE id = ? AND state = 'RUNNING' AND attempt = ?",
        arguments: [jobID, attempt]) ?? false
    }
  }

  /// How many jobs of the filter only the local daemon can move on: PENDING ones, and RUNNING ones
  /// of a pool worker (not SLURM's, not a foreground `orch run`'s).
  public func daemonJobCount(_ filter: JobFilter) throws(StoreError) -> Int {
    try read("while counting jobs") { db in
      let (whereSQL, args) = JobStore.whereClause(filter)
      return try Int.fetchOne(
        db,
        sql: """
          SELECT COUNT(*) FROM jobs j JOIN arrays a ON a.id = j.array_id LEFT JOIN sweeps s ON s.id = a.sweep_id
          \(whereSQL.isEmpty ? "WHERE" : whereSQL + " AND") j.backend IS NULL AND (j.state = 'PENDING'
            OR (j.state = 'RUNNING'
              AND NOT EXISTS (SELECT 1 FROM foreground f WHERE f.job_id = j.id AND f.attempt = j.attempt)))
          """, arguments: StatementArguments(args)) ?? 0
    }
  }
}
