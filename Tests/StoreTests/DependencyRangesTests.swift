import Foundation
import GRDB
import XCTest

@testable import Store

/// Dependencies on elements are stored as ranges (migration v6), and what a store of the previous
/// schema holds — one row per element, any delay — migrates and reads back without a trap.
final class DependencyRangesTests: StoreTestCase {
  /// Issue 13 item 7: `afterok:1_[0-3999999]` wrote four million rows; it is one.
  func testARangeIsOneRow() throws {
    let target = try submit(4)
    let waiting = try store.submit(now: 1) { tx in
      try tx.insert(
        array: NewArray(sweep: "w", name: "w", source: "x", isArray: true, launch: "{}", outputRoot: "/tmp/r"),
        jobs: [NewJob(arrayIndex: 0, key: "w", configHash: "w", config: "{}", resources: JobResources())],
        dependencies: [
          DependencyRow(
            kind: "afterok", targetArray: target, targetElements: ElementRange(first: 0, last: 3_999_999))
        ])
    }
    let count = try store.read("count") { db in
      try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM dependencies WHERE array_id = ?", arguments: [waiting])
    }
    XCTAssertEqual(count, 1)
    let terms = try store.read("terms") { try JobStore.waitingArrays($0) }.first?.terms
    XCTAssertEqual(terms?.map(\.targetElements), [ElementRange(first: 0, last: 3_999_999)])
  }

  func testFirstMissingElementReadsOnlyTheRange() throws {
    let array = try submit(5)
    try store.submit(now: 1) { tx in
      XCTAssertNil(try tx.firstMissingElement(array: array, range: ElementRange(first: 0, last: 4)))
      XCTAssertNil(try tx.firstMissingElement(array: array, range: ElementRange(first: 1, last: 4, step: 3)))
      XCTAssertNil(try tx.firstMissingElement(array: array, range: ElementRange(2)))
      XCTAssertEqual(try tx.firstMissingElement(array: array, range: ElementRange(99)), 99)
      XCTAssertEqual(try tx.firstMissingElement(array: array, range: ElementRange(first: 0, last: 3_999_999)), 5)
      XCTAssertEqual(try tx.firstMissingElement(array: array, range: ElementRange(first: 0, last: 9, step: 3)), 6)
      XCTAssertEqual(try tx.firstMissingElement(array: array + 99, range: ElementRange(0)), 0)
    }
  }

  func testElementRangeNormalisesAndNeverTraps() {
    XCTAssertEqual(ElementRange(first: 0, last: 5, step: 2), ElementRange(first: 0, last: 4, step: 2))
    XCTAssertEqual(ElementRange(first: 0, last: 5, step: 2).count, 3)
    XCTAssertEqual(ElementRange(first: 0, last: 5, step: 2).description, "0-4:2")
    XCTAssertEqual(ElementRange(7).description, "7")
    XCTAssertFalse(ElementRange(first: 0, last: 4, step: 2).contains(3))
    // Odd stored values: no trap, and nothing or everything they plainly say.
    XCTAssertEqual(ElementRange(first: 5, last: 1).count, 0)
    XCTAssertEqual(ElementRange(first: 0, last: 9, step: 0).count, 10)
    XCTAssertEqual(ElementRange(first: Int.min, last: Int.max).count, Int.max)
    XCTAssertTrue(ElementRange(first: Int.min, last: Int.max).contains(Int.max))
    XCTAssertFalse(ElementRange(first: Int.min, last: Int.max, step: 2).contains(Int.max))
    XCTAssertEqual(ElementRange(first: 0, last: Int.max).count, Int.max)
  }

  /// A store written by the previous schema (v4): one row per element becomes one row per run of
  /// consecutive elements (a repeated element joins its run), whole-target and per-job rows are kept, and a delay too long for
  /// seconds (which stopped the old daemon) is kept as it was and read back.
  func testV4RowsPerElementMigrateToRanges() throws {
    let path = dir.appendingPathComponent("old.db").path
    let queue = try DatabaseQueue(path: path)
    try Schema.migrator.migrate(queue, upTo: "v4")
    try queue.write { db in
      try db.execute(
        sql: """
          INSERT INTO sweeps VALUES (1, 's', 1.0);
          INSERT INTO arrays(id, sweep_id, name, source, is_array, launch, output_root, size, submit_time)
            VALUES (1, 1, 'a', 'x', 1, '{}', '/tmp/r', 5, 1.0), (6, 1, 'b', 'x', 1, '{}', '/tmp/r', 2, 1.0);
          INSERT INTO jobs(id, array_id, array_index, key, config_hash, hash_key, config, state, ready, reason, submit_time)
          VALUES (1, 1, 0, 'a0', 'h0', 1, '{}', 'PENDING', 1, NULL, 1.0), (2, 1, 1, 'a1', 'h1', 2, '{}', 'PENDING', 1, NULL, 1.0),
            (3, 1, 2, 'a2', 'h2', 3, '{}', 'PENDING', 1, NULL, 1.0), (4, 1, 3, 'a3', 'h3', 4, '{}', 'PENDING', 1, NULL, 1.0),
            (5, 1, 4, 'a4', 'h4', 5, '{}', 'PENDING', 1, NULL, 1.0),
            (6, 6, 0, 'b0', 'b0', 6, '{}', 'PENDING', 0, 'Dependency', 1.0),
            (7, 6, 1, 'b1', 'b1', 7, '{}', 'PENDING', 0, 'Dependency', 1.0);
          INSERT INTO dependencies(array_id, job_id, kind, target_array, target_index, delay_minutes) VALUES
            (6, NULL, 'afterok', 1, 0, NULL), (6, NULL, 'afterok', 1, 1, NULL), (6, NULL, 'afterok', 1, 2, NULL),
            (6, NULL, 'afterok', 1, 4, NULL), (6, NULL, 'afterok', 1, 2, NULL),
            (6, NULL, 'afterany', 1, NULL, NULL),
            (6, 7, 'afterok', 1, 3, NULL),
            (6, NULL, 'after', 1, NULL, 999999999999999999),
            (6, NULL, 'after', 1, 1, 5), (6, NULL, 'after', 1, 2, 5), (6, NULL, 'after', 1, 3, 6);
          """)
    }
    try queue.close()
    let migrated = try JobStore(path: path)
    let terms = try migrated.read("terms") { try JobStore.waitingArrays($0) }.first?.terms ?? []
    func term(_ kind: String, _ elements: ElementRange?, delay: Int? = nil, only: Int64? = nil) -> DependencyTerm {
      DependencyTerm(kind: kind, targetArray: 1, targetElements: elements, delayMinutes: delay, onlyJob: only)
    }
    XCTAssertEqual(
      Set(terms),
      [
        term("afterok", ElementRange(first: 0, last: 2)), term("afterok", ElementRange(4)),
        term("afterany", nil), term("afterok", ElementRange(3), only: 7),
        term("after", nil, delay: 999_999_999_999_999_999), term("after", ElementRange(first: 1, last: 2), delay: 5),
        term("after", ElementRange(3), delay: 6),
      ])
    XCTAssertEqual(terms.count, 7, "the repeated element 2 is merged into its run")
    // The migrated table checks what a range may be.
    XCTAssertThrowsError(
      try migrated.write("bad range") {
        try $0.execute(
          sql: """
            INSERT INTO dependencies(array_id, kind, target_array, target_first, target_last, target_step)
            VALUES (6, 'afterok', 1, 3, 1, 1)
            """)
      })
  }
}
