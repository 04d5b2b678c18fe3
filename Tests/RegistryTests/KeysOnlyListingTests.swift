import Foundation
import XCTest

@testable import Registry

/// `orch configs` loads the registry with `keysOnly`: no job, canonical JSON or hash is rendered,
/// and the listing and the errors are the full load's.
final class KeysOnlyListingTests: XCTestCase {
  private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/registry").path

  func testKeysAndBindingsAreTheFullLoadsWithNothingRendered() throws {
    for dir in ["sweeps", "references", "derive_references", "rename", "axes", "large"] {
      let full = try Registry.load(path: fixtures + "/" + dir)
      let keys = try Registry.load(path: fixtures + "/" + dir, keysOnly: true)
      XCTAssertEqual(keys.configs.map(\.key), full.configs.map(\.key), dir)
      XCTAssertFalse(full.configs.isEmpty, dir)
      for (k, f) in zip(keys.configs, full.configs) {
        XCTAssertEqual(k.bindings, f.bindings, "\(dir): \(f.key)")
        XCTAssertEqual(k.hash, "", "\(dir): \(f.key)")
        XCTAssertEqual(k.canonicalJSON, "", "\(dir): \(f.key)")
      }
      for regex in ["", "seed[0-9]$", "(?i)MLP", "lr0\\.1"] {
        XCTAssertEqual(
          Registry.listing(try keys.matching(regex), regex: regex),
          Registry.listing(try full.matching(regex), regex: regex), "\(dir) \(regex)")
      }
    }
  }

  func testErrorsAreTheFullLoadsEvenInTheUnrenderedCommand() throws {
    let dir = fixtures + "/errors"
    let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }.sorted()
    XCTAssertTrue(names.contains("unbound.yaml"))
    for name in names {
      var full: String?
      var keys: String?
      do { _ = try Registry.load(path: dir + "/" + name) } catch { full = error.description }
      do { _ = try Registry.load(path: dir + "/" + name, keysOnly: true) } catch { keys = error.description }
      XCTAssertNotNil(full, name)
      XCTAssertEqual(keys, full, name)
    }
  }
}
