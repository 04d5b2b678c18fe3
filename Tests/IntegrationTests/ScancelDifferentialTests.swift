import Foundation
import XCTest

/// scancel's answers for an ended job and its prompt, on a real SLURM (deploy/slurm-local, 22.05)
/// and on orch, each pinned: orch follows SLURM 23.02 (the version its scontrol reports), which
/// reports a cancel of an ended job as an error and exits 1; 22.05 says so only with -v and exits
/// 0. Skipped when no real SLURM answers.
final class ScancelDifferentialTests: XCTestCase {
  static let ended = "Kill job error on job id %@: Job/step already completing or completed"

  func testRealSlurmOnAnEndedJob() throws {
    let slurm = try RealSlurm.find()
    let dir = NSTemporaryDirectory()
    let submit = try runProgram(
      "/usr/bin/sbatch", ["--parsable", "-o", "/dev/null", "--wrap", "sleep 30"], cwd: dir, env: slurm.env)
    let id = try XCTUnwrap(
      submit.out.split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) })
    let prompt = try runProgram("/bin/sh", ["-c", "echo n | /usr/bin/scancel -i \(id)"], cwd: dir, env: slurm.env)
    XCTAssertEqual(prompt.out, "Cancel job_id=\(id) name=wrap partition=local [y/n]? ")
    XCTAssertEqual(try runProgram("/usr/bin/scancel", [id], cwd: dir, env: slurm.env).code, 0)
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
      let q = try runProgram("/usr/bin/squeue", ["-h", "-j", id], cwd: dir, env: slurm.env)
      if q.out.isEmpty { break }
      usleep(200_000)
    }
    let again = try runProgram("/usr/bin/scancel", [id], cwd: dir, env: slurm.env)
    XCTAssertEqual(again.code, 0, "22.05: exit 0")
    XCTAssertEqual(again.err, "", "22.05: silent without -v")
    let verbose = try runProgram("/usr/bin/scancel", ["-v", id], cwd: dir, env: slurm.env)
    XCTAssertEqual(verbose.code, 0)
    XCTAssertTrue(verbose.err.contains(String(format: Self.ended, id)), verbose.err)
  }

  func testOrchOnAnEndedJob() throws {
    let c = try Cluster()
    try c.startDaemon(cpus: "0")
    let id = try c.submit(["--parsable", "-o", "/dev/null", "--wrap", "sleep 30"])
    try c.waitUntil("it runs") { try c.states()["\(id)"] == "RUNNING" }
    let prompt = try c.run(["scancel", "-i", "\(id)"], input: "n\n")
    XCTAssertEqual(prompt.out, "Cancel job_id=\(id) name=wrap partition=local [y/n]? ")
    XCTAssertEqual(try c.run(["scancel", "\(id)"]).code, 0)
    try c.waitUntil("it ended") { try c.states()["\(id)"] == "CANCELLED" }
    let again = try c.run(["scancel", "\(id)"])
    XCTAssertEqual(again.code, 1, "23.02: exit 1")
    XCTAssertEqual(again.err, "scancel: error: " + String(format: Self.ended, "\(id)") + "\n")
  }
}
