import Foundation
import GRDB
import XCTest

@testable import Store

/// `scontrol update`'s store writes: each job's state is judged inside the write's transaction,
/// and what the claim reads (ready, CPUs, memory) changes with the update.
final class JobUpdateTests: StoreTestCase {
  func afterok(_ array: Int64) -> (Submission) throws -> (rows: [DependencyRow], text: String?) {
    { _ in ([DependencyRow(kind: "afterok", targetArray: array, targetElements: nil)], "afterok:\(array)") }
  }

  func terms(_ array: Int64) throws -> [String] {
    try store.read("terms") { db in
      try Row.fetchAll(
        db, sql: "SELECT kind, target_array, job_id FROM dependencies WHERE array_id = ? ORDER BY id",
        arguments: [array]
      ).map { "\($0[0] as String):\($0[1] as Int64? ?? 0):\($0[2] as Int64? ?? 0)" }
    }
  }

  func testAJobClaimedBeforeTheUpdateIsRefusedAndKeepsItsTerms() throws {
    let target = try submit(1)
    let dependent = try submit(1, priority: 5, hash: "g")
    XCTAssertEqual(try claim()?.id, dependent)
    var built = false
    let outcome = try store.updateDependency(array: dependent, jobIDs: [dependent], isOr: false) { tx in
      built = true
      return try self.afterok(target)(tx)
    }
    XCTAssertEqual(outcome.running, [dependent])
    XCTAssertEqual(outcome.updated, [])
    XCTAssertFalse(built, "nothing is resolved for a job that is no longer pending")
    XCTAssertEqual(try terms(dependent), [])
  }

  func testANewDependencyKeepsAReadyJobFromTheClaimAndClearingItFreesIt() throws {
    let target = try submit(1)
    let dependent = try submit(1, priority: 5, hash: "g")
    let outcome = try store.updateDependency(
      array: dependent, jobIDs: [dependent], isOr: false, rows: afterok(target))
    XCTAssertEqual(outcome.updated, [dependent])
    XCTAssertEqual(try terms(dependent), ["afterok:\(target):0"])
    XCTAssertEqual(try claim()?.id, target, "the dependent, first by priority, waits")
    XCTAssertNil(try claim())
    _ = try store.updateDependency(array: dependent, jobIDs: [dependent], isOr: false) { _ in ([], nil) }
    XCTAssertEqual(try terms(dependent), [])
    XCTAssertEqual(try claim()?.id, dependent)
  }

  func testACheckpointTermStaysWhenTheUserClearsTheDependency() throws {
    let source = try submit(1)
    let array = try store.submit(now: 1) { tx in
      try tx.insert(
        array: NewArray(sweep: "s", name: "s", source: "x", isArray: true, launch: "{}", outputRoot: "/tmp/r"),
        jobs: [NewJob(arrayIndex: 0, key: "ft", configHash: "ft", config: "{}", resources: JobResources())],
        dependencies: [
          DependencyRow(kind: "afterany", targetArray: source, targetElements: nil),
          DependencyRow(kind: "afterok", targetArray: source, targetIndex: 0, onlyIndex: 0),
        ])
    }
    _ = try store.updateDependency(array: array, jobIDs: [array], isOr: false) { _ in ([], nil) }
    XCTAssertEqual(try terms(array), ["afterok:\(source):\(array)"])
    XCTAssertEqual(try claim()?.id, source)
    XCTAssertNil(try claim(), "the fine-tune still waits for its checkpoint's job")
  }

  func testSelfCircularAndPartialUpdatesWriteNothing() throws {
    let a = try submit(1)
    let b = try submit(1, hash: "g")
    let array = try submit(3, hash: "x")
    _ = try store.updateDependency(array: b, jobIDs: [b], isOr: false, rows: afterok(a))
    XCTAssertTrue(try store.updateDependency(array: a, jobIDs: [a], isOr: false, rows: afterok(b)).circular)
    XCTAssertTrue(try store.updateDependency(array: a, jobIDs: [a], isOr: false, rows: afterok(a)).selfDependency)
    XCTAssertTrue(
      try store.updateDependency(array: array, jobIDs: [array + 1], isOr: false, rows: afterok(a)).partialArray)
    XCTAssertEqual(try terms(a), [])
    XCTAssertEqual(try terms(array), [])
    XCTAssertEqual(
      try store.updateDependency(array: array, jobIDs: [array, array + 1, array + 2], isOr: false, rows: afterok(a))
        .updated, [array, array + 1, array + 2])
    XCTAssertEqual(try terms(array), ["afterok:\(a):0"])
  }

  func testResourceUpdateIsWhatTheClaimReserves() throws {
    let id = try submit(1)
    var plan = ResourcePlan(cpus: 3)
    plan.memoryChanged = true
    plan.memoryPerCPU = 10 << 20
    plan.launch = #"{"changed":true}"#
    let outcome = try store.updateResources(array: id, jobIDs: [id], perArray: true) { launch in
      XCTAssertEqual(launch, "{}")
      return plan
    }
    XCTAssertEqual(outcome.updated, [id])
    XCTAssertEqual(try store.arrayRecords(ids: [id])[id]?.launch, #"{"changed":true}"#)
    XCTAssertNil(try claim(cpus: 2))
    let claimed = try XCTUnwrap(try claim(cpus: 3))
    XCTAssertEqual(claimed.cpus, 3)
    XCTAssertEqual(claimed.memLimit, 30 << 20)
  }
}
