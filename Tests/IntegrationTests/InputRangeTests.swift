import Foundation
import GRDB
import XCTest

/// Issue 13 items 2, 6, 7 and 14 (part), through the real binaries: sizes, counts, delays and
/// element ranges out of range are refused at submit with nothing written, and a value already in
/// a store never stops the daemon.
final class InputRangeTests: XCTestCase {
  func sweep(_ c: Cluster, _ name: String, command: String, count: Int? = nil) throws {
    let axes = count.map { "\n    axes: {i: range(0, \($0))}" } ?? ""
    let key = count == nil ? name : "\(name)/{i}"
    try c.write("sweeps/\(name).yaml", "register:\n  - key: \"\(key)\"\n    command: [sh, -c, \"\(command)\"]\(axes)\n")
  }

  func submit(_ c: Cluster, _ name: String, _ extra: [String] = []) throws -> Cluster.Result {
    try c.run(["submit", "sweeps/\(name).yaml", "--no-daemon", "--output-root", c.runs] + extra)
  }

  /// The store as it is on disk: opened without migrating it, so these tests also run against an
  /// older build (`ORCH_BIN_DIR`), which must keep reading its own schema.
  func database(_ c: Cluster) throws -> DatabaseQueue {
    try DatabaseQueue(path: c.home + "/orch.db")
  }

  func dependencyRows(_ c: Cluster) throws -> Int {
    try database(c).read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM dependencies") ?? -1 }
  }

  /// Item 2: `--after after:1+999999999999999999` was accepted, and every daemon then trapped on
  /// `minutes * 60`. Refused at submit with SLURM's limit, nothing queued.
  func testOverflowingDelayIsRefusedAtSubmit() throws {
    let c = try Cluster()
    try sweep(c, "x", command: "true")
    try sweep(c, "y", command: "echo y")
    XCTAssertEqual(try submit(c, "x").code, 0)
    let r = try submit(c, "y", ["--after", "after:1+999999999999999999"])
    XCTAssertEqual(r.code, 2, r.err)
    XCTAssertEqual(
      r.err,
      "orch: --after 'after:1+999999999999999999' has delay '+999999999999999999' minutes; at most 2147483647 (SLURM's limit)\n"
    )
    XCTAssertEqual(try submit(c, "y", ["--after", "after:1+2147483647"]).code, 0, "SLURM's largest delay is taken")
    XCTAssertEqual(try c.states().keys.sorted(), ["1_0", "2_0"])
  }

