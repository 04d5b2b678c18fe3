import Foundation
import GRDB

/// A job the daemon claimed: everything needed to launch its attempt.
public struct ClaimedJob: Sendable {
  public var id: Int64
  public var arrayID: Int64
  public var arrayIndex: Int?
  public var isArray: Bool
  public var attempt: Int
  public var cpus: Int
  public var timeLimit: Int?
  public var memLimit: Int64?
  public var key: String
  public var config: String
  public var runDir: String
  public var name: String
  public var gpus = 0
  public var gpuType: String? = nil
  public var gpusShared = false
  public var display: String { JobStore.display(arrayID: arrayID, index: arrayIndex, isArray: isArray) }
}

/// What the daemon has free for a claim. GPU counts are JSON objects from a type (lowercase; `""`
/// for any) to how many devices of it a job could take: `freeGPUs` for exclusive use,
/// `shareableGPUs` for a `gpus_shared` job.
public struct ClaimCapacity: Sendable {
  public var cpus: Int
  /// Bytes of memory free for jobs; nil = not counted.
  public var memory: Int64?
  public var freeGPUs: String
  public var shareableGPUs: String

  public init(cpus: Int, memory: Int64? = nil, freeGPUs: String = "{}", shareableGPUs: String = "{}") {
    self.cpus = cpus
    self.memory = memory
    self.freeGPUs = freeGPUs
    self.shareableGPUs = shareableGPUs
  }
}

/// A job the store records as RUNNING, with the worker and cores its attempt was given.
public struct RunningAttempt: Sendable {
  public var jobID: Int64
  public var attempt: Int
  public var workerPID: Int32?
  public var cpus: [Int]
  public var gpus: [Int] = []
  public var gpusShared = false
  /// The job's `--mem` (bytes), held against the daemon's memory while it runs.
  public var memLimit: Int64? = nil

  public init(jobID: Int64, attempt: Int, workerPID: Int32?, cpus: [Int]) {
    self.jobID = jobID
    self.attempt = attempt
    self.workerPID = workerPID
    self.cpus = cpus
  }
}

/// How an attempt ended, as the daemon saw it.
public struct AttemptOutcome: Sendable {
  public var jobID: Int64
  public var attempt: Int
  public var state: JobState
  public var exitCode: Int32?
  public var signal: Int32?
  public var reason: String?
  public var endTime: Double
  /// False for an attempt that never started a process: it is not counted against max attempts.
  public var started: Bool
  /// When its process started, if the worker says (a queued order starts after its claim).
  public var startTime: Double?
  /// False for a foreground `orch run` attempt: nobody else would run the job, so its end is
  /// terminal whatever attempts remain.
  public var mayRequeue = true

  public init(
    jobID: Int64, attempt: Int, state: JobState, exitCode: Int32?, signal: Int32?, reason: String?, endTime: Double,
    started: Bool = true, startTime: Double? = nil
  ) {
    self.jobID = jobID
    self.attempt = attempt
    self.state = state
    self.exitCode = exitCode
    self.signal = signal
    self.reason = reason
    self.endTime = endTime
    self.started = started
    self.startTime = startTime
  }
}

/// What `finish` did with an outcome.
public enum FinishResult: Sendable, Equatable {
  case terminal(JobState)
  case requeued
  /// The job was no longer RUNNING with that attempt (already recorded).
  case stale
}

extension JobStore {
  /// Claims the next runnable job that fits in `freeCPUs` (a job asking for GPUs never fits here).
  public static func claim(_ db: Database, freeCPUs: Int, now: Double, workerPID: Int32, cpus: (Int) -> [Int])
    throws -> ClaimedJob?
  {
    try claim(db, capacity: ClaimCapacity(cpus: freeCPUs), now: now, workerPID: workerPID) { (cpus($0.cpus), []) }
  }

