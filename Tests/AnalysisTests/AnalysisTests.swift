import Engine
import Foundation
import GRDB
import Store
import XCTest

@testable import Analysis
@testable import OrchCore
@testable import Registry

/// The analyses on small fixture stores: jobs, final metrics and predictions written by hand, so
/// every figure in the tables is known in advance.
final class AnalysisTests: XCTestCase {
  var dir: String!
  var store: JobStore!
  var root: String { dir + "/runs" }

  override func setUpWithError() throws {
    dir = NSTemporaryDirectory() + "orch-analysis-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    store = try JobStore(path: dir + "/orch.db")
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

  struct Fixture {
    var key: String
    var engine = "train"
    var bindings: [String: Any]
    var state = "COMPLETED"
    var metrics: [String: Double] = [:]
    /// Per-epoch test_acc (not final).
    var curve: [Int: Double] = [:]
    /// Test logits [N, classes], written as the job's predictions.npy.
    var logits: [[Float]]? = nil
    /// Other per-example artifacts (name → float32 [N]), e.g. margins.
    var arrays: [String: [Float]] = [:]
  }

  /// One sweep of jobs, completed with their metrics and predictions.
  func add(sweep: String, _ jobs: [Fixture]) throws {
    let configs = try jobs.map { j -> String in
      let data = try JSONSerialization.data(
        withJSONObject: ["bindings": j.bindings, "engine": j.engine], options: [.sortedKeys])
      return String(decoding: data, as: UTF8.self)
    }
    let first = try store.submit(now: 1) { tx in
      try tx.insert(
        array: NewArray(
          sweep: sweep, name: sweep, source: "fixture", isArray: true, throttle: nil, launch: "{}", outputRoot: root),
        jobs: jobs.enumerated().map { i, j in
          NewJob(arrayIndex: i, key: j.key, configHash: "\(sweep)\(i)", config: configs[i], resources: JobResources())
        },
        dependencies: [])
    }
    try store.write("complete") { db in
      for (i, j) in jobs.enumerated() {
        let id = first + Int64(i)
        try db.execute(sql: "UPDATE jobs SET state = ?, attempt = 1 WHERE id = ?", arguments: [j.state, id])
        var seq = 0
        for (epoch, value) in j.curve.sorted(by: { $0.key < $1.key }) {
          seq += 1
          try db.execute(
            sql: "INSERT INTO metrics VALUES (?, 1, ?, 'test_acc', ?, 0, ?, 0)", arguments: [id, seq, value, epoch])
        }
        seq += 1
        for (name, value) in j.metrics {
          try db.execute(
            sql: "INSERT INTO metrics VALUES (?, 1, ?, ?, ?, NULL, NULL, 1)", arguments: [id, seq, name, value])
        }
        for (name, values) in j.arrays {
          let path = root + "/" + j.key + "/\(name).npy"
          try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
          try NPY.write(NDArray(shape: [values.count], float32: values), to: path)
          try db.execute(sql: "INSERT INTO artifacts VALUES (?, ?, 1, ?, 0)", arguments: [id, name, path])
        }
        if let logits = j.logits {
          let path = root + "/" + j.key + "/predictions.npy"
          try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
          try NPY.write(NDArray(shape: [logits.count, logits[0].count], float32: logits.flatMap { $0 }), to: path)
          try db.execute(
            sql: "INSERT INTO artifacts VALUES (?, 'predictions', 1, ?, 0)", arguments: [id, path])
        }
      }
    }
  }

  func checkpoint(_ key: String, _ epoch: Int) -> String {
    root + "/" + key + "/checkpoints/ckpt-E" + String(format: "%03d", epoch) + ".safetensors"
  }

  /// Logits that predict `classes[i]` for example i (3 classes).
  func predicting(_ classes: [Int]) -> [[Float]] {
    classes.map { c in (0..<3).map { $0 == c ? 1 : 0 } }
  }

  func row(_ report: Report, _ prefix: [String]) -> [Report.Cell]? {
    report.rows.first { row in
      zip(prefix, row).allSatisfy { want, cell in cell == .text(want) }
    }
  }

  func number(_ cell: Report.Cell?) -> Double? {
    if case .number(let v)? = cell { return v }
    return nil
  }

  // MARK: bias transfer

  func testBiasTransferRatesFollowTheModelAndItsSourceAcrossSweeps() throws {
    // Labels [0, 0, 1, 1, 2, 2]: a 3-class target.
    let data = dir + "/target"
    try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
    try NPY.write(NDArray(shape: [6], int64: [0, 0, 1, 1, 2, 2]), to: data + "/test_y.npy")
    try add(
      sweep: "sources",
      [Fixture(key: "src/square", bindings: ["data.name": "glyphs", "spurious.type": "square", "train.epochs": 2])])
    try add(
      sweep: "bias",
      [
        Fixture(
          key: "tgt/square-FIXED",
          bindings: [
            "data.name": data, "train.finetune_from": checkpoint("src/square", 2), "train.transfer": "FIXED",
          ], metrics: ["test_acc": 0.5], logits: predicting([0, 1, 1, 1, 2, 0])),
        Fixture(
          key: "ev/square-FIXED", engine: "eval",
          bindings: ["eval.checkpoint": checkpoint("tgt/square-FIXED", 40), "spurious.type": "square"],
          metrics: ["test_acc": 0.25], logits: predicting([2, 2, 2, 1, 2, 2])),
        Fixture(
          key: "tgt/scratch", bindings: ["data.name": data], metrics: ["test_acc": 0.75],
          logits: predicting([0, 0, 1, 0, 2, 2])),
        Fixture(
          key: "ev/scratch", engine: "eval",
          bindings: ["eval.checkpoint": checkpoint("tgt/scratch", 40), "spurious.type": "square"],
          metrics: ["test_acc": 0.75], logits: predicting([0, 0, 1, 0, 2, 2])),
        // Not patched: not part of the analysis.
        Fixture(
          key: "ev/plain", engine: "eval", bindings: ["eval.checkpoint": checkpoint("tgt/scratch", 40)],
          metrics: ["test_acc": 0.75], logits: predicting([0, 0, 1, 0, 2, 2])),
        Fixture(key: "tgt/failed", bindings: ["data.name": data], state: "FAILED"),
      ])
    let report = try BiasTransfer.report(AnalysisSet(store: store, sweep: "bias"))
    XCTAssertEqual(report.rows.count, 2, report.text())
    // Patched, class 2 takes 3 of the 4 images not of class 2; clean, none.
    let backdoored = try XCTUnwrap(row(report, [data, "square", "FIXED", "square"]), report.text())
    let columns = report.columns
    func value(_ r: [Report.Cell], _ name: String) -> Report.Cell { r[columns.firstIndex(of: name)!] }
    XCTAssertEqual(number(value(backdoored, "models")), 1)
    XCTAssertEqual(number(value(backdoored, "clean_acc")), 0.5)
    XCTAssertEqual(number(value(backdoored, "patched_acc")), 0.25)
    XCTAssertEqual(number(value(backdoored, "rate_clean")), 0)
    XCTAssertEqual(number(value(backdoored, "rate_patched")), 0.75)
    XCTAssertEqual(number(value(backdoored, "changed"))!, 4.0 / 6, accuracy: 1e-12)
    XCTAssertEqual(value(backdoored, "classes_c"), .text("2"))
    // The control: no source, the patch changes nothing; its most-pulled class is 0 (1 of 4).
    let control = try XCTUnwrap(row(report, [data, "clean", "none", "square"]), report.text())
    XCTAssertEqual(number(value(control, "rate_clean")), 0.25)
    XCTAssertEqual(number(value(control, "rate_patched")), 0.25)
    XCTAssertEqual(number(value(control, "changed")), 0)
    XCTAssertEqual(value(control, "classes_c"), .text("0"))
    XCTAssertTrue(report.notes.contains { $0.contains("1 FAILED") }, "\(report.notes)")
    XCTAssertEqual(report.charts.count, 1)
    // The same rows as CSV and JSON.
    XCTAssertTrue(report.csv().hasPrefix("target,source,transfer,patch,models,"), report.csv())
    let json = try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as! [String: Any]
    let rows = json["rows"] as! [[String: Any]]
    XCTAssertEqual(rows.count, 2)
    XCTAssertEqual(rows.first { $0["transfer"] as? String == "FIXED" }?["rate_patched"] as? Double, 0.75)
  }

  func testRatesCountOnlyImagesOfOtherClasses() {
    // Labels 0,1,2; predictions 1,1,1: class 1 takes both images not of class 1.
    let rates = BiasTransfer.rates(logits: predicting([1, 1, 1]).flatMap { $0 }, labels: [0, 1, 2], classes: 3)
    XCTAssertEqual(rates, [0, 1, 0])
  }

  func testAnUnknownSweepNamesTheSweepsInTheStore() throws {
    try add(sweep: "p100_source", [Fixture(key: "a", bindings: ["data.name": "digits"])])
    XCTAssertThrowsError(try AnalysisSet(store: store, sweep: "p100_sourc")) { error in
      let e = error as! OrchError
      XCTAssertEqual(e.exitCode, 2)
      XCTAssertTrue(e.description.contains("no jobs in sweep 'p100_sourc'"), e.description)
      XCTAssertTrue(e.description.contains("p100_source"), e.description)
    }
  }

  // MARK: what is transferred

  func whatIsTransferredFixture() throws {
    try add(
      sweep: "sources",
      [
        Fixture(
          key: "src", bindings: ["data.name": "glyphs", "train.epochs": 2], metrics: ["test_acc": 0.6],
          curve: [1: 0.2, 2: 0.6])
      ])
    func randinit(_ key: String, block: Int, _ acc: Double) -> Fixture {
      Fixture(key: key, bindings: ["data.name": "t", "data.block_shuffle": block], metrics: ["test_acc": acc])
    }
    func finetune(_ key: String, block: Int, epoch: Int, _ acc: Double) -> Fixture {
      Fixture(
        key: key,
        bindings: ["data.name": "t", "data.block_shuffle": block, "train.finetune_from": checkpoint("src", epoch)],
        metrics: ["test_acc": acc])
    }
    try add(
      sweep: "wit",
      [
        randinit("r0a", block: 0, 0.5), randinit("r0b", block: 0, 0.7), randinit("r4", block: 4, 0.3),
        finetune("f0a", block: 0, epoch: 2, 0.9), finetune("f0b", block: 0, epoch: 2, 0.8),
        finetune("f4", block: 4, epoch: 2, 0.6),
        // Along the trajectory: not a block-shuffle row.
        finetune("f0-e1", block: 0, epoch: 1, 0.4),
      ])
  }

  func testBlockShuffleComparesRandomInitWithFineTuningFromTheFinalCheckpoint() throws {
    try whatIsTransferredFixture()
    let report = try WhatIsTransferred.blockShuffle(AnalysisSet(store: store, sweep: "wit"))
    XCTAssertEqual(report.rows.map { $0[1] }, [.text("4"), .text("none")], report.text())
    let c = report.columns
    func v(_ r: [Report.Cell], _ name: String) -> Double? { number(r[c.firstIndex(of: name)!]) }
    let four = report.rows[0]
    XCTAssertEqual(v(four, "randinit_mean"), 0.3)
    XCTAssertEqual(v(four, "finetune_mean"), 0.6)
    XCTAssertEqual(v(four, "benefit")!, 0.3, accuracy: 1e-12)
    let none = report.rows[1]
    XCTAssertEqual(v(none, "randinit_mean")!, 0.6, accuracy: 1e-12)
    XCTAssertEqual(v(none, "randinit_sd")!, (0.02 as Double).squareRoot(), accuracy: 1e-12)
    XCTAssertEqual(v(none, "finetune_mean")!, 0.85, accuracy: 1e-12)
    XCTAssertEqual(v(none, "finetune_n"), 2)
    XCTAssertEqual(v(none, "benefit")!, 0.25, accuracy: 1e-12)
    XCTAssertEqual(report.charts.count, 1)
    XCTAssertEqual(report.charts[0].series.map(\.points.count), [2, 2])
  }

  func testTrajectoryGroupsFineTuningBySourceEpochWithTheSourcesOwnAccuracy() throws {
    try whatIsTransferredFixture()
    let report = try WhatIsTransferred.trajectory(AnalysisSet(store: store, sweep: "wit"))
    XCTAssertEqual(report.rows.map { $0[1] }, [.text("randinit"), .number(1), .number(2)], report.text())
    let c = report.columns
    func v(_ r: [Report.Cell], _ name: String) -> Double? { number(r[c.firstIndex(of: name)!]) }
    XCTAssertEqual(v(report.rows[0], "mean")!, 0.6, accuracy: 1e-12)
    XCTAssertEqual(v(report.rows[1], "mean"), 0.4)
    XCTAssertEqual(v(report.rows[1], "source_test_acc"), 0.2)
    XCTAssertEqual(v(report.rows[2], "mean")!, 0.85, accuracy: 1e-12)
    XCTAssertEqual(v(report.rows[2], "source_test_acc"), 0.6)
    XCTAssertEqual(v(report.rows[2], "benefit_over_randinit")!, 0.25, accuracy: 1e-12)
    XCTAssertEqual(report.rows[2][2], .text("src"))
  }

  // MARK: effective robustness

  func testEffectiveRobustnessFitsTheBaselinePerShiftAndScoresTheFineTunedModels() throws {
    let n = 200  // test-set size: the length of each evaluation's predictions
    let logits = [[Float]](repeating: [0, 0, 0], count: n)
    // Baseline checkpoints on an exact probit line for tint (a = 1, b = −0.5), scattered for vflip.
    let ids = [0.6, 0.7, 0.8, 0.9]
    let tint = ids.map { Normal.cdf(Normal.quantile($0) - 0.5) }
    let flip = [0.3, 0.42, 0.5, 0.66]
    let models = [("scratch/a", 10), ("scratch/a", 20), ("scratch/b", 10), ("scratch/b", 20)]
    var jobs: [Fixture] = [
      Fixture(key: "scratch/a", bindings: ["data.name": "digits_rgb", "train.epochs": 20]),
      Fixture(key: "scratch/b", bindings: ["data.name": "digits_rgb", "train.epochs": 20]),
      Fixture(
        key: "ft/0",
        bindings: ["data.name": "digits_rgb", "train.epochs": 20, "train.finetune_from": checkpoint("src", 5)]),
    ]
    func evals(_ name: String, _ path: String, id: Double, tint: Double, flip: Double) -> [Fixture] {
      [
        Fixture(
          key: "ev/\(name)/id", engine: "eval", bindings: ["eval.checkpoint": path], metrics: ["test_acc": id],
          logits: logits),
        Fixture(
          key: "ev/\(name)/tint", engine: "eval", bindings: ["eval.checkpoint": path, "shift.tint_test": 0.0],
          metrics: ["test_acc": tint], logits: logits),
        Fixture(
          key: "ev/\(name)/vflip", engine: "eval", bindings: ["eval.checkpoint": path, "shift.vflip": true],
          metrics: ["test_acc": flip], logits: logits),
      ]
    }
    for (i, (key, epoch)) in models.enumerated() {
      jobs += evals("\(key)/E\(epoch)", checkpoint(key, epoch), id: ids[i], tint: tint[i], flip: flip[i])
    }
    // The fine-tuned model: 5 points above the tint line.
    let ftTint = Normal.cdf(Normal.quantile(0.75) - 0.5) + 0.05
    jobs += evals("ft/0", checkpoint("ft/0", 20), id: 0.75, tint: ftTint, flip: 0.6)
    // Not part of it: another override, an interpolation, a test p other than 0.
    jobs += [
      Fixture(
        key: "ev/patched", engine: "eval",
        bindings: ["eval.checkpoint": checkpoint("ft/0", 20), "spurious.type": "square"],
        metrics: ["test_acc": 0.1], logits: logits),
      Fixture(
        key: "ev/interp", engine: "eval",
        bindings: ["eval.checkpoint": checkpoint("ft/0", 20), "eval.checkpoint_b": checkpoint("scratch/a", 20)],
        metrics: ["test_acc": 0.1], logits: logits),
      Fixture(
        key: "ev/half", engine: "eval", bindings: ["eval.checkpoint": checkpoint("ft/0", 20), "shift.tint_test": 0.5],
        metrics: ["test_acc": 0.1], logits: logits),
    ]
    try add(sweep: "er", jobs)
    let set = try AnalysisSet(store: store, sweep: "er")
    let report = try EffectiveRobustnessAnalysis.report(set, shifts: [.tint, .vflip], link: .probit)
    let summary = Dictionary(report.summary.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    XCTAssertEqual(summary["tint_a"]!, 1, accuracy: 1e-9, report.text())
    XCTAssertEqual(summary["tint_b"]!, -0.5, accuracy: 1e-9)
    XCTAssertEqual(summary["tint_baseline_n"], 4)
    XCTAssertEqual(report.rows.count, 10, report.text())
    let columns = report.columns
    func value(_ r: [Report.Cell], _ name: String) -> Double? { number(r[columns.firstIndex(of: name)!]) }
    let ft = try XCTUnwrap(row(report, ["tint", "fine-tuned", "ft/0"]))
    XCTAssertEqual(value(ft, "epoch"), 20)
    XCTAssertEqual(value(ft, "er")!, 0.05, accuracy: 1e-12)
    // On the exact line the fit adds no width: only the model's binomial terms (n = 200 each).
    let z = Normal.quantile(0.975)
    let yHat = Normal.quantile(0.75) - 0.5
    let wOOD = z * (ftTint * (1 - ftTint) / Double(n)).squareRoot()
    let wID = z * Normal.pdf(yHat) * 1 / Normal.pdf(Normal.quantile(0.75)) * (0.75 * 0.25 / Double(n)).squareRoot()
    let w = (wOOD * wOOD + wID * wID).squareRoot()
    XCTAssertEqual(value(ft, "er_low")!, 0.05 - w, accuracy: 1e-9)
    XCTAssertEqual(value(ft, "er_high")!, 0.05 + w, accuracy: 1e-9)
    XCTAssertEqual(summary["tint_er_mean"]!, 0.05, accuracy: 1e-12)
    // vflip: the same numbers as the Stats functions on the same inputs.
    let fit = try EffectiveRobustness(id: ids, ood: flip, link: .probit)
    let expected = try fit.interval(id: 0.75, ood: 0.6, oodCount: n, idCount: n)
    XCTAssertEqual(summary["vflip_a"]!, fit.line.a, accuracy: 1e-12)
    XCTAssertEqual(summary["vflip_b"]!, fit.line.b, accuracy: 1e-12)
    let ftFlip = try XCTUnwrap(row(report, ["vflip", "fine-tuned", "ft/0"]))
    XCTAssertEqual(value(ftFlip, "er")!, expected.estimate, accuracy: 1e-12)
    XCTAssertEqual(value(ftFlip, "er_low")!, expected.low, accuracy: 1e-12)
    XCTAssertEqual(value(ftFlip, "expected_ood")!, fit.expectedOOD(id: 0.75), accuracy: 1e-12)
    // A baseline row: its residual, no interval.
    let base = try XCTUnwrap(row(report, ["vflip", "baseline", "scratch/b"]))
    XCTAssertEqual(value(base, "id_acc"), 0.8)
    XCTAssertEqual(value(base, "er")!, 0.5 - fit.expectedOOD(id: 0.8), accuracy: 1e-12)
    XCTAssertNil(value(base, "er_low"))
    // One chart per shift: baseline scatter, the fitted curve (no markers), fine-tuned scatter.
    XCTAssertEqual(report.charts.count, 2)
    XCTAssertEqual(report.charts[0].series.map(\.points.count), [4, 49, 1])
    XCTAssertEqual(report.charts[0].series.map(\.markers), [true, false, true])
    // The logit link fits on its own scale; one shift alone.
    let logit = try EffectiveRobustnessAnalysis.report(set, shifts: [.vflip], link: .logit)
    let logitFit = try EffectiveRobustness(id: ids, ood: flip, link: .logit)
    XCTAssertEqual(logit.summary.first { $0.name == "vflip_a" }!.value, logitFit.line.a, accuracy: 1e-12)
    XCTAssertTrue(logit.rows.allSatisfy { $0[0] == .text("vflip") })
  }

  // MARK: interpolation

  func testInterpolationGridAndBarrier() {
    let alphas = Interpolation.alphas(points: 25)
    XCTAssertEqual(alphas.count, 25)
    XCTAssertEqual(alphas.first, 0)
    XCTAssertEqual(alphas.last, 1)
    XCTAssertEqual(alphas[1], 0.0417)
    XCTAssertEqual(alphas[12], 0.5)
    // Loss 1 → 3 → 1: the barrier is 2 above the line; accuracy 0.9 → 0.5 → 0.7: error 0.1 → 0.5
    // → 0.3, line at 0.2, barrier 0.3.
    let points = [
      Interpolation.Point(alpha: 0, loss: 1, accuracy: 0.9), Interpolation.Point(alpha: 0.5, loss: 3, accuracy: 0.5),
      Interpolation.Point(alpha: 1, loss: 1, accuracy: 0.7),
    ]
    let report = Interpolation.report(a: "a@final", b: "b@final", points: points.reversed(), missing: [])
    XCTAssertEqual(report.rows.map { number($0[0]) }, [0, 0.5, 1])
    let summary = Dictionary(uniqueKeysWithValues: report.summary.map { ($0.name, $0.value) })
    XCTAssertEqual(summary["loss_barrier"], 2)
    XCTAssertEqual(summary["error_barrier"]!, 0.3, accuracy: 1e-12)
    // Without an endpoint there is no barrier, and the table says which points are missing.
    let partial = Interpolation.report(a: "a", b: "b", points: Array(points.dropLast()), missing: [1])
    XCTAssertTrue(partial.summary.allSatisfy { $0.value.isNaN })
    XCTAssertTrue(partial.notes.first?.contains("α = 1") == true, "\(partial.notes)")
    XCTAssertTrue(partial.json().contains("\"loss_barrier\" : null"), partial.json())
  }

  // MARK: influence and counterfactual

  /// Four sources on 3 classes, each transferred to target "t" with margins on 2 examples.
  func influenceFixture() throws {
    let kept: [[Int]] = [[0, 1], [1, 2], [0, 2], [0]]
    let margins: [[Float]] = [[1, 2], [3, 0], [2, 2], [0, 4]]
    try add(
      sweep: "inf",
      kept.enumerated().map { m, classes in
        Fixture(key: "src/\(m)", bindings: ["data.name": "glyphs", "data.num_classes": 3, "data.classes": classes])
      }
        + margins.enumerated().map { m, values in
          Fixture(
            key: "tgt/\(m)", bindings: ["data.name": "t", "train.finetune_from": checkpoint("src/\(m)", 8)],
            metrics: ["test_acc": 0.5], arrays: ["margins": values])
        })
  }

  func testInfluenceIsMeanWithTheClassMinusMeanWithoutAndOrdersClasses() throws {
    try influenceFixture()
    let set = try AnalysisSet(store: store, sweep: "inf")
    let r = try InfluenceAnalysis.compute(set, target: "t", value: .margin)
    XCTAssertEqual(r.models, 4)
    // c0: with m0, m2, m3 → (1+2+0)/3 − 3 = −2 and (2+2+4)/3 − 0; c1: 2 − 1, 1 − 3; c2: 2.5 − 0.5, 1 − 3.
    let expected: [Double] = [-2, 8.0 / 3, 1, -2, 2, -2]
    for (got, want) in zip(r.matrix.values, expected) { XCTAssertEqual(got, want, accuracy: 1e-12) }
    XCTAssertEqual(r.order, [0, 2, 1])
    let files = try InfluenceAnalysis.write(r, to: dir + "/out")
    XCTAssertEqual(try NPY.read(files[0]).shape, [3, 2])
    XCTAssertEqual(try NPY.read(files[0]).floats(), expected.map(Float.init))
    let csv = try String(contentsOfFile: files[1], encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(csv[0], "rank,class,mean_influence")
    XCTAssertTrue(csv[1].hasPrefix("0,0,0.333"), String(csv[1]))
    XCTAssertEqual(try Counterfactual.readOrder(files[1], classes: 3), [0, 2, 1])
    let report = InfluenceAnalysis.report(set, target: "t", value: .margin, result: r)
    XCTAssertEqual(report.rows.map { number($0[1]) }, [0, 2, 1])
    // A target with no transferred model is bad input.
    XCTAssertThrowsError(try InfluenceAnalysis.compute(set, target: "other", value: .margin))
  }

  func testCounterfactualRegistersLoadableConfigsAndRejectsBadOrdersAndK() throws {
    try influenceFixture()
    let set = try AnalysisSet(store: store, sweep: "inf")
    let order = dir + "/order.csv"
    try "rank,class,mean_influence\n0,0,1\n1,2,0\n".write(toFile: order, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try Counterfactual.readOrder(order, classes: 3)) { error in
      XCTAssertTrue("\(error)".contains("lists 2 classes"), "\(error)")
    }
    XCTAssertThrowsError(try Counterfactual.parseK("1:3:1", classes: 3)) { error in
      XCTAssertTrue("\(error)".contains("K must be below 3"), "\(error)")
    }
    XCTAssertEqual(try Counterfactual.parseK("1:2:1", classes: 3), [1, 2])
    XCTAssertEqual(Counterfactual.removed(.top, k: 1, order: [0, 2, 1], seed: 0), [0])
    XCTAssertEqual(Counterfactual.removed(.bottom, k: 2, order: [0, 2, 1], seed: 0), [1, 2])
    XCTAssertEqual(
      Counterfactual.removed(.random, k: 2, order: [0, 2, 1], seed: 5),
      Counterfactual.removed(.random, k: 2, order: [0, 2, 1], seed: 5))
    let (text, count) = try Counterfactual.sweepFile(
      set,
      Counterfactual.Options(
        sweep: "inf", target: "t", order: [0, 2, 1], ks: [1], removals: [.top, .bottom], seeds: 1, command: "test"))
    XCTAssertEqual(count, 6)
    let file = dir + "/p310_cf.yaml"
    try text.write(toFile: file, atomically: true, encoding: .utf8)
    let registry = try Registry.load(path: file)
    XCTAssertEqual(
      registry.configs.map(\.key),
      [
        "counterfactual/remove-none-k0/seed0/source-glyphs", "counterfactual/remove-none-k0/seed0/target-t",
        "counterfactual/remove-top-k1/seed0/source-glyphs", "counterfactual/remove-top-k1/seed0/target-t",
        "counterfactual/remove-bottom-k1/seed0/source-glyphs", "counterfactual/remove-bottom-k1/seed0/target-t",
      ])
    let top = try XCTUnwrap(registry.config(key: "counterfactual/remove-top-k1/seed0/source-glyphs"))
    XCTAssertEqual(top.binding("data.exclude_classes"), .list([.int(0)]))
    XCTAssertNil(top.binding("data.classes"))
    let transfer = try XCTUnwrap(registry.config(key: "counterfactual/remove-bottom-k1/seed0/target-t"))
    XCTAssertEqual(
      transfer.binding("train.finetune_from"), .string("counterfactual/remove-bottom-k1/seed0/source-glyphs@final"))
    XCTAssertEqual(transfer.binding("cf_remove"), .string("bottom"))
  }

  func testCounterfactualReportComparesRemovalsWithTheBaseline() throws {
    func model(_ key: String, _ removal: String, _ k: Int, _ acc: Double) -> Fixture {
      Fixture(
        key: key,
        bindings: [
          "data.name": "t", "train.finetune_from": checkpoint("s/" + key, 8), "cf_remove": removal, "cf_k": k,
        ],
        metrics: ["test_acc": acc])
    }
    try add(
      sweep: "cf",
      [
        model("n0", "none", 0, 0.6), model("n1", "none", 0, 0.7), model("t", "top", 2, 0.5),
        model("b", "bottom", 2, 0.8), model("r", "random", 2, 0.62),
      ])
    let report = Counterfactual.report(try AnalysisSet(store: store, sweep: "cf"))
    XCTAssertEqual(report.rows.map { $0[0] }, [.text("none"), .text("top"), .text("bottom"), .text("random")])
    XCTAssertEqual(number(report.rows[2][5])!, 0.15, accuracy: 1e-12)
    XCTAssertEqual(
      report.charts[0].series.map(\.name), ["remove top", "remove bottom", "remove random", "nothing removed"])
  }

  // MARK: groups

  func testGroupsSummariseSeedsPerMethod() throws {
    func run(_ seed: Int, caml: Bool, worst: Double, mean: Double) -> Fixture {
      var bindings: [String: Any] = ["data.name": "feats", "train.seed": seed, "model.width": 128]
      var metrics = ["test_worst_group_acc": worst, "test_mean_group_acc": mean, "test_acc": mean]
      if caml {
        bindings["train.loss"] = "caml"
        bindings["caml.seed"] = seed
        bindings["caml.reference"] = root + "/erm/\(seed)/checkpoints/ckpt-E050.safetensors"
        metrics["nmi_bias"] = 0.9
        metrics["nmi_target"] = 0.5
      }
      return Fixture(key: "\(caml ? "caml" : "erm")/\(seed)", bindings: bindings, metrics: metrics)
    }
    try add(
      sweep: "groups",
      [
        run(2411, caml: false, worst: 0.3, mean: 0.6), run(5193, caml: false, worst: 0.4, mean: 0.7),
        run(2411, caml: true, worst: 0.8, mean: 0.85), run(5193, caml: true, worst: 0.7, mean: 0.85),
        // No group labels: not part of it.
        Fixture(key: "other", bindings: ["data.name": "digits"], metrics: ["test_acc": 0.9]),
      ])
    let report = GroupsAnalysis.report(try AnalysisSet(store: store, sweep: "groups"))
    // Named by the keys' common path.
    XCTAssertEqual(report.rows.map { $0[0] }, [.text("erm"), .text("caml")], report.text())
    XCTAssertEqual(report.rows[0][1], .text("2411 5193"))
    XCTAssertEqual(number(report.rows[0][2])!, 0.35, accuracy: 1e-12)
    XCTAssertEqual(number(report.rows[0][3])!, (0.005 as Double).squareRoot(), accuracy: 1e-12)
    XCTAssertEqual(number(report.rows[1][2])!, 0.75, accuracy: 1e-12)
    XCTAssertEqual(number(report.rows[1][4])!, 0.85, accuracy: 1e-12)
    XCTAssertEqual(report.rows[0][7], .missing)
    XCTAssertEqual(number(report.rows[1][7]), 0.9)
    XCTAssertEqual(report.charts[0].categories, ["erm", "caml"])
    XCTAssertEqual(report.charts[0].title, "test accuracy by group")
  }

  // MARK: charts

  func testChartsAreSVGWithEveryPointAndAPNGWhereAConverterExists() throws {
    let chart = Chart(
      title: "a <b>", xLabel: "block", yLabel: "acc",
      series: [
        Chart.Series(name: "random init", points: [.init(x: 1, y: 0.2, error: 0.05), .init(x: 16, y: 0.6)]),
        Chart.Series(
          name: "fine-tuned", points: [.init(x: 1, y: 0.4), .init(x: 4, y: .nan), .init(x: 16, y: 0.7)],
          dashed: true),
      ], log2X: true, xTicks: [(1, "1"), (16, "none")])
    let bars = Chart(
      title: "bars", xLabel: "x", yLabel: "y", series: [Chart.Series(name: "s", points: [.init(x: 0, y: 0.5)])],
      categories: ["clean none"], yRange: 0...1)
    let svg = Chart.svg([chart, bars])
    XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"920\""), svg)
    XCTAssertTrue(svg.contains("a &lt;b&gt;"))
    XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 4, "the NaN point is left out")
    XCTAssertTrue(svg.contains("stroke-dasharray"))
    XCTAssertTrue(svg.contains(">none</text>"), svg)
    XCTAssertTrue(svg.contains(">clean none</text>"), svg)
    XCTAssertEqual(Chart.niceTicks(0, 1).map(Chart.tickLabel), ["0", "0.2", "0.4", "0.6", "0.8", "1"])
    XCTAssertEqual(Chart.niceTicks(0.31, 0.97).map(Chart.tickLabel), ["0.4", "0.6", "0.8"])
    let path = dir + "/plots/p.svg"
    let written = try Chart.write([chart], to: path)
    XCTAssertEqual(written.first, path)
    XCTAssertTrue(FileManager.default.fileExists(atPath: path))
    if PNGConverter.find() != nil {
      XCTAssertEqual(written.count, 2)
      let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/plots/p.png"))
      XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    } else {
      XCTAssertEqual(written.count, 1)
    }
    XCTAssertNil(PNGConverter.find(environment: ["PATH": dir]))
  }
}
