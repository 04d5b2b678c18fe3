import Foundation
import GRDB
import XCTest

@testable import Store

/// The store's half of "Exact operations": selections, the cancel intent, attempt numbers, the
/// STRICT schema and its migration from an older store.
final class ExactOperationsTests: StoreTestCase {
  /// An empty id list selects nothing (it meant "any job" before, which cancelled every running one).
  func testEmptySelectionSelectsNothing() throws {
    try submit(3)
    XCTAssertEqual(try store.jobs(JobFilter(jobs: [])).count, 0)
    XCTAssertEqual(try store.jobs(JobFilter(arrays: [])).count, 0)
    XCTAssertEqual(try store.jobs(JobFilter(states: [])).count, 0)
    XCTAssertEqual(try store.jobs(JobFilter(states: [.pending], jobs: [])).count, 0)
    XCTAssertEqual(try store.jobs(JobFilter(arrays: [], jobs: [2])).map(\.id), [2])
    XCTAssertEqual(try store.jobs(JobFilter()).count, 3)
  }

  /// A cancel of a RUNNING job is an intent `finish` honours: the failure its kill causes ends the
  /// job CANCELLED, never a requeue, whoever reports it.
  func testCancelIntentMakesTheEndCancelled() throws {
    try submit(2, maxAttempts: 3)
    let a = try XCTUnwrap(claim())
    let result = try store.requestCancel(ids: [a.id, 2], now: 5)
    XCTAssertEqual(result.requested, [a.id])
    XCTAssertEqual(result.cancelled, [2])
    XCTAssertEqual(try finish(a, .failed), .terminal(.cancelled))
    let row = try XCTUnwrap(store.jobs(JobFilter(jobs: [a.id])).first)
    XCTAssertEqual(row.state, .cancelled)
    XCTAssertEqual(row.reason, "Cancelled")
    XCTAssertEqual(try store.attempts(jobID: a.id).map(\.state), ["CANCELLED"])
    // A second cancel of the ended job touches nothing.
    XCTAssertEqual(try store.requestCancel(ids: [a.id], now: 6).untouched, [a.id])
  }

  /// A job that completed before its cancel took effect stays COMPLETED.
  func testCancelIntentKeepsACompletion() throws {
    try submit(1)
    let a = try XCTUnwrap(claim())
    _ = try store.requestCancel(ids: [a.id], now: 5)
    XCTAssertEqual(try finish(a, .completed), .terminal(.completed))
  }

  /// Issue 13 bug 1: a taken-back order gave its attempt number back, so the next claim reused
  /// (job, attempt) and the old order's "never started" report was read as the new run's outcome.
  func testTakenBackClaimNeverReusesItsAttemptNumber() throws {
    try submit(1, maxAttempts: 1)
    let first = try XCTUnwrap(claim())
    XCTAssertEqual(first.attempt, 1)
    XCTAssertTrue(try store.write("unclaim") { try JobStore.unclaim($0, jobID: first.id, attempt: 1, now: 3) })
    let second = try XCTUnwrap(claim())
    XCTAssertEqual(second.attempt, 2)
    // The stale report of attempt 1 is not applied to attempt 2.
    XCTAssertEqual(try finish(first, .failed, started: false), .stale)
    XCTAssertEqual(try finish(second, .completed), .terminal(.completed))
    XCTAssertEqual(try store.attempts(jobID: first.id).map(\.state), ["REVOKED", "COMPLETED"])
  }

  /// A cancel requested while the order was queued ends the job CANCELLED when it is taken back.
  func testTakenBackClaimWithCancelIntentIsCancelled() throws {
    try submit(1)
    let a = try XCTUnwrap(claim())
    _ = try store.requestCancel(ids: [a.id], now: 5)
    XCTAssertTrue(try store.write("unclaim") { try JobStore.unclaim($0, jobID: a.id, attempt: 1, now: 6) })
    XCTAssertEqual(try store.jobs(JobFilter()).first?.state, .cancelled)
  }

  /// The tables are STRICT and states are checked: no path can store what the code cannot read.
  func testSchemaRefusesBadStatesAndTypes() throws {
    try submit(1)
    XCTAssertThrowsError(try store.write("bad") { try $0.execute(sql: "UPDATE jobs SET state = 'DONE'") })
    XCTAssertThrowsError(try store.write("bad") { try $0.execute(sql: "UPDATE jobs SET cpus = 'many'") })
    XCTAssertThrowsError(
      try store.write("bad") { try $0.execute(sql: "UPDATE jobs SET cancel_requested = 1 WHERE state = 'PENDING'") })
    XCTAssertThrowsError(
      try store.write("bad") {
        try $0.execute(sql: "INSERT INTO attempts(job_id, attempt, state, start_time) VALUES (1, 1, 'LOST', 0)")
      })
  }

  /// A store written by the previous schema (v3) migrates with every row kept.
  func testStoreOfThePreviousSchemaMigrates() throws {
    let path = dir.appendingPathComponent("old.db").path
    let queue = try DatabaseQueue(path: path)
    try Schema.migrator.migrate(queue, upTo: "v3")
    try queue.write { db in
      try db.execute(
        sql: """
          INSERT INTO sweeps VALUES (1, 's', 1.0);
          INSERT INTO arrays(id, sweep_id, name, source, is_array, throttle, launch, output_root, size, submit_time)
            VALUES (1, 1, 's', 'x', 1, 2, '{}', '/tmp/r', 3, 1.0);
          INSERT INTO jobs(id, array_id, array_index, key, config_hash, hash_key, config, state, submit_time, attempt,
            tries, start_time) VALUES
            (1, 1, 0, 'a', 'h0', 1, '{}', 'COMPLETED', 1.0, 1, 1, 2.0),
            (2, 1, 1, 'b', 'h1', 2, '{}', 'RUNNING', 1.0, 1, 1, 2.0),
            (3, 1, 2, 'c', 'h2', 3, '{}', 'PENDING', 1.0, 0, 0, NULL);
          INSERT INTO attempts VALUES (1, 1, 'COMPLETED', NULL, 0, NULL, 2.0, 3.0, 7, '0'),
            (2, 1, 'RUNNING', NULL, NULL, NULL, 2.0, NULL, 7, '1');
          INSERT INTO metrics VALUES (1, 1, 0, 'acc', 0.5, 1, 1, 1);
          INSERT INTO events VALUES (1, 1, 0, 'done', '{}', 3.0);
          INSERT INTO dependencies(array_id, kind, target_array) VALUES (1, 'afterok', 1);
          """)
    }
    try queue.close()
    let migrated = try JobStore(path: path)
    XCTAssertEqual(try migrated.jobs(JobFilter()).map(\.state), [.completed, .running, .pending])
    XCTAssertEqual(try migrated.metrics(jobID: 1).map(\.value), [0.5])
    XCTAssertEqual(try migrated.attempts(jobID: 2).first?.cpus, "1")
    XCTAssertEqual(try migrated.requestCancel(ids: [2], now: 4).requested, [2])
    XCTAssertThrowsError(try migrated.write("bad") { try $0.execute(sql: "UPDATE jobs SET state = 'DONE'") })
  }
}
