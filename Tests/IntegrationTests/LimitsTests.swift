import Foundation
import XCTest

/// Throttle, CPUs per task and the memory limit, through the real daemon.
final class LimitsTests: XCTestCase {
  func testThrottleRunsAtMostNAtOnce() throws {
    let c = try Cluster()
    // Each job records how many jobs run at its start (a counter directory), then leaves.
    try c.write(
      "sweeps/t.yaml",
      """
      register:
        - key: "t/{i}"
          command: [sh, -c, "mkdir -p live; touch live/{i}; ls live | wc -l >> seen.txt; sleep 0.2; rm live/{i}"]
          axes: {i: range(0, 6)}
      """)
    try c.startDaemon(cpus: "0-1")
    let r = try c.run(["submit", "sweeps/t.yaml", "--array", "0-5%1", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    let seen = c.read("seen.txt").split(separator: "\n").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    XCTAssertEqual(seen.count, 6)
    XCTAssertEqual(Set(seen), [1], "with %1 no two elements overlap although two cores are free")
  }

  func testCpusPerTaskPinsToThatManyCores() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/two.yaml",
      """
      register:
        - key: two
          command: [sh, -c, "grep Cpus_allowed_list /proc/self/status; echo threads=$OMP_NUM_THREADS"]
      """)
    try c.startDaemon(cpus: "0-1")
    XCTAssertEqual(try c.run(["submit", "sweeps/two.yaml", "--cpus", "2", "--output-root", c.runs, "--wait"]).code, 0)
    let log = c.read("runs/two/log.txt")
    XCTAssertTrue(log.contains("Cpus_allowed_list:\t0-1\n"), log)
    XCTAssertTrue(log.contains("threads=2"), log)
  }

  func testMemoryLimitEndsOutOfMemory() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/big.yaml",
      """
      register:
        - key: big
          command: [python3, -c, "import time; x = b'x' * (300 * 1024 * 1024); time.sleep(30)"]
      """)
    try c.startDaemon()
    let r = try c.run(["submit", "sweeps/big.yaml", "--mem", "64M", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(r.code, 1, r.out)
    XCTAssertEqual(try c.states()["1_0"], "OUT_OF_MEMORY")
  }
}

/// `orch queue` collapses pending array elements; `orch logs -f` follows a log until the job ends.
final class InspectTests: XCTestCase {
  func testQueueCollapsesPendingElementsAndLogsFollow() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/q.yaml",
      """
      register:
        - key: "q/{i}"
          command: [sh, -c, "echo hello {i}; while [ ! -e go ]; do sleep 0.05; done; echo bye {i}"]
          axes: {i: range(0, 6)}
      """)
    try c.startDaemon(cpus: "0")
    XCTAssertEqual(try c.run(["submit", "sweeps/q.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("one job runs") { c.read("runs/q/0/log.txt").contains("hello 0") }
    let queue = try c.run(["queue"]).out
    XCTAssertTrue(queue.contains("1_0 "), queue)
    XCTAssertTrue(queue.contains("1_[1-5]"), queue)
    XCTAssertEqual(try c.run(["queue", "-r"]).out.split(separator: "\n").count, 7)

    let go = c.root.appendingPathComponent("go").path
    DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) {
      _ = FileManager.default.createFile(atPath: go, contents: nil)
    }
    let follow = try c.run(["logs", "1_0", "-f"])
    XCTAssertEqual(follow.code, 0, follow.err)
    XCTAssertEqual(follow.out, "hello 0\nbye 0\n")
  }
}
