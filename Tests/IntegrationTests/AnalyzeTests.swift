import Foundation
import XCTest

/// `orch analyze` through the real binaries: interpolation queues evaluation jobs for the daemon
/// and reads their metrics back; the other analyses read a real sweep's results.
final class AnalyzeTests: XCTestCase {
  func testInterpolateQueuesEvaluationsOnceAndItsEndpointsAreTheModels() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p100_src.yaml",
      """
      register:
        - key: "src/seed{train.seed}"
          engine: train
          bindings: {data.name: digits, model.arch: mlp, model.width: 32, train.epochs: 2}
          axes: {train.seed: range(0, 2)}
      """)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps", "--output-root", c.runs, "--wait"]).code, 0)
    let plot = c.root.appendingPathComponent("plots/i.svg").path
    let r = try c.run(["analyze", "interpolate", "src/seed0", "src/seed1", "--points", "5", "--json", "--plot", plot])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertTrue(r.err.contains("queued 5 evaluation(s)"), r.err)
    let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
    let rows = report["rows"] as! [[String: Double]]
    XCTAssertEqual(rows.map { $0["alpha"]! }, [0, 0.25, 0.5, 0.75, 1])
    // α = 0 and 1 are each model, evaluated exactly as its own last epoch.
    let results = try c.run(["results", "p100_src", "--json"]).out
    let models = try JSONSerialization.jsonObject(with: Data(results.utf8)) as! [[String: Any]]
    func final(_ key: String, _ metric: String) -> Double? {
      models.first { $0["key"] as? String == key }?[metric] as? Double
    }
    XCTAssertEqual(rows[0]["test_loss"], final("src/seed0", "test_loss"))
    XCTAssertEqual(rows[4]["test_acc"], final("src/seed1", "test_acc"))
    // The barrier is the largest rise above the line between the endpoints.
    let summary = report["summary"] as! [String: Double]
    let l0 = rows[0]["test_loss"]!
    let l1 = rows[4]["test_loss"]!
    let expected = rows.map { $0["test_loss"]! - ((1 - $0["alpha"]!) * l0 + $0["alpha"]! * l1) }.max()!
    XCTAssertEqual(summary["loss_barrier"]!, expected, accuracy: 1e-12)
    XCTAssertGreaterThanOrEqual(summary["loss_barrier"]!, 0)
    XCTAssertTrue(FileManager.default.fileExists(atPath: plot))
    // The evaluations are jobs of sweep `interpolate`; asking again queues nothing.
    XCTAssertEqual(try c.states(sweep: "interpolate").count, 5)
    let again = try c.run(["analyze", "interpolate", "src/seed0", "src/seed1", "--points", "5", "--csv", "--no-plot"])
    XCTAssertEqual(again.code, 0, again.err)
    XCTAssertFalse(again.err.contains("queued"), again.err)
    XCTAssertEqual(again.out.split(separator: "\n").first, "alpha,test_loss,test_acc")
    XCTAssertEqual(try c.states(sweep: "interpolate").count, 5)
  }

  func testInterpolatingAModelThatIsNotInTheStoreQueuesNothing() throws {
    let c = try Cluster()
    let r = try c.run(["analyze", "interpolate", "train/nowhere/seed0", "train/nowhere/seed1", "--no-wait"])
    XCTAssertEqual(r.code, 2, r.err)
    XCTAssertTrue(r.err.contains("'train/nowhere/seed0', which is neither in this submission nor in the store"), r.err)
    XCTAssertEqual(try c.states(), [:])
    let bad = try c.run(["analyze", "block-shuffle", "p200_nothing"])
    XCTAssertEqual(bad.code, 2)
    XCTAssertTrue(bad.err.contains("no jobs in sweep 'p200_nothing'"), bad.err)
  }

  func testBlockShuffleAndTrajectoryReadARealSweep() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p100_source.yaml",
      """
      register:
        - key: src
          engine: train
          bindings: {data.name: digits, model.arch: mlp, model.width: 32, train.epochs: 2, train.checkpoint_every: 1}
      """)
    try c.write(
      "sweeps/p200_wit.yaml",
      """
      register:
        - key: "train/{init}/blk{data.block_shuffle}"
          engine: train
          bindings: {data.name: digits, model.arch: mlp, model.width: 32, train.epochs: 1, init: randinit}
          axes:
            - init: [randinit, finetune]
            - data.block_shuffle: [0, 4]
          when:
            - if: {init: finetune}
              set: {train.finetune_from: "src@final"}
        - key: "ckpt/E{ckpt}"
          engine: train
          bindings: {data.name: digits, model.arch: mlp, model.width: 32, train.epochs: 1}
          axes:
            - zip: {ckpt: [0, 1], train.finetune_from: ["src@E000", "src@E001"]}
      """)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/p100_source.yaml", "--output-root", c.runs]).code, 0)
    let s = try c.run(["submit", "sweeps/p200_wit.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(s.code, 0, s.out + s.err)
    let blocks = try c.run(["analyze", "block-shuffle", "p200_wit", "--csv", "--no-plot"])
    XCTAssertEqual(blocks.code, 0, blocks.err)
    let lines = blocks.out.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    XCTAssertEqual(lines.count, 3, blocks.out)
    XCTAssertEqual(lines[1][1], "4")
    XCTAssertEqual(lines[2][1], "none")
    // One random-init and one fine-tuned run per block; the trajectory runs are not among them.
    XCTAssertEqual(lines[1][4], "1.0")
    XCTAssertEqual(lines[2][7], "1.0")
    let trajectory = try c.run(["analyze", "trajectory", "p200_wit", "--json", "--plot", c.root.path + "/t.svg"])
    XCTAssertEqual(trajectory.code, 0, trajectory.err)
    let rows =
      (try JSONSerialization.jsonObject(with: Data(trajectory.out.utf8)) as! [String: Any])["rows"] as! [[String: Any]]
    XCTAssertEqual(rows.map { "\($0["source_epoch"]!)" }, ["randinit", "0", "1", "2"])
    XCTAssertTrue(trajectory.err.contains("plot: \(c.root.path)/t.svg"), trajectory.err)
  }

  func testEffectiveRobustnessPairsTheEvaluationsOfEachCheckpoint() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p300_er.yaml",
      """
      x-mlp: &mlp {data.name: digits, model.arch: mlp, model.width: 32, shift.tint: 0.9, train.checkpoint_every: 1}
      register:
        - key: "scratch/seed{train.seed}"
          engine: train
          bindings: {<<: *mlp, train.epochs: 2}
          axes: {train.seed: range(0, 2)}
        - key: ft
          engine: train
          bindings: {<<: *mlp, train.epochs: 1, train.finetune_from: "scratch/seed0@final"}
        - key: "ev/scratch{s}/E{e}/{set}"
          engine: eval
          bindings: {eval.checkpoint: "scratch/seed{s}@E{e}"}
          axes:
            - s: [0, 1]
            - e: [1, 2]
            - list: [{set: id}, {set: tint, shift.tint_test: 0.0}, {set: vflip, shift.vflip: true}]
        - key: "ev/ft/{set}"
          engine: eval
          bindings: {eval.checkpoint: "ft@final"}
          axes:
            - list: [{set: id}, {set: tint, shift.tint_test: 0.0}, {set: vflip, shift.vflip: true}]
      """)
    try c.startDaemon()
    let s = try c.run(["submit", "sweeps", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(s.code, 0, s.out + s.err)
    let plot = c.root.path + "/er.svg"
    let r = try c.run(["analyze", "effective-robustness", "p300_er", "--json", "--plot", plot])
    XCTAssertEqual(r.code, 0, r.err)
    let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
    let rows = report["rows"] as! [[String: Any]]
    // 4 baseline checkpoints and the fine-tuned model, per shift.
    XCTAssertEqual(rows.count, 10, r.out)
    let ft = rows.filter { $0["model"] as? String == "fine-tuned" }
    XCTAssertEqual(ft.map { $0["shift"] as! String }, ["tint", "vflip"])
    for row in ft {
      XCTAssertEqual(row["key"] as? String, "ft")
      let er = row["er"] as! Double
      XCTAssertLessThan(row["er_low"] as! Double, er)
      XCTAssertGreaterThan(row["er_high"] as! Double, er)
    }
    let summary = report["summary"] as! [String: Double]
    XCTAssertEqual(summary["tint_baseline_n"], 4)
    XCTAssertNotNil(summary["vflip_a"])
    XCTAssertTrue(FileManager.default.fileExists(atPath: plot))
    let one = try c.run([
      "analyze", "effective-robustness", "p300_er", "--shift", "vflip", "--link", "logit", "--csv", "--no-plot",
    ])
    XCTAssertEqual(one.code, 0, one.err)
    XCTAssertEqual(one.out.split(separator: "\n").count, 6, one.out)
    XCTAssertEqual(try c.run(["analyze", "effective-robustness", "p300_er", "--shift", "blur"]).code, 2)
  }
}

