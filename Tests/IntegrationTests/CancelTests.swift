import Foundation
import XCTest

/// Cancels do exactly what was asked: the jobs selected, no other (issue "Exact operations").
final class CancelTests: XCTestCase {
  /// A ten-element array of sleepers on two cores: 1_0 and 1_1 run, the rest pend.
  func arrayWithTwoRunning(_ c: Cluster) throws {
    try c.startDaemon(cpus: "0-1")
    _ = try c.submit(["--parsable", "--array=0-9", "-o", "/dev/null", "--wrap", "sleep 60"])
    try c.waitUntil("1_0 and 1_1 run") {
      let s = try c.states()
      return s["1_0"] == "RUNNING" && s["1_1"] == "RUNNING"
    }
  }

  /// Bug 1: cancelling a pending element ended every running job in the store.
  func testCancellingPendingElementsLeavesRunningOnes() throws {
    let c = try Cluster()
    try arrayWithTwoRunning(c)
    let r = try c.run(["cancel", "1_3"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(r.out, "cancelled 1 pending and 0 running job(s)\n")
    var s = try c.states()
    XCTAssertEqual(s["1_3"], "CANCELLED")
    XCTAssertEqual(s["1_0"], "RUNNING")
    XCTAssertEqual(s["1_1"], "RUNNING")
    XCTAssertEqual(try c.run(["scancel", "1_[2-4]"]).code, 0)
    s = try c.states()
    XCTAssertEqual([s["1_2"], s["1_3"], s["1_4"]], ["CANCELLED", "CANCELLED", "CANCELLED"])
    XCTAssertEqual([s["1_0"], s["1_1"], s["1_5"]], ["RUNNING", "RUNNING", "PENDING"])
  }

  /// Bug 2: filters orch records nothing for cancelled all of the user's jobs.
  func testFiltersOrchDoesNotRecordMatchNothing() throws {
    let c = try Cluster()
    try arrayWithTwoRunning(c)
    let before = try c.states()
    for filter in ["--account=X", "--qos=X", "--wckey=X", "-A", "-q"] {
      let args = filter.hasPrefix("--") ? [filter] : [filter, "X"]
      XCTAssertEqual(try c.run(["scancel"] + args).code, 0)
      XCTAssertEqual(try c.states(), before, "scancel \(args) changed nothing")
    }
    let v = try c.run(["scancel", "-v", "--qos=x", "--wckey=y"])
    XCTAssertTrue(v.err.contains("No active jobs match ALL job filters, including: qos=x wckey=y"), v.err)
  }

  /// Bug 3: a job adopted by a restarted daemon was killed, recorded FAILED and requeued.
  func testCancellingAnAdoptedJobCancelsIt() throws {
    let c = try Cluster()
    try c.startDaemon()
    try c.submitCommand("long", "echo run >> runs.txt; exec sleep 300", maxAttempts: 3)
    try c.waitUntil("the job runs") { !c.read("runs.txt").isEmpty }
    c.stopDaemon(kill9: false)
    try c.startDaemon()
    XCTAssertEqual(try c.states()["1_0"], "RUNNING", "adopted")
    let r = try c.run(["cancel", "1"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(r.out, "cancelled 0 pending and 1 running job(s)\n")
    XCTAssertEqual(try c.states()["1_0"], "CANCELLED")
    let row = try c.historyRows().first
    XCTAssertEqual(row?["attempt"] as? Int, 1, "never requeued")
    // Nothing runs it again.
    usleep(500_000)
    XCTAssertEqual(c.read("runs.txt"), "run\n")
    XCTAssertEqual(try c.states()["1_0"], "CANCELLED")
  }

  /// A cancel recorded while no daemon ran is applied by the next daemon's recovery.
  func testCancelRecordedWithoutDaemonHolds() throws {
    let c = try Cluster()
    try c.startDaemon()
    try c.submitCommand("long", "echo run >> runs.txt; exec sleep 300", maxAttempts: 3)
    try c.waitUntil("the job runs") { !c.read("runs.txt").isEmpty }
    c.stopDaemon(kill9: true)
    // `orch cancel` starts a daemon of its own, which adopts the job and then ends it.
    let r = try c.run(["cancel", "1"])
    XCTAssertEqual(r.code, 0, r.err)
    try c.waitUntil("cancelled") { try c.states()["1_0"] == "CANCELLED" }
    XCTAssertEqual(c.read("runs.txt"), "run\n")
  }

  /// Bug 4: --interactive did not ask, --verbose said nothing, a second scancel of an ended job
  /// exited 0 silently.
  func testScancelInteractiveVerboseAndEndedJobs() throws {
    let c = try Cluster()
    try arrayWithTwoRunning(c)
    var r = try c.run(["scancel", "-i", "1_3"], input: "n\n")
    XCTAssertEqual(r.out, "Cancel job_id=1_3 name=wrap partition=local [y/n]? ")
    XCTAssertEqual(try c.states()["1_3"], "PENDING")
    r = try c.run(["scancel", "--interactive", "1_3"], input: "y\n")
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(try c.states()["1_3"], "CANCELLED")
    r = try c.run(["scancel", "-v", "1_4"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertTrue(r.err.contains("scancel: Terminating job 1_4"), r.err)
    r = try c.run(["scancel", "1_4"])
    XCTAssertEqual(r.code, 1)
    XCTAssertTrue(
      r.err.contains("scancel: error: Kill job error on job id 1_4: Job/step already completing or completed"), r.err)
    XCTAssertEqual(try c.states()["1_0"], "RUNNING")
  }

  /// An empty selection selects nothing, for every verb that takes one.
  func testEmptySelectionsChangeNothing() throws {
    let c = try Cluster()
    try arrayWithTwoRunning(c)
    XCTAssertEqual(try c.run(["cancel", "1_3"]).code, 0)
    let before = try c.states()
    let commands: [[String]] = [
      ["cancel", "--sweep", "no-such-sweep"],
      ["scancel", "--name=no-such-name"],
      ["scancel", "--state=SUSPENDED"],
      ["scancel", "--partition=elsewhere"],
      ["scancel", "--user=no-such-user-x"],
      ["scancel", "1_[40-50]"],
      ["scancel", "1_3"],
      ["scontrol", "hold", "1_[40-50]"],
      ["scontrol", "release", "1_[40-50]"],
      ["scontrol", "requeue", "1_[40-50]"],
      ["retry", "--failed", "--sweep", "no-such-sweep"],
      ["retry", "1_[40-50]"],
      ["cancel", "1_[40-50]"],
    ]
    for args in commands {
      _ = try c.run(args)
      XCTAssertEqual(try c.states(), before, "orch \(args.joined(separator: " ")) changed nothing")
    }
    // Listings with an empty selection list nothing.
    XCTAssertEqual(try c.run(["squeue", "-h", "-j", "1_[40-50]"]).out, "")
    XCTAssertEqual(try c.run(["history", "--state", "TIMEOUT", "--json"]).out, "[\n\n]\n")
  }
}
