import Foundation
import GRDB

/// The SQLite store (WAL): the one source of truth for sweeps, jobs, attempts, dependencies,
/// metrics, checkpoints, artifacts and events. One instance per process; not shared across threads.
public final class JobStore {
  let db: DatabaseQueue
  public let path: String

  /// Opens and migrates the store at `path`, creating it (mode 0600) only where no file is; an
  /// existing file that is not a whole SQLite database is an error (`StoreFile`).
  public init(path: String) throws(StoreError) {
    self.path = path
    var config = Configuration()
    config.journalMode = .wal
    config.busyMode = .timeout(30)
    config.prepareDatabase { db in
      // WAL + NORMAL: commits survive a process crash; only an OS crash may lose the last ones.
      try db.execute(sql: "PRAGMA synchronous = NORMAL")
      // Large submissions touch hundreds of MB of pages; a small cache spills them to the WAL mid-transaction.
      try db.execute(sql: "PRAGMA cache_size = -262144")
    }
    try StoreFile.createIfMissing(path) { temporary in
      let queue = try DatabaseQueue(path: temporary, configuration: config)
      try Schema.migrator.migrate(queue)
      try queue.close()
    }
    try StoreFile.checkExisting(path)
    db = try StoreError.wrap("while opening store \(path)") {
      let queue = try DatabaseQueue(path: path, configuration: config)
      try JobStore.migrate(queue)
      return queue
    }
  }

  /// Opens an existing, migrated store read-only (`orch ui`): a WAL reader never blocks the
  /// daemon's writes, and this handle cannot write at all.
  public init(readOnly path: String) throws(StoreError) {
    self.path = path
    var config = Configuration()
    config.readonly = true
    config.busyMode = .timeout(30)
    try StoreFile.checkExisting(path)
    db = try StoreError.wrap("while opening store \(path) read-only") {
      try DatabaseQueue(path: path, configuration: config)
    }
  }

  /// Two processes opening a new store at once (`orch run` and `orch queue`, say) both find
  /// migrations to apply: GRDB reads the applied ones before the transaction that applies each.
  /// The later one's migration fails and rolls back; it then finds the schema complete (or
  /// retries the rest).
  static func migrate(_ queue: DatabaseQueue) throws {
    let migrator = Schema.migrator
    for attempt in 1... {
      do {
        return try migrator.migrate(queue)
      } catch {
        if try queue.read({ try migrator.hasCompletedMigrations($0) }) { return }
        if attempt >= 100 { throw error }
        usleep(20_000)
      }
    }
  }

  /// Runs `body` in one `BEGIN IMMEDIATE` transaction.
  public func write<T>(_ context: @autoclosure () -> String, _ body: (Database) throws -> T) throws(StoreError) -> T {
    try StoreError.wrap(context()) { try db.write(body) }
  }

  /// Runs `body` on a consistent read snapshot.
  public func read<T>(_ context: @autoclosure () -> String, _ body: (Database) throws -> T) throws(StoreError) -> T {
    try StoreError.wrap(context()) { try db.read(body) }
  }
}