/// Class influences and the counterfactual through the real binaries, on the built-in digits.
final class InfluenceCommandTests: XCTestCase {
  func testInfluenceOrderDrivesTheCounterfactualAndBadOrdersOrKAreRejected() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p300_inf.yaml",
      """
      register:
        - key: "src/half{data.class_subset_seed}"
          engine: train
          bindings: {data.name: digits, model.arch: mlp, model.width: 16, train.epochs: 1, train.checkpoint_every: 0}
          axes: {data.class_subset_seed: range(0, 8)}
        - key: "tgt/half{half}"
          engine: train
          bindings: {data.name: digits, model.arch: mlp, model.width: 16, train.epochs: 1, train.transfer: FIXED,
                     train.finetune_from: "src/half{half}@final"}
          axes: {half: range(0, 8)}
      """)
    try c.startDaemon()
    let s = try c.run(["submit", "sweeps/p300_inf.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(s.code, 0, s.out + s.err)
    let out = c.root.path + "/influence"
    let r = try c.run(["analyze", "influence", "p300_inf", "--target", "digits", "--out", out, "--csv", "--no-plot"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(r.out.split(separator: "\n").count, 11, r.out)
    let order = c.read("influence/order.csv").split(separator: "\n")
    XCTAssertEqual(order.count, 11)
    XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/influence.npy"))

    func derive(_ extra: [String]) throws -> Cluster.Result {
      try c.run(
        ["derive", "counterfactual", "p300_inf", "--target", "digits", "--out", "sweeps/p310_cf.yaml", "--force"]
          + extra)
    }
    try c.write("short.csv", order.prefix(6).joined(separator: "\n") + "\n")
    var bad = try derive(["--order", "short.csv", "--k", "2"])
    XCTAssertEqual(bad.code, 2, bad.err)
    XCTAssertTrue(bad.err.contains("lists 5 classes (5 distinct); the source has 10"), bad.err)
    bad = try derive(["--order", out + "/order.csv", "--k", "2:10:4"])
    XCTAssertEqual(bad.code, 2, bad.err)
    XCTAssertTrue(bad.err.contains("K must be below 10"), bad.err)
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.sweeps + "/p310_cf.yaml"))

    let ok = try derive(["--order", out + "/order.csv", "--k", "2:4:2", "--remove", "top,bottom", "--seeds", "1"])
    XCTAssertEqual(ok.code, 0, ok.err)
    XCTAssertTrue(ok.out.hasPrefix("10 configs found"), ok.out)
    // The command line goes into a comment of the file: a newline in an argument stays escaped.
    let odd = out + "/ord\ner.csv"
    try FileManager.default.copyItem(atPath: out + "/order.csv", toPath: odd)
    let escaped = try derive(["--order", odd, "--k", "2:4:2", "--remove", "top,bottom", "--seeds", "1"])
    XCTAssertEqual(escaped.code, 0, escaped.err)
    XCTAssertTrue(c.read("sweeps/p310_cf.yaml").contains("/ord\\ner.csv --k"), c.read("sweeps/p310_cf.yaml"))
    let top = order[1].split(separator: ",")[1]
    let text = c.read("sweeps/p310_cf.yaml")
    XCTAssertTrue(text.contains("data.exclude_classes: [\(top)"), text)
    let cf = try c.run(["submit", "sweeps/p310_cf.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(cf.code, 0, cf.out + cf.err)
    let report = try c.run(["analyze", "counterfactual", "p310_cf", "--json", "--no-plot"])
    XCTAssertEqual(report.code, 0, report.err)
    let rows =
      (try JSONSerialization.jsonObject(with: Data(report.out.utf8)) as! [String: Any])["rows"] as! [[String: Any]]
    XCTAssertEqual(rows.map { "\($0["removal"]!)\($0["k"]!)" }, ["none0", "top2", "top4", "bottom2", "bottom4"])
  }
}