  /// Claims the next runnable job that fits in `capacity`: priority, then submission order, honouring
  /// readiness (dependencies) and each array's `%N` throttle. One statement, so claims never race.
  /// `assign` picks the job's cores and GPUs (the capacity guarantees there are enough).
  /// `INDEXED BY` because without statistics SQLite may pick another index and sort every pending
  /// job on each claim: quadratic in the queue length.
  public static func claim(
    _ db: Database, capacity: ClaimCapacity, now: Double, workerPID: Int32,
    assign: (ClaimedJob) -> (cpus: [Int], gpus: [Int])
  ) throws -> ClaimedJob? {
    let statement = try db.cachedStatement(
      sql: """
        UPDATE jobs SET state = 'RUNNING', attempt = attempt + 1, tries = tries + 1, start_time = ?,
          end_time = NULL, reason = NULL, exit_code = NULL, signal = NULL
        WHERE id = (
          SELECT j.id FROM jobs j INDEXED BY jobs_claim JOIN arrays a ON a.id = j.array_id
          WHERE j.state = 'PENDING' AND j.ready = 1 AND j.held = 0 AND j.backend IS NULL AND j.cpus <= ?
            AND (a.throttle IS NULL OR a.running < a.throttle) AND (j.begin_time IS NULL OR j.begin_time <= ?)
            AND (? IS NULL OR COALESCE(j.mem_limit, 0) <= ?)
            AND (j.gpus = 0 OR j.gpus <= COALESCE((
              SELECT value FROM json_each(CASE j.gpus_shared WHEN 1 THEN ? ELSE ? END)
              WHERE key = COALESCE(j.gpu_type, '')), 0))
          ORDER BY j.priority DESC, j.id LIMIT 1)
        RETURNING id, array_id, array_index, attempt, cpus, time_limit, mem_limit, key, config, gpus, gpu_type,
          gpus_shared
        """)
    guard
      let row = try Row.fetchOne(
        statement,
        arguments: [
          now, capacity.cpus, now, capacity.memory, capacity.memory, capacity.shareableGPUs, capacity.freeGPUs,
        ])
    else { return nil }
    let arrayID: Int64 = row[1]
    // Only a `%N` throttle reads the running count: unthrottled arrays skip the write.
    let array = try db.cachedStatement(
      sql: "SELECT is_array, name, output_root, throttle IS NOT NULL FROM arrays WHERE id = ?")
    let arrayRow = try Row.fetchOne(array, arguments: [arrayID])!
    if arrayRow[3] as Bool {
      try db.cachedStatement(sql: "UPDATE arrays SET running = running + 1 WHERE id = ?").execute(arguments: [arrayID])
    }
    var job = ClaimedJob(
      id: row[0], arrayID: arrayID, arrayIndex: row[2], isArray: arrayRow[0], attempt: row[3], cpus: row[4],
      timeLimit: row[5], memLimit: row[6], key: row[7], config: row[8],
      runDir: (arrayRow[2] as String) + "/" + (row[7] as String),
      name: arrayRow[1])
    job.gpus = row[9]
    job.gpuType = row[10]
    job.gpusShared = row[11]
    let assigned = assign(job)
    try db.cachedStatement(
      sql: """
        INSERT INTO attempts(job_id, attempt, state, start_time, worker_pid, cpus, gpus)
        VALUES (?, ?, 'RUNNING', ?, ?, ?, ?)
        """
    ).execute(arguments: [
      job.id, job.attempt, now, workerPID, assigned.cpus.map(String.init).joined(separator: ","),
      assigned.gpus.isEmpty ? nil : assigned.gpus.map(String.init).joined(separator: ","),
    ])
    return job
  }

