import Foundation
import Store
import XCTest

/// Listings read what the store holds; a damaged value shows oddly but never traps.
final class StoredDataTests: XCTestCase {
  /// Times past Int (infinite here) in a job's row: `Int(Double)` trapped in every listing.
  func testInfiniteTimesDoNotCrashTheListings() throws {
    let c = try Cluster()
    let id = try c.submit(["--hold", "-o", "/dev/null", "--wrap", "true"])
    let store = try JobStore(path: c.home + "/orch.db")
    try store.write("damage") { db in
      try db.execute(
        sql: "UPDATE jobs SET state = 'RUNNING', start_time = -1e999, end_time = 1e999, held = 0 WHERE id = ?",
        arguments: [id])
    }
    for args in [["squeue"], ["queue"], ["history"], ["sacct", "-j", "\(id)"], ["scontrol", "show", "job", "\(id)"]] {
      let r = try c.run(args)
      XCTAssertEqual(r.code, 0, "orch \(args.joined(separator: " ")): \(r.err)")
    }
  }
}
