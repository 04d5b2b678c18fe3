import Foundation
import XCTest

/// The crash windows the kill campaign (`ChaosTests`) found, each landed exactly with a fault
/// seam (`ORCH_FAULT`, `System/FaultPoint.swift`): the process kills itself with SIGKILL there.
final class CrashWindowTests: XCTestCase {
  func faultEnv(_ c: Cluster, _ points: String...) -> [String: String] {
    ["ORCH_FAULT": points.joined(separator: ","), "ORCH_FAULT_ONCE": c.root.appendingPathComponent("fault").path]
  }

  func waitForDaemonDeath(_ c: Cluster) throws {
    try c.waitUntil("the daemon killed itself") { c.daemon?.isRunning == false }
  }

  /// A worker journals a job's end and is killed before it reports it; the daemon, reading that
  /// journal, is killed before it records the end. The next daemon must still find the journal
  /// (it was deleted before the record committed: the job was undone as never started and ran
  /// again).
  func testJournalOfALostWorkerOutlivesADaemonKilledBeforeItRecords() throws {
    let c = try Cluster()
    try c.startDaemon(env: faultEnv(c, "worker-after-journaling-report", "daemon-after-worker-lost"))
    try c.submitCommand("once", "echo run >> runs.txt", maxAttempts: 3)
    try waitForDaemonDeath(c)
    XCTAssertEqual(c.read("runs.txt"), "run\n")
    XCTAssertEqual(try c.states()["1_0"], "RUNNING", "nothing recorded yet")
    try c.startDaemon()
    try c.waitUntil("the end is recorded") { try c.states()["1_0"] != "RUNNING" }
    let rows = try c.historyRows()
    XCTAssertEqual(rows.first?["state"] as? String, "COMPLETED")
    XCTAssertEqual(rows.first?["attempt"] as? Int, 1, "never requeued")
    XCTAssertEqual(c.read("runs.txt"), "run\n", "ran once")
  }

  /// A worker is killed after spawning a job and before journaling its pid. The attempt is lost,
  /// not unstarted: its process (found by its environment) is killed and the job requeued as a new
  /// attempt. Before, the claim was undone as never started while the orphan ran on beside the rerun.
  func testWorkerKilledBeforeJournalingThePidLeavesNoOrphan() throws {
    let c = try Cluster()
    try c.startDaemon(env: faultEnv(c, "worker-after-spawn"))
    try c.submitCommand(
      "slow", "echo start $ORCH_ATTEMPT >> runs.txt; sleep 2; echo done $ORCH_ATTEMPT >> runs.txt", maxAttempts: 3)
    try c.waitUntil("the job completes", timeout: 60) { try c.states()["1_0"] == "COMPLETED" }
    // The rerun started after the first attempt did and slept as long: an orphan would be done.
    let log = c.read("runs.txt").split(separator: "\n").map(String.init)
    XCTAssertEqual(log.filter { $0.hasPrefix("done") }, ["done 2"], "\(log)")
    let r = try c.run(["history", "--attempts", "--json"])
    let attempts = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
    let first = attempts.first { $0["attempt"] as? Int == 1 }
    XCTAssertEqual(first?["state"] as? String, "FAILED")
    XCTAssertEqual(first?["reason"] as? String, "WorkerLost")
  }

  /// A pool worker killed while its job runs: the attempt is FAILED (`WorkerLost`) and keeps the
  /// time it started (it was recorded as starting when it was lost: start = end).
  func testLostWorkersAttemptKeepsItsStart() throws {
    let c = try Cluster()
    try c.startDaemon(cpus: "0")
    try c.submitCommand("slow", "echo start $ORCH_ATTEMPT >> runs.txt; sleep 1", maxAttempts: 2)
    try c.waitUntil("the job runs") { !c.read("runs.txt").isEmpty }
    for worker in RecoveryTests.workerPIDs(home: c.home) { kill(worker, SIGKILL) }
    try c.waitUntil("the rerun completes") { try c.states()["1_0"] == "COMPLETED" }
    let r = try c.run(["history", "--attempts", "--json"])
    let attempts = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
    let first = try XCTUnwrap(attempts.first { $0["attempt"] as? Int == 1 })
    XCTAssertEqual(first["reason"] as? String, "WorkerLost")
    let start = try XCTUnwrap(first["startTime"] as? Double)
    let end = try XCTUnwrap(first["endTime"] as? Double)
    XCTAssertLessThan(start, end, "the attempt ran between its start and its loss")
  }
}
