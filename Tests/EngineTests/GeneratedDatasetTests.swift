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
    XCTAssertEqual(leftovers, [])
  }
}

extension Array where Element == UInt8 {
  fileprivate func write(toFile path: String) throws {
    try writeFileAtomically(path, self)
  }
}