  /// Item 2: a delay too long to count in seconds already in a store (written by an older orch,
  /// put here by hand) leaves its job waiting; the daemon keeps running and runs other jobs. The
  /// old daemon died with SIGILL as soon as the target started, and again on every restart.
  func testStoredOverflowingDelayDoesNotStopTheDaemon() throws {
    let c = try Cluster()
    try sweep(c, "x", command: "true")
    try sweep(c, "y", command: "echo y")
    try sweep(c, "z", command: "echo z")
    XCTAssertEqual(try submit(c, "x").code, 0)
    XCTAssertEqual(try submit(c, "y", ["--after", "after:1+1"]).code, 0)
    try database(c).write { try $0.execute(sql: "UPDATE dependencies SET delay_minutes = 999999999999999999") }
    try c.startDaemon()
    try c.waitUntil("the target completes") { try c.states()["1_0"] == "COMPLETED" }
    XCTAssertEqual(try submit(c, "z").code, 0)
    try c.waitUntil("a later job completes") { try c.states()["3_0"] == "COMPLETED" }
    XCTAssertEqual(c.daemon?.isRunning, true, "the daemon is still running")
    XCTAssertEqual(try c.states()["2_0"], "PENDING")
    c.stopDaemon(kill9: false)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["queue"]).code, 0)
    XCTAssertEqual(c.daemon?.isRunning, true, "a restarted daemon too")
  }

  /// Item 7: `--after afterok:1_99` on a four-element array counted as met, and `1_[0-3999999]`
  /// wrote four million rows; `orch sbatch --dependency` refused both. One check for both now:
  /// every element named must exist, refused with nothing written otherwise.
  func testDependencyOnElementsThatDoNotExistIsRefused() throws {
    let c = try Cluster()
    try c.installShims()
    try sweep(c, "t", command: "true", count: 4)
    try sweep(c, "y", command: "echo y")
    XCTAssertEqual(try submit(c, "t").code, 0)
    let cases = [
      ("afterok:1_99", "orch: dependency on afterok:1_99: job 1 has no element 99\n"),
      (
        "afterok:1_[0-3999999]",
        "orch: dependency on afterok:1_[0-3999999]: job 1 has no element 4 (of the 4000000 that 1_[0-3999999] names)\n"
      ),
      (
        "afterok:1_[2-5]", "orch: dependency on afterok:1_[2-5]: job 1 has no element 4 (of the 4 that 1_[2-5] names)\n"
      ),
      ("afterany:1_4?afterok:1_0", "orch: dependency on afterany:1_4: job 1 has no element 4\n"),
      (
        "afterok:1_[0-8:2]",
        "orch: dependency on afterok:1_[0-8:2]: job 1 has no element 4 (of the 5 that 1_[0-8:2] names)\n"
      ),
    ]
    for (spec, message) in cases {
      let r = try submit(c, "y", ["--after", spec])
      XCTAssertEqual(r.code, 2, spec)
      XCTAssertEqual(r.err, message, spec)
      let (s, id) = try c.sbatch(["--hold", "-d", spec, "--wrap", "true"])
      XCTAssertEqual(s.code, 1, spec)
      XCTAssertNil(id, spec)
      XCTAssertEqual(s.err, "sbatch: error: Batch job submission failed: Job dependency problem\n", spec)
    }
    XCTAssertEqual(try c.states().count, 4, "nothing but the target was queued")
    XCTAssertEqual(try dependencyRows(c), 0)
    XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: c.home + "/scripts")) ?? [], [])
  }

  /// Item 7: a range is one row, and waits for exactly its elements: `1_[0-2]` runs once those
  /// three completed, `1_[2-3]` can never run once element 3 failed, and with `?` one completed
  /// element of a range is enough.
  func testARangeIsOneRowAndWaitsForItsElements() throws {
    let c = try Cluster()
    try c.installShims()
    try sweep(c, "t", command: "sleep 0.3; test {i} -ne 3", count: 4)
    try sweep(c, "a", command: "echo a")
    try sweep(c, "b", command: "echo b")
    try sweep(c, "d", command: "echo d")
    XCTAssertEqual(try submit(c, "t").code, 0)
    XCTAssertEqual(try submit(c, "a", ["--after", "afterok:1_[0-2]"]).code, 0)
    XCTAssertEqual(try submit(c, "b", ["--after", "afterok:1_[2-3]"]).code, 0)
    XCTAssertEqual(try submit(c, "d", ["--after", "afterok:1_[2-3]?afterok:1_[0-1]"]).code, 0)
    let e = try c.submit(["--hold", "-d", "afterok:1_[1-3:2]", "--wrap", "true"])
    XCTAssertEqual(try dependencyRows(c), 5, "one row per range")
    try c.startDaemon()
    try c.waitUntil("the first range's dependent completes") { try c.states()["5_0"] == "COMPLETED" }
    try c.waitUntil("the OR dependent completes") { try c.states()["7_0"] == "COMPLETED" }
    try c.waitUntil("the target ends") { try c.states()["1_3"] == "FAILED" }
    try c.waitUntil("the second range is never satisfied") {
      try c.run(["squeue", "-h", "-j", "6", "-o", "%r"]).out == "DependencyNeverSatisfied\n"
    }
    XCTAssertEqual(try c.states()["6_0"], "PENDING")
    XCTAssertEqual(try c.run(["scontrol", "release", "\(e)"]).code, 0)
    try c.waitUntil("the sbatch range is never satisfied") {
      try c.run(["squeue", "-h", "-j", "\(e)", "-o", "%r"]).out == "DependencyNeverSatisfied\n"
    }
  }

  /// Item 6: `-c 2 --mem-per-cpu=8000000T` died with SIGILL computing the job's limit, after the
  /// stored script was written. Refused now, with no script and nothing in the store.
  func testMemoryTimesCPUsOverflowLeavesNothingBehind() throws {
    let c = try Cluster()
    let (r, id) = try c.sbatch(["--hold", "-c", "2", "--mem-per-cpu=8000000T", "--wrap", "true"])
    XCTAssertEqual(r.code, 1, r.err)
    XCTAssertNil(id)
    XCTAssertEqual(
      r.err,
      "sbatch: error: Invalid --mem-per-cpu specification: 8388608000000M per CPU × 2 CPUs is over 8796093022207M, the most memory orch can count\n"
    )
    XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: c.home + "/scripts")) ?? [], [])
    XCTAssertEqual(try c.states().count, 0)
    // With one CPU nothing overflows: it is only more memory than this machine has for jobs (issue 17).
    let (one, _) = try c.sbatch(["--hold", "--mem-per-cpu=8000000T", "--wrap", "true"])
    XCTAssertEqual(one.code, 1, one.err)
    XCTAssertEqual(
      one.err, "sbatch: error: Batch job submission failed: Requested node configuration is not available\n")
  }

  /// Item 14: a job asking for more CPUs than the machine lets orch use pended forever; refused at
  /// submit in sbatch's words, from `--cpus`, from a config's resources, and from `sbatch -c`.
  func testCPUsBeyondThisMachineAreRefused() throws {
    let c = try Cluster()
    let cpus = SlurmDifferentialTests.allowedCPUs().count
    try sweep(c, "y", command: "echo y")
    try c.write("sweeps/big.yaml", "register:\n  - key: big\n    command: [\"true\"]\n    resources: {cpus: 1000}\n")
    let r = try submit(c, "y", ["--cpus", "1000"])
    XCTAssertEqual(r.code, 2, r.err)
    XCTAssertEqual(
      r.err,
      "orch: --cpus 1000: Requested node configuration is not available: this machine has \(cpus) CPUs for jobs\n")
    let big = try submit(c, "big")
    XCTAssertEqual(big.code, 2, big.err)
    XCTAssertTrue(
      big.err.hasSuffix(
        "config 'big' asks for 1000 CPUs: Requested node configuration is not available: this machine has \(cpus) CPUs for jobs\n"
      ), big.err)
    XCTAssertTrue(big.err.hasPrefix("orch: ") && big.err.contains("big.yaml:"), big.err)
    let (s, id) = try c.sbatch(["-c", "1000", "--wrap", "true"])
    XCTAssertEqual(s.code, 1)
    XCTAssertNil(id)
    XCTAssertEqual(s.err, "sbatch: error: Batch job submission failed: Requested node configuration is not available\n")
    XCTAssertEqual(try c.states().count, 0)
    XCTAssertEqual(try submit(c, "y", ["--cpus", "\(cpus)"]).code, 0)
  }
}
