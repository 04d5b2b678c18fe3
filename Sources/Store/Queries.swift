import GRDB

/// A job as listings show it.
public struct JobRow: Sendable, Codable {
  public var id: Int64
  public var arrayID: Int64
  public var arrayIndex: Int?
  public var isArray: Bool
  public var name: String
  public var sweep: String?
  public var key: String
  public var state: JobState
  public var reason: String?
  public var attempt: Int
  public var maxAttempts: Int
  public var exitCode: Int32?
  public var signal: Int32?
  public var cpus: Int
  public var timeLimit: Int?
  public var submitTime: Double
  public var startTime: Double?
  public var endTime: Double?
  public var runDir: String
  /// `slurm` for jobs SLURM runs (nil: the local daemon), and the SLURM element of the attempt.
  public var backend: String?
  public var slurmID: String?

  public var display: String { JobStore.display(arrayID: arrayID, index: arrayIndex, isArray: isArray) }
}

/// Which jobs a listing or an operation wants. nil means "not restricted by this"; an empty set
/// selects nothing (a selection that resolved to no job must never widen to every job).
public struct JobFilter: Sendable {
  public var states: [JobState]?
  public var arrays: [Int64]?
  public var jobs: [Int64]?
  public var sweep: String?
  public var submittedAfter: Double?

  public init(
    states: [JobState]? = nil, arrays: [Int64]? = nil, jobs: [Int64]? = nil, sweep: String? = nil,
    submittedAfter: Double? = nil
  ) {
    self.states = states
    self.arrays = arrays
    self.jobs = jobs
    self.sweep = sweep
    self.submittedAfter = submittedAfter
  }
}

/// One attempt of a job, as `orch history --attempts` shows it.
public struct AttemptRow: Sendable, Codable {
  public var jobID: Int64
  public var attempt: Int
  public var state: String
  public var reason: String?
  public var exitCode: Int32?
  public var signal: Int32?
  public var startTime: Double
  public var endTime: Double?
  public var cpus: String?
  /// The GPU indices the attempt was given (nil: none).
  public var gpus: String? = nil
}

public struct MetricRow: Sendable, Codable {
  public var attempt: Int
  public var seq: Int
  public var name: String
  public var value: Double
  public var step: Int?
  public var epoch: Int?
  public var final: Bool
}

extension JobStore {
  /// The WHERE clause of a filter over `jobs j JOIN arrays a LEFT JOIN sweeps s`.
  static func whereClause(_ filter: JobFilter) -> (String, [any DatabaseValueConvertible]) {
    var clauses: [String] = []
    var args: [any DatabaseValueConvertible] = []
    func list(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ",") }
    if let states = filter.states {
      clauses.append(states.isEmpty ? "0" : "j.state IN (\(list(states.count)))")
      args += states.map(\.rawValue)
    }
    // Arrays and jobs together are a union ("these arrays, and these jobs"); either given and
    // empty adds nothing to it, both empty select nothing.
    if filter.arrays != nil || filter.jobs != nil {
      var idClauses: [String] = []
      for a in filter.arrays ?? [] {
        idClauses.append("(j.id >= ? AND j.id < (SELECT id + size FROM arrays WHERE id = ?))")
        args += [a, a]
      }
      if let jobs = filter.jobs, !jobs.isEmpty {
        // A long list goes as one JSON argument: SQLite caps the number of bound variables.
        if jobs.count > 500 {
          idClauses.append("j.id IN (SELECT value FROM json_each(?))")
          args.append("[" + jobs.map(String.init).joined(separator: ",") + "]")
        } else {
          idClauses.append("j.id IN (\(list(jobs.count)))")
          args += jobs
        }
      }
      clauses.append(idClauses.isEmpty ? "0" : "(" + idClauses.joined(separator: " OR ") + ")")
    }
    if let sweep = filter.sweep {
      clauses.append("s.name = ?")
      args.append(sweep)
    }
    if let after = filter.submittedAfter {
      clauses.append("j.submit_time >= ?")
      args.append(after)
    }
    return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), args)
  }

  public func jobs(_ filter: JobFilter) throws(StoreError) -> [JobRow] {
    try read("while listing jobs") { db in
      let (whereSQL, args) = JobStore.whereClause(filter)
      let rows = try Row.fetchAll(
        db,
        sql: """
          SELECT \(JobRow.listedColumns)
          \(JobRow.listedFrom)
          \(whereSQL) ORDER BY j.id
          """, arguments: StatementArguments(args))
      return rows.map { r in
        JobRow(listed: r)
      }
    }
  }

  /// How many jobs of the filter are in each state.
  public func stateCounts(_ filter: JobFilter) throws(StoreError) -> [JobState: Int] {
    try read("while counting jobs") { db in
      let (whereSQL, args) = JobStore.whereClause(filter)
      var counts: [JobState: Int] = [:]
      for row in try Row.fetchAll(
        db,
        sql: """
          SELECT j.state, COUNT(*) FROM jobs j JOIN arrays a ON a.id = j.array_id LEFT JOIN sweeps s ON s.id = a.sweep_id
          \(whereSQL) GROUP BY j.state
          """, arguments: StatementArguments(args))
      {
        if let state = JobState(rawValue: row[0]) { counts[state] = row[1] }
      }
      return counts
    }
  }

  public func attempts(jobID: Int64) throws(StoreError) -> [AttemptRow] {
    try read("while reading attempts of job \(jobID)") { db in
      try Row.fetchAll(
        db,
        sql: AttemptRow.ofJobSQL, arguments: [jobID]
      ).map(AttemptRow.init(listed:))
    }
  }

  public func metrics(jobID: Int64) throws(StoreError) -> [MetricRow] {
    try read("while reading metrics of job \(jobID)") { db in
      try Row.fetchAll(
        db,
        sql: """
          SELECT attempt, seq, name, value, step, epoch, final FROM metrics WHERE job_id = ? ORDER BY attempt, seq, name
          """, arguments: [jobID]
      ).map {
        MetricRow(attempt: $0[0], seq: $0[1], name: $0[2], value: $0[3], step: $0[4], epoch: $0[5], final: $0[6])
      }
    }
  }

  /// The launch JSON of the array holding `jobID`.
  public func launch(arrayID: Int64) throws(StoreError) -> String {
    try read("while reading array \(arrayID)") { db in try JobStore.launch(db, arrayID: arrayID) }
  }

  /// Job ids (and whether they are RUNNING) for an array, optionally restricted to some indices.
  public func resolve(array: Int64, indices: [Int]?) throws(StoreError) -> [Int64] {
    try read("while resolving job \(array)") { db in
      if let indices {
        let statement = try db.cachedStatement(sql: "SELECT id FROM jobs WHERE \(JobStore.inArray) AND array_index = ?")
        return try indices.compactMap { try Int64.fetchOne(statement, arguments: [array, array, $0]) }
      }
      return try Int64.fetchAll(db, sql: "SELECT id FROM jobs WHERE \(JobStore.inArray)", arguments: [array, array])
    }
  }

  /// `jobs` rows of one array (two arguments: the array id twice), as a rowid range.
  static let inArray = "id >= ? AND id < (SELECT id + size FROM arrays WHERE id = ?)"

  /// The columns a requeue by the user resets: a fresh attempt budget, same id, same config, back
  /// on the local daemon (a SLURM resubmission assigns it to SLURM again in the same transaction).
  static let backToQueue = """
    state = 'PENDING', reason = NULL, ready = 1, held = 0, tries = 0, exit_code = NULL, signal = NULL,
    start_time = NULL, end_time = NULL, backend = NULL, slurm_id = NULL, cancel_requested = 0
    """

  /// Requeues failed jobs (`orch retry`); returns those requeued.
  public func requeue(jobIDs: [Int64]) throws(StoreError) -> [Int64] {
    try write("while requeueing jobs") { db in
      let statement = try db.cachedStatement(
        sql: """
          UPDATE jobs SET \(JobStore.backToQueue)
          WHERE id = ? AND state IN ('FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY') RETURNING id
          """)
      return try jobIDs.compactMap { try Int64.fetchOne(statement, arguments: [$0]) }
    }
  }

  public func requestCancel(ids: [Int64], now: Double) throws(StoreError) -> CancelResult {
    try write("while cancelling jobs") { db in try JobStore.requestCancel(db, ids: ids, now: now) }
  }

  public func cancelPending(ids: [Int64], now: Double) throws(StoreError) -> [Int64] {
    try write("while cancelling jobs") { db in try JobStore.cancelPending(db, ids: ids, now: now, reason: "Cancelled") }
  }
}

