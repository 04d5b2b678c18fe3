import GRDB

/// When and in what order a job may start, as SLURM shows it: its begin time (`sbatch --begin`,
/// a requeue's delay, `scontrol update StartTime=`), its priority and nice value, whether it is held.
public struct JobSchedule: Sendable, Equatable {
  public var priority: Int
  public var nice: Int
  public var beginTime: Double?
  public var held: Bool
}

extension Submission {
  /// `sbatch --begin`/`--nice`: the whole array's begin time, and its nice value subtracted from
  /// its priority (a larger nice runs later, as SLURM's priority factors make it).
  public func schedule(array: Int64, begin: Double?, nice: Int) throws {
    try db.execute(
      sql: "UPDATE jobs SET begin_time = ?, nice = ?, priority = priority - ? WHERE \(JobStore.inArray)",
      arguments: [begin, nice, nice, array, array])
  }
}

extension JobStore {
  public func schedules(jobIDs: [Int64]) throws(StoreError) -> [Int64: JobSchedule] {
    try read("while reading job schedules") { db in
      let statement = try db.cachedStatement(sql: "SELECT priority, nice, begin_time, held FROM jobs WHERE id = ?")
      var out: [Int64: JobSchedule] = [:]
      for id in jobIDs {
        guard let row = try Row.fetchOne(statement, arguments: [id]) else { continue }
        out[id] = JobSchedule(priority: row[0], nice: row[1], beginTime: row[2], held: row[3])
      }
      return out
    }
  }

  /// The earliest begin time still ahead among pending jobs: when the daemon must look again.
  public static func nextBeginTime(_ db: Database, after now: Double) throws -> Double? {
    try Double.fetchOne(
      db.cachedStatement(
        sql: """
          SELECT MIN(begin_time) FROM jobs INDEXED BY jobs_begin
          WHERE state = 'PENDING' AND begin_time IS NOT NULL AND begin_time > ?
          """), arguments: [now])
  }

  /// Sets the begin time of the given PENDING jobs (nil: at once); returns those changed.
  public func setBeginTime(jobIDs: [Int64], _ time: Double?) throws(StoreError) -> [Int64] {
    try write("while setting begin times") { db in
      let statement = try db.cachedStatement(
        sql: "UPDATE jobs SET begin_time = ? WHERE id = ? AND state = 'PENDING' RETURNING id")
      return try jobIDs.compactMap { try Int64.fetchOne(statement, arguments: [time, $0]) }
    }
  }

  /// A requeue's delay, stored before the jobs go back to the queue (whatever their state now).
  public func delayStart(jobIDs: [Int64], until time: Double) throws(StoreError) {
    try write("while delaying requeued jobs") { db in
      let statement = try db.cachedStatement(sql: "UPDATE jobs SET begin_time = ? WHERE id = ?")
      for id in jobIDs { try statement.execute(arguments: [time, id]) }
    }
  }

  /// Sets the reason of held PENDING jobs (`scontrol requeuehold`'s own words).
  public func setHeldReason(jobIDs: [Int64], _ reason: String) throws(StoreError) {
    try write("while holding jobs") { db in
      let statement = try db.cachedStatement(
        sql: "UPDATE jobs SET reason = ? WHERE id = ? AND state = 'PENDING' AND held = 1")
      for id in jobIDs { try statement.execute(arguments: [reason, id]) }
    }
  }

  /// Sets the time limit (seconds, nil = none) of the given PENDING jobs; returns those changed.
  public func setTimeLimit(jobIDs: [Int64], _ seconds: Int?) throws(StoreError) -> [Int64] {
    try write("while setting time limits") { db in
      let statement = try db.cachedStatement(
        sql: "UPDATE jobs SET time_limit = ? WHERE id = ? AND state = 'PENDING' RETURNING id")
      return try jobIDs.compactMap { try Int64.fetchOne(statement, arguments: [seconds, $0]) }
    }
  }

  /// Sets the stored priority of the given PENDING jobs; returns those changed.
  public func setPriority(jobIDs: [Int64], _ priority: (Int64) -> Int) throws(StoreError) -> [Int64] {
    try write("while setting priorities") { db in
      let statement = try db.cachedStatement(
        sql: "UPDATE jobs SET priority = ? WHERE id = ? AND state = 'PENDING' RETURNING id")
      return try jobIDs.compactMap { try Int64.fetchOne(statement, arguments: [priority($0), $0]) }
    }
  }

  /// A new nice value: the old one is given back to the priority and the new one taken from it.
  public func setNice(jobIDs: [Int64], _ nice: Int) throws(StoreError) -> [Int64] {
    try write("while setting nice values") { db in
      let statement = try db.cachedStatement(
        sql: "UPDATE jobs SET priority = priority + nice - ?, nice = ? WHERE id = ? AND state = 'PENDING' RETURNING id")
      return try jobIDs.compactMap { try Int64.fetchOne(statement, arguments: [nice, nice, $0]) }
    }
  }

  /// `scontrol update Priority=0`: SLURM's administrator hold (Reason=JobHeldAdmin).
  public func holdByAdmin(jobIDs: [Int64]) throws(StoreError) -> [Int64] {
    try write("while holding jobs") { db in
      let statement = try db.cachedStatement(
        sql:
          "UPDATE jobs SET held = 1, ready = 0, reason = 'JobHeldAdmin' WHERE id = ? AND state = 'PENDING' RETURNING id"
      )
      return try jobIDs.compactMap { try Int64.fetchOne(statement, arguments: [$0]) }
    }
  }

  /// An array's `%N` throttle (nil or 0: none). The running count is recomputed in the same
  /// transaction: claims keep it only while a throttle is set, so one set on a running array
  /// must start from the jobs running now.
  public func setThrottle(array: Int64, _ throttle: Int?) throws(StoreError) -> Bool {
    try write("while setting an array's throttle") { db in
      try db.execute(
        sql: """
          UPDATE arrays SET throttle = ?,
            running = (SELECT COUNT(*) FROM jobs WHERE array_id = arrays.id AND state = 'RUNNING')
          WHERE id = ?
          """, arguments: [throttle.flatMap { $0 > 0 ? $0 : nil }, array])
      return db.changesCount > 0
    }
  }
}

extension Submission {
  /// Whether job `id` is an array (a dependency on it shows as `ID_*`, as SLURM shows it).
  public func isArray(_ id: Int64) throws -> Bool {
    try Bool.fetchOne(db, sql: "SELECT is_array FROM arrays WHERE id = ?", arguments: [id]) ?? false
  }
}
