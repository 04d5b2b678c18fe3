import CSupport
import Foundation
import GRDB
import GRDBSQLite

/// One submission (a SLURM array, or a single job when `isArray` is false).
public struct NewArray: Sendable {
  public var sweep: String?
  public var name: String
  public var source: String
  public var isArray: Bool
  public var throttle: Int?
  public var dependency: String?
  public var dependencyOr: Bool
  public var killOnInvalidDependency: Bool
  /// Launch settings shared by the elements (JSON owned by the Worker library).
  public var launch: String
  /// Run directories are `<outputRoot>/<key>`.
  public var outputRoot: String

  public init(
    sweep: String?, name: String, source: String, isArray: Bool, throttle: Int? = nil,
    dependency: String? = nil, dependencyOr: Bool = false, killOnInvalidDependency: Bool = false,
    launch: String, outputRoot: String
  ) {
    self.sweep = sweep
    self.name = name
    self.source = source
    self.isArray = isArray
    self.throttle = throttle
    self.dependency = dependency
    self.dependencyOr = dependencyOr
    self.killOnInvalidDependency = killOnInvalidDependency
    self.launch = launch
    self.outputRoot = outputRoot
  }
}

/// Resources of a job, as stored.
public struct JobResources: Sendable, Hashable {
  public var cpus: Int
  public var timeLimit: Int?
  public var memLimit: Int64?
  public var maxAttempts: Int
  public var priority: Int
  /// GPUs per job, of `gpuType` when set (lowercase); shared with other sharing jobs when `gpusShared`.
  public var gpus: Int
  public var gpuType: String?
  public var gpusShared: Bool

  public init(
    cpus: Int = 1, timeLimit: Int? = nil, memLimit: Int64? = nil, maxAttempts: Int = 1, priority: Int = 0,
    gpus: Int = 0, gpuType: String? = nil, gpusShared: Bool = false
  ) {
    self.cpus = cpus
    self.timeLimit = timeLimit
    self.memLimit = memLimit
    self.maxAttempts = maxAttempts
    self.priority = priority
    self.gpus = gpus
    self.gpuType = gpuType
    self.gpusShared = gpusShared
  }
}

public struct NewJob: Sendable {
  public var arrayIndex: Int?
  public var key: String
  public var configHash: String
  public var config: String
  public var resources: JobResources

  public init(arrayIndex: Int?, key: String, configHash: String, config: String, resources: JobResources) {
    self.arrayIndex = arrayIndex
    self.key = key
    self.configHash = configHash
    self.config = config
    self.resources = resources
  }
}

/// A dependency term resolved to rows: the target array, and one element of it when given.
public struct DependencyRow: Sendable, Hashable {
  public var kind: String
  public var targetArray: Int64?
  /// Nil: the whole job or every element of the array.
  public var targetElements: ElementRange?
  /// `after:id+minutes`.
  public var delayMinutes: Int?
  /// Restricts the term to one element of the new array (implicit per-config dependencies).
  public var onlyIndex: Int?
  /// The target is the array being inserted (one config fine-tuning from another of the same
  /// submission); `targetArray` is ignored.
  public var selfArray: Bool

  public init(
    kind: String, targetArray: Int64?, targetElements: ElementRange?, delayMinutes: Int? = nil,
    onlyIndex: Int? = nil, selfArray: Bool = false
  ) {
    self.kind = kind
    self.targetArray = targetArray
    self.targetElements = targetElements
    self.delayMinutes = delayMinutes
    self.onlyIndex = onlyIndex
    self.selfArray = selfArray
  }

  /// A term on one element (`targetIndex`), or on the whole target when nil.
  public init(
    kind: String, targetArray: Int64?, targetIndex: Int?, delayMinutes: Int? = nil, onlyIndex: Int? = nil,
    selfArray: Bool = false
  ) {
    self.init(
      kind: kind, targetArray: targetArray, targetElements: targetIndex.map { ElementRange($0) },
      delayMinutes: delayMinutes, onlyIndex: onlyIndex, selfArray: selfArray)
  }
}

/// The newest job holding a config hash.
public struct ExistingJob: Sendable {
  public var id: Int64
  public var state: JobState
  public var display: String
}

