import Foundation
import System
import XCTest

@testable import Worker

final class ProtocolTests: XCTestCase {
  func testOrderRoundTripsWithAwkwardStrings() throws {
    let order = JobOrder(
      jobID: 12, attempt: 3, argv: ["sh", "-c", "echo 'a b'\n\t$X", ""], env: ["A=1", "B=x=y", "EMPTY="], cwd: "/tmp",
      runDir: "/tmp/r", stdoutPath: "/tmp/r/log.txt", stderrPath: nil, appendOutput: true,
      configJSON: "{\"a\":[1,2]}", cpus: [0, 3], timeLimit: 60, memLimit: 1 << 30,
      killWait: 1.5)
    let bytes = WorkerMessage.order(order).encoded()
    XCTAssertEqual(try WorkerMessage.decode(bytes[...]), .order(order))
  }

  func testOrderCarriesItsWarningSignalLast() throws {
    var order = JobOrder(
      jobID: 1, attempt: 1, argv: ["true"], env: [], cwd: "/", runDir: "/tmp/r", stdoutPath: "/tmp/r/out",
      stderrPath: nil, appendOutput: false, configJSON: "{}", cpus: [0], timeLimit: 120, memLimit: nil, killWait: 30,
      warning: JobOrder.Warning(signal: SIGUSR1, seconds: 90, batchOnly: true))
    XCTAssertEqual(try WorkerMessage.decode(WorkerMessage.order(order).encoded()[...]), .order(order))
    order.warning = nil
    XCTAssertEqual(try WorkerMessage.decode(WorkerMessage.order(order).encoded()[...]), .order(order))
  }

  func testReportRoundTrips() throws {
    let report = JobReport(
      jobID: 5, attempt: 1, outcome: .timeout, exitCode: nil, signal: 9, reason: "TimeLimit", pid: 4242,
      startTime: 1.5, endTime: 2.25)
    XCTAssertEqual(try WorkerMessage.decode(WorkerMessage.report(report).encoded()[...]), .report(report))
  }

  func testEventsCarryRawBytesIncludingNUL() throws {
    let message = WorkerMessage.events(jobID: 7, attempt: 2, offset: 1024, data: Array("{\"a\":1}\n\u{0}x\n".utf8))
    XCTAssertEqual(try WorkerMessage.decode(message.encoded()[...]), message)
  }

  func testDroppedNoticeRoundTrips() throws {
    let message = WorkerMessage.dropped(
      jobID: 7, attempt: 2, offset: 1 << 40, lines: 3, bytes: 50_000_001, reason: "line over the event line limit")
    XCTAssertEqual(try WorkerMessage.decode(message.encoded()[...]), message)
  }

  /// Stored or received bytes never trap the decoder: a negative count, a pid out of Int32.
  func testMalformedMessagesAreErrors() {
    for text in [
      "S\u{0}1\u{0}1\u{0}99999999999\u{0}",
      "O\u{0}1\u{0}1\u{0}/\u{0}/r\u{0}o\u{0}\u{0}0\u{0}{}\u{0}0\u{0}\u{0}\u{0}1\u{0}0\u{0}-1\u{0}",
    ] {
      XCTAssertThrowsError(try WorkerMessage.decode(Array(text.utf8)[...]), text)
    }
  }

