import GRDB

/// A stored dependency term of a waiting array.
public struct DependencyTerm: Sendable, Hashable {
  public var kind: String
  public var targetArray: Int64?
  public var targetIndex: Int?
  public var delayMinutes: Int?
  /// Only this element of the dependent array is bound by the term.
  public var onlyJob: Int64?
}

/// A PENDING job whose dependencies are not yet satisfied.
public struct WaitingJob: Sendable {
  public var id: Int64
  public var arrayIndex: Int?
}

/// An array with waiting jobs, with everything needed to decide whether they may run.
public struct WaitingArray: Sendable {
  public var id: Int64
  public var name: String
  public var isOr: Bool
  public var killOnInvalid: Bool
  public var terms: [DependencyTerm]
  public var jobs: [WaitingJob]
}

/// One element of a dependency target, as dependency rules see it.
public struct TargetElement: Sendable {
  public var index: Int?
  public var state: JobState
  /// When it started, or when it was cancelled without starting (for `after:id+minutes`).
  public var since: Double?
}

extension JobStore {
  public static func waitingArrays(_ db: Database) throws -> [WaitingArray] {
    // SLURM's jobs wait on SLURM's dependencies, not on the daemon's check.
    let ids = try Int64.fetchAll(
      db, sql: "SELECT DISTINCT array_id FROM jobs WHERE state = 'PENDING' AND ready = 0 AND backend IS NULL")
    return try ids.map { id in
      let array = try Row.fetchOne(
        db, sql: "SELECT name, dep_or, kill_on_invalid_dep FROM arrays WHERE id = ?", arguments: [id])!
      let terms = try Row.fetchAll(
        db,
        sql: """
          SELECT kind, target_array, target_index, delay_minutes, job_id FROM dependencies WHERE array_id = ? ORDER BY id
          """, arguments: [id]
      ).map { DependencyTerm(kind: $0[0], targetArray: $0[1], targetIndex: $0[2], delayMinutes: $0[3], onlyJob: $0[4]) }
      let jobs = try Row.fetchAll(
        db,
        sql: "SELECT id, array_index FROM jobs WHERE \(JobStore.inArray) AND state = 'PENDING' AND ready = 0",
        arguments: [id, id]
      ).map { WaitingJob(id: $0[0], arrayIndex: $0[1]) }
      return WaitingArray(id: id, name: array[0], isOr: array[1], killOnInvalid: array[2], terms: terms, jobs: jobs)
    }
  }

  /// The elements of array `id` (or only its element `index`).
  public static func targetElements(_ db: Database, array id: Int64, index: Int?) throws -> [TargetElement] {
    let rows: [Row]
    if let index {
      rows = try Row.fetchAll(
        db,
        sql: """
          SELECT array_index, state, COALESCE(start_time, end_time) FROM jobs WHERE \(JobStore.inArray) AND array_index = ?
          """,
        arguments: [id, id, index])
    } else {
      rows = try Row.fetchAll(
        db, sql: "SELECT array_index, state, COALESCE(start_time, end_time) FROM jobs WHERE \(JobStore.inArray)",
        arguments: [id, id])
    }
    return rows.map { TargetElement(index: $0[0], state: JobState(rawValue: $0[1]) ?? .failed, since: $0[2]) }
  }

  /// SLURM's `singleton`: blocked while another job with this name runs, or an earlier one waits.
  public static func singletonBusy(_ db: Database, name: String, before arrayID: Int64) throws -> Bool {
    try Int64.fetchOne(
      db,
      sql: """
        SELECT j.id FROM jobs j JOIN arrays a ON a.id = j.array_id
        WHERE a.name = ? AND a.id <> ? AND (j.state = 'RUNNING' OR (j.state = 'PENDING' AND a.id < ?)) LIMIT 1
        """, arguments: [name, arrayID, arrayID]) != nil
  }

  public static func markReady(_ db: Database, jobIDs: [Int64]) throws {
    let statement = try db.cachedStatement(
      sql: "UPDATE jobs SET ready = 1, reason = NULL WHERE id = ? AND state = 'PENDING'")
    for id in jobIDs { try statement.execute(arguments: [id]) }
  }

  /// Leaves jobs PENDING with a reason (or cancels them when the array asked for that).
  public static func markNeverSatisfied(_ db: Database, jobIDs: [Int64], cancel: Bool, now: Double) throws {
    if cancel {
      let statement = try db.cachedStatement(
        sql: """
          UPDATE jobs SET state = 'CANCELLED', reason = 'DependencyNeverSatisfied', end_time = ?
          WHERE id = ? AND state = 'PENDING'
          """)
      for id in jobIDs { try statement.execute(arguments: [now, id]) }
    } else {
      let statement = try db.cachedStatement(
        sql: "UPDATE jobs SET reason = 'DependencyNeverSatisfied' WHERE id = ? AND state = 'PENDING'")
      for id in jobIDs { try statement.execute(arguments: [id]) }
    }
  }

  /// Whether any dependency term points at `arrayID` (so its terminal transitions matter to others).
  public static func isDependencyTarget(_ db: Database, arrayID: Int64) throws -> Bool {
    try Int64.fetchOne(
      db.cachedStatement(sql: "SELECT id FROM dependencies WHERE target_array = ? LIMIT 1"), arguments: [arrayID])
      != nil
  }
}
