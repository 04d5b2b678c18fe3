import Foundation
import XCTest

@testable import Analysis

/// The analysis math (`Analysis/Stats`): class influences against a brute-force loop, the normal
/// and t distributions, the baseline fit and effective robustness against scipy.
final class StatsTests: XCTestCase {
  /// A small deterministic generator (64-bit LCG, top bits) for fixtures.
  struct Fixture {
    var state: UInt64
    mutating func next() -> Double {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Double(state >> 11) * 0x1p-53
    }
  }

  // MARK: Influence

  func testInfluenceMatchesABruteForceLoop() throws {
    var rng = Fixture(state: 42)
    let (models, classes, targets) = (23, 6, 9)
    var masks = (0..<models).map { _ in (0..<classes).map { _ in rng.next() < 0.5 } }
    // Every class in some models and missing from others.
    for c in 0..<classes {
      masks[0][c] = true
      masks[1][c] = false
    }
    let f = (0..<models).map { _ in (0..<targets).map { _ in rng.next() * 4 - 2 } }
    let influence = try InfluenceMatrix(masks: masks, values: f)
    XCTAssertEqual(influence.values.count, classes * targets)
    for c in 0..<classes {
      for t in 0..<targets {
        var with: [Double] = []
        var without: [Double] = []
        for m in 0..<models {
          if masks[m][c] { with.append(f[m][t]) } else { without.append(f[m][t]) }
        }
        let expected = with.reduce(0, +) / Double(with.count) - without.reduce(0, +) / Double(without.count)
        XCTAssertEqual(influence.influence(of: c, on: t), expected, accuracy: 1e-12, "class \(c) target \(t)")
      }
    }
    // The order: by influence averaged over the targets, most positive first.
    let mean = (0..<classes).map { c in (0..<targets).map { influence.influence(of: c, on: $0) }.reduce(0, +) / 9 }
    for (c, m) in influence.meanInfluence().enumerated() { XCTAssertEqual(m, mean[c], accuracy: 1e-12) }
    let order = influence.classOrder()
    XCTAssertEqual(Set(order), Set(0..<classes))
    for (x, y) in zip(order, order.dropFirst()) { XCTAssertGreaterThanOrEqual(mean[x], mean[y]) }
    // Over a subset of targets.
    let sub = influence.meanInfluence(over: [2, 5])
    for c in 0..<classes {
      XCTAssertEqual(
        sub[c], (influence.influence(of: c, on: 2) + influence.influence(of: c, on: 5)) / 2, accuracy: 1e-12)
    }
  }

  func testInfluenceOfAPlantedClassAndTiesInTheOrder() throws {
    // Class 1 adds 1 to every target's value, class 0 subtracts 0.5, class 2 does nothing.
    let masks: [[Bool]] = [
      [true, true, false], [false, true, true], [true, false, true], [false, false, false], [true, true, true],
      [false, false, true],
    ]
    let f = masks.map { m in [0.0, 10.0].map { $0 + (m[1] ? 1 : 0) - (m[0] ? 0.5 : 0) } }
    let influence = try InfluenceMatrix(masks: masks, values: f)
    // By hand: models with class 1 (rows 0, 1, 4) have class 0 in 2 of 3, those without it in 1
    // of 3, so class 1's influence is 1 − 0.5·(2/3 − 1/3) = 5/6, and symmetrically class 0's is
    // −0.5 + (2/3 − 1/3) = −1/6; class 2's models are balanced in both: 0.
    for t in 0..<2 {
      XCTAssertEqual(influence.influence(of: 1, on: t), 5.0 / 6, accuracy: 1e-12)
      XCTAssertEqual(influence.influence(of: 0, on: t), -1.0 / 6, accuracy: 1e-12)
      XCTAssertEqual(influence.influence(of: 2, on: t), 0, accuracy: 1e-12)
    }
    XCTAssertEqual(influence.classOrder(), [1, 2, 0])
    XCTAssertEqual(
      try InfluenceMatrix.masks(kept: [[0], [1], [0, 2]], classes: 3),
      [true, false, false, false, true, false, true, false, true])
    XCTAssertThrowsError(try InfluenceMatrix.masks(kept: [[3]], classes: 3))
    let flat = try InfluenceMatrix(
      masks: [true, false, false, true], values: [1, 1], models: 2, classes: 2, targets: 1)
    XCTAssertEqual(flat.values, [0, 0])
    XCTAssertEqual(flat.classOrder(), [0, 1], "ties keep class order")
  }