/// The writes of one submission, all inside one transaction (`JobStore.submit`).
public struct Submission {
  let db: Database
  let now: Double

  /// The newest job with this config hash, if any.
  public func existing(hash: String) throws -> ExistingJob? {
    let statement = try db.cachedStatement(
      sql: """
        SELECT j.id, j.state, j.array_index, a.is_array, j.array_id FROM jobs j JOIN arrays a ON a.id = j.array_id
        WHERE j.hash_key = ? AND j.config_hash = ? ORDER BY j.id DESC LIMIT 1
        """)
    guard let row = try Row.fetchOne(statement, arguments: [JobStore.hashKey(hash), hash]) else { return nil }
    let state = JobState(rawValue: row[1]) ?? .failed
    let display = JobStore.display(arrayID: row[4], index: row[2], isArray: row[3])
    return ExistingJob(id: row[0], state: state, display: display)
  }

  /// The newest job with this key, with its run directory and config JSON.
  public func newest(key: String) throws -> (arrayID: Int64, arrayIndex: Int?, runDir: String, config: String)? {
    guard
      let row = try Row.fetchOne(
        db,
        sql: """
          SELECT j.array_id, j.array_index, a.output_root || '/' || j.key, j.config
          FROM jobs j JOIN arrays a ON a.id = j.array_id
          WHERE j.key = ? ORDER BY j.id DESC LIMIT 1
          """, arguments: [key])
    else { return nil }
    return (row[0], row[1], row[2], row[3])
  }

  /// Whether the store has any job at all (lets a first submission skip hash look-ups).
  public func isEmpty() throws -> Bool {
    try Int64.fetchOne(db, sql: "SELECT id FROM jobs LIMIT 1") == nil
  }

  /// Puts a finished job back in the queue with a fresh attempt budget and new resources.
  public func requeue(jobID: Int64, resources: JobResources) throws {
    try db.execute(
      sql: """
        UPDATE jobs SET \(JobStore.backToQueue), cpus = ?, time_limit = ?, mem_limit = ?, max_attempts = ?, priority = ?,
          gpus = ?, gpu_type = ?, gpus_shared = ?
        WHERE id = ? AND state IN ('FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY')
        """,
      arguments: [
        resources.cpus, resources.timeLimit, resources.memLimit, resources.maxAttempts, resources.priority,
        resources.gpus, resources.gpuType, resources.gpusShared, jobID,
      ])
  }

  /// A run directory's contents moved aside (`--force`): the checkpoint and artifact paths of the
  /// jobs of that config that ran in it follow them.
  public func moveRunPaths(from old: String, to new: String, configHash: String) throws {
    for table in ["checkpoints", "artifacts"] {
      try db.execute(
        sql: """
          UPDATE \(table) SET path = ? || substr(path, length(?) + 1)
          WHERE substr(path, 1, length(?)) = ? AND job_id IN (
            SELECT j.id FROM jobs j JOIN arrays a ON a.id = j.array_id
            WHERE j.hash_key = ? AND j.config_hash = ? AND a.output_root || '/' || j.key = ?)
          """,
        arguments: [
          new + "/", old + "/", old + "/", old + "/", JobStore.hashKey(configHash), configHash, old,
        ])
    }
  }

  /// The array (or single job) that `id` names, if it exists.
  public func arrayExists(_ id: Int64) throws -> Bool {
    try Int64.fetchOne(db, sql: "SELECT id FROM arrays WHERE id = ?", arguments: [id]) != nil
  }

  /// The array holding job `id` and the job's index, for ids typed as a plain element job id.
  public func arrayOf(job id: Int64) throws -> (array: Int64, index: Int?)? {
    guard let row = try Row.fetchOne(db, sql: "SELECT array_id, array_index FROM jobs WHERE id = ?", arguments: [id])
    else { return nil }
    return (row[0], row[1])
  }

