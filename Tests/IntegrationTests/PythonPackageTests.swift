import Foundation
import XCTest

/// The Python package (`python/`) against the real binaries: jobs that report with it fill the
/// store as the worker protocol says, and its readers give what the CLI gives, also while the
/// daemon writes. The package is taken from the working tree (PYTHONPATH), never from an install.
final class PythonPackageTests: XCTestCase {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
  static var package: String { repository + "/python" }

  func python(_ c: Cluster, _ args: [String]) throws -> Cluster.Result {
    try c.execute("/usr/bin/env", ["python3"] + args, env: ["PYTHONPATH": Self.package])
  }

  /// The package's own tests: the lines it writes, silence outside orch, the examples.
  func testPackageUnitTests() throws {
    let c = try Cluster()
    let r = try python(c, ["-m", "unittest", "discover", "-s", Self.package + "/tests"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    XCTAssertTrue(r.err.contains("\nOK"), r.err)
  }

  /// Submits the PyTorch-style example (sweeps/demo/train_loop.py) as a command sweep of
  /// `lr` × `seed` (4 epochs) plus `extra`, and waits until every job has ended. The binding `group`
  /// keeps two such sweeps' configs apart (the same config would be skipped as done).
  func runLoopSweep(_ c: Cluster, name: String = "loop", extra: String = "") throws {
    try c.write(
      "sweeps/\(name).yaml",
      """
      register:
        - key: "\(name)/lr{lr}/seed{seed}"
          command: [python3, "\(Self.repository)/sweeps/demo/train_loop.py"]
          bindings: {epochs: 4, hidden: 4, group: \(name)}
          axes:
            - grid: {lr: [0.05, 0.2], seed: range(0, 2)}
      \(extra)
      """)
    let r = try c.run(
      ["submit", "sweeps/\(name).yaml", "--output-root", c.runs], env: ["PYTHONPATH": Self.package])
    XCTAssertEqual(r.code, 0, r.err)
    try c.waitUntil("the \(name) sweep ends", timeout: 120) {
      let states = try c.states(sweep: name)
      return !states.isEmpty && states.values.allSatisfy { !["PENDING", "RUNNING"].contains($0) }
    }
  }

  func testCommandSweepReportsIntoTheStore() throws {
    let c = try Cluster()
    try c.startDaemon()
    try runLoopSweep(c)
    let rows = try c.historyRows()
    XCTAssertEqual(rows.count, 4)
    XCTAssertEqual(Set(try c.states(sweep: "loop").values), ["COMPLETED"])
    let names = ["train_loss", "train_acc", "val_loss", "val_acc"]
    for (id, _) in try c.states(sweep: "loop") {
      let r = try c.run(["metrics", id, "--json"])
      XCTAssertEqual(r.code, 0, r.err)
      let metrics = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
      let perEpoch = metrics.filter { ($0["final"] as? Bool) == false }
      // Every epoch 1…4 (train.epochs came from the config's bindings via orch.config) reports each name.
      XCTAssertEqual(
        Set(perEpoch.map { "\($0["epoch"] as? Int ?? -1) \($0["name"] as? String ?? "")" }),
        Set((1...4).flatMap { e in names.map { "\(e) \($0)" } }), id)
      XCTAssertTrue(perEpoch.allSatisfy { ($0["step"] as? Int ?? 0) > 0 }, id)
      let final = metrics.filter { ($0["final"] as? Bool) == true }
      XCTAssertEqual(Set(final.compactMap { $0["name"] as? String }), ["test_loss", "test_acc"], id)
      XCTAssertTrue(final.allSatisfy { $0["epoch"] as? Int == 4 }, id)
    }
    // Checkpoints and artifacts are in the store with the files' sizes and hashes.
    let check = """
      import hashlib, os, orch
      db = orch.connect()
      rows = db.execute("SELECT job_id, epoch, path, bytes, sha256 FROM checkpoints ORDER BY job_id, epoch").fetchall()
      assert len(rows) == 16, rows
      for job, epoch, path, size, digest in rows:
          data = open(path, "rb").read()
          assert (len(data), hashlib.sha256(data).hexdigest()) == (size, digest), path
          assert path.endswith("/checkpoints/epoch%03d.json" % epoch), path
      artifacts = db.execute("SELECT name, path FROM artifacts").fetchall()
      assert sorted(n for n, _ in artifacts) == ["predictions"] * 4, artifacts
      assert all(os.path.exists(p) for _, p in artifacts)
      print("OK")
      """
    let r = try python(c, ["-c", check])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    // Long form from Python equals `orch metrics JOB --json` for every job.
    let parity = try python(c, [Self.package + "/tests/cli_parity.py", Cluster.binDir + "/orch", "metrics", "loop"])
    XCTAssertEqual(parity.code, 0, parity.out + parity.err)
    // `orch plot` draws what `orch.report` reported: one line per job (lr × seed), its points the
    // job's stored per-epoch val_acc.
    var stored: [[Double]] = []
    for (id, _) in try c.states(sweep: "loop") {
      let m = try c.run(["metrics", id, "--json"])
      let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(m.out.utf8)) as? [[String: Any]])
      stored.append(
        rows.filter { ($0["final"] as? Bool) == false && $0["name"] as? String == "val_acc" }
          .sorted { ($0["epoch"] as? Int ?? 0) < ($1["epoch"] as? Int ?? 0) }.compactMap { $0["value"] as? Double })
    }
    let svgPath = c.root.appendingPathComponent("loop.svg").path
    let plot = try c.run(["plot", "loop", "--metric", "val_acc", "--color", "lr", "-o", svgPath])
    XCTAssertEqual(plot.code, 0, plot.err)
    let svg = try String(contentsOfFile: svgPath, encoding: .utf8)
    var drawn: [[Double]] = []
    for element in svg.components(separatedBy: "<polyline").dropFirst() {
      guard let start = element.range(of: " data-points=\""),
        let end = element[start.upperBound...].firstIndex(of: "\"")
      else { continue }
      let points = element[start.upperBound..<end].split(separator: ";").map {
        $0.split(separator: ",").compactMap { Double($0) }
      }
      XCTAssertEqual(points.map { $0[0] }, [1, 2, 3, 4])
      drawn.append(points.map { $0[1] })
    }
    XCTAssertEqual(drawn.count, 4, svg)
    XCTAssertEqual(drawn.map { $0.description }.sorted(), stored.map { $0.description }.sorted())
  }

