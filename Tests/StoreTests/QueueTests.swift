import Foundation
import GRDB
import XCTest

@testable import Store

final class QueueTests: StoreTestCase {
  func testIdsAreSlurmShapedAndSequential() throws {
    XCTAssertEqual(try submit(3), 1)
    XCTAssertEqual(try submit(2, hash: "g"), 4)
    let rows = try store.jobs(JobFilter())
    XCTAssertEqual(rows.map(\.display), ["1_0", "1_1", "1_2", "4_0", "4_1"])
  }

  func testClaimOrderIsPriorityThenSubmission() throws {
    try submit(2)
    try submit(1, priority: 5, hash: "g")
    XCTAssertEqual(try claim()?.display, "3_0")
    XCTAssertEqual(try claim()?.display, "1_0")
    XCTAssertEqual(try claim()?.display, "1_1")
    XCTAssertNil(try claim())
  }

  func testThrottleLimitsRunningElements() throws {
    try submit(3, throttle: 1)
    let first = try XCTUnwrap(try claim())
    XCTAssertNil(try claim(), "%1: the second element waits")
    XCTAssertEqual(try finish(first, .completed), .terminal(.completed))
    XCTAssertEqual(try claim()?.display, "1_1")
  }

  func testClaimRespectsCPUs() throws {
    try store.submit(now: 1) { tx in
      try tx.insert(
        array: NewArray(sweep: nil, name: "big", source: "x", isArray: false, launch: "{}", outputRoot: "/tmp/r"),
        jobs: [NewJob(arrayIndex: nil, key: "big", configHash: "b", config: "{}", resources: JobResources(cpus: 4))],
        dependencies: [])
    }
    XCTAssertNil(try claim(cpus: 2))
    XCTAssertEqual(try claim(cpus: 4)?.display, "1")
  }

  func testFailureRequeuesWhileAttemptsRemain() throws {
    try submit(1, maxAttempts: 2)
    let a1 = try XCTUnwrap(try claim())
    XCTAssertEqual(try finish(a1, .failed), .requeued)
    let a2 = try XCTUnwrap(try claim())
    XCTAssertEqual(a2.attempt, 2)
    XCTAssertEqual(try finish(a2, .failed), .terminal(.failed))
    XCTAssertEqual(try store.attempts(jobID: a1.id).map(\.state), ["FAILED", "FAILED"])
  }

  func testCancelledNeverRequeues() throws {
    try submit(1, maxAttempts: 3)
    let a1 = try XCTUnwrap(try claim())
    XCTAssertEqual(try finish(a1, .cancelled), .terminal(.cancelled))
  }

  func testAttemptThatNeverStartedDoesNotCount() throws {
    try submit(1, maxAttempts: 1)
    let a1 = try XCTUnwrap(try claim())
    XCTAssertEqual(try finish(a1, .failed, started: false), .requeued)
    let a2 = try XCTUnwrap(try claim())
    XCTAssertEqual(a2.attempt, 2)
    XCTAssertEqual(try finish(a2, .completed), .terminal(.completed))
  }

  func testStaleOutcomeIsIgnored() throws {
    try submit(1)
    let a1 = try XCTUnwrap(try claim())
    XCTAssertEqual(try finish(a1, .completed), .terminal(.completed))
    XCTAssertEqual(try finish(a1, .failed), .stale, "recording twice changes nothing")
    XCTAssertEqual(try store.jobs(JobFilter()).first?.state, .completed)
  }

  func testIngestIsIdempotent() throws {
    try submit(1)
    let job = try XCTUnwrap(try claim())
    var e = EventRecord(seq: 1, type: "metric", payload: "{}", time: 1)
    e.metrics = [.init(name: "loss", value: 0.5, step: 1, epoch: 0, final: false)]
    var d = EventRecord(seq: 2, type: "done", payload: "{}", time: 2)
    d.metrics = [.init(name: "acc", value: 0.9, step: nil, epoch: nil, final: true)]
    let first = try store.write("ingest") { db in try JobStore.ingest(db, jobID: job.id, attempt: 1, events: [e, d]) }
    let again = try store.write("ingest") { db in try JobStore.ingest(db, jobID: job.id, attempt: 1, events: [e, d]) }
    XCTAssertEqual(first, 2)
    XCTAssertEqual(again, 0)
    XCTAssertEqual(try store.metrics(jobID: job.id).map(\.name), ["loss", "acc"])
  }

  func testResubmissionFindsTheNewestJobByHash() throws {
    try submit(2, hash: "ab12")
    try submit(1, hash: "ab12")
    let found = try store.submit(now: 5) { tx in try tx.existing(hash: "ab120") }
    XCTAssertEqual(found?.display, "3_0")
    XCTAssertNil(try store.submit(now: 5) { tx in try tx.existing(hash: "ffff") })
    XCTAssertEqual(try store.jobs(JobFilter()).first?.runDir, "/tmp/r/kab120")
  }

  func testStoreFileIsPrivateAndWAL() throws {
    let path = dir.appendingPathComponent("orch.db").path
    let attrs = try FileManager.default.attributesOfItem(atPath: path)
    XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
    let mode = try store.read("mode") { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
    XCTAssertEqual(mode, "wal")
  }
}