  /// Messages longer than a packet (a 300 KB order) go by reference and arrive whole; a packet
  /// longer than the receiver's buffer is reported damaged, with its job, never read as whole.
  func testLargeMessagesArriveWholeAndCutOnesAreDetected() throws {
    var pair: [Int32] = [0, 0]
    XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair), 0)
    defer { for fd in pair { close(fd) } }
    let order = JobOrder(
      jobID: 3, attempt: 2, argv: ["true"], env: (0..<3).map { "V\($0)=" + String(repeating: "e", count: 100_000) },
      cwd: "/", runDir: "/tmp/r", stdoutPath: "/tmp/r/log", stderrPath: nil, appendOutput: false,
      configJSON: "{\"blob\":\"" + String(repeating: "b", count: 300_000) + "\"}", cpus: [0], timeLimit: nil,
      memLimit: nil, killWait: 1)
    XCTAssertEqual(WorkerSocket.send(pair[0], .order(order)), 0)
    let events = WorkerMessage.events(jobID: 3, attempt: 2, offset: 0, data: Array(repeating: 10, count: 65_536))
    XCTAssertEqual(WorkerSocket.send(pair[0], events), 0)
    var buffer = WorkerSocket.buffer()
    XCTAssertEqual(WorkerSocket.receive(pair[1], into: &buffer), .message(.order(order)))
    XCTAssertEqual(WorkerSocket.receive(pair[1], into: &buffer), .message(events))
    // A sender that ignores the limit: the receiver says what was cut instead of decoding a prefix.
    let long = WorkerMessage.events(jobID: 4, attempt: 1, offset: 0, data: Array(repeating: 10, count: 150_000))
      .encoded()
    XCTAssertEqual(Glibc.send(pair[0], long, long.count, 0), long.count)
    guard case .damaged(let damage) = WorkerSocket.receive(pair[1], into: &buffer) else {
      return XCTFail("a cut packet was read as whole")
    }
    XCTAssertEqual([damage.kind, damage.jobID.map { "\($0)" }, damage.attempt.map { "\($0)" }], ["E", "4", "1"])
    close(pair[0])
    XCTAssertEqual(WorkerSocket.receive(pair[1], into: &buffer), .closed)
  }

  func testJournalIgnoresATornLastFrame() throws {
    let path = NSTemporaryDirectory() + "/journal-\(UUID().uuidString)"
    defer { unlink(path) }
    let journal = try Journal(path: path)
    journal.append(.started(jobID: 1, attempt: 1, pid: 10))
    journal.append(.started(jobID: 2, attempt: 1, pid: 11))
    // Simulate a crash in the middle of a write.
    let fd = open(path, O_WRONLY | O_APPEND)
    _ = Posix.writeAll(fd, [40, 0, 0, 0, 83, 0])
    close(fd)
    XCTAssertEqual(
      Journal.read(path: path), [.started(jobID: 1, attempt: 1, pid: 10), .started(jobID: 2, attempt: 1, pid: 11)])
  }

  func testEnvironmentHasThreadCapsAndSlurmVariables() {
    let launch = LaunchSpec(
      env: ["PATH": "/bin", "OMP_NUM_THREADS": "64"], cwd: "/work", submitHost: "h", cpusGiven: true, arrayTaskCount: 3,
      arrayTaskMin: 0, arrayTaskMax: 4, arrayTaskStep: 2)
    let job = JobIdentity(
      jobID: 14, arrayID: 12, arrayIndex: 4, isArray: true, attempt: 2, name: "sweep", key: "a/b", runDir: "/r",
      home: "/h")
    let env = Set(JobEnvironment.build(launch: launch, extra: ["SEED": "3"], job: job, cpus: [2, 3], host: "node"))
    for expected in [
      "OMP_NUM_THREADS=2", "OPENBLAS_NUM_THREADS=2", "MKL_NUM_THREADS=2", "SLURM_ARRAY_JOB_ID=12",
      "SLURM_ARRAY_TASK_ID=4", "SLURM_ARRAY_TASK_STEP=2", "SLURM_JOB_ID=14", "SLURM_CPUS_PER_TASK=2",
      "SLURM_RESTART_COUNT=1", "ORCH_JOB_ID=12_4", "ORCH_KEY=a/b", "ORCH_EVENTS_FD=3", "SEED=3", "PATH=/bin",
    ] {
      XCTAssertTrue(env.contains(expected), expected)
    }
    var first = job
    first.attempt = 1
    let firstEnv = JobEnvironment.build(launch: launch, extra: [:], job: first, cpus: [2], host: "node")
    XCTAssertFalse(
      firstEnv.contains { $0.hasPrefix("SLURM_RESTART_COUNT=") }, "SLURM sets it only once a job was restarted")
  }

  func testAffinityPinsTheCallingThread() throws {
    let allowed = Posix.allowedCPUs()
    XCTAssertFalse(allowed.isEmpty)
    // Pinning is per thread: pin a fresh thread, read its mask there, compare here.
    final class Box: @unchecked Sendable { var seen: [Int] = [] }
    let box = Box()
    let target = allowed[allowed.count - 1]
    let t = Thread {
      if (try? Posix.pin(to: [target])) != nil { box.seen = Posix.allowedCPUs() }
    }
    t.start()
    while !t.isFinished { usleep(1000) }
    XCTAssertEqual(box.seen, [target])
    XCTAssertEqual(Posix.allowedCPUs(), allowed, "the test's own thread is unchanged")
  }

}