  func testInfluenceRejectsDegenerateClassesAndShapes() {
    func message(_ body: () throws -> Void) -> String {
      do {
        try body()
        return "accepted"
      } catch {
        return "\(error)"
      }
    }
    let always = message {
      _ = try InfluenceMatrix(masks: [[true, true, false], [true, false, false]], values: [[1], [2]])
    }
    XCTAssertTrue(always.contains("in every model: classes [0]"), always)
    XCTAssertTrue(always.contains("in no model: classes [2]"), always)
    XCTAssertTrue(
      message { _ = try InfluenceMatrix(masks: [[true]], values: [[1], [2]]) }.contains("2 rows of values"))
    XCTAssertTrue(
      message { _ = try InfluenceMatrix(masks: [true], values: [1, 2], models: 1, classes: 2, targets: 1) }.contains(
        "class masks hold 1 entries, expected 1 models × 2 classes"))
    XCTAssertTrue(message { _ = try InfluenceMatrix(masks: [[Bool]](), values: []) }.contains("at least one model"))
  }

  // MARK: Distributions and effective robustness against scipy

  /// Runs Fixtures/stats_reference.py; fails (does not skip) when python3 or scipy is missing.
  func scipyReference() throws -> [String: Any] {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
      "Fixtures/stats_reference.py"
    ).path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", script]
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    do {
      try p.run()
    } catch {
      XCTFail("StatsTests need python3 with numpy and scipy (pip install numpy scipy): cannot run python3: \(error)")
      throw error
    }
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
      let missing = stderr.contains("No module named") ? " (pip install numpy scipy)" : ""
      XCTFail("StatsTests need python3 with numpy and scipy\(missing); \(script) failed: \(stderr)")
      throw XCTSkip("no reference values")
    }
    return try XCTUnwrap(JSONSerialization.jsonObject(with: stdout) as? [String: Any])
  }

  /// |a − b| ≤ atol + rtol·|b|, with infinities equal.
  func assertClose(
    _ a: Double, _ b: Double, atol: Double, rtol: Double = 0, _ what: String, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    if a == b { return }
    XCTAssertLessThanOrEqual(abs(a - b), atol + rtol * abs(b), "\(what): \(a) vs scipy \(b)", file: file, line: line)
  }

  func testNormalAndStudentTMatchScipy() throws {
    let ref = try scipyReference()
    let probit = try XCTUnwrap(ref["probit"] as? [[Double]])
    XCTAssertEqual(probit.count, 23)
    for row in probit {
      assertClose(Normal.quantile(row[0]), row[1], atol: 1e-12, rtol: 1e-12, "probit(\(row[0]))")
      // Well inside Acklam's 1.15e-9 and the brief's ~1e-9.
      assertClose(Normal.quantile(row[0]), row[1], atol: 1e-9, "probit(\(row[0]))")
    }
    for row in try XCTUnwrap(ref["cdf"] as? [[Double]]) {
      assertClose(Normal.cdf(row[0]), row[1], atol: 1e-300, rtol: 1e-13, "Φ(\(row[0]))")
    }
    for row in try XCTUnwrap(ref["t_quantile"] as? [[Double]]) {
      assertClose(
        StudentT.quantile(row[0], degrees: row[1]), row[2], atol: 1e-10, rtol: 1e-10, "t(\(row[0]), ν \(row[1]))")
    }
    XCTAssertEqual(Normal.quantile(0), -.infinity)
    XCTAssertEqual(Normal.quantile(1), .infinity)
    XCTAssertTrue(Normal.quantile(1.5).isNaN)
    XCTAssertTrue(Normal.quantile(-0.1).isNaN)
    for p in stride(from: 0.001, to: 1, by: 0.0137) {
      assertClose(Normal.cdf(Normal.quantile(p)), p, atol: 1e-15, rtol: 1e-14, "Φ(probit(\(p)))")
    }
  }

  func testBaselineFitEffectiveRobustnessAndIntervalMatchScipy() throws {
    let ref = try scipyReference()
    let baseline = try XCTUnwrap(ref["baseline"] as? [String: [Double]])
    let models = try XCTUnwrap(ref["models"] as? [[Any]])
    for link in AccuracyLink.allCases {
      let expected = try XCTUnwrap(ref["fit_\(link.rawValue)"] as? [String: Any])
      let er = try EffectiveRobustness(id: baseline["id"]!, ood: baseline["ood"]!, link: link)
      assertClose(er.line.a, expected["a"] as! Double, atol: 1e-12, rtol: 1e-12, "\(link) slope")
      assertClose(er.line.b, expected["b"] as! Double, atol: 1e-12, rtol: 1e-12, "\(link) intercept")
      assertClose(er.line.rSquared, expected["r2"] as! Double, atol: 1e-12, "\(link) r²")
      assertClose(er.line.residualSD, expected["s"] as! Double, atol: 1e-12, rtol: 1e-10, "\(link) residual SD")
      let rows = try XCTUnwrap(expected["models"] as? [[String: Double]])
      for (model, row) in zip(models, rows) {
        let (id, ood, nOOD) = (model[0] as! Double, model[1] as! Double, model[2] as! Int)
        let nID = model[3] as? Int
        assertClose(er.expectedOOD(id: id), row["expected"]!, atol: 1e-12, "\(link) expected OOD at \(id)")
        assertClose(er.effectiveRobustness(id: id, ood: ood), row["er"]!, atol: 1e-12, "\(link) ER at \(id)")
        let interval = try er.interval(id: id, ood: ood, oodCount: nOOD, idCount: nID)
        assertClose(interval.estimate, row["er"]!, atol: 1e-12, "\(link) ER at \(id)")
        assertClose(interval.low, row["low"]!, atol: 1e-10, "\(link) interval low at \(id)")
        assertClose(interval.high, row["high"]!, atol: 1e-10, "\(link) interval high at \(id)")
      }
    }
  }

  func testBaselineModelsHaveNoEffectiveRobustnessOnAnExactLine() throws {
    // Points exactly on probit(ood) = 0.8·probit(id) − 0.3: ER 0, and the interval is the
    // binomial part only.
    let id = [0.3, 0.45, 0.6, 0.7, 0.85]
    let ood = id.map { Normal.cdf(0.8 * Normal.quantile($0) - 0.3) }
    let er = try EffectiveRobustness(id: id, ood: ood)
    XCTAssertEqual(er.line.a, 0.8, accuracy: 1e-12)
    XCTAssertEqual(er.line.b, -0.3, accuracy: 1e-12)
    for (x, y) in zip(id, ood) { XCTAssertEqual(er.effectiveRobustness(id: x, ood: y), 0, accuracy: 1e-12) }
    let i = try er.interval(id: 0.5, ood: 0.4, oodCount: 400)
    XCTAssertEqual(i.estimate, 0.4 - Normal.cdf(-0.3), accuracy: 1e-12)
    XCTAssertEqual(i.halfWidth, 1.959963984540054 * (0.4 * 0.6 / 400).squareRoot(), accuracy: 1e-9)
  }

  func testEffectiveRobustnessRejectsBadInput() {
    func message(_ body: () throws -> Void) -> String {
      do {
        try body()
        return "accepted"
      } catch {
        return "\(error)"
      }
    }
    XCTAssertTrue(
      message { _ = try EffectiveRobustness(id: [0.5, 1.0], ood: [0.2, 0.3]) }.contains(
        "baseline model 1 has ID accuracy 1.0; the probit fit needs accuracies strictly between 0 and 1"))
    XCTAssertTrue(message { _ = try EffectiveRobustness(id: [0.5], ood: [0.2]) }.contains("at least 2 points"))
    XCTAssertTrue(
      message { _ = try EffectiveRobustness(id: [0.5, 0.5], ood: [0.2, 0.3]) }.contains("two distinct x values"))
    XCTAssertTrue(message { _ = try EffectiveRobustness(id: [0.5, 0.6], ood: [0.2]) }.contains("2 ID accuracies"))
    XCTAssertTrue(
      message {
        _ = try EffectiveRobustness(id: [0.5, 0.6], ood: [0.2, 0.3]).interval(id: 0.55, ood: 0.25, oodCount: 100)
      }.contains("at least 3 baseline models"))
    XCTAssertTrue(
      message {
        _ = try EffectiveRobustness(id: [0.5, 0.6, 0.7], ood: [0.2, 0.3, 0.35]).interval(id: 0, ood: 0.25, oodCount: 9)
      }.contains("ID accuracy 0.0"))
  }
}