extension JobStore {
  /// Final metrics (the `done` event's) of each job's latest attempt that reported any.
  public func finalMetrics(jobIDs: [Int64]) throws(StoreError) -> [Int64: [String: Double]] {
    try read("while reading final metrics") { db in
      var out: [Int64: [String: Double]] = [:]
      let statement = try db.cachedStatement(
        sql: """
          SELECT name, value FROM metrics WHERE job_id = ? AND final = 1
            AND attempt = (SELECT MAX(attempt) FROM metrics WHERE job_id = ? AND final = 1)
          """)
      for id in jobIDs {
        var values: [String: Double] = [:]
        for row in try Row.fetchAll(statement, arguments: [id, id]) { values[row[0]] = row[1] }
        if !values.isEmpty { out[id] = values }
      }
      return out
    }
  }
}

extension JobRow {
  /// The columns `init(listed:)` reads, in its order (`j` jobs, `a` arrays, `s` sweeps), and the
  /// joins they come from: one definition for every query that lists jobs.
  static let listedColumns = """
    j.id, j.array_id, j.array_index, a.is_array, a.name, s.name, j.key, j.state, j.reason, j.attempt,
      j.max_attempts, j.exit_code, j.signal, j.cpus, j.time_limit, j.submit_time, j.start_time, j.end_time,
      a.output_root || '/' || j.key, j.backend, j.slurm_id
    """
  static let listedFrom = "FROM jobs j JOIN arrays a ON a.id = j.array_id LEFT JOIN sweeps s ON s.id = a.sweep_id"

  init(listed r: Row) {
    self.init(
      id: r[0], arrayID: r[1], arrayIndex: r[2], isArray: r[3], name: r[4], sweep: r[5], key: r[6],
      state: JobState(rawValue: r[7]) ?? .failed, reason: r[8], attempt: r[9], maxAttempts: r[10],
      exitCode: r[11], signal: r[12], cpus: r[13], timeLimit: r[14], submitTime: r[15], startTime: r[16],
      endTime: r[17], runDir: r[18], backend: r[19], slurmID: r[20])
  }
}

extension AttemptRow {
  /// A job's attempts in order, the columns `init(listed:)` reads.
  static let ofJobSQL = """
    SELECT job_id, attempt, state, reason, exit_code, signal, start_time, end_time, cpus, gpus
    FROM attempts WHERE job_id = ? ORDER BY attempt
    """

  init(listed a: Row) {
    self.init(
      jobID: a[0], attempt: a[1], state: a[2], reason: a[3], exitCode: a[4], signal: a[5], startTime: a[6],
      endTime: a[7], cpus: a[8], gpus: a[9])
  }
}
