import Foundation
import XCTest

@testable import Engine

/// The generated transfer datasets (`glyphs`, `glyphs_heldout`, `digits_rgb`).
final class GeneratedDatasetTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws {
    dir = try temporaryDirectory()
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: dir)
  }

  func testGlyphFamiliesAreDeterministicBalancedAndDisjoint() throws {
    let recipe = GeneratedDatasets.recipes["glyphs_heldout"]!
    let a = GeneratedDatasets.glyphArrays(recipe)
    XCTAssertEqual(a, GeneratedDatasets.glyphArrays(recipe), "same bytes every time")
    XCTAssertEqual(a["train_x"]?.shape, [100, 16, 16, 3])
    XCTAssertEqual(a["test_x"]?.shape, [500, 16, 16, 3])
    guard case .int64(let labels)? = a["train_y"]?.storage, case .uint8(let pixels)? = a["train_x"]?.storage else {
      return XCTFail("dtypes")
    }
    XCTAssertEqual((0..<10).map { c in labels.filter { $0 == c }.count }, Array(repeating: 10, count: 10))
    // Images use the value range and are not constant.
    XCTAssertLessThan(pixels.min()!, 30)
    XCTAssertGreaterThan(pixels.max()!, 225)
    // The held-out family shares no glyph with the source family.
    let source = (0..<64).map { "\(GeneratedDatasets.glyph(family: 1, index: $0))" }
    for c in 0..<10 { XCTAssertFalse(source.contains("\(GeneratedDatasets.glyph(family: 2, index: c))")) }
    XCTAssertEqual(Set(source).count, 64, "64 distinct source glyphs")
  }

  func testMaterializeWritesADatasetDirectoryOnceAndRegeneratesOtherVersions() throws {
    let root = try XCTUnwrap(DataLocation.root(environment: [:]))
    // digits_rgb reads digits from the same root.
    try FileManager.default.createSymbolicLink(atPath: dir + "/digits", withDestinationPath: root + "/digits")
    let path = try DataLocation.resolve("digits_rgb", environment: ["ORCH_DATA_DIR": dir])
    XCTAssertEqual(path, dir + "/digits_rgb")
    let stamp = try String(contentsOfFile: path + "/GENERATED", encoding: .utf8)
    XCTAssertTrue(stamp.hasPrefix("version \(GeneratedDatasets.version)\n"), stamp)
    let data = try Dataset.load(directory: path)
    XCTAssertEqual(data.sampleShape, [16, 16, 3])
    XCTAssertEqual(data.classes, 10)
    XCTAssertEqual(data.train.count, 300)
    XCTAssertEqual(data.test.count, 450)
    let digits = try Dataset.load(directory: root + "/digits")
    XCTAssertEqual(data.test.labels, digits.test.labels)
    // The stamp lists each file's digest.
    for file in ["train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"] {
      XCTAssertTrue(stamp.contains("\(sha256Hex(try readFile(path + "/" + file)))  \(file)"), file)
    }
    // A second use reads the cache; a stale version is replaced.
    let before = try FileManager.default.attributesOfItem(atPath: path + "/train_x.npy")[.modificationDate] as? Date
    XCTAssertEqual(try GeneratedDatasets.materialize("digits_rgb", root: dir), path)
    let after = try FileManager.default.attributesOfItem(atPath: path + "/train_x.npy")[.modificationDate] as? Date
    XCTAssertEqual(before, after)
    try Array("version 0\n".utf8).write(toFile: path + "/GENERATED")
    XCTAssertEqual(try GeneratedDatasets.materialize("digits_rgb", root: dir), path)
    XCTAssertEqual(try String(contentsOfFile: path + "/GENERATED", encoding: .utf8), stamp)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }
    XCTAssertEqual(leftovers, [".digits_rgb.lock"], "only the generator's lock file")
  }
}

extension Array where Element == UInt8 {
  fileprivate func write(toFile path: String) throws {
    try writeFileAtomically(path, self)
  }
}

extension GeneratedDatasetTests {
  func testWaterbirdsFeatsAreDeterministicWithTheDocumentedGroups() throws {
    let a = GeneratedDatasets.waterbirdsArrays()
    XCTAssertEqual(a, GeneratedDatasets.waterbirdsArrays(), "same bytes every time")
    XCTAssertEqual(GeneratedDatasets.probe("waterbirds_feats").shape, [64])
    for (split, counts, _) in GeneratedDatasets.Waterbirds.groups {
      let n = counts.reduce(0, +)
      XCTAssertEqual(a["\(split)_feats"]?.shape, [n, 64])
      guard case .int64(let y)? = a["\(split)_targets"]?.storage, case .int64(let b)? = a["\(split)_bias"]?.storage
      else { return XCTFail("dtypes") }
      let groups = (0..<4).map { g in zip(y, b).filter { Int($0) == g / 2 && Int($1) == g % 2 }.count }
      XCTAssertEqual(groups, counts, split)
    }
    XCTAssertEqual(GeneratedDatasets.Waterbirds.groups[0].counts, [2280, 120, 120, 2280], "train: b = y for 95 %")
    XCTAssertEqual(Set(GeneratedDatasets.Waterbirds.groups[1].counts), [300], "val: balanced")
    XCTAssertEqual(Set(GeneratedDatasets.Waterbirds.groups[2].counts), [1450], "test: balanced")
    // The spurious direction is the easier one: on the balanced test split the class means lie
    // 2·0.5·√8 ≈ 2.8 apart by target, 2·1.5·√4 = 6 by bias.
    guard case .float32(let x)? = a["test_feats"]?.storage, case .int64(let y)? = a["test_targets"]?.storage,
      case .int64(let b)? = a["test_bias"]?.storage
    else { return XCTFail("dtypes") }
    func separation(_ labels: [Int64]) -> Double {
      var means = [[Double]](repeating: [Double](repeating: 0, count: 64), count: 2)
      var counts = [0.0, 0.0]
      for i in 0..<labels.count {
        counts[Int(labels[i])] += 1
        for j in 0..<64 { means[Int(labels[i])][j] += Double(x[i * 64 + j]) }
      }
      return (0..<64).reduce(0.0) { s, j in
        let d = means[1][j] / counts[1] - means[0][j] / counts[0]
        return s + d * d
      }.squareRoot()
    }
    XCTAssertEqual(separation(y), 2 * 0.5 * 8.0.squareRoot(), accuracy: 0.3)
    XCTAssertEqual(separation(b), 6, accuracy: 0.3)
  }
}