  /// Inserts the array and its jobs; returns the array id (the first job's id).
  public func insert(array: NewArray, jobs: [NewJob], dependencies: [DependencyRow]) throws -> Int64 {
    precondition(!jobs.isEmpty)
    let first = (try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM jobs") ?? 0) + 1
    var sweepID: Int64? = nil
    if let sweep = array.sweep {
      try db.execute(
        sql: "INSERT INTO sweeps(name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
        arguments: [sweep, now])
      sweepID = try Int64.fetchOne(db, sql: "SELECT id FROM sweeps WHERE name = ?", arguments: [sweep])
    }
    try db.execute(
      sql: """
        INSERT INTO arrays(id, sweep_id, name, source, is_array, throttle, dependency, dep_or,
          kill_on_invalid_dep, launch, output_root, size, submit_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [
        first, sweepID, array.name, array.source, array.isArray, array.throttle, array.dependency,
        array.dependencyOr, array.killOnInvalidDependency, array.launch, array.outputRoot, jobs.count, now,
      ])
    // Terms for the whole array hold every element back; per-element terms only their element.
    let arrayWide = dependencies.contains { $0.onlyIndex == nil }
    let waitingIndices = Set(dependencies.compactMap(\.onlyIndex))
    let insert = try db.makeStatement(
      sql: """
        INSERT INTO jobs(id, array_id, array_index, key, config_hash, hash_key, config, state, ready,
          priority, cpus, time_limit, mem_limit, max_attempts, submit_time, reason, gpus, gpu_type, gpus_shared)
        VALUES (?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """)
    // A large submission into a store holding fewer jobs than it adds: the indexes a pending job
    // enters are dropped and built again after the rows, in this transaction — for the hash index
    // (random keys: every insert lands on another page) one sort instead of a million random
    // B-tree inserts; the claim and pending entries were ~1.9 µs of a ~5.6 µs row, and building
    // both again costs ~1.2 s per million rows (bench/expand/floor.c's schema, measured in C).
    // A crash or an error rolls the drops back with the rows.
    let rebuilt =
      try jobs.count >= 10_000 && first - 1 <= jobs.count
      ? Self.rebuiltOnBulkInsert.compactMap { try dropIndex($0) } : []
    // Bound through the C API: a million-config sweep spends most of its time here, and building
    // `StatementArguments` of existentials per row costs more than SQLite itself. The texts are
    // bound without a copy (SQLITE_STATIC): each stays alive until its row is stepped.
    let s = insert.sqliteStatement
    defer { sqlite3_clear_bindings(s) }
    for (offset, job) in jobs.enumerated() {
      let ready = !arrayWide && !(job.arrayIndex.map(waitingIndices.contains) ?? false)
      sqlite3_reset(s)
      sqlite3_bind_int64(s, 1, first + Int64(offset))
      sqlite3_bind_int64(s, 2, first)
      bind(s, 3, job.arrayIndex.map(Int64.init))
      var key = job.key
      var configHash = job.configHash
      var config = job.config
      let rc = key.withUTF8 { key in
        configHash.withUTF8 { configHash in
          config.withUTF8 { config in
            bindStatic(s, 4, key)
            bindStatic(s, 5, configHash)
            sqlite3_bind_int64(s, 6, JobStore.hashKey(utf8: configHash))
            bindStatic(s, 7, config)
            return step(s, job: job, ready: ready, now: now)
          }
        }
      }
      guard rc == SQLITE_DONE else {
        throw StoreError("cannot insert job \(job.key): \(String(cString: sqlite3_errmsg(sqlite3_db_handle(s))))")
      }
    }
    sqlite3_reset(s)
    for index in rebuilt { try db.execute(sql: index) }
    for dep in dependencies {
      let jobID: Int64? = dep.onlyIndex.flatMap { index in
        jobs.firstIndex { $0.arrayIndex == index }.map { first + Int64($0) }
      }
      try db.execute(
        sql: """
          INSERT INTO dependencies(array_id, job_id, kind, target_array, target_first, target_last, target_step,
            delay_minutes)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          first, jobID, dep.kind, dep.selfArray ? first : dep.targetArray, dep.targetElements?.first,
          dep.targetElements?.last, dep.targetElements?.step, dep.delayMinutes,
        ])
    }
    return first
  }

  /// The indexes every new ready job enters (`jobs_claim`, `jobs_pending`) and the hash index.
  static let rebuiltOnBulkInsert = ["jobs_hash", "jobs_claim", "jobs_pending"]

