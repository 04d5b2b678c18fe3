import Foundation
import XCTest

@testable import Engine

/// k-means, NMI and group accuracies; the first two against scikit-learn.
final class ClusteringTests: XCTestCase {
  /// Runs `Fixtures/sklearn_clustering.py` with `request` on stdin; fails (never skips) when
  /// python3 or scikit-learn is missing, since CI must install them.
  func sklearn(_ request: [String: Any], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", fixturesDirectory + "/sklearn_clustering.py"]
    let (input, output, errors) = (Pipe(), Pipe(), Pipe())
    p.standardInput = input
    p.standardOutput = output
    p.standardError = errors
    do {
      try p.run()
    } catch {
      XCTFail("cannot run python3 (needed with numpy and scikit-learn: pip install scikit-learn): \(error)")
      throw error
    }
    input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: request))
    try input.fileHandleForWriting.close()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard p.terminationStatus == 0, let json = try JSONSerialization.jsonObject(with: out) as? [String: Any] else {
      let hint = err.contains("No module named") ? " — install numpy and scikit-learn (pip install scikit-learn)" : ""
      XCTFail("python3 \(fixturesDirectory)/sklearn_clustering.py failed\(hint): \(err)", file: file, line: line)
      throw EngineError(.io, "scikit-learn reference unavailable")
    }
    return json
  }

  /// Three Gaussian blobs in 5-D (N = 300), unequal spread, float32.
  func blobs() -> [Float] {
    var rng = RNG(seed: 7)
    let centres: [[Float]] = [[0, 0, 0, 0, 0], [4, 1, 0, -2, 1], [-1, 5, 3, 0, -2]]
    var points: [Float] = []
    for i in 0..<300 {
      let c = centres[i % 3]
      let spread: Float = [0.6, 1.0, 1.4][i % 3]
      for j in 0..<5 { points.append(c[j] + spread * rng.normal()) }
    }
    return points
  }

  func testKMeansMatchesScikitLearnAndIsDeterministic() throws {
    let points = blobs()
    let ours = KMeans.fit(points, dimension: 5, clusters: 3, restarts: 10, seed: 0)
    XCTAssertEqual(KMeans.fit(points, dimension: 5, clusters: 3, restarts: 10, seed: 0), ours, "same seed, same result")
    let rows = (0..<300).map { i in (0..<5).map { Double(points[i * 5 + $0]) } }
    let reference = try sklearn(["points": rows, "clusters": 3, "restarts": 10, "nmi": [[Int]]()])
    let inertia = try XCTUnwrap(reference["inertia"] as? Double)
    let labels = try XCTUnwrap(reference["labels"] as? [Int])
    XCTAssertEqual(ours.inertia, inertia, accuracy: 1e-3 * inertia, "inertia vs scikit-learn")
    XCTAssertEqual(normalizedMutualInformation(ours.labels, labels), 1, accuracy: 1e-12, "same partition up to names")
    // Inertia is the sum of squared distances to the assigned centroid.
    var sum = 0.0
    for i in 0..<300 {
      for j in 0..<5 {
        let d = Double(points[i * 5 + j] - ours.centroids[ours.labels[i] * 5 + j])
        sum += d * d
      }
    }
    XCTAssertEqual(sum, ours.inertia, accuracy: 1e-6 * sum)
    // Two clusters of overlapping blobs: the lowest-inertia partition still agrees.
    let two = KMeans.fit(points, dimension: 5, clusters: 2, restarts: 10, seed: 3)
    let reference2 = try sklearn(["points": rows, "clusters": 2, "restarts": 10, "nmi": [[Int]]()])
    XCTAssertEqual(two.inertia, try XCTUnwrap(reference2["inertia"] as? Double), accuracy: 1e-3 * two.inertia)
  }

  func testNMIMatchesScikitLearn() throws {
    var rng = RNG(seed: 9)
    let random4 = (0..<200).map { _ in rng.below(4) }
    let random3 = (0..<200).map { _ in rng.below(3) }
    let noisyCopy = random4.map { rng.uniform() < 0.2 ? rng.below(4) : $0 }
    let pairs: [([Int], [Int])] = [
      (random4, random3), (random4, noisyCopy), (random4, random4.map { 9 - $0 }), ([0, 0, 1, 1], [1, 1, 0, 0]),
      ([0, 0, 0, 0], [0, 0, 0, 0]), ([0, 0, 0, 0], [0, 1, 2, 3]), ([0, 0, 1, 1], [0, 1, 0, 1]),
      ([0, 1, 1, 2, 2, 2], [5, 5, 7, 7, 7, 8]),
    ]
    let reference = try sklearn([
      "points": [[0.0], [1.0]], "clusters": 1, "restarts": 1, "nmi": pairs.map { [$0.0, $0.1] },
    ])
    let expected = try XCTUnwrap(reference["nmi"] as? [Double])
    XCTAssertEqual(expected.count, pairs.count)
    for (k, (a, b)) in pairs.enumerated() {
      XCTAssertEqual(normalizedMutualInformation(a, b), expected[k], accuracy: 1e-12, "pair \(k)")
    }
  }

  func testGroupAccuraciesOfAHandMadeFixture() {
    // (label, bias, correct): group (0,0) 3/4, (0,1) 1/2, (1,0) 0/1, (1,1) 2/2; a bias of −1 is no group.
    let samples: [(Int, Int, Bool)] = [
      (0, 0, true), (0, 0, true), (0, 0, false), (0, 0, true), (0, 1, true), (0, 1, false), (1, 0, false),
      (1, 1, true), (1, 1, true), (1, -1, false),
    ]
    var groups = GroupAccuracy()
    for (y, b, hit) in samples { groups.add(label: y, bias: b, correct: hit) }
    XCTAssertEqual(groups.accuracies.map(\.accuracy), [0.75, 0.5, 0, 1])
    XCTAssertEqual(groups.worst, 0)
    XCTAssertEqual(groups.mean!, (0.75 + 0.5 + 0 + 1) / 4, accuracy: 1e-12)
    XCTAssertNil(GroupAccuracy().worst)
  }

  func testTrainerReportsTheGroupAccuraciesOfItsPredictions() throws {
    // A linear model with all-zero weights predicts class 0 everywhere (argmax takes the first
    // on ties): group accuracy is 1 for label 0, 0 for label 1.
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let split = Split(
      name: "test", inputs: [1, 2, 3, 4, 5, 6], labels: [0, 0, 0, 1, 1, 1], bias: [0, 1, 1, 0, 1, -1])
    let data = Dataset(
      name: "fixture", kind: .features, sampleShape: [1], classes: 2,
      train: Split(
        name: "train", inputs: [1, 2],
        labels: [0, 1], bias: nil), test: split)
    let config = try EngineSchema.validate([
      "model.arch": "linear", "train.epochs": 0, "data.name": "fixture", "optimizer.base_lr": 0,
    ])
    let session = try TrainingSession(
      config: config, runDir: dir, dataset: PreparedData.prepare(data, config: config.transforms, normalize: false),
      events: EventRecorder(), hooks: TrainHooks())
    for i in session.model.parameters.indices { session.model.parameters[i] = 0 }
    var metrics: [String: Double] = [:]
    session.evaluateAll(into: &metrics, capture: nil)
    XCTAssertEqual(metrics["test_worst_group_acc"], 0)
    XCTAssertEqual(metrics["test_mean_group_acc"], 0.5)  // groups (0,0) 1, (0,1) 1, (1,0) 0, (1,1) 0
    XCTAssertEqual(metrics["test_acc"], 0.5)
  }
}
