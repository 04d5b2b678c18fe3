import Foundation
import XCTest

/// `orch submit --wait` waits for and reports on exactly the submission's selected configs: its new
/// and requeued jobs and the existing ones it skipped (COMPLETED ones count as completed; queued or
/// running ones are waited for), never another sweep's.
final class SubmitWaitTests: XCTestCase {
  func testWaitWithNothingNewReportsTheSkippedConfigsAndExitsZero() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/good.yaml",
      """
      register:
        - key: "good/{x}"
          command: [sh, -c, "exit 0"]
          axes: [{list: [{x: 1}, {x: 2}]}]
      """)
    try c.write(
      "sweeps/bad.yaml",
      """
      register:
        - key: "bad/{x}"
          command: [sh, -c, "exit 3"]
          axes: [{list: [{x: 1}, {x: 2}]}]
      """)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/bad.yaml", "--output-root", c.runs, "--wait"]).code, 1)
    XCTAssertEqual(try c.run(["submit", "sweeps/good.yaml", "--output-root", c.runs, "--wait"]).code, 0)
    // The second run of `orch submit … --wait && orch results …`.
    let again = try c.run(["submit", "sweeps/good.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(again.code, 0, again.out + again.err)
    XCTAssertTrue(again.out.contains("0 new, 2 already completed (skipped)"), again.out)
    XCTAssertEqual(Self.summary(again.out), ["COMPLETED": 2, "TOTAL": 2], again.out)
    XCTAssertFalse(again.out.contains("bad/"), "another sweep's failures are not this submission's: \(again.out)")
    XCTAssertTrue(again.err.contains("completed 2/2"), again.err)
    XCTAssertFalse(again.err.contains("failed -"), again.err)
  }

  func testWaitWaitsForASkippedJobThatIsStillRunning() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/slow.yaml",
      """
      register:
        - key: "slow/{x}"
          command: [sh, -c, "while [ ! -e go ]; do sleep 0.05; done"]
          axes: [{list: [{x: 1}]}]
      """)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/slow.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the job runs") { try c.states()["1_0"] == "RUNNING" }
    let waiter = try Background(c, ["submit", "sweeps/slow.yaml", "--output-root", c.runs, "--wait"])
    // The resubmission skips the running job; its --wait must not end before that job does.
    try c.waitUntil("the resubmission is recorded as skipping it") { waiter.output.contains("already queued") }
    usleep(500_000)
    XCTAssertTrue(waiter.isRunning, "--wait ended while its (skipped) job still runs: \(waiter.output)")
    try c.write("go", "")
    let code = waiter.wait()
    XCTAssertEqual(code, 0, waiter.output)
    XCTAssertEqual(Self.summary(waiter.output), ["COMPLETED": 1, "TOTAL": 1], waiter.output)
    XCTAssertEqual(try c.states()["1_0"], "COMPLETED")
  }

  func testWaitCoversNewRequeuedAndSkippedConfigsOnly() throws {
    let c = try Cluster()
    // x=2 fails while the file `fail` exists; the others always complete.
    try c.write(
      "sweeps/mix.yaml",
      """
      register:
        - key: "mix/{x}"
          command: [sh, -c, "test {x} != 2 || test ! -e fail"]
          axes: [{list: [{x: 1}, {x: 2}, {x: 3}]}]
      """)
    try c.write(
      "sweeps/other.yaml",
      """
      register:
        - key: other
          command: [sh, -c, "exit 5"]
      """)
    try c.write("fail", "")
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/other.yaml", "--output-root", c.runs, "--wait"]).code, 1)
    let first = try c.run(["submit", "sweeps/mix.yaml", "--array", "0-1", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(first.code, 1, first.out)
    XCTAssertEqual(Self.summary(first.out), ["COMPLETED": 1, "FAILED": 1, "TOTAL": 2], first.out)
    try FileManager.default.removeItem(atPath: c.root.appendingPathComponent("fail").path)
    let all = try c.run(["submit", "sweeps/mix.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(all.code, 0, all.out + all.err)
    XCTAssertTrue(all.out.contains("1 new, 1 requeued, 1 already completed (skipped)"), all.out)
    XCTAssertEqual(Self.summary(all.out), ["COMPLETED": 3, "TOTAL": 3], all.out)
    XCTAssertFalse(all.out.contains("other"), all.out)
  }

  /// The STATE/JOBS table of a --wait summary.
  static func summary(_ out: String) -> [String: Int] {
    var table: [String: Int] = [:]
    for line in out.split(separator: "\n") {
      let cells = line.split(separator: " ", omittingEmptySubsequences: true)
      guard cells.count == 2, let n = Int(cells[1]), cells[0].uppercased() == cells[0] else { continue }
      table[String(cells[0])] = n
    }
    return table
  }
}

/// `orch ARGS…` running in the background, its stdout and stderr collected in a file.
final class Background {
  let process = Process()
  let log: String

  init(_ c: Cluster, _ args: [String], env extra: [String: String] = [:]) throws {
    log = c.root.appendingPathComponent("background-\(UUID().uuidString).log").path
    FileManager.default.createFile(atPath: log, contents: nil)
    process.executableURL = URL(fileURLWithPath: Cluster.binDir + "/orch")
    process.arguments = args
    process.currentDirectoryURL = c.root
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = c.home
    for (k, v) in extra { env[k] = v }
    process.environment = env
    let handle = FileHandle(forWritingAtPath: log)
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
    try process.run()
  }

  deinit {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }

  var pid: Int32 { process.processIdentifier }
  var isRunning: Bool { process.isRunning }
  var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

  /// Waits for the exit; the exit status, or 128 + the signal that ended it.
  func wait() -> Int32 {
    process.waitUntilExit()
    return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
  }
}
