import Foundation
import System
import XCTest

@testable import Worker

/// A pool worker holds one order queued behind its running job: it starts it the moment the
/// running job ends, drops it on cancel or revoke (reporting it never ran), and compacts its
/// journal only once the daemon has acknowledged every report in it. Drives `orch-worker serve`.
final class QueuedOrderTests: XCTestCase {
  final class WorkerUnderTest {
    let dir: String
    let fd: Int32
    let pid: pid_t
    var journal: String { dir + "/worker.journal" }

    init() throws {
      dir = NSTemporaryDirectory() + "orch-queued-\(getpid())-\(UUID().uuidString.prefix(8))"
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      var pair: [Int32] = [0, 0]
      guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
        throw XCTSkip("no SOCK_SEQPACKET")
      }
      let binary = Cluster.binDir + "/orch-worker"
      guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("build orch-worker first") }
      let log = open(dir + "/worker.log", O_WRONLY | O_CREAT, 0o644)
      defer { close(log) }
      pid = try Spawn.start(
        argv: [binary, "serve", "--control-fd", "3", "--journal", dir + "/worker.journal"],
        env: ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }, cwd: dir, stdout: log, stderr: log,
        events: pair[1])
      close(pair[1])
      fd = pair[0]
    }

    deinit {
      close(fd)
      var status: Int32 = 0
      waitpid(pid, &status, 0)
      try? FileManager.default.removeItem(atPath: dir)
    }

    func order(_ job: Int64, _ command: String, acked: Int = 0) -> JobOrder {
      JobOrder(
        jobID: job, attempt: 1, argv: ["/bin/sh", "-c", command], env: ["PATH=/usr/bin:/bin"], cwd: dir,
        runDir: dir + "/run\(job)", stdoutPath: dir + "/run\(job)/log.txt", stderrPath: nil, appendOutput: false,
        configJSON: "{}", cpus: [0], timeLimit: nil, memLimit: nil, killWait: 1, acked: acked)
    }

    func send(_ message: WorkerMessage) {
      let bytes = message.encoded()
      XCTAssertEqual(Glibc.send(fd, bytes, bytes.count, 0), bytes.count)
    }

    /// The next report (events and other messages skipped), within `timeout` seconds.
    func nextReport(timeout: Double = 20) throws -> JobReport {
      var buffer = [UInt8](repeating: 0, count: 1 << 20)
      let deadline = Posix.now() + timeout
      while Posix.now() < deadline {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 200) > 0 else { continue }
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n > 0 else { break }
        if case .report(let r) = try WorkerMessage.decode(buffer[0..<n]) { return r }
      }
      XCTFail("no report from the worker")
      throw CancellationError()
    }
  }

  func testQueuedOrdersStartInTurnWhenTheRunningJobEnds() throws {
    let w = try WorkerUnderTest()
    w.send(.order(w.order(1, "sleep 0.3; echo one")))
    w.send(.order(w.order(2, "sleep 0.1; echo two")))
    w.send(.order(w.order(3, "echo three")))
    let reports = try (0..<3).map { _ in try w.nextReport() }
    XCTAssertEqual(reports.map(\.jobID), [1, 2, 3])
    XCTAssertEqual(reports.map(\.outcome), [.completed, .completed, .completed])
    for (a, b) in zip(reports, reports.dropFirst()) {
      XCTAssertGreaterThanOrEqual(b.startTime, a.endTime, "a queued job starts after the one before it")
    }
    XCTAssertEqual(try String(contentsOfFile: w.dir + "/run3/log.txt", encoding: .utf8), "three\n")
  }

  func testCancelAndRevokeDropAQueuedOrderWithoutRunningIt() throws {
    let w = try WorkerUnderTest()
    w.send(.order(w.order(1, "sleep 0.5")))
    w.send(.order(w.order(2, "touch ran2")))
    w.send(.cancel(jobID: 2, attempt: 1))
    let cancelled = try w.nextReport()
    XCTAssertEqual(cancelled.jobID, 2)
    XCTAssertEqual(cancelled.outcome, .cancelled)
    XCTAssertEqual(cancelled.pid, 0)
    w.send(.order(w.order(3, "touch ran3")))
    w.send(.revoke(jobID: 3, attempt: 1))
    let revoked = try w.nextReport()
    XCTAssertEqual(revoked.jobID, 3)
    XCTAssertEqual(revoked.outcome, .neverStarted)
    XCTAssertEqual(try w.nextReport().jobID, 1)
    XCTAssertFalse(FileManager.default.fileExists(atPath: w.dir + "/ran2"))
    XCTAssertFalse(FileManager.default.fileExists(atPath: w.dir + "/ran3"))
    // A revoke of a job that already started is ignored: it runs to the end.
    w.send(.order(w.order(4, "sleep 0.2; touch ran4", acked: 3)))
    w.send(.revoke(jobID: 4, attempt: 1))
    let report = try w.nextReport()
    XCTAssertEqual([report.jobID], [4])
    XCTAssertEqual(report.outcome, .completed)
    XCTAssertTrue(FileManager.default.fileExists(atPath: w.dir + "/ran4"))
  }

  /// Entries of acknowledged reports go once the journal passes its size threshold; the running
  /// job's entries stay; nothing is dropped while a report is unacknowledged.
  func testJournalKeepsWhatTheDaemonHasNotCommitted() throws {
    let w = try WorkerUnderTest()
    // 60 kB event lines grow the journal past its 256 KiB threshold in a few jobs.
    let pad = String(repeating: "x", count: 60_000)
    let big = #"printf '{"event":"metric","pad":"\#(pad)"}\n' >&3"#
    for job in 1...5 {
      w.send(.order(w.order(Int64(job), big, acked: job - 1)))
      XCTAssertEqual(try w.nextReport().jobID, Int64(job))
    }
    // Over the threshold, but job 5's report is not acknowledged: everything stays.
    w.send(.order(w.order(6, "true", acked: 4)))
    XCTAssertEqual(try w.nextReport().jobID, 6)
    let kept = Journal.read(path: w.journal)
    XCTAssertNotNil(reportIn(kept, job: 1))
    XCTAssertNotNil(reportIn(kept, job: 5))
    // Everything acknowledged, nothing running: emptied; job 7 then writes 300 kB and waits.
    w.send(.order(w.order(7, "for i in 1 2 3 4 5; do \(big); done; sleep 0.6", acked: 6)))
    try waitFor { self.events(Journal.read(path: w.journal), job: 7) >= 5 }
    XCTAssertNil(reportIn(Journal.read(path: w.journal), job: 6), "acknowledged entries were dropped")
    // An order queued while job 7 runs: only job 7's entries survive the compaction.
    w.send(.order(w.order(8, "true", acked: 7)))
    usleep(100_000)
    let compacted = Journal.read(path: w.journal)
    XCTAssertEqual(events(compacted, job: 7), 5)
    XCTAssertTrue(compacted.allSatisfy { $0.belongs(to: 7, attempt: 1) }, "\(compacted.count) entries")
    XCTAssertEqual(try w.nextReport().jobID, 7)
    XCTAssertEqual(try w.nextReport().jobID, 8)
    let after = Journal.read(path: w.journal)
    XCTAssertNotNil(reportIn(after, job: 7), "appends go to the new journal")
    XCTAssertNotNil(reportIn(after, job: 8))
  }

  func events(_ messages: [WorkerMessage], job: Int64) -> Int {
    messages.reduce(0) { n, m in
      if case .events(job, _, _, let data) = m { return n + data.filter { $0 == 10 }.count }
      return n
    }
  }

  /// Through the daemon on one core: short jobs get the next order queued behind them; a queued
  /// order that waits behind a job that turned out long is taken back (PENDING again): its attempt
  /// stays as REVOKED, never counted and its number never reused — one completed attempt per job,
  /// and recorded run times that never overlap on the core.
  func testDaemonTakesBackOrdersQueuedBehindALongJob() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/mix.yaml",
      """
      register:
        - key: "mix/{i}"
          command: [sh, -c, "if [ {i} -ge 20 ]; then touch started{i}; sleep 1.5; fi"]
          axes: {i: range(0, 23)}
      """)
    try c.startDaemon(cpus: "0")
    XCTAssertEqual(try c.run(["submit", "sweeps/mix.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the first long job started") { FileManager.default.fileExists(atPath: c.root.path + "/started20") }
    usleep(800_000)
    let states = try c.states()
    XCTAssertEqual(states["1_20"], "RUNNING")
    XCTAssertEqual(states["1_21"], "PENDING", "the order queued behind the long job was taken back")
    try c.waitUntil("all complete", timeout: 60) { try c.states().values.allSatisfy { $0 == "COMPLETED" } }
    let r = try c.run(["history", "--attempts", "--json"])
    let all = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
    let revoked = all.filter { $0["state"] as? String == "REVOKED" }
    XCTAssertFalse(revoked.isEmpty, "an order was taken back")
    XCTAssertTrue(revoked.allSatisfy { $0["reason"] as? String == "NeverStarted" })
    let attempts = all.filter { $0["state"] as? String != "REVOKED" }
    XCTAssertEqual(attempts.count, 23, "one attempt that ran per job")
    XCTAssertTrue(attempts.allSatisfy { $0["state"] as? String == "COMPLETED" })
    var seen = Set<String>()
    for a in all { XCTAssertTrue(seen.insert("\(a["jobID"]!)/\(a["attempt"]!)").inserted, "attempt ids unique") }
    let spans = attempts.map { ($0["startTime"] as! Double, $0["endTime"] as! Double) }.sorted { $0.0 < $1.0 }
    for (a, b) in zip(spans, spans.dropFirst()) {
      XCTAssertLessThanOrEqual(a.1, b.0, "jobs on one core ran one after another")
    }
  }

  func reportIn(_ messages: [WorkerMessage], job: Int64) -> JobReport? {
    for case .report(let r) in messages where r.jobID == job { return r }
    return nil
  }

  func waitFor(_ condition: () -> Bool) throws {
    let deadline = Posix.now() + 20
    while Posix.now() < deadline {
      if condition() { return }
      usleep(20_000)
    }
    XCTFail("condition not met")
  }
}