  /// Binds the rest of a job's row and steps it.
  private func step(_ s: OpaquePointer, job: NewJob, ready: Bool, now: Double) -> Int32 {
    let r = job.resources
    sqlite3_bind_int64(s, 8, ready ? 1 : 0)
    sqlite3_bind_int64(s, 9, Int64(r.priority))
    sqlite3_bind_int64(s, 10, Int64(r.cpus))
    bind(s, 11, r.timeLimit.map(Int64.init))
    bind(s, 12, r.memLimit)
    sqlite3_bind_int64(s, 13, Int64(r.maxAttempts))
    sqlite3_bind_double(s, 14, now)
    bind(s, 15, ready ? nil : "Dependency")
    sqlite3_bind_int64(s, 16, Int64(r.gpus))
    bind(s, 17, r.gpuType)
    sqlite3_bind_int64(s, 18, r.gpusShared ? 1 : 0)
    return sqlite3_step(s)
  }

  /// Drops an index, returning the SQL that creates it again (nil when there is no such index).
  private func dropIndex(_ name: String) throws -> String? {
    guard
      let sql = try String.fetchOne(
        db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", arguments: [name])
    else { return nil }
    try db.execute(sql: "DROP INDEX \(name)")
    return sql
  }
}

private let staticText = unsafeBitCast(0, to: sqlite3_destructor_type.self)

/// Binds UTF-8 text that outlives the statement's next step, without a copy.
private func bindStatic(_ s: OpaquePointer, _ i: Int32, _ text: UnsafeBufferPointer<UInt8>) {
  guard let base = text.baseAddress, text.count > 0 else {
    sqlite3_bind_text(s, i, "", 0, transient)
    return
  }
  sqlite3_bind_text(s, i, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(text.count), staticText)
}

private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

private func bind(_ s: OpaquePointer, _ i: Int32, _ value: String?) {
  guard let value else {
    sqlite3_bind_null(s, i)
    return
  }
  sqlite3_bind_text(s, i, value, -1, transient)
}

private func bind(_ s: OpaquePointer, _ i: Int32, _ value: Int64?) {
  guard let value else {
    sqlite3_bind_null(s, i)
    return
  }
  sqlite3_bind_int64(s, i, value)
}

extension JobStore {
  /// Runs one submission in one transaction.
  /// A `large` one leaves the WAL checkpoint (copying every new page into the database file) to
  /// the daemon's next write instead of paying it at commit and again when this process closes
  /// the store.
  public func submit<T>(now: Double, large: Bool = false, _ body: (Submission) throws -> T) throws(StoreError) -> T {
    try StoreError.wrap("while submitting") {
      try db.writeWithoutTransaction { db in
        if large {
          try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
          if let handle = db.sqliteConnection {
            _ = orch_sqlite_no_checkpoint_on_close(UnsafeMutableRawPointer(handle))
          }
        }
        defer { if large { try? db.execute(sql: "PRAGMA wal_autocheckpoint = 1000") } }
        var result: T?
        try db.inTransaction(.immediate) {
          result = try body(Submission(db: db, now: now))
          return .commit
        }
        return result!
      }
    }
  }

  /// The indexed part of a hex config hash: its first 16 hex digits as a signed 64-bit integer.
  static func hashKey(_ hash: String) -> Int64 {
    Int64(bitPattern: UInt64(hash.prefix(16), radix: 16) ?? 0)
  }

  /// `hashKey` over the hash's UTF-8 bytes (the same value, without parsing a String).
  static func hashKey(utf8 hash: UnsafeBufferPointer<UInt8>) -> Int64 {
    guard hash.count >= 16 else { return hashKey(String(decoding: hash, as: UTF8.self)) }
    var v: UInt64 = 0
    for b in hash[0..<16] {
      let d: UInt8
      switch b {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b &- UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b &- UInt8(ascii: "a") &+ 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b &- UInt8(ascii: "A") &+ 10
      default: return hashKey(String(decoding: hash, as: UTF8.self))
      }
      v = v << 4 | UInt64(d)
    }
    return Int64(bitPattern: v)
  }

  /// `12` for a single job, `12_3` for an element of array 12.
  public static func display(arrayID: Int64, index: Int?, isArray: Bool) -> String {
    if isArray, let index { return "\(arrayID)_\(index)" }
    return "\(arrayID)"
  }
}
