import Foundation
import XCTest

/// `orch submit --backend slurm` against a real SLURM (deploy/slurm-local in CI): the same engine
/// sweep through SLURM and through the local daemon gives identical metrics; a failed element is
/// retried through SLURM alone; `orch collect` is idempotent; a fine-tune waits for its source
/// through a SLURM dependency. The test without SLURM needs none.
final class SlurmBackendTests: XCTestCase {
  /// Ten sources, a fine-tune of the first one's epoch-1 checkpoint, and a command that fails until
  /// the test creates its flag file. Tiny MLPs on the built-in digits data: seconds each.
  static func sweep(flag: String) -> String {
    """
    defaults:
      bindings: {data.name: digits, model.arch: mlp, model.width: 16, train.epochs: 2, train.checkpoint_every: 1}
    register:
      - key: "src/seed{train.seed}"
        engine: train
        axes: {train.seed: range(0, 10)}
      - key: tune/seed0
        engine: train
        bindings: {train.finetune_from: "src/seed0@E001", train.seed: 0, train.epochs: 1}
      - key: flaky
        command: ["/bin/sh", "-c", "test -e \(flag)"]
    """
  }

  func testWithoutSbatchOnPathTheSubmissionFailsAndWritesNothing() throws {
    let c = try Cluster()
    try c.write("sweeps/p100_slurm.yaml", Self.sweep(flag: c.root.path + "/flag"))
    let emptyBin = c.root.appendingPathComponent("empty-bin").path
    try FileManager.default.createDirectory(atPath: emptyBin, withIntermediateDirectories: true)
    let r = try c.run(["submit", "sweeps/p100_slurm.yaml", "--backend", "slurm"], env: ["PATH": emptyBin])
    XCTAssertNotEqual(r.code, 0)
    XCTAssertEqual(r.out, "")
    XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
    XCTAssertTrue(r.err.contains("`sbatch`") && r.err.contains("PATH"), r.err)
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.db"))
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/slurm"))
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.sock"))

    // SLURM's flags without the SLURM backend are bad input, as is an unknown backend.
    let local = try c.run(["submit", "sweeps/p100_slurm.yaml", "--partition", "cpu"])
    XCTAssertEqual(local.code, 2, local.err)
    let unknown = try c.run(["submit", "sweeps/p100_slurm.yaml", "--backend", "pbs"])
    XCTAssertEqual(unknown.code, 2, unknown.err)
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.db"))
  }

