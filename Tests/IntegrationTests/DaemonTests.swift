import Foundation
import XCTest

/// submit → daemon → pinned workers → COMPLETED rows, attempts and logs, through the real binaries.
final class DaemonTests: XCTestCase {
  func testJobsRunPinnedToTheirCoreAndComplete() throws {
    let c = try Cluster()
    // Each job records its pid and the kernel's view of its affinity, then waits for a go file,
    // so the test can read /proc/<pid>/status of a job that is still running.
    try c.write(
      "sweeps/pin.yaml",
      """
      register:
        - key: "pin/{i}"
          command: [sh, -c, "echo $$ > {i}.pid; grep Cpus_allowed_list /proc/self/status; echo threads=$OMP_NUM_THREADS/$OPENBLAS_NUM_THREADS/$MKL_NUM_THREADS task=$SLURM_ARRAY_TASK_ID; while [ ! -e go ]; do sleep 0.05; done"]
          axes: {i: range(0, 4)}
      """)
    try c.startDaemon(cpus: "0-1")
    let r = try c.run(["submit", "sweeps/pin.yaml", "--output-root", c.runs])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertTrue(r.out.hasPrefix("Submitted batch job 1\n"), r.out)

    // Two slots: jobs 0 and 1 run, each pinned to one distinct core.
    try c.waitUntil("two jobs run") {
      FileManager.default.fileExists(atPath: c.root.path + "/0.pid")
        && FileManager.default.fileExists(atPath: c.root.path + "/1.pid")
    }
    var cores: [String] = []
    for i in 0..<2 {
      let pid = c.read("\(i).pid").trimmingCharacters(in: .whitespacesAndNewlines)
      let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
      let line = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list") }!
      cores.append(String(line.split(separator: "\t").last!))
    }
    XCTAssertEqual(Set(cores), ["0", "1"], "each running job is pinned to its own core")
    XCTAssertEqual(try c.states()["1_2"], "PENDING")

    try c.write("go", "")
    try c.waitUntil("all complete") { try c.states().values.allSatisfy { $0 == "COMPLETED" } }
    for i in 0..<4 {
      let log = c.read("runs/pin/\(i)/log.txt")
      XCTAssertTrue(log.contains("Cpus_allowed_list:\t0\n") || log.contains("Cpus_allowed_list:\t1\n"), log)
      XCTAssertTrue(log.contains("threads=1/1/1 task=\(i)"), log)
      XCTAssertTrue(FileManager.default.fileExists(atPath: c.runs + "/pin/\(i)/config.json"))
    }
    let attempts = try c.run(["history", "-j", "1_3", "--attempts", "--json"])
    let rows = try JSONSerialization.jsonObject(with: Data(attempts.out.utf8)) as! [[String: Any]]
    XCTAssertEqual(rows.count, 1)
    XCTAssertEqual(rows[0]["state"] as? String, "COMPLETED")
    XCTAssertEqual(rows[0]["exitCode"] as? Int, 0)
  }

