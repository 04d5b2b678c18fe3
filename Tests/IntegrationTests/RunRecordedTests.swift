import Foundation
import Store
import XCTest

/// `orch run -k KEY` is a job like any other: recorded (a one-element submission, its attempt,
/// events, metrics, artifacts), visible in history and results, skipped or reused by a later
/// submit. Its owner is the foreground process: a daemon never claims it, a dead owner (kill -9)
/// leaves it FAILED (`ForegroundLost`, not RUNNING forever), and Ctrl-C ends it CANCELLED.
final class RunRecordedTests: XCTestCase {
  static let engineSweep = """
    register:
      - key: "r/mlp"
        engine: train
        bindings: {data.name: digits, model.arch: mlp, model.width: 32, train.epochs: 2, train.checkpoint_every: 1}
      - key: "r/long"
        engine: train
        bindings: {data.name: digits, model.arch: mlp, model.width: 16, train.epochs: 1000, train.checkpoint_every: 1}
    """

  /// A command that records its pid, then waits for the file `go` in the working directory.
  static let waitingSweep = """
    register:
      - key: "w/{x}"
        command: [sh, -c, "echo $$ > pid-{x}; while [ ! -e go-{x} ]; do sleep 0.05; done"]
        axes: [{list: [{x: 1}, {x: 2}]}]
    """

  func testForegroundRunIsRecordedAndSkippedOrRerunLikeASubmittedJob() throws {
    let c = try Cluster()
    try c.write("sweeps/r.yaml", Self.engineSweep)
    let r = try c.run(["run", "-k", "r/mlp", "--sweeps", "sweeps", "--output-root", c.runs])
    XCTAssertEqual(r.code, 0, r.err)
    let rows = try c.historyRows()
    XCTAssertEqual(rows.count, 1, "\(rows)")
    XCTAssertEqual(rows.first?["key"] as? String, "r/mlp")
    XCTAssertEqual(rows.first?["state"] as? String, "COMPLETED")
    XCTAssertEqual(rows.first?["sweep"] as? String, "r")
    let attempts = try c.run(["history", "-j", "1", "--attempts", "--json"]).out
    XCTAssertTrue(attempts.contains("\"state\" : \"COMPLETED\""), attempts)
    XCTAssertEqual(ForceRerunTests.epochs(try c.run(["metrics", "1", "--csv"]).out), [1, 2])
    let results = try c.run(["results", "r", "--json"])
    let table = try JSONSerialization.jsonObject(with: Data(results.out.utf8)) as? [[String: Any]] ?? []
    XCTAssertNotNil(table.first?["test_acc"] as? Double, results.out + results.err)
    let store = try JobStore(path: c.home + "/orch.db")
    let job = try XCTUnwrap(try store.storedJobs(JobFilter(jobs: [1])).first)
    XCTAssertEqual(job.artifacts["predictions"], c.runs + "/r/mlp/predictions.npy")

    // A later submission recognises it: nothing new is queued, and --wait reports it completed.
    let submitted = try c.run(["submit", "sweeps/r.yaml", "--match", "mlp", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(submitted.code, 0, submitted.out + submitted.err)
    XCTAssertTrue(submitted.out.contains("0 new, 1 already completed (skipped)"), submitted.out)
    // So does a second `orch run`; with --force it trains again from scratch as a new job.
    let again = try c.run(["run", "-k", "r/mlp", "--sweeps", "sweeps", "--output-root", c.runs])
    XCTAssertEqual(again.code, 0, again.err)
    XCTAssertTrue(again.err.contains("already COMPLETED as job 1"), again.err)
    let forced = try c.run(["run", "-k", "r/mlp", "--sweeps", "sweeps", "--output-root", c.runs, "--force"])
    XCTAssertEqual(forced.code, 0, forced.err)
    XCTAssertEqual(ForceRerunTests.epochs(try c.run(["metrics", "2", "--csv"]).out), [1, 2])
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: c.runs + "/r/mlp.replaced-1/checkpoints/ckpt-E002.safetensors"))
  }