  /// Records how an attempt ended. A failure with attempts left (or an attempt that never
  /// started) goes back to PENDING; otherwise the job takes the attempt's terminal state. A job
  /// whose cancel was requested ends CANCELLED (COMPLETED if it completed first), never requeued,
  /// whoever reports the end: pool worker, adopted worker, recovery.
  public static func finish(_ db: Database, _ outcome: AttemptOutcome) throws -> FinishResult {
    let current = try db.cachedStatement(
      sql: "SELECT state, attempt, tries, max_attempts, array_id, cancel_requested FROM jobs WHERE id = ?")
    guard let row = try Row.fetchOne(current, arguments: [outcome.jobID]),
      row[0] as String == JobState.running.rawValue, row[1] as Int == outcome.attempt
    else { return .stale }
    var tries: Int = row[2]
    let maxAttempts: Int = row[3]
    let arrayID: Int64 = row[4]
    let cancelRequested: Bool = row[5]
    var outcome = outcome
    if cancelRequested && outcome.state != .completed {
      outcome.state = .cancelled
      outcome.reason = "Cancelled"
    }
    if !outcome.started { tries -= 1 }
    try db.cachedStatement(
      sql:
        """
        UPDATE attempts SET state = ?, reason = ?, exit_code = ?, signal = ?, end_time = ?,
          start_time = COALESCE(?, start_time) WHERE job_id = ? AND attempt = ?
        """
    ).execute(arguments: [
      outcome.started ? outcome.state.rawValue : "REVOKED", outcome.reason, outcome.exitCode, outcome.signal,
      outcome.endTime, outcome.startTime, outcome.jobID, outcome.attempt,
    ])
    try db.cachedStatement(sql: "UPDATE arrays SET running = running - 1 WHERE id = ? AND throttle IS NOT NULL")
      .execute(arguments: [arrayID])
    let retry = outcome.mayRequeue && outcome.state != .completed && outcome.state != .cancelled && tries < maxAttempts
    if (retry || !outcome.started) && !cancelRequested {
      let reason = "Requeued: attempt \(outcome.attempt) \(outcome.reason ?? outcome.state.rawValue)"
      try db.cachedStatement(
        sql: """
          UPDATE jobs SET state = 'PENDING', tries = ?, reason = ?, exit_code = ?, signal = ?, end_time = ?,
            cancel_requested = 0 WHERE id = ?
          """
      ).execute(arguments: [tries, reason, outcome.exitCode, outcome.signal, outcome.endTime, outcome.jobID])
      return .requeued
    }
    try db.cachedStatement(
      sql: """
        UPDATE jobs SET state = ?, reason = ?, exit_code = ?, signal = ?, end_time = ?, tries = ?,
          start_time = COALESCE(?, start_time), cancel_requested = 0 WHERE id = ?
        """
    ).execute(arguments: [
      outcome.state.rawValue, outcome.reason, outcome.exitCode, outcome.signal, outcome.endTime, tries,
      outcome.startTime, outcome.jobID,
    ])
    return .terminal(outcome.state)
  }

  /// Undoes a claim whose order the worker never started (the daemon took it back): the job is
  /// PENDING again and the attempt does not count against its attempts. The attempt number is
  /// not given back: its row stays, REVOKED, so a report written for that order (a worker's journal
  /// holds one) can never be read as the outcome of a later run. A job whose cancel was requested
  /// meanwhile ends CANCELLED instead.
  public static func unclaim(_ db: Database, jobID: Int64, attempt: Int, now: Double) throws -> Bool {
    guard
      let arrayID = try Int64.fetchOne(
        db.cachedStatement(
          sql: """
            UPDATE jobs SET
              state = CASE cancel_requested WHEN 1 THEN 'CANCELLED' ELSE 'PENDING' END,
              reason = CASE cancel_requested WHEN 1 THEN 'Cancelled' ELSE NULL END,
              end_time = CASE cancel_requested WHEN 1 THEN ? ELSE NULL END,
              tries = tries - 1, start_time = NULL, cancel_requested = 0
            WHERE id = ? AND state = 'RUNNING' AND attempt = ? RETURNING array_id
            """), arguments: [now, jobID, attempt])
    else { return false }
    try db.cachedStatement(
      sql:
        "UPDATE attempts SET state = 'REVOKED', reason = 'NeverStarted', end_time = ? WHERE job_id = ? AND attempt = ?"
    ).execute(arguments: [now, jobID, attempt])
    try db.cachedStatement(sql: "UPDATE arrays SET running = running - 1 WHERE id = ? AND throttle IS NOT NULL")
      .execute(arguments: [arrayID])
    return true
  }

  /// Jobs recorded as RUNNING by the local daemon: what a starting daemon must recover (SLURM's
  /// are SLURM's, a foreground `orch run`'s are its own).
  public static func runningAttempts(_ db: Database) throws -> [RunningAttempt] {
    try Row.fetchAll(
      db,
      sql: """
        SELECT j.id, j.attempt, a.worker_pid, a.cpus, a.gpus, j.gpus_shared, j.mem_limit FROM jobs j
        LEFT JOIN attempts a ON a.job_id = j.id AND a.attempt = j.attempt
        WHERE j.state = 'RUNNING' AND j.backend IS NULL
          AND NOT EXISTS (SELECT 1 FROM foreground f WHERE f.job_id = j.id AND f.attempt = j.attempt)
        ORDER BY j.id
        """
    ).map {
      var attempt = RunningAttempt(
        jobID: $0[0], attempt: $0[1], workerPID: $0[2],
        cpus: (($0[3] as String?) ?? "").split(separator: ",").compactMap { Int($0) })
      attempt.gpus = (($0[4] as String?) ?? "").split(separator: ",").compactMap { Int($0) }
      attempt.gpusShared = $0[5]
      attempt.memLimit = $0[6]
      return attempt
    }
  }