  func testCancelEndsTheWholeProcessTree() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/tree.yaml",
      """
      register:
        - key: tree
          command: [sh, -c, "sleep 300 & echo $! > child.pid; sleep 300"]
      """)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/tree.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the child started") { !c.read("child.pid").isEmpty }
    let child = Int32(c.read("child.pid").trimmingCharacters(in: .whitespacesAndNewlines))!
    XCTAssertEqual(kill(child, 0), 0)
    let r = try c.run(["cancel", "1_0"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(try c.states()["1_0"], "CANCELLED")
    try c.waitUntil("the grandchild is gone") { kill(child, 0) != 0 || Self.isZombie(child) }
  }

  func testTimeLimitEndsTimeout() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/slow.yaml",
      """
      register:
        - key: slow
          command: [sh, -c, "trap '' TERM; sleep 300"]
      """)
    try c.startDaemon(killWait: "1")
    XCTAssertEqual(try c.run(["submit", "sweeps/slow.yaml", "--time", "0:01", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the job times out", timeout: 30) { try c.states()["1_0"] == "TIMEOUT" }
    let attempts = try c.run(["history", "-j", "1", "--attempts", "--json"])
    let rows = try JSONSerialization.jsonObject(with: Data(attempts.out.utf8)) as! [[String: Any]]
    XCTAssertEqual(rows.first?["reason"] as? String, "TimeLimit")
    XCTAssertEqual(rows.first?["signal"] as? Int, 9, "SIGTERM was ignored, so SIGKILL ended it")
  }

  /// `n` jobs that log each run to ran.txt; element `failing` fails while the file fail-<i> exists.
  func flakySweep(_ c: Cluster, n: Int, failing: Int) throws {
    try c.write(
      "sweeps/flaky.yaml",
      """
      register:
        - key: "flaky/{i}"
          command: [sh, -c, "echo {i} >> ran.txt; test ! -e fail-{i}"]
          axes: {i: range(0, \(n))}
      """)
    try c.write("fail-\(failing)", "")
    try c.startDaemon()
  }

  func testRetryFailedRerunsOnlyTheFailedElement() throws {
    let c = try Cluster()
    try flakySweep(c, n: 5, failing: 3)
    let first = try c.run(["submit", "sweeps/flaky.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(first.code, 1, "a failed element makes --wait exit non-zero")
    XCTAssertTrue(first.out.contains("FAILED"), first.out)
    XCTAssertEqual(try c.states()["1_3"], "FAILED")
    XCTAssertEqual(c.read("ran.txt").split(separator: "\n").sorted(), ["0", "1", "2", "3", "4"])

    try FileManager.default.removeItem(atPath: c.root.path + "/fail-3")
    let retry = try c.run(["retry", "--failed"])
    XCTAssertEqual(retry.code, 0, retry.err)
    XCTAssertTrue(retry.out.contains("requeued 1 job(s): 1_3"), retry.out)
    try c.waitUntil("the retried element completes") { try c.states()["1_3"] == "COMPLETED" }
    XCTAssertEqual(c.read("ran.txt").split(separator: "\n").sorted(), ["0", "1", "2", "3", "3", "4"])

    // Resubmitting the sweep now skips everything: all completed with the same hash.
    let again = try c.run(["submit", "sweeps/flaky.yaml", "--output-root", c.runs])
    XCTAssertEqual(again.code, 0, again.err)
    XCTAssertTrue(again.out.contains("0 new, 5 already completed (skipped)"), again.out)
  }

  func testResubmitRequeuesFailedConfigsUnderTheirIDs() throws {
    let c = try Cluster()
    try flakySweep(c, n: 3, failing: 1)
    XCTAssertEqual(try c.run(["submit", "sweeps/flaky.yaml", "--output-root", c.runs, "--wait"]).code, 1)
    try FileManager.default.removeItem(atPath: c.root.path + "/fail-1")
    let again = try c.run(["submit", "sweeps/flaky.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(again.code, 0, again.out + again.err)
    XCTAssertTrue(again.out.contains("0 new, 1 requeued, 2 already completed (skipped)"), again.out)
    XCTAssertEqual(try c.states(), ["1_0": "COMPLETED", "1_1": "COMPLETED", "1_2": "COMPLETED"])
  }

  func testDependencyChainRunsInOrder() throws {
    let c = try Cluster()
    for name in ["a", "b", "c"] {
      try c.write(
        "sweeps/\(name).yaml",
        """
        register:
          - key: "\(name)"
            command: [sh, -c, "echo start-\(name) >> order.txt; sleep 0.3; echo end-\(name) >> order.txt"]
        """)
    }
    try c.startDaemon()
    // Submitted in reverse dependency order is impossible (ids must exist), so submit a, then c
    // after b, with b after a, and check c waits for b even though a slot is free.
    XCTAssertEqual(try c.run(["submit", "sweeps/a.yaml", "--output-root", c.runs]).code, 0)
    XCTAssertEqual(try c.run(["submit", "sweeps/b.yaml", "--after", "1", "--output-root", c.runs]).code, 0)
    XCTAssertEqual(try c.run(["submit", "sweeps/c.yaml", "--after", "afterok:2", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the chain finishes") {
      try c.states().values.allSatisfy { $0 == "COMPLETED" } && c.states().count == 3
    }
    XCTAssertEqual(
      c.read("order.txt").split(separator: "\n"), ["start-a", "end-a", "start-b", "end-b", "start-c", "end-c"])
  }

  func testAfterOkOnAFailedJobIsNeverSatisfied() throws {
    let c = try Cluster()
    try c.write("sweeps/bad.yaml", "register:\n  - key: bad\n    command: [\"false\"]\n")
    try c.write("sweeps/next.yaml", "register:\n  - key: next\n    command: [\"true\"]\n")
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/bad.yaml", "--output-root", c.runs, "--wait"]).code, 1)
    XCTAssertEqual(try c.run(["submit", "sweeps/next.yaml", "--after", "afterok:1", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the reason is set") {
      let rows = try c.historyRows()
      return rows.contains {
        ($0["reason"] as? String) == "DependencyNeverSatisfied" && ($0["state"] as? String) == "PENDING"
      }
    }
  }

  func testWaitWithoutADaemonSaysSoInsteadOfHanging() throws {
    let c = try Cluster()
    try c.write("sweeps/one.yaml", "register:\n  - key: one\n    command: [\"true\"]\n")
    let r = try c.run(["submit", "sweeps/one.yaml", "--no-daemon", "--wait", "--output-root", c.runs])
    XCTAssertEqual(r.code, 1)
    XCTAssertTrue(r.err.contains("no daemon is running"), r.err)
    XCTAssertEqual(try c.states()["1_0"], "PENDING", "the job stays queued for the next daemon")
  }

  static func isZombie(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    return stat.contains(") Z ")
  }
}

/// Events on fd 3 reach the store while the job runs, and at its end.
final class EventsTests: XCTestCase {
  func testMetricsStreamWhileTheJobRunsAndFinalOnesAtTheEnd() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/m.yaml",
      #"""
      register:
        - key: m
          command: [sh, -c, "echo '{{\"type\":\"metric\",\"name\":\"loss\",\"value\":0.5,\"step\":1,\"epoch\":0}}' >&3; while [ ! -e go ]; do sleep 0.05; done; echo '{{\"type\":\"metric\",\"name\":\"loss\",\"value\":0.25,\"step\":2,\"epoch\":1}}' >&3; echo 'not json' >&3; printf '{{\"type\":\"done\",\"metrics\":{{\"acc\":0.9}}}}' >&3"]
      """#)
    try c.startDaemon()
    let submitted = try c.run(["submit", "sweeps/m.yaml", "--output-root", c.runs])
    XCTAssertEqual(submitted.code, 0, submitted.err)
    try c.waitUntil("the first metric arrives while the job runs") {
      try c.run(["metrics", "1_0", "--csv"]).out.contains("1,0,1,loss,0.5,0")
    }
    XCTAssertEqual(try c.states()["1_0"], "RUNNING")
    try c.write("go", "")
    try c.waitUntil("the job completes") { try c.states()["1_0"] == "COMPLETED" }
    let csv = try c.run(["metrics", "1_0", "--csv"]).out
    XCTAssertEqual(
      csv, "attempt,epoch,step,name,value,final\n1,0,1,loss,0.5,0\n1,1,2,loss,0.25,0\n1,,,acc,0.9,1\n", csv)
  }
}
