import GRDB

/// Elements `first`, `first + step`, …, up to `last` of an array: what `12_3`, `12_[1-3]` or
/// `12_[0-8:2]` name in a dependency, kept as a range however many elements it covers.
/// Built from stored data too, so nothing here traps on odd values: a `step` below 1 counts as 1
/// and `last` below `first` covers nothing.
public struct ElementRange: Sendable, Hashable, CustomStringConvertible {
  public let first: Int
  /// The last element covered (`0-5:2` is stored as `0-4:2`), so equal ranges compare equal.
  public let last: Int
  public let step: Int

  public init(first: Int, last: Int, step: Int = 1) {
    let step = max(step, 1)
    self.first = first
    self.step = step
    let (span, overflow) = last.subtractingReportingOverflow(first)
    self.last = overflow || span < 0 ? last : first + span / step * step
  }

  /// One element.
  public init(_ index: Int) { self.init(first: index, last: index) }

  public var count: Int {
    let (span, overflow) = last.subtractingReportingOverflow(first)
    if span < 0 && !overflow { return 0 }
    if overflow { return Int.max }
    let steps = span / step
    return steps == Int.max ? Int.max : steps + 1
  }

  public func contains(_ index: Int) -> Bool {
    guard index >= first && index <= last else { return false }
    // Unsigned: exact for any first ≤ index, where a signed difference can overflow.
    return (UInt(bitPattern: index) &- UInt(bitPattern: first)) % UInt(step) == 0
  }

  /// `3`, `1-3` or `0-8:2`, as inside `12_[…]`.
  public var description: String {
    if first == last { return "\(first)" }
    return step == 1 ? "\(first)-\(last)" : "\(first)-\(last):\(step)"
  }
}

/// A stored dependency term of a waiting array.
public struct DependencyTerm: Sendable, Hashable {
  public var kind: String
  public var targetArray: Int64?
  /// Nil: the whole job or every element of the array.
  public var targetElements: ElementRange?
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

extension Submission {
  /// The first element of `range` that array `array` does not have, or nil when it has them all.
  /// Reads only the elements the range covers, never expands it.
  public func firstMissingElement(array: Int64, range: ElementRange) throws -> Int? {
    let present = try Int.fetchCursor(
      db,
      sql: """
        SELECT array_index FROM jobs WHERE \(JobStore.inArray) AND array_index BETWEEN ? AND ?
          AND (array_index - ?) % ? = 0 ORDER BY array_index
        """, arguments: [array, array, range.first, range.last, range.first, range.step])
    var expected = range.first
    while let index = try present.next() {
      if index != expected { return expected }
      if expected == range.last { return nil }
      expected += range.step
    }
    return expected
  }
}

extension JobStore {
  public static func waitingArrays(_ db: Database) throws -> [WaitingArray] {
    // SLURM's jobs wait on SLURM's dependencies, not on the daemon's check.
    let ids = try Int64.fetchAll(
      db, sql: "SELECT DISTINCT array_id FROM jobs WHERE state = 'PENDING' AND ready = 0 AND backend IS NULL")
    return try ids.compactMap { id in
      guard
        let array = try Row.fetchOne(
          db, sql: "SELECT name, dep_or, kill_on_invalid_dep FROM arrays WHERE id = ?", arguments: [id])
      else { return nil }
      let terms = try Row.fetchAll(
        db,
        sql: """
          SELECT kind, target_array, target_first, target_last, target_step, delay_minutes, job_id
          FROM dependencies WHERE array_id = ? ORDER BY id
          """, arguments: [id]
      ).map { row in
        let first: Int? = row[2]
        let elements = first.map { ElementRange(first: $0, last: row[3] ?? $0, step: row[4] ?? 1) }
        return DependencyTerm(
          kind: row[0], targetArray: row[1], targetElements: elements, delayMinutes: row[5], onlyJob: row[6])
      }
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
