import Foundation
import XCTest

/// The select step through the daemon: tune runs, then a copy that waits for all of them and
/// trains with the best one's learning rate; a candidate naming nothing is bad input.
final class SelectStepTests: XCTestCase {
  func testACopySelectsTheBetterTuneRunsLearningRateAfterBothRan() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p100_tune.yaml",
      """
      x-mlp: &mlp {data.name: digits, model.arch: mlp, model.width: 32, train.epochs: 2, train.checkpoint_every: 0}
      register:
        - key: "tune/lr{optimizer.base_lr}"
          engine: train
          bindings: *mlp
          axes: {optimizer.base_lr: [0.00001, 0.1]}
        - key: "copy/seed{train.seed}"
          engine: train
          bindings:
            <<: *mlp
            select.from: ["tune/lr1e-05@final", "tune/lr0.1@final"]
            select.bindings: [optimizer.base_lr]
          axes: {train.seed: [1]}
      """)
    try c.startDaemon()
    let r = try c.run(["submit", "sweeps", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    let out = try c.run(["results", "p100_tune", "--json"]).out
    let rows = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [[String: Any]]
    func acc(_ key: String) -> Double? {
      rows.first { $0["key"] as? String == key }?["test_acc"] as? Double
    }
    let slow = try XCTUnwrap(acc("tune/lr1e-05"))
    let good = try XCTUnwrap(acc("tune/lr0.1"))
    XCTAssertGreaterThan(good, slow)
    XCTAssertNotNil(acc("copy/seed1"))

    // The copy trained with the better run's learning rate and recorded which run that was.
    let resolved =
      try JSONSerialization.jsonObject(with: Data(c.read("runs/copy/seed1/resolved_config.json").utf8))
      as! [String: Any]
    XCTAssertEqual((resolved["bindings"] as! [String: Any])["optimizer.base_lr"] as? Double, 0.1)
    let selected = resolved["selected"] as! [String: Any]
    XCTAssertEqual(selected["checkpoint"] as? String, c.runs + "/tune/lr0.1/checkpoints/ckpt-E002.safetensors")
    // Within an ulp or so: the two went through different JSON number parsers.
    XCTAssertEqual(try XCTUnwrap(selected["value"] as? Double), good, accuracy: 1e-12)
    XCTAssertTrue(c.read("runs/copy/seed1/config.json").contains(c.runs + "/tune/lr1e-05/checkpoints/ckpt-E002"))
    let history = try c.historyRows()
    let tuneEnd = history.filter { ($0["key"] as? String)?.hasPrefix("tune/") == true }.map {
      $0["endTime"] as? Double ?? .infinity
    }
    XCTAssertEqual(tuneEnd.count, 2)
    let copy = try XCTUnwrap(history.first { $0["key"] as? String == "copy/seed1" })
    XCTAssertGreaterThanOrEqual(copy["startTime"] as? Double ?? 0, tuneEnd.max()!)
    // The choice is in the job's metrics too.
    let id = "\(copy["arrayID"]!)_\(copy["arrayIndex"]!)"
    let metrics = try c.run(["metrics", id, "--json"])
    XCTAssertTrue(metrics.out.contains("select_index"), metrics.out + metrics.err)
  }

  func testASelectCandidateNamingAnUnknownKeyQueuesNothing() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p100_tune.yaml",
      """
      register:
        - key: tune
          engine: train
          bindings: {data.name: digits, model.arch: mlp, train.epochs: 1}
        - key: copy
          engine: train
          bindings:
            data.name: digits
            select.from: ["tune@final", "tune-typo@final"]
            select.bindings: [optimizer.base_lr]
        - key: copy-epoch
          engine: train
          bindings: {data.name: digits, select.from: ["tune@E007"], select.bindings: [optimizer.base_lr]}
      """)
    let r = try c.run(["submit", "sweeps", "--output-root", c.runs, "--no-daemon"])
    XCTAssertEqual(r.code, 2, r.out + r.err)
    XCTAssertTrue(r.err.contains("p100_tune.yaml:5:"), r.err)
    XCTAssertTrue(
      r.err.contains("select.from[1] names 'tune-typo', which is neither in this submission nor in the store"), r.err)
    XCTAssertEqual(try c.states(), [:])
    let epoch = try c.run([
      "submit", "sweeps", "--output-root", c.runs, "--no-daemon", "--match", "^(tune|copy-epoch)$",
    ])
    XCTAssertEqual(epoch.code, 2, epoch.out + epoch.err)
    XCTAssertTrue(epoch.err.contains("select.from[0] 'tune@E007': 'tune' has no epoch E007"), epoch.err)
    XCTAssertEqual(try c.states(), [:])
  }
}
