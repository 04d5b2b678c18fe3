import Foundation
import XCTest

/// `engine: eval` jobs: checkpoint references resolved at submission, scheduled by the daemon
/// after their sources, metrics and predictions stored like a training job's.
final class EvalJobTests: XCTestCase {
  func testEvalSweepWithAnInterpolationPairRunsAfterItsSourcesThroughTheDaemon() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p100_src.yaml",
      """
      register:
        - key: "src/seed{train.seed}"
          engine: train
          bindings: {data.name: digits, model.arch: mlp, model.width: 32, train.epochs: 2, train.checkpoint_every: 1}
          axes: {train.seed: range(0, 2)}
      """)
    try c.write(
      "sweeps/p200_eval.yaml",
      """
      register:
        - key: "eval/{at}"
          engine: eval
          axes:
            - list:
                - {at: start, eval.checkpoint: "src/seed0@E000"}
                - {at: latest, eval.checkpoint: "src/seed0@latest"}
        - key: "interp/a{eval.alpha}"
          engine: eval
          bindings: {eval.checkpoint: "src/seed0@final", eval.checkpoint_b: "src/seed1@final"}
          axes: {eval.alpha: [0.0, 0.5, 1.0]}
      """)
    try c.startDaemon()
    let r = try c.run(["submit", "sweeps", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    let states = try c.states()
    XCTAssertTrue(states.count == 7 && states.values.allSatisfy { $0 == "COMPLETED" }, "\(states)")

    let out = try c.run(["results", "sweeps", "--json", "--metrics", "all"]).out
    let rows = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [[String: Any]]
    let all = Dictionary(
      uniqueKeysWithValues: rows.map { ($0["key"] as! String, $0.compactMapValues { $0 as? Double }) })
    let src = all.filter { $0.key.hasPrefix("src/") }
    let evals = all.filter { !$0.key.hasPrefix("src/") }
    XCTAssertEqual(Set(evals.keys), ["eval/start", "eval/latest", "interp/a0.0", "interp/a0.5", "interp/a1.0"])
    for (key, m) in evals {
      XCTAssertNotNil(m["test_acc"], key)
      XCTAssertNotNil(m["test_loss"], key)
      XCTAssertNotNil(m["test_acc_class_0"], key)
      XCTAssertTrue(FileManager.default.fileExists(atPath: c.runs + "/\(key)/predictions.npy"), key)
    }
    XCTAssertNotEqual(evals["eval/start"]?["test_loss"], evals["eval/latest"]?["test_loss"])
    for (key, source) in [("eval/latest", "src/seed0"), ("interp/a0.0", "src/seed0"), ("interp/a1.0", "src/seed1")] {
      XCTAssertEqual(evals[key]?["test_loss"], src[source]?["test_loss"], key)
      XCTAssertEqual(evals[key]?["test_acc"], src[source]?["test_acc"], key)
    }
    XCTAssertEqual(evals["interp/a0.5"]?["alpha"], 0.5)
    let config = c.read("runs/interp/a0.5/config.json")
    XCTAssertTrue(config.contains(c.runs + "/src/seed1/checkpoints/ckpt-E002.safetensors"), config)

    // Evaluations start after their sources end.
    let history = try c.historyRows()
    let end =
      history.filter { ($0["key"] as? String)?.hasPrefix("src/") == true }.map { $0["endTime"] as? Double ?? 0 }
      .max() ?? .infinity
    for row in history where (row["key"] as? String)?.hasPrefix("interp/") == true {
      XCTAssertGreaterThanOrEqual(row["startTime"] as? Double ?? 0, end)
    }
    // The metrics rows are in the store.
    let id = history.first { ($0["key"] as? String) == "interp/a0.5" }.map { "\($0["arrayID"]!)_\($0["arrayIndex"]!)" }
    let curves = try c.run(["metrics", try XCTUnwrap(id), "--csv"]).out
    XCTAssertTrue(curves.contains(",test_acc,") && curves.contains(",alpha,"), curves)
  }

  /// A key that does not exist, an epoch the source never checkpoints (in this submission or in
  /// the store), a model binding in an eval config: exit 2 at the entry, nothing queued.
  func testBadReferencesAreRejectedAtSubmitWithNothingQueued() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p100_src.yaml",
      """
      register:
        - key: src
          engine: train
          bindings: {data.name: digits, model.arch: mlp, train.epochs: 4, train.checkpoint_every: 2}
      """)
    try c.write(
      "sweeps/p200_bad.yaml",
      """
      register:
        - key: nokey
          engine: eval
          bindings: {eval.checkpoint: "nowhere@E002"}
        - key: noepoch
          engine: eval
          bindings: {eval.checkpoint: "src@E002", eval.checkpoint_b: "src@E003", eval.alpha: 0.5}
        - key: model
          engine: eval
          bindings: {eval.checkpoint: "src@final", model.arch: cnn}
        - key: fromeval
          engine: eval
          bindings: {eval.checkpoint: "okeval@final"}
        - key: okeval
          engine: eval
          bindings: {eval.checkpoint: "src@final"}
        - key: nopath
          engine: eval
          bindings: {eval.checkpoint: "runs/src/checkpoints/ckpt-E004.safetensors"}
      """)
    let cases: [(String, [String])] = [
      (
        "^nokey$",
        ["p200_bad.yaml:2:", "eval.checkpoint names 'nowhere'", "neither in this submission nor in the store"]
      ),
      ("^(src|noepoch)$", ["p200_bad.yaml:5:", "eval.checkpoint_b 'src@E003'", "no epoch E003", "E000, E002, E004"]),
      ("^model$", ["p200_bad.yaml:8:", "'model.arch' does not apply to `engine: eval`"]),
      ("^(src|okeval|fromeval)$", ["p200_bad.yaml:11:", "'okeval' is an `engine: eval` config"]),
      (
        "^nopath$",
        ["p200_bad.yaml:17:", "eval.checkpoint 'runs/src/checkpoints/ckpt-E004.safetensors' does not exist"]
      ),
    ]
    for (match, mentions) in cases {
      let r = try c.run(["submit", "sweeps", "--match", match, "--no-daemon"])
      XCTAssertEqual(r.code, 2, match + ": " + r.err)
      for m in mentions { XCTAssertTrue(r.err.contains(m), "'\(m)' in: \(r.err)") }
      if FileManager.default.fileExists(atPath: c.home + "/orch.db") {
        XCTAssertEqual(try c.states(), [:], "nothing queued after \(match)")
      }
    }
    // With the source in the store, its checkpoints are checked the same way.
    XCTAssertEqual(try c.run(["submit", "sweeps", "--match", "^src$", "--no-daemon"]).code, 0)
    let r = try c.run(["submit", "sweeps", "--match", "^noepoch$", "--no-daemon"])
    XCTAssertEqual(r.code, 2, r.err)
    XCTAssertTrue(r.err.contains("no epoch E003"), r.err)
    XCTAssertEqual(try c.states().count, 1, "only the source is queued")
  }

  /// `orch run -k KEY` resolves `KEY@…` from the store as a submission does (no waiting).
  func testRunResolvesCheckpointReferencesFromTheStore() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p100_src.yaml",
      """
      register:
        - key: src
          engine: train
          bindings: {data.name: digits, model.arch: mlp, model.width: 32, train.epochs: 1}
        - key: "ft/{from}"
          engine: train
          bindings: {data.name: digits, model.arch: mlp, model.width: 32, train.epochs: 1}
          axes:
            - list:
                - {from: src, train.finetune_from: "src@final"}
                - {from: nothere, train.finetune_from: "nothere@final"}
      """)
    XCTAssertEqual(try c.run(["submit", "sweeps", "--match", "^src$", "--output-root", c.runs, "--wait"]).code, 0)
    let r = try c.run(["run", "-k", "ft/src", "--output-root", c.runs])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertTrue(c.read("runs/ft/src/config.json").contains(c.runs + "/src/checkpoints/ckpt-E001.safetensors"))
    let bad = try c.run(["run", "-k", "ft/nothere", "--output-root", c.runs])
    XCTAssertEqual(bad.code, 2, bad.err)
    XCTAssertTrue(bad.err.contains("names 'nothere', which is neither in this submission nor in the store"), bad.err)
  }
}
