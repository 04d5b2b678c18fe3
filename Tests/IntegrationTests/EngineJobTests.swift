import Foundation
import XCTest

/// Engine jobs beside command jobs: the daemon runs `orch-worker engine` pinned, and the trainer's
/// events land in the store.
final class EngineJobTests: XCTestCase {
  func testEngineSweepTrainsThroughTheDaemonAndReportsIntoTheStore() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/digits.yaml",
      """
      register:
        - key: "digits/mlp/seed{train.seed}"
          engine: train
          bindings: {data.name: digits, model.arch: mlp, train.epochs: 2, train.checkpoint_every: 1}
          axes: {train.seed: range(0, 2)}
      """)
    try c.startDaemon()
    let r = try c.run(["submit", "sweeps/digits.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    let results = try c.run(["results", "digits", "--json"])
    let rows = try JSONSerialization.jsonObject(with: Data(results.out.utf8)) as! [[String: Any]]
    XCTAssertEqual(rows.count, 2)
    for row in rows {
      let acc = (row["metrics"] as! [String: Double])["test_acc"] ?? 0
      XCTAssertGreaterThan(acc, 0.8, "\(row)")
    }
    for epoch in ["E000", "E001", "E002"] {
      XCTAssertTrue(
        FileManager.default.fileExists(atPath: c.runs + "/digits/mlp/seed0/checkpoints/ckpt-\(epoch).safetensors"))
    }
    let curves = try c.run(["metrics", "1_0", "--csv"]).out
    XCTAssertTrue(curves.contains(",test_acc,"), curves)
  }

  func testUnknownEngineBindingIsBadInputWithASuggestion() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/typo.yaml",
      """
      register:
        - key: typo
          engine: train
          bindings: {optimizer.base_lrr: 0.1}
      """)
    let r = try c.run(["submit", "sweeps/typo.yaml"])
    XCTAssertEqual(r.code, 2)
    XCTAssertTrue(r.err.contains("typo.yaml:2:"), r.err)
    XCTAssertTrue(r.err.contains("did you mean 'optimizer.base_lr'"), r.err)
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.db"))
  }
}
