import Foundation
import Store
import Worker
import XCTest

/// The restart rules of `Recovery.swift`, one test each, plus the kill -9 soak over 200 jobs.
final class RecoveryTests: XCTestCase {
  /// Rule 2: the worker outlives the killed daemon; the new daemon adopts the job, which ends
  /// COMPLETED after running exactly once.
  func testKilledDaemonsRunningJobIsAdoptedAndRunsOnce() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/long.yaml",
      """
      register:
        - key: long
          command: [sh, -c, "echo run >> runs.txt; while [ ! -e go ]; do sleep 0.05; done"]
      """)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/long.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the job runs") { !c.read("runs.txt").isEmpty }
    c.stopDaemon(kill9: true)
    try c.startDaemon()
    XCTAssertEqual(try c.states()["1_0"], "RUNNING", "adopted, not requeued")
    try c.write("go", "")
    try c.waitUntil("the job completes") { try c.states()["1_0"] == "COMPLETED" }
    XCTAssertEqual(c.read("runs.txt"), "run\n")
    let rows = try c.historyRows()
    XCTAssertEqual(rows.first?["attempt"] as? Int, 1)
  }

  /// Rule 1: the job ended while no daemon ran; its worker journaled the outcome, which the new
  /// daemon records without running anything again.
  func testOutcomeJournaledWhileNoDaemonRanIsRecorded() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/quick.yaml",
      """
      register:
        - key: quick
          command: [sh, -c, "echo run >> runs.txt; while [ ! -e go ]; do sleep 0.05; done"]
      """)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/quick.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the job runs") { !c.read("runs.txt").isEmpty }
    c.stopDaemon(kill9: true)
    try c.write("go", "")
    // The orphaned worker journals the end and exits; only then does a daemon start again.
    try c.waitUntil("the old worker exits") { !Self.workerProcessesExist(home: c.home) }
    XCTAssertEqual(try c.states()["1_0"], "RUNNING")
    try c.startDaemon()
    try c.waitUntil("the outcome is recorded") { try c.states()["1_0"] == "COMPLETED" }
    XCTAssertEqual(c.read("runs.txt"), "run\n")
  }

  /// Rule 3: daemon and worker both killed; the job's orphaned process is killed and the job is
  /// requeued as attempt 2 (it has attempts left), which completes.
  func testLostAttemptIsKilledAndRequeued() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/lost.yaml",
      """
      register:
        - key: lost
          command: [sh, -c, "echo $$ >> pids.txt; test -e pids.done && exit 0; touch pids.done; sleep 300"]
      """)
    try c.startDaemon()
    XCTAssertEqual(
      try c.run(["submit", "sweeps/lost.yaml", "--max-attempts", "2", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the job runs") { !c.read("pids.txt").isEmpty }
    let orphan = Int32(c.read("pids.txt").trimmingCharacters(in: .whitespacesAndNewlines))!
    c.stopDaemon(kill9: true)
    for pid in Self.workerPIDs(home: c.home) { kill(pid, SIGKILL) }
    try c.waitUntil("the workers are gone") { !Self.workerProcessesExist(home: c.home) }
    XCTAssertEqual(kill(orphan, 0), 0, "the job process outlived its worker")
    try c.startDaemon()
    try c.waitUntil("the requeued attempt completes") { try c.states()["1_0"] == "COMPLETED" }
    try c.waitUntil("the orphan is gone") { kill(orphan, 0) != 0 || DaemonTests.isZombie(orphan) }
    let attempts = try c.run(["history", "-j", "1_0", "--attempts", "--json"])
    let rows = try JSONSerialization.jsonObject(with: Data(attempts.out.utf8)) as! [[String: Any]]
    XCTAssertEqual(rows.map { $0["state"] as? String }, ["FAILED", "COMPLETED"])
    XCTAssertEqual(rows.first?["reason"] as? String, "WorkerLost")
  }

  /// Rule 4: a claim whose process never started (its worker is gone, nothing journaled) is
  /// undone: the job runs as a fresh attempt and the lost claim does not use up max attempts.
  func testClaimThatNeverStartedIsUndone() throws {
    let c = try Cluster()
    try c.write("sweeps/one.yaml", "register:\n  - key: one\n    command: [sh, -c, \"echo run >> runs.txt\"]\n")
    XCTAssertEqual(try c.run(["submit", "sweeps/one.yaml", "--no-daemon", "--output-root", c.runs]).code, 0)
    // Claim it as a daemon would, for a worker pid that does not exist, and then "crash".
    let store = try JobStore(path: c.home + "/orch.db")
    try store.write("test claim") { db in
      _ = try JobStore.claim(db, freeCPUs: 1, now: Date().timeIntervalSince1970, workerPID: 999_999, cpus: { _ in [0] })
    }
    XCTAssertEqual(try c.states()["1_0"], "RUNNING")
    try c.startDaemon()
    try c.waitUntil("the job completes") { try c.states()["1_0"] == "COMPLETED" }
    XCTAssertEqual(c.read("runs.txt"), "run\n")
    let attempts = try c.run(["history", "-j", "1_0", "--attempts", "--json"])
    let rows = try JSONSerialization.jsonObject(with: Data(attempts.out.utf8)) as! [[String: Any]]
    XCTAssertEqual(rows.map { $0["reason"] as? String }, ["NeverStarted", nil])
  }

  /// kill -9 of the daemon in the middle of a 200-job sweep, then a restart: all 200 complete
  /// and no config ran to completion twice.
  func testKill9During200JobSweepCompletesEachJobOnce() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/many.yaml",
      """
      register:
        - key: "many/{i}"
          command: [sh, -c, "sleep 0.02; echo {i} >> done.txt"]
          axes: {i: range(0, 200)}
      """)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/many.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("a quarter is done") { c.read("done.txt").split(separator: "\n").count >= 50 }
    c.stopDaemon(kill9: true)
    let atKill = c.read("done.txt").split(separator: "\n").count
    XCTAssertLessThan(atKill, 200, "the kill happened mid-sweep")
    try c.startDaemon()
    try c.waitUntil("all 200 complete", timeout: 120) {
      let s = try c.states()
      return s.count == 200 && s.values.allSatisfy { $0 == "COMPLETED" }
    }
    let done = c.read("done.txt").split(separator: "\n")
    XCTAssertEqual(done.count, 200, "no config ran to completion twice")
    XCTAssertEqual(Set(done).count, 200)
  }

  static func workerPIDs(home: String) -> [Int32] {
    let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return procs.compactMap { Int32($0) }.filter { pid in
      guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
      let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      return args.first?.hasSuffix("orch-worker") == true && args.contains { $0.hasPrefix(home + "/") }
    }
  }

  static func workerProcessesExist(home: String) -> Bool {
    workerPIDs(home: home).contains { !DaemonTests.isZombie($0) }
  }
}
