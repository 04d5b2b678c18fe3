import Foundation
import GRDB
import XCTest

@testable import Store

/// Jobs handed to SLURM: never claimed, checked or recovered by the daemon; SLURM's observations
/// recorded once per attempt.
final class SlurmJobsTests: StoreTestCase {
  /// Three jobs of one array assigned to SLURM, elements `900_0…2` recorded; returns their ids.
  func submitToSlurm(dependency: Bool = false) throws -> [Int64] {
    let first = try store.submit(now: 1) { tx in
      let jobs = (0..<3).map {
        NewJob(arrayIndex: $0, key: "k\($0)", configHash: "h\($0)", config: "{}", resources: JobResources())
      }
      let deps =
        dependency
        ? [DependencyRow(kind: "afterok", targetArray: nil, targetIndex: 0, onlyIndex: 2, selfArray: true)] : []
      let id = try tx.insert(
        array: NewArray(sweep: "s", name: "s", source: "x", isArray: true, launch: "{}", outputRoot: "/tmp/r"),
        jobs: jobs, dependencies: deps)
      try tx.assignToSlurm(jobIDs: (0..<3).map { id + $0 })
      try tx.setSlurmOptions(array: id, "{}")
      return id
    }
    let ids = (0..<3).map { first + Int64($0) }
    try store.recordSlurmSubmission(ids.enumerated().map { ($0.element, 1, "900_\($0.offset)") })
    return ids
  }

  func observe(_ id: Int64, attempt: Int = 1, _ o: SlurmObservation) throws -> Bool {
    try store.write("observe") { db in try JobStore.observeSlurm(db, jobID: id, attempt: attempt, o) }
  }

  func testTheDaemonNeverClaimsChecksOrRecoversSlurmJobs() throws {
    let ids = try submitToSlurm(dependency: true)
    try store.write("daemon") { db in
      XCTAssertNil(try JobStore.claim(db, freeCPUs: 8, now: 2, workerPID: 1, cpus: { Array(0..<$0) }))
      XCTAssertTrue(try JobStore.waitingArrays(db).isEmpty)
      // Even made ready by hand (scontrol release), they stay SLURM's.
      try JobStore.markReady(db, jobIDs: ids)
      XCTAssertNil(try JobStore.claim(db, freeCPUs: 8, now: 2, workerPID: 1, cpus: { Array(0..<$0) }))
    }
    XCTAssertTrue(try observe(ids[0], .init(state: .running, startTime: 5)))
    try store.write("recovery") { db in XCTAssertTrue(try JobStore.runningAttempts(db).isEmpty) }
    let rows = try store.jobs(JobFilter())
    XCTAssertEqual(rows.map(\.slurmID), ["900_0", "900_1", "900_2"])
    XCTAssertEqual(rows.map(\.backend), ["slurm", "slurm", "slurm"])
    XCTAssertEqual(rows.map(\.attempt), [1, 1, 1])
  }

  func testObservationsAreRecordedOnceAndStaleOnesChangeNothing() throws {
    let ids = try submitToSlurm()
    XCTAssertTrue(try observe(ids[0], .init(state: .pending, reason: "Resources")))
    XCTAssertFalse(try observe(ids[0], .init(state: .pending, reason: "Resources")))
    XCTAssertTrue(try observe(ids[0], .init(state: .running, startTime: 10)))
    XCTAssertFalse(try observe(ids[0], .init(state: .running, startTime: 10)))
    let end = SlurmObservation(state: .failed, reason: "NonZeroExitCode", exitCode: 3, startTime: 10, endTime: 12)
    XCTAssertTrue(try observe(ids[0], end))
    XCTAssertFalse(try observe(ids[0], end))
    // An older attempt's word, or one about a finished job, is ignored.
    XCTAssertFalse(try observe(ids[1], attempt: 0, .init(state: .completed, exitCode: 0, endTime: 4)))
    let job = try store.jobs(JobFilter(jobs: [ids[0]]))[0]
    XCTAssertEqual(job.state, .failed)
    XCTAssertEqual(job.exitCode, 3)
    XCTAssertEqual(job.startTime, 10)
    XCTAssertEqual(job.endTime, 12)
    let attempts = try store.attempts(jobID: ids[0])
    XCTAssertEqual(attempts.map(\.state), ["FAILED"])
    XCTAssertEqual(attempts.first?.reason, "NonZeroExitCode")
  }

  func testRetryThroughSlurmKeepsTheIdAndNumbersTheNextAttempt() throws {
    let ids = try submitToSlurm()
    XCTAssertTrue(try observe(ids[1], .init(state: .failed, exitCode: 1, startTime: 1, endTime: 2)))
    XCTAssertEqual(try store.requeueForSlurm(jobIDs: ids), [ids[1]])
    var job = try store.slurmJobs(ids: [ids[1]])[0]
    XCTAssertEqual(job.state, .pending)
    XCTAssertNil(job.slurmID)
    try store.recordSlurmSubmission([(ids[1], 2, "901_0")])
    job = try store.slurmJobs(ids: [ids[1]])[0]
    XCTAssertEqual(job.attempt, 2)
    XCTAssertEqual(job.slurmID, "901_0")
    XCTAssertTrue(try observe(ids[1], attempt: 2, .init(state: .completed, exitCode: 0, startTime: 3, endTime: 4)))
    XCTAssertEqual(try store.attempts(jobID: ids[1]).map(\.state), ["FAILED", "COMPLETED"])
    // A plain `orch retry` of a local job leaves SLURM out of it.
    XCTAssertEqual(try store.requeue(jobIDs: [ids[1]]), [])
  }
}
