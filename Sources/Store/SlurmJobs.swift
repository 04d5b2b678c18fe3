import Foundation
import GRDB

/// A job SLURM runs (`backend = 'slurm'`), with what submitting and collecting it needs.
public struct SlurmJob: Sendable, Codable {
  public var id: Int64
  public var arrayID: Int64
  public var arrayIndex: Int?
  public var isArray: Bool
  public var name: String
  public var key: String
  public var config: String
  public var state: JobState
  public var reason: String?
  public var attempt: Int
  public var cpus: Int
  public var timeLimit: Int?
  public var memLimit: Int64?
  public var runDir: String
  /// The SLURM element of the current attempt (`1234_5`); nil until sbatch answered.
  public var slurmID: String?
  /// The sbatch options of the job's array (JSON owned by the Orchestrator library).
  public var slurmOptions: String?
  /// GPUs per element (of `gpuType` when set), passed to sbatch as `--gres`.
  public var gpus = 0
  public var gpuType: String? = nil

  public var display: String { JobStore.display(arrayID: arrayID, index: arrayIndex, isArray: isArray) }
}

/// What SLURM says about one element: its state in orch's vocabulary and how it ended.
public struct SlurmObservation: Sendable, Equatable {
  public var state: JobState
  public var reason: String?
  public var exitCode: Int32?
  public var signal: Int32?
  public var startTime: Double?
  public var endTime: Double?
  /// The GPU indices SLURM allocated (`scontrol -d show job`'s `GRES=gpu:2(IDX:0-1)`).
  public var gpus: [Int]? = nil

  public init(
    state: JobState, reason: String? = nil, exitCode: Int32? = nil, signal: Int32? = nil, startTime: Double? = nil,
    endTime: Double? = nil
  ) {
    self.state = state
    self.reason = reason
    self.exitCode = exitCode
    self.signal = signal
    self.startTime = startTime
    self.endTime = endTime
  }
}

extension Submission {
  /// Hands jobs of this submission to SLURM: the daemon will not claim them (backend), and they
  /// wait for sbatch's answer (`orch` records the SLURM ids right after).
  public func assignToSlurm(jobIDs: [Int64]) throws {
    let statement = try db.cachedStatement(
      sql: """
        UPDATE jobs SET backend = 'slurm', slurm_id = NULL, ready = 0, reason = 'Submitting' WHERE id = ? AND state = 'PENDING'
        """)
    for id in jobIDs { try statement.execute(arguments: [id]) }
  }

  public func setSlurmOptions(array: Int64, _ json: String) throws {
    try db.execute(sql: "UPDATE arrays SET slurm_options = ? WHERE id = ?", arguments: [json, array])
  }
}

extension JobStore {
  static let slurmColumns = """
    j.id, j.array_id, j.array_index, a.is_array, a.name, j.key, j.config, j.state, j.reason, j.attempt, j.cpus,
    j.time_limit, j.mem_limit, a.output_root || '/' || j.key, j.slurm_id, a.slurm_options, j.gpus, j.gpu_type
    FROM jobs j JOIN arrays a ON a.id = j.array_id
    """

  static func slurmJob(_ r: Row) -> SlurmJob {
    var job = SlurmJob(
      id: r[0], arrayID: r[1], arrayIndex: r[2], isArray: r[3], name: r[4], key: r[5], config: r[6],
      state: JobState(rawValue: r[7]) ?? .failed, reason: r[8], attempt: r[9], cpus: r[10], timeLimit: r[11],
      memLimit: r[12], runDir: r[13], slurmID: r[14], slurmOptions: r[15])
    job.gpus = r[16]
    job.gpuType = r[17]
    return job
  }

  /// These jobs, in id order (any backend).
  public func slurmJobs(ids: [Int64]) throws(StoreError) -> [SlurmJob] {
    try read("while reading jobs") { db in
      let statement = try db.cachedStatement(sql: "SELECT \(JobStore.slurmColumns) WHERE j.id = ?")
      return try ids.sorted().compactMap { id in try Row.fetchOne(statement, arguments: [id]).map(JobStore.slurmJob) }
    }
  }

  /// SLURM's jobs that have not ended, with a SLURM id (of one sweep, or all).
  public func activeSlurmJobs(sweep: String? = nil) throws(StoreError) -> [SlurmJob] {
    try read("while reading SLURM jobs") { db in
      var sql = """
        SELECT \(JobStore.slurmColumns) LEFT JOIN sweeps s ON s.id = a.sweep_id
        WHERE j.backend = 'slurm' AND j.state IN ('PENDING', 'RUNNING') AND j.slurm_id IS NOT NULL
        """
      var args: [any DatabaseValueConvertible] = []
      if let sweep {
        sql += " AND s.name = ?"
        args.append(sweep)
      }
      return try Row.fetchAll(db, sql: sql + " ORDER BY j.id", arguments: StatementArguments(args)).map(
        JobStore.slurmJob)
    }
  }

  /// Whether any job SLURM runs has not ended (a cheap check through a partial index).
  public func hasActiveSlurmJobs() throws(StoreError) -> Bool {
    try read("while reading SLURM jobs") { db in
      try Int64.fetchOne(
        db, sql: "SELECT id FROM jobs WHERE backend = 'slurm' AND state IN ('PENDING', 'RUNNING') LIMIT 1") != nil
    }
  }