  func testDaemonNeverClaimsOrRecoversALiveForegroundRun() throws {
    let c = try Cluster()
    try c.write("sweeps/w.yaml", Self.waitingSweep)
    try c.startDaemon()
    let fg = try Background(c, ["run", "-k", "w/1", "--sweeps", "sweeps", "--output-root", c.runs])
    try c.waitUntil("the foreground job runs") { try c.states()["1"] == "RUNNING" && !c.read("pid-1").isEmpty }
    let command = Int32(c.read("pid-1").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    // A daemon restart applies recovery to RUNNING jobs: this one is not the daemon's.
    c.stopDaemon(kill9: true)
    try c.startDaemon()
    XCTAssertEqual(try c.states()["1"], "RUNNING")
    XCTAssertEqual(kill(command, 0), 0, "the foreground job's command was killed")
    // The daemon runs other work meanwhile.
    try c.write("go-2", "")
    XCTAssertEqual(
      try c.run(["submit", "sweeps/w.yaml", "--match", "w/2", "--output-root", c.runs, "--wait"]).code, 0)
    try c.write("go-1", "")
    XCTAssertEqual(fg.wait(), 0, fg.output)
    XCTAssertEqual(try c.states()["1"], "COMPLETED")
    let attempts = try c.run(["history", "-j", "1", "--attempts", "--json"]).out
    let tries = try JSONSerialization.jsonObject(with: Data(attempts.utf8)) as? [[String: Any]] ?? []
    XCTAssertEqual(tries.map { $0["state"] as? String }, ["COMPLETED"], attempts)
  }

  func testKilledForegroundRunEndsFailedAndIsRequeuedByTheNextSubmit() throws {
    let c = try Cluster()
    try c.write("sweeps/w.yaml", Self.waitingSweep)
    try c.startDaemon()
    let fg = try Background(c, ["run", "-k", "w/1", "--sweeps", "sweeps", "--output-root", c.runs])
    try c.waitUntil("the foreground job runs") { try c.states()["1"] == "RUNNING" && !c.read("pid-1").isEmpty }
    let command = Int32(c.read("pid-1").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    kill(fg.pid, SIGKILL)
    XCTAssertEqual(fg.wait(), 128 + SIGKILL)
    // The next look at the store records the lost owner and kills what its job left running.
    let rows = try c.historyRows()
    XCTAssertEqual(rows.first?["state"] as? String, "FAILED", "\(rows)")
    XCTAssertEqual(rows.first?["reason"] as? String, "ForegroundLost", "\(rows)")
    try c.waitUntil("the orphaned command is killed") { kill(command, 0) != 0 || DaemonTests.isZombie(command) }
    // It is not requeued by itself; a submission of the config reuses the job.
    XCTAssertEqual(try c.states()["1"], "FAILED")
    try c.write("go-1", "")
    let r = try c.run(["submit", "sweeps/w.yaml", "--match", "w/1", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    XCTAssertTrue(r.out.contains("1 requeued"), r.out)
    XCTAssertEqual(try c.states(), ["1": "COMPLETED"])
  }

  func testStartingDaemonRecordsAForegroundRunKilledWhileNoneRan() throws {
    let c = try Cluster()
    try c.write("sweeps/w.yaml", Self.waitingSweep)
    let fg = try Background(c, ["run", "-k", "w/1", "--sweeps", "sweeps", "--output-root", c.runs])
    try c.waitUntil("the foreground job runs") { try c.states()["1"] == "RUNNING" && !c.read("pid-1").isEmpty }
    kill(fg.pid, SIGKILL)
    _ = fg.wait()
    let store = try JobStore(path: c.home + "/orch.db")
    func state() throws -> JobState? { try store.jobs(JobFilter(jobs: [1])).first?.state }
    XCTAssertEqual(try state(), .running, "nothing has looked yet")
    // The daemon's recovery, not a listing, records it (the daemon is started directly).
    let daemon = try Background(c, ["daemon", "--foreground", "--cpus", "0"])
    try c.waitUntil("recovery records the lost owner") { try state() == .failed }
    XCTAssertEqual(try store.jobs(JobFilter(jobs: [1])).first?.reason, "ForegroundLost")
    kill(daemon.pid, SIGTERM)
    _ = daemon.wait()
  }

  func testCtrlCEndsTheForegroundJobCancelledAndKeepsItsCheckpoints() throws {
    let c = try Cluster()
    try c.write("sweeps/r.yaml", Self.engineSweep)
    let fg = try Background(c, ["run", "-k", "r/long", "--sweeps", "sweeps", "--output-root", c.runs])
    let checkpoint = c.runs + "/r/long/checkpoints/ckpt-E002.safetensors"
    try c.waitUntil("epoch 2 is checkpointed") { FileManager.default.fileExists(atPath: checkpoint) }
    kill(fg.pid, SIGINT)
    XCTAssertEqual(fg.wait(), 130, fg.output)
    XCTAssertEqual(try c.states()["1"], "CANCELLED")
    XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint))
    XCTAssertEqual(Array(ForceRerunTests.epochs(try c.run(["metrics", "1", "--csv"]).out).prefix(2)), [1, 2])

    // A command config: the signal reaches its process group.
    try c.write("sweeps/w.yaml", Self.waitingSweep)
    let cmd = try Background(c, ["run", "-k", "w/1", "--sweeps", "sweeps", "--output-root", c.runs])
    try c.waitUntil("the command runs") { try c.states()["2"] == "RUNNING" && !c.read("pid-1").isEmpty }
    let command = Int32(c.read("pid-1").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    kill(cmd.pid, SIGINT)
    XCTAssertEqual(cmd.wait(), 130, cmd.output)
    XCTAssertEqual(try c.states()["2"], "CANCELLED")
    XCTAssertTrue(kill(command, 0) != 0 || DaemonTests.isZombie(command))
  }

  func testOrchCancelEndsAForegroundRunCancelled() throws {
    let c = try Cluster()
    try c.write("sweeps/w.yaml", Self.waitingSweep)
    let fg = try Background(c, ["run", "-k", "w/1", "--sweeps", "sweeps", "--output-root", c.runs])
    try c.waitUntil("the foreground job runs") { try c.states()["1"] == "RUNNING" && !c.read("pid-1").isEmpty }
    let r = try c.run(["cancel", "1"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    XCTAssertEqual(fg.wait(), 130, fg.output)
    XCTAssertEqual(try c.states()["1"], "CANCELLED")
  }
}
