import Foundation
import GRDB
import XCTest

@testable import Store

/// A large submission into a store with fewer jobs drops the hash index and builds it again after
/// its rows, in its transaction: the store ends with the same index, consistent with every row.
final class BulkInsertTests: StoreTestCase {
  private func hex(_ i: Int) -> String {
    var g = SystemRandomNumberGenerator()
    _ = i
    return (0..<4).map { _ in String(g.next() as UInt64, radix: 16).leftPadded(16) }.joined()
  }

  private func bulk(_ n: Int, hashes: [String], fail: Bool = false) throws {
    try store.submit(now: 1) { tx in
      let jobs = (0..<n).map {
        NewJob(
          arrayIndex: $0, key: "k\($0)", configHash: hashes[$0], config: "{\"i\":\($0)}", resources: JobResources())
      }
      _ = try tx.insert(
        array: NewArray(sweep: "s", name: "s", source: "x", isArray: true, launch: "{}", outputRoot: "/tmp/r"),
        jobs: jobs, dependencies: [])
      if fail { throw StoreError("fail after the insert") }
    }
  }

  private func hashIndexSQL() throws -> String? {
    try store.read("index") { db in
      try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'jobs_hash'")
    }
  }

  /// Every index of `jobs` by name, with its SQL.
  private func jobIndexes() throws -> [String: String] {
    try store.read("indexes") { db in
      Dictionary(
        uniqueKeysWithValues: try Row.fetchAll(
          db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'"
        ).map { ($0[0] as String, $0[1] as String) })
    }
  }

  /// The claim and pending indexes are rebuilt too: the daemon claims from them and `orch queue`
  /// groups by them, so each must hold exactly the jobs its WHERE selects, in the store's order.
  func testTheClaimAndPendingIndexesAreRebuiltWithEveryPendingJob() throws {
    try submit(3)
    let before = try jobIndexes()
    for name in Submission.rebuiltOnBulkInsert { XCTAssertNotNil(before[name], name) }
    try bulk(12_000, hashes: (0..<12_000).map(hex))
    XCTAssertEqual(try jobIndexes(), before)
    try store.read("check") { db in
      XCTAssertEqual(try String.fetchAll(db, sql: "PRAGMA integrity_check"), ["ok"])
      XCTAssertEqual(
        try Int.fetchOne(
          db, sql: "SELECT count(*) FROM jobs INDEXED BY jobs_claim WHERE state = 'PENDING' AND ready = 1"),
        12_003)
      XCTAssertEqual(
        try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs INDEXED BY jobs_pending WHERE state = 'PENDING'"), 12_003)
      let claimOrder = try Int64.fetchAll(
        db,
        sql:
          "SELECT id FROM jobs INDEXED BY jobs_claim WHERE state = 'PENDING' AND ready = 1 ORDER BY priority DESC, id")
      XCTAssertEqual(claimOrder, Array(1...12_003))
    }
  }

  func testTheHashIndexIsRebuiltWholeAndConsistent() throws {
    let before = try hashIndexSQL()
    XCTAssertEqual(before, "CREATE INDEX jobs_hash ON jobs(hash_key)")
    let hashes = (0..<12_000).map(hex)
    try bulk(12_000, hashes: hashes)
    XCTAssertEqual(try hashIndexSQL(), before)
    try store.read("check") { db in
      XCTAssertEqual(try String.fetchAll(db, sql: "PRAGMA integrity_check"), ["ok"])
      // Every row's hash_key is its hash's, and the index finds it.
      let rows = try Row.fetchAll(db, sql: "SELECT config_hash, hash_key FROM jobs ORDER BY id")
      XCTAssertEqual(rows.count, 12_000)
      for (row, hash) in zip(rows, hashes) {
        XCTAssertEqual(row[0] as String, hash)
        XCTAssertEqual(row[1] as Int64, JobStore.hashKey(hash))
      }
      let plan = try Row.fetchAll(
        db, sql: "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE hash_key = ?", arguments: [JobStore.hashKey(hashes[7])]
      ).map { $0["detail"] as String? ?? "" }.joined()
      XCTAssertTrue(plan.contains("jobs_hash"), plan)
    }
    try store.submit(now: 2) { tx in
      XCTAssertEqual(try tx.existing(hash: hashes[11_999])?.id, 12_000)
      XCTAssertEqual(try tx.existing(hash: hashes[0])?.id, 1)
    }
  }

  func testARolledBackSubmissionKeepsTheIndex() throws {
    try submit(3)
    let before = try jobIndexes()
    XCTAssertThrowsError(try bulk(12_000, hashes: (0..<12_000).map(hex), fail: true))
    XCTAssertEqual(try hashIndexSQL(), "CREATE INDEX jobs_hash ON jobs(hash_key)")
    XCTAssertEqual(try jobIndexes(), before)
    try store.read("check") { db in
      XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs"), 3)
      XCTAssertEqual(try String.fetchAll(db, sql: "PRAGMA integrity_check"), ["ok"])
    }
  }

  func testHashKeyOfBytesIsHashKeyOfTheString() {
    let cases = [
      hex(0), hex(1), String(repeating: "f", count: 64), String(repeating: "0", count: 64), "0123456789abcdef",
      "0123456789ABCDEF0000", "+123456789abcdef0", "0123456789abcde", "", "zz23456789abcdef00", "h12",
    ]
    for s in cases {
      var t = s
      let bytes = t.withUTF8 { JobStore.hashKey(utf8: $0) }
      XCTAssertEqual(bytes, JobStore.hashKey(s), s)
    }
  }
}

extension String {
  fileprivate func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
