import Foundation
import GRDB
import XCTest

@testable import Store

/// The store's half of foreground runs and of `--wait`'s selection: a foreground attempt is no
/// daemon's to recover, its end is never a requeue; long id lists; concurrent first opens.
final class ForegroundStoreTests: StoreTestCase {
  func startForeground(_ jobID: Int64) throws -> ClaimedJob {
    try store.submit(now: 2) { tx in
      try tx.startForeground(jobID: jobID, pid: 4242, cpus: [0, 1]) { attempt in "/locks/\(jobID).\(attempt)" }
    }
  }

  func testForegroundAttemptIsRunningButNotTheDaemonsToRecover() throws {
    try submit(2)
    let job = try startForeground(1)
    XCTAssertEqual(job.attempt, 1)
    XCTAssertEqual(try store.jobs(JobFilter(jobs: [1])).first?.state, .running)
    let daemons = try store.read("running") { try JobStore.runningAttempts($0) }
    XCTAssertEqual(daemons.map(\.jobID), [], "recovery must not see a foreground attempt")
    let foreground = try store.foregroundRunning()
    XCTAssertEqual(foreground.map(\.jobID), [1])
    XCTAssertEqual(foreground.first?.lock, "/locks/1.1")
    XCTAssertEqual(foreground.first?.pid, 4242)
    // The daemon claims the other job, never this one.
    XCTAssertEqual(try claim()?.id, 2)
    XCTAssertNil(try claim())
    XCTAssertEqual(try store.daemonJobCount(JobFilter(jobs: [1, 2])), 1)
  }

  func testForegroundEndIsNeverARequeue() throws {
    try submit(1, maxAttempts: 3)
    let job = try startForeground(1)
    var outcome = AttemptOutcome(
      jobID: 1, attempt: job.attempt, state: .failed, exitCode: nil, signal: nil, reason: "ForegroundLost", endTime: 3)
    outcome.mayRequeue = false
    XCTAssertEqual(try store.write("finish") { try JobStore.finish($0, outcome) }, .terminal(.failed))
    XCTAssertEqual(try store.foregroundRunning().count, 0)
  }

  func testStartingForegroundNeedsAPendingJob() throws {
    try submit(1)
    _ = try startForeground(1)
    XCTAssertThrowsError(try startForeground(1))
  }

  /// `--wait` after resubmitting a huge sweep selects every skipped job by id: more ids than
  /// SQLite takes as bound variables.
  func testJobFilterTakesMoreIdsThanSQLiteHasVariables() throws {
    try submit(3)
    let ids = Array(Int64(2)...Int64(400_001))
    XCTAssertEqual(try store.jobs(JobFilter(jobs: ids)).map(\.id), [2, 3])
    XCTAssertEqual(try store.stateCounts(JobFilter(arrays: [], jobs: ids))[.pending], 2)
  }

  /// Two processes opening a new store at once must both get a migrated store.
  func testConcurrentFirstOpensAllSucceed() throws {
    for round in 0..<20 {
      let path = dir.appendingPathComponent("fresh-\(round).db").path
      let failures = Failures()
      DispatchQueue.concurrentPerform(iterations: 6) { _ in
        do { _ = try JobStore(path: path) } catch { failures.add("\(error)") }
      }
      XCTAssertEqual(failures.all, [], "round \(round)")
    }
  }
}

private final class Failures: @unchecked Sendable {
  private let lock = NSLock()
  private var list: [String] = []
  func add(_ text: String) { lock.withLock { list.append(text) } }
  var all: [String] { lock.withLock { list } }
}
