import Foundation
import GRDB
import XCTest

@testable import Store

/// Migration v10: the `state` CHECKs of `jobs` and `attempts` as chains of comparisons. A list of
/// seven constants made SQLite build a temporary b-tree on every write of a row.
final class StateCheckMigrationTests: StoreTestCase {
  private let jobsInsert = """
    INSERT INTO jobs(id, array_id, array_index, key, config_hash, hash_key, config, state, ready, submit_time)
    VALUES (?, 1, 0, 'k', 'h', 1, '{}', ?, 1, 1.0)
    """

  /// What SQLite runs for each write: no `OpenEphemeral` (the per-run b-tree of the IN list).
  /// On the v9 schema each of these statements opened one.
  func testRowWritesBuildNoTemporaryTable() throws {
    let statements = [
      jobsInsert,
      "UPDATE jobs SET state = ?, ready = 0 WHERE id = ?",
      "INSERT INTO attempts(job_id, attempt, state, start_time) VALUES (?, 1, ?, 1.0)",
      "UPDATE attempts SET state = ? WHERE job_id = ? AND attempt = 1",
    ]
    for sql in statements {
      let opcodes = try store.read("explain") { db in
        try Row.fetchAll(db, sql: "EXPLAIN \(sql)", arguments: ["PENDING", 1]).map { $0["opcode"] as String }
      }
      XCTAssertFalse(opcodes.isEmpty)
      XCTAssertFalse(opcodes.contains("OpenEphemeral"), "\(sql) builds a temporary table: \(opcodes)")
    }
  }

  /// The rewritten CHECKs accept exactly the states they accepted before.
  func testStatesAreStillChecked() throws {
    try store.write("array") { db in
      try db.execute(
        sql: """
          INSERT INTO arrays(id, name, source, is_array, launch, output_root, size, submit_time)
          VALUES (1, 'a', 'x', 1, '{}', '/tmp/r', 1, 1.0)
          """)
    }
    for (i, state) in Schema.jobStates.enumerated() {
      try store.write("job") { try $0.execute(sql: jobsInsert, arguments: [i + 1, state]) }
    }
    for bad in ["REVOKED", "pending", "BOGUS", ""] {
      XCTAssertThrowsError(try store.write("bad job") { try $0.execute(sql: jobsInsert, arguments: [99, bad]) }, bad)
      XCTAssertThrowsError(
        try store.write("bad update") {
          try $0.execute(sql: "UPDATE jobs SET state = ? WHERE id = 1", arguments: [bad])
        }, bad)
    }
    for (i, state) in Schema.attemptStates.enumerated() {
      try store.write("attempt") {
        try $0.execute(
          sql: "INSERT INTO attempts(job_id, attempt, state, start_time) VALUES (1, ?, ?, 1.0)",
          arguments: [i + 1, state])
      }
    }
    for bad in ["PENDING", "running", "BOGUS"] {
      XCTAssertThrowsError(
        try store.write("bad attempt") {
          try $0.execute(sql: "UPDATE attempts SET state = ? WHERE job_id = 1 AND attempt = 1", arguments: [bad])
        }, bad)
    }
  }

  /// A store written by v9 keeps every row, column, constraint and index through the rebuild.
  func testV9StoreKeepsItsRowsAndIndexes() throws {
    let path = dir.appendingPathComponent("v9.db").path
    let queue = try DatabaseQueue(path: path)
    try Schema.migrator.migrate(queue, upTo: "v9")
    try queue.write { db in
      try db.execute(
        sql: """
          INSERT INTO sweeps VALUES (1, 's', 1.0);
          INSERT INTO arrays(id, sweep_id, name, source, is_array, launch, output_root, size, submit_time)
            VALUES (1, 1, 'a', 'x', 1, '{}', '/tmp/r', 7, 1.0);
          """)
      for (i, state) in Schema.jobStates.enumerated() {
        try db.execute(
          sql: """
            INSERT INTO jobs(id, array_id, array_index, key, config_hash, hash_key, config, state, ready, reason,
              submit_time, held, backend, slurm_id, gpus, gpu_type, begin_time, nice, cancel_requested)
            VALUES (?, 1, ?, ?, ?, ?, '{"x":1}', ?, ?, ?, 2.5, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
          arguments: [
            i + 1, i, "k\(i)", "h\(i)", i * 7, state, i % 2, i % 2 == 0 ? nil : "Dependency", i == 3 ? 1 : 0,
            i == 1 ? "slurm" : nil, i == 1 ? "55_1" : nil, i, i > 0 ? "a100" : nil, i == 0 ? 9.5 : nil, -i,
            state == "RUNNING" ? 1 : 0,
          ])
      }
      for (i, state) in Schema.attemptStates.enumerated() {
        try db.execute(
          sql: """
            INSERT INTO attempts(job_id, attempt, state, reason, exit_code, signal, start_time, end_time, worker_pid,
              cpus, gpus)
            VALUES (2, ?, ?, 'r', ?, NULL, 3.0, 4.0, 77, '0-1', NULL)
            """, arguments: [i + 1, state, i])
      }
      try db.execute(sql: "INSERT INTO metrics(job_id, attempt, seq, name, value) VALUES (2, 1, 1, 'loss', 0.5)")
    }
    func snapshot(_ db: Database) throws -> [String] {
      var lines: [String] = []
      for table in ["jobs", "attempts", "metrics"] {
        lines += try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY 1, 2").map { "\(table) \($0)" }
        lines += try Row.fetchAll(db, sql: "PRAGMA table_xinfo(\(table))").map { "\(table) column \($0)" }
        lines += try Row.fetchAll(db, sql: "PRAGMA foreign_key_list(\(table))").map { "\(table) fk \($0)" }
      }
      lines += try String.fetchAll(
        db,
        sql: """
          SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(sql, '') FROM sqlite_master
          WHERE type = 'index' ORDER BY name
          """)
      return lines
    }
    let before = try queue.read(snapshot)
    let oldDefinition = try queue.read {
      try String.fetchOne($0, sql: "SELECT sql FROM sqlite_master WHERE name = 'jobs'")
    }
    try queue.close()

    let migrated = try JobStore(path: path)
    let (after, definition, integrity, foreignKeys) = try migrated.read("after") { db in
      (
        try snapshot(db),
        try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'jobs'"),
        try String.fetchAll(db, sql: "PRAGMA integrity_check"),
        try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
      )
    }
    XCTAssertEqual(after, before)
    XCTAssertEqual(integrity, ["ok"])
    XCTAssertEqual(foreignKeys.count, 0)
    let list = "CHECK (state IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY'))"
    let chain =
      "CHECK (state = 'PENDING' OR state = 'RUNNING' OR state = 'COMPLETED' OR state = 'FAILED' OR "
      + "state = 'CANCELLED' OR state = 'TIMEOUT' OR state = 'OUT_OF_MEMORY')"
    XCTAssertEqual(
      definition?.replacingOccurrences(of: "CREATE TABLE \"jobs\"(", with: ""),
      oldDefinition?.replacingOccurrences(of: "CREATE TABLE \"jobs\"(", with: "").replacingOccurrences(
        of: list, with: chain),
      "only the state CHECK changed")
  }
}
