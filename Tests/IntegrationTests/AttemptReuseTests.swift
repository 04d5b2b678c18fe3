import Foundation
import XCTest

/// Issue 13 bug 1: after kill -9 of a pool worker, a taken-back order's "never started" report was
/// applied to the next run of the same (job, attempt), which then ran twice, concurrently.
final class AttemptReuseTests: XCTestCase {
  func testKilledWorkerNeverRunsAJobTwice() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/four.yaml",
      """
      register:
        - key: "four/{i}"
          resources: {max_attempts: 3}
          command:
            - sh
            - -c
            - "case {i} in 1) t=1;; 2) t=3;; *) t=0.05;; esac; echo START {i} $$ >> log.txt; sleep $t; echo DONE {i} >> log.txt"
          axes: {i: [0, 1, 2, 3]}
      """)
    try c.startDaemon(cpus: "0")
    XCTAssertEqual(try c.run(["submit", "sweeps/four.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the third job starts") { c.read("log.txt").contains("START 2 ") }
    usleep(500_000)
    let line = c.read("log.txt").split(separator: "\n").first { $0.hasPrefix("START 2 ") }!
    let shell = Int32(line.split(separator: " ")[2])!
    let stat = try String(contentsOfFile: "/proc/\(shell)/stat", encoding: .utf8)
    let worker = Int32(stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")[1])!
    kill(worker, SIGKILL)
    try c.waitUntil("all complete", timeout: 60) {
      let s = try c.states()
      return s.count == 4 && s.values.allSatisfy { $0 == "COMPLETED" }
    }
    usleep(300_000)
    let log = c.read("log.txt").split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
    for i in 0..<4 {
      XCTAssertEqual(log.filter { $0 == "DONE \(i)" }.count, 1, "job \(i) completed once: \(log)")
    }
    // The killed run was the only other start of job 2, and it ended before its rerun started.
    XCTAssertEqual(log.filter { $0 == "START 2" }.count, 2, "\(log)")
    let starts = log.indices.filter { log[$0] == "START 2" }
    XCTAssertFalse(log[starts[0]..<starts[1]].contains("DONE 2"), "\(log)")
  }
}
