import Foundation
import Store
import XCTest

/// `orch submit --wait` interrupted: the jobs are the daemon's and keep running; the message says
/// so and how to follow or stop them.
final class WaitInterruptTests: XCTestCase {
  func testCtrlCSaysTheJobsKeepRunningAndLeavesThemRunning() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/w.yaml",
      """
      register:
        - key: "w/{i}"
          command: [sh, -c, "while [ ! -e go ]; do sleep 0.05; done"]
          axes: {i: range(0, 3)}
      """)
    try c.startDaemon(cpus: "0")
    defer {
      _ = FileManager.default.createFile(atPath: c.root.appendingPathComponent("go").path, contents: nil)
      c.stopDaemon(kill9: false)
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Cluster.binDir + "/orch")
    p.arguments = ["submit", "sweeps/w.yaml", "--output-root", c.runs, "--wait"]
    p.currentDirectoryURL = c.root
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = c.home
    p.environment = env
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    let store = try JobStore(path: c.home + "/orch.db")
    try c.waitUntil("a job runs") { (try? store.stateCounts(JobFilter())[.running]) ?? 0 > 0 }
    kill(p.processIdentifier, SIGINT)
    p.waitUntilExit()
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    XCTAssertEqual(p.terminationStatus, 130, text)
    XCTAssertTrue(text.contains("the jobs keep running"), text)
    XCTAssertTrue(text.contains("orch cancel 1"), text)
    // Nothing was cancelled: one runs, the others wait.
    let counts = try store.stateCounts(JobFilter())
    XCTAssertEqual(counts[.running], 1, "\(counts)")
    XCTAssertEqual(counts[.pending], 2, "\(counts)")
    XCTAssertNil(counts[.cancelled])
  }
}