  /// The newest job with this key: its state, backend and SLURM id (checkpoint references).
  public func newest(key: String) throws(StoreError) -> (id: Int64, state: JobState, slurmID: String?, slurm: Bool)? {
    try read("while reading job \(key)") { db in
      guard
        let r = try Row.fetchOne(
          db, sql: "SELECT id, state, slurm_id, backend FROM jobs WHERE key = ? ORDER BY id DESC LIMIT 1",
          arguments: [key])
      else { return nil }
      return (r[0], JobState(rawValue: r[1]) ?? .failed, r[2], (r[3] as String?) == "slurm")
    }
  }

  /// Records what sbatch answered: the element running each job's next attempt.
  public func recordSlurmSubmission(_ elements: [(jobID: Int64, attempt: Int, slurmID: String)]) throws(StoreError) {
    try write("while recording SLURM ids") { db in
      let statement = try db.cachedStatement(
        sql: """
          UPDATE jobs SET slurm_id = ?, attempt = ?, tries = tries + 1, reason = 'Submitted'
          WHERE id = ? AND backend = 'slurm' AND state = 'PENDING'
          """)
      for e in elements { try statement.execute(arguments: [e.slurmID, e.attempt, e.jobID]) }
    }
  }

  /// Jobs sbatch refused (or that can never run under SLURM): FAILED with the reason.
  public func failSlurmSubmission(jobIDs: [Int64], reason: String, now: Double) throws(StoreError) {
    try write("while recording a failed sbatch") { db in
      let statement = try db.cachedStatement(
        sql: """
          UPDATE jobs SET state = 'FAILED', reason = ?, end_time = ? WHERE id = ? AND backend = 'slurm' AND state = 'PENDING'
          """)
      for id in jobIDs { try statement.execute(arguments: [reason, now, id]) }
    }
  }

  /// `orch retry` of jobs SLURM ran: back to PENDING, assigned to SLURM again, in one transaction.
  /// Returns the ids it requeued.
  public func requeueForSlurm(jobIDs: [Int64]) throws(StoreError) -> [Int64] {
    try write("while requeueing jobs") { db in
      let statement = try db.cachedStatement(
        sql: """
          UPDATE jobs SET \(JobStore.backToQueue) WHERE id = ? AND state IN ('FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY')
          RETURNING id
          """)
      let requeued = try jobIDs.compactMap { try Int64.fetchOne(statement, arguments: [$0]) }
      try Submission(db: db, now: 0).assignToSlurm(jobIDs: requeued)
      return requeued
    }
  }

  /// Applies what SLURM says about the attempt `attempt` of a SLURM job; events the element wrote
  /// should be ingested in the same transaction first. Returns whether anything changed: an
  /// observation already recorded (or about an older attempt, or a job already ended) changes nothing.
  @discardableResult
  public static func observeSlurm(_ db: Database, jobID: Int64, attempt: Int, _ o: SlurmObservation) throws -> Bool {
    guard
      let row = try Row.fetchOne(
        db.cachedStatement(sql: "SELECT state, attempt, reason, backend FROM jobs WHERE id = ?"), arguments: [jobID]),
      row[1] as Int == attempt, (row[3] as String?) == "slurm",
      let current = JobState(rawValue: row[0]), !current.isTerminal
    else { return false }
    switch o.state {
    case .pending:
      guard current == .pending, (row[2] as String?) != o.reason else { return false }
      try db.execute(sql: "UPDATE jobs SET reason = ? WHERE id = ?", arguments: [o.reason, jobID])
      return true
    case .running:
      guard current == .pending else { return false }
      let start = o.startTime ?? Date().timeIntervalSince1970
      try db.execute(
        sql: "UPDATE jobs SET state = 'RUNNING', reason = NULL, start_time = ? WHERE id = ?", arguments: [start, jobID])
      try db.execute(
        sql: "INSERT OR IGNORE INTO attempts(job_id, attempt, state, start_time) VALUES (?, ?, 'RUNNING', ?)",
        arguments: [jobID, attempt, start])
      return true
    default:
      let end = o.endTime ?? Date().timeIntervalSince1970
      let start = o.startTime ?? end
      try db.execute(
        sql: """
          INSERT INTO attempts(job_id, attempt, state, reason, exit_code, signal, start_time, end_time)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT(job_id, attempt) DO UPDATE SET state = excluded.state, reason = excluded.reason,
            exit_code = excluded.exit_code, signal = excluded.signal, end_time = excluded.end_time
          """,
        arguments: [jobID, attempt, o.state.rawValue, o.reason, o.exitCode, o.signal, start, end])
      try db.execute(
        sql: """
          UPDATE jobs SET state = ?, reason = ?, exit_code = ?, signal = ?, start_time = COALESCE(start_time, ?),
            end_time = ? WHERE id = ?
          """,
        arguments: [o.state.rawValue, o.reason, o.exitCode, o.signal, start, end, jobID])
      return true
    }
  }
}