  func testSweepThroughSlurmMatchesTheLocalDaemonRetriesThroughSlurmAndCollectsOnce() throws {
    let slurm = try RealSlurm.find()
    let env = slurm.env
    let c = try Cluster()
    let flag = c.root.path + "/flag"
    try c.write("sweeps/p100_slurm.yaml", Self.sweep(flag: flag))

    let submitted = try c.run(
      [
        "submit", "sweeps/p100_slurm.yaml", "--backend", "slurm", "--output-root", c.runs, "--array-parallelism", "2",
        "--sbatch-arg=--nice=0", "--json",
      ], env: env)
    XCTAssertEqual(submitted.code, 0, submitted.err)
    let submission = try JSONSerialization.jsonObject(with: Data(submitted.out.utf8)) as! [String: Any]
    let arrays = submission["arrays"] as! [[String: Any]]
    // The sources and the command in one array; the fine-tune in its own, after its source.
    XCTAssertEqual(arrays.count, 2, submitted.out)
    XCTAssertEqual((arrays[0]["jobs"] as! [Any]).count, 11)
    XCTAssertEqual((arrays[1]["jobs"] as! [Any]).count, 1)
    let first = arrays[0]["slurmJobID"] as! Int
    XCTAssertEqual(arrays[1]["dependency"] as? String, "afterok:\(first)_0")
    let script = try String(contentsOfFile: arrays[0]["script"] as! String, encoding: .utf8)
    XCTAssertTrue(script.contains("#SBATCH --array=0-10%2"), script)
    XCTAssertTrue(script.contains("#SBATCH --cpus-per-task=1"), script)
    XCTAssertTrue(script.contains("slurm-task --manifest"), script)

    // Collect until everything ended (orch collect, not the daemon: none runs).
    try c.waitUntil("SLURM ran the sweep", timeout: 300) {
      XCTAssertEqual(try c.run(["collect"], env: env).code, 0)
      let states = try c.states(sweep: "p100_slurm")
      return states.count == 12 && states.values.allSatisfy { ["COMPLETED", "FAILED"].contains($0) }
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.sock"), "no daemon was started")
    var rows = try keyed(c.historyRows())
    XCTAssertEqual(rows.filter { $0.value["state"] as? String == "COMPLETED" }.count, 11)
    XCTAssertEqual(rows["flaky"]?["state"] as? String, "FAILED")
    XCTAssertEqual(rows["flaky"]?["exitCode"] as? Int, 1)
    for row in rows.values { XCTAssertEqual(row["backend"] as? String, "slurm") }

    // The fine-tune ran after its source, from its checkpoint.
    let sourceEnd = rows["src/seed0"]?["endTime"] as? Double ?? .infinity
    let tuneStart = rows["tune/seed0"]?["startTime"] as? Double ?? 0
    XCTAssertGreaterThanOrEqual(tuneStart, sourceEnd.rounded(.down))
    XCTAssertTrue(c.read("runs/tune/seed0/log.txt").contains("initialised the backbone from"))
    XCTAssertTrue(
      c.read("runs/tune/seed0/config.json").contains(c.runs + "/src/seed0/checkpoints/ckpt-E001.safetensors"))

    // Collecting again changes nothing: same summary of nothing, same rows, same metrics.
    let before = try snapshot(c, env: env, rows: rows)
    let again = try c.run(["collect", "--json"], env: env)
    XCTAssertEqual(again.code, 0, again.err)
    let summary = try JSONSerialization.jsonObject(with: Data(again.out.utf8)) as! [String: Int]
    XCTAssertEqual(summary, ["jobs": 0, "changed": 0, "events": 0])
    XCTAssertEqual(try snapshot(c, env: env, rows: rows), before)

    // The failed element is retried through SLURM alone: a new array of that one element.
    FileManager.default.createFile(atPath: flag, contents: nil)
    let retry = try c.run(["retry", "--failed", "--sweep", "p100_slurm"], env: env)
    XCTAssertEqual(retry.code, 0, retry.err)
    XCTAssertTrue(retry.out.contains("requeued 1 job(s) as SLURM job"), retry.out)
    try c.waitUntil("the retry completed", timeout: 120) {
      try keyed(c.historyRows())["flaky"]?["state"] as? String == "COMPLETED"
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.sock"), "no daemon was started")
    rows = try keyed(c.historyRows())
    XCTAssertEqual(rows["flaky"]?["attempt"] as? Int, 2)
    let display = try XCTUnwrap(rows["flaky"]?["display"] as? String)
    let attempts = try c.run(["history", "-j", display, "--attempts", "--json"], env: env)
    let tries = try JSONSerialization.jsonObject(with: Data(attempts.out.utf8)) as! [[String: Any]]
    XCTAssertEqual(tries.map { $0["state"] as? String }, ["FAILED", "COMPLETED"])
    XCTAssertNotEqual(rows["flaky"]?["slurmID"] as? String, before.slurmIDs["flaky"])
    // Nothing else ran again.
    for (key, row) in rows where key != "flaky" { XCTAssertEqual(row["attempt"] as? Int, 1, key) }

    // The same sweep through the local daemon, same seeds: the same metrics, value for value.
    let local = try Cluster("slurmlocal")
    try local.write("sweeps/p100_slurm.yaml", Self.sweep(flag: flag))
    try local.startDaemon()
    let r = try local.run(["submit", "sweeps/p100_slurm.yaml", "--output-root", local.runs, "--wait"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    let localRows = try keyed(local.historyRows())
    var compared = 0
    for (key, row) in rows where key != "flaky" {
      let viaSlurm = try metrics(c, row, env: env)
      let viaDaemon = try metrics(local, try XCTUnwrap(localRows[key]), env: [:])
      XCTAssertFalse(viaSlurm.isEmpty, key)
      XCTAssertEqual(viaSlurm, viaDaemon, key)
      compared += 1
    }
    XCTAssertEqual(compared, 11)
  }

  func testARunningDaemonCollectsSlurmJobsByItself() throws {
    let slurm = try RealSlurm.find()
    let c = try Cluster()
    try c.write(
      "sweeps/pi.yaml",
      """
      register:
        - key: "pi/{i}"
          command: [/bin/sh, -c, 'echo "$0" >&3', '{{"type":"done","metrics":{{"i":{i}}}}}']
          axes: {i: range(0, 3)}
      """)
    try c.startDaemon(env: slurm.env.merging(["ORCH_SLURM_COLLECT_INTERVAL": "0.5"]) { a, _ in a })
    let r = try c.run(["submit", "sweeps/pi.yaml", "--backend", "slurm", "--output-root", c.runs], env: slurm.env)
    XCTAssertEqual(r.code, 0, r.err)
    // `orch results` only reads the store (queue and history would collect themselves).
    try c.waitUntil("the daemon collected every element", timeout: 120) {
      let out = try c.run(["results", "pi", "--json"]).out
      let rows = (try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
      return rows.count == 3 && rows.allSatisfy { $0["state"] as? String == "COMPLETED" }
    }
    let out = try c.run(["results", "pi", "--json"]).out
    let rows = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [[String: Any]]
    XCTAssertEqual(
      rows.compactMap { $0["metric:i"] as? Double }.sorted(), [0, 1, 2], out)
  }

  func testWaitCollectsUntilEveryElementEndedAndFailsIfOneFailed() throws {
    let slurm = try RealSlurm.find()
    let c = try Cluster()
    try c.write(
      "sweeps/exits.yaml",
      """
      register:
        - key: "exit/{code}"
          command: [/bin/sh, -c, "exit {code}"]
          axes: {code: [0, 3]}
          resources: {time: "5:00", mem: 100M}
      """)
    let r = try c.run(
      ["submit", "sweeps/exits.yaml", "--backend", "slurm", "--output-root", c.runs, "--wait"], env: slurm.env)
    XCTAssertEqual(r.code, 1, r.out + r.err)
    XCTAssertTrue(r.out.contains("1 completed, 1 not completed"), r.out)
    let rows = try keyed(c.historyRows())
    XCTAssertEqual(rows["exit/0"]?["state"] as? String, "COMPLETED")
    XCTAssertEqual(rows["exit/3"]?["state"] as? String, "FAILED")
    XCTAssertEqual(rows["exit/3"]?["exitCode"] as? Int, 3)
    // The sweep's resources became the array's directives.
    let script = try String(contentsOfFile: try XCTUnwrap(Self.scripts(c.home).first), encoding: .utf8)
    XCTAssertTrue(script.contains("#SBATCH --time=0-00:05:00\n"), script)
    XCTAssertTrue(script.contains("#SBATCH --mem=100M\n"), script)
  }

  static func scripts(_ home: String) -> [String] {
    let root = home + "/slurm"
    let dirs = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
    return dirs.sorted().flatMap { d in
      ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + d)) ?? []).filter { $0.hasSuffix(".sbatch") }
        .sorted().map { root + "/" + d + "/" + $0 }
    }
  }

  func testCancelScancelsRunningAndPendingElements() throws {
    let slurm = try RealSlurm.find()
    let c = try Cluster()
    try c.write(
      "sweeps/naps.yaml",
      """
      register:
        - key: "nap/{i}"
          command: [/bin/sleep, "300"]
          axes: {i: range(0, 3)}
      """)
    let r = try c.run(
      ["submit", "sweeps/naps.yaml", "--backend", "slurm", "--array-parallelism", "1", "--output-root", c.runs],
      env: slurm.env)
    XCTAssertEqual(r.code, 0, r.err)
    try c.waitUntil("one element runs", timeout: 60) {
      try c.states(sweep: "naps").values.contains("RUNNING")
    }
    let rows = try keyed(c.historyRows())
    let array = try XCTUnwrap((rows["nap/0"]?["slurmID"] as? String)?.split(separator: "_").first)
    // orch's scancel companion reaches the real SLURM too.
    let one = try c.run(["scancel", try XCTUnwrap(rows["nap/2"]?["display"] as? String)], env: slurm.env)
    XCTAssertEqual(one.code, 0, one.err)
    XCTAssertEqual(try keyed(c.historyRows())["nap/2"]?["state"] as? String, "CANCELLED")
    let cancel = try c.run(["cancel", "--sweep", "naps"], env: slurm.env)
    XCTAssertEqual(cancel.code, 0, cancel.err)
    XCTAssertTrue(cancel.out.contains("cancelled 2 SLURM job(s)"), cancel.out)
    XCTAssertEqual(Set(try c.states(sweep: "naps").values), ["CANCELLED"])
    // SLURM has nothing of that array left to run.
    try c.waitUntil("SLURM ended the array", timeout: 60) {
      let q = try runProgram("/usr/bin/squeue", ["-h", "-j", String(array)], cwd: "/", env: slurm.env)
      return q.out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    }
    XCTAssertEqual(Set(try c.states(sweep: "naps").values), ["CANCELLED"])
  }

  func keyed(_ rows: [[String: Any]]) throws -> [String: [String: Any]] {
    var out: [String: [String: Any]] = [:]
    for var row in rows {
      let id = row["arrayID"] as! Int
      let index = row["arrayIndex"] as? Int
      row["display"] = index.map { "\(id)_\($0)" } ?? "\(id)"
      out[row["key"] as! String] = row
    }
    return out
  }

  /// A job's metrics without the throughput one (wall-clock, differs run to run).
  func metrics(_ c: Cluster, _ row: [String: Any], env: [String: String]) throws -> [String] {
    let r = try c.run(["metrics", row["display"] as! String, "--json"], env: env)
    let list = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [[String: Any]]
    return list.filter { $0["name"] as? String != "samples_per_s" }.map { m in
      "\(m["name"]!) e\(m["epoch"] ?? "-") s\(m["step"] ?? "-") final=\(m["final"]!) \(m["value"]!)"
    }
  }

  struct Snapshot: Equatable {
    var history: String
    var attempts: String
    var metrics: [String: [String]]
    var slurmIDs: [String: String]
  }

  func snapshot(_ c: Cluster, env: [String: String], rows: [String: [String: Any]]) throws -> Snapshot {
    var metrics: [String: [String]] = [:]
    var ids: [String: String] = [:]
    for (key, row) in rows {
      metrics[key] = try self.metrics(c, row, env: env)
      ids[key] = row["slurmID"] as? String
    }
    let all = rows.values.map { $0["display"] as! String }.sorted()
    return Snapshot(
      history: try c.run(["history", "--json"], env: env).out,
      attempts: try c.run(["history", "--attempts", "--json", "-j"] + all, env: env).out, metrics: metrics,
      slurmIDs: ids)
  }
}