  /// Recomputes each throttled array's running count from the jobs (after a crash the counters may
  /// lag); unthrottled arrays keep none.
  public static func recountRunning(_ db: Database) throws {
    try db.execute(
      sql: """
        UPDATE arrays SET running = (SELECT COUNT(*) FROM jobs WHERE jobs.array_id = arrays.id AND state = 'RUNNING')
        WHERE throttle IS NOT NULL
        """)
  }

  /// The claimed job's launch record, for a job recorded RUNNING (used when adopting).
  public static func claimed(_ db: Database, jobID: Int64) throws -> ClaimedJob? {
    guard
      let row = try Row.fetchOne(
        db,
        sql: """
          SELECT j.id, j.array_id, j.array_index, a.is_array, j.attempt, j.cpus, j.time_limit, j.mem_limit, j.key,
            j.config, a.output_root || '/' || j.key, a.name, j.gpus, j.gpu_type, j.gpus_shared
          FROM jobs j JOIN arrays a ON a.id = j.array_id WHERE j.id = ?
          """, arguments: [jobID])
    else { return nil }
    var job = ClaimedJob(
      id: row[0], arrayID: row[1], arrayIndex: row[2], isArray: row[3], attempt: row[4], cpus: row[5],
      timeLimit: row[6], memLimit: row[7], key: row[8], config: row[9], runDir: row[10], name: row[11])
    job.gpus = row[12]
    job.gpuType = row[13]
    job.gpusShared = row[14]
    return job
  }

  /// The launch JSON of an array.
  public static func launch(_ db: Database, arrayID: Int64) throws -> String {
    try String.fetchOne(db.cachedStatement(sql: "SELECT launch FROM arrays WHERE id = ?"), arguments: [arrayID]) ?? "{}"
  }

  /// What a cancel did to the jobs it was given, in one transaction.
  public struct CancelResult: Sendable, Equatable {
    /// PENDING jobs now CANCELLED.
    public var cancelled: [Int64] = []
    /// RUNNING jobs whose cancel is now requested: their owner ends them, `finish` records CANCELLED.
    public var requested: [Int64] = []
    /// Jobs that had already ended (or are not the local daemon's): untouched.
    public var untouched: [Int64] = []
    public init() {}
  }

  /// Cancels the local daemon's jobs among `ids`: PENDING ones at once, RUNNING ones by recording
  /// the intent (`cancel_requested`), which every path that ends the attempt honours.
  public static func requestCancel(_ db: Database, ids: [Int64], now: Double) throws -> CancelResult {
    var result = CancelResult()
    let pending = try db.cachedStatement(
      sql: """
        UPDATE jobs SET state = 'CANCELLED', reason = 'Cancelled', end_time = ?
        WHERE id = ? AND state = 'PENDING' AND backend IS NULL RETURNING id
        """)
    let running = try db.cachedStatement(
      sql: """
        UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'RUNNING' AND backend IS NULL RETURNING id
        """)
    for id in Set(ids).sorted() {
      if try Int64.fetchOne(pending, arguments: [now, id]) != nil {
        result.cancelled.append(id)
      } else if try Int64.fetchOne(running, arguments: [id]) != nil {
        result.requested.append(id)
      } else {
        result.untouched.append(id)
      }
    }
    return result
  }

  /// RUNNING jobs whose cancel was requested and not yet recorded: what the daemon must end.
  public static func cancelRequested(_ db: Database) throws -> [Int64] {
    try Int64.fetchAll(
      db.cachedStatement(sql: "SELECT id FROM jobs WHERE state = 'RUNNING' AND cancel_requested = 1 ORDER BY id"))
  }

  /// Cancels PENDING jobs among `ids`; returns those it cancelled.
  public static func cancelPending(_ db: Database, ids: [Int64], now: Double, reason: String) throws -> [Int64] {
    var cancelled: [Int64] = []
    let statement = try db.cachedStatement(
      sql:
        "UPDATE jobs SET state = 'CANCELLED', reason = ?, end_time = ? WHERE id = ? AND state = 'PENDING' RETURNING id")
    for id in ids {
      if let done = try Int64.fetchOne(statement, arguments: [reason, now, id]) { cancelled.append(done) }
    }
    return cancelled
  }
}