  /// `orch.results` gives the rows of `orch results SWEEP --json`: sweep, key, job, state, the
  /// varying bindings, the final metrics (null where a job has none), in that key order; with
  /// `--params none` / a list; over several sweeps at once; and as a DataFrame when pandas is there.
  /// Needs the results command of issue 15 item 1.
  func testResultsEqualTheCLIsJSON() throws {
    let c = try Cluster()
    try c.startDaemon()
    // A failed job (no final metrics) and a binding only one config has.
    try runLoopSweep(
      c,
      extra: """
          - key: "loop/broken"
            command: [sh, -c, "exit 3"]
            bindings: {lr: 0.5, seed: 0, note: only-here}
        """)
    try runLoopSweep(c, name: "other")
    XCTAssertEqual(try c.states(sweep: "loop").values.filter { $0 == "FAILED" }.count, 1)
    // Engine jobs: dotted binding names, learning rates that must keep their digits.
    try c.write(
      "sweeps/tiny.yaml",
      """
      defaults:
        bindings: {data.name: digits, model.width: 16, train.epochs: 1, train.batch_size: 64}
      register:
        - key: "tiny/lr{optimizer.base_lr}/seed{train.seed}"
          engine: train
          axes:
            - grid: {optimizer.base_lr: [0.02, 0.05], train.seed: range(0, 2)}
      """)
    XCTAssertEqual(try c.run(["submit", "sweeps/tiny.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the tiny sweep ends", timeout: 300) {
      let states = try c.states(sweep: "tiny")
      return states.count == 4 && states.values.allSatisfy { $0 == "COMPLETED" }
    }
    // Not "tiny" with the others: its final metric `lr` would share a column name with their binding.
    for sweeps in [["loop", "other"], ["tiny"]] {
      let r = try python(c, [Self.package + "/tests/cli_parity.py", Cluster.binDir + "/orch", "results"] + sweeps)
      XCTAssertEqual(r.code, 0, r.out + r.err)
    }
  }

  /// Python reads results, metrics and jobs in a loop while the daemon runs a sweep whose jobs
  /// report every few milliseconds: every read is a consistent snapshot and none fails.
  func testReadingTheStoreWhileTheDaemonRunsASweep() throws {
    let c = try Cluster()
    try c.write(
      "report.py",
      """
      import time, orch
      cfg = orch.config()
      for epoch in range(1, 41):
          orch.report(epoch=epoch, step=10 * epoch, loss=cfg["lr"] / epoch, acc=epoch / 40)
          time.sleep(0.02)
      orch.done(final_loss=cfg["lr"] / 40)
      """)
    try c.write(
      "sweeps/live.yaml",
      """
      register:
        - key: "live/lr{lr}/seed{seed}"
          command: [python3, "report.py"]
          axes:
            - grid: {lr: [0.1, 0.3, 0.7], seed: range(0, 3)}
      """)
    try c.startDaemon()
    let r = try c.run(["submit", "sweeps/live.yaml", "--output-root", c.runs], env: ["PYTHONPATH": Self.package])
    XCTAssertEqual(r.code, 0, r.err)
    let read = try python(c, [Self.package + "/tests/read_while_running.py", "live", "9", "40"])
    XCTAssertEqual(read.code, 0, read.out + read.err)
    // The daemon kept working through the reads.
    XCTAssertEqual(Set(try c.states(sweep: "live").values), ["COMPLETED"])
  }

  /// sweeps/train_loop.yaml and sweeps/pi.yaml load, and their scripts import the package.
  func testExampleSweepsLoad() throws {
    let c = try Cluster()
    let loop = try c.run(["configs", "^loop/", "--sweeps", Self.repository + "/sweeps/train_loop.yaml"])
    XCTAssertEqual(loop.code, 0, loop.err)
    XCTAssertTrue(loop.out.hasPrefix("8 configs found"), loop.out)
    let pi = try c.run(["configs", "^pi/", "--sweeps", Self.repository + "/sweeps/pi.yaml"])
    XCTAssertEqual(pi.code, 0, pi.err)
    for script in ["sweeps/demo/train_loop.py", "sweeps/demo/estimate_pi.py"] {
      let text = try String(contentsOfFile: Self.repository + "/" + script, encoding: .utf8)
      XCTAssertTrue(text.contains("import orch"), script)
    }
  }
}
