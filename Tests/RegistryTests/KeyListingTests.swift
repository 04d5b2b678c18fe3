import Foundation
import OrchCore
import XCTest

@testable import Registry

/// `Registry.keyListing` (the plain `orch configs`: keys rendered into one buffer, no config built)
/// prints byte for byte what the full load's listing prints and raises its errors, or declines (nil)
/// where the sweeps need the full load.
final class KeyListingTests: XCTestCase {
  private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/registry").path

  private func fullListing(_ path: String, _ regex: String) throws -> String {
    Registry.listing(try Registry.load(path: path, keysOnly: true).matching(regex), regex: regex)
  }

  func testListingIsTheFullLoadsByteForByte() throws {
    var taken: [String] = []
    for dir in ["sweeps", "references", "derive_references", "rename", "axes", "large", "hash", "merge"] {
      let path = fixtures + "/" + dir
      for regex in [".*", "", "seed[0-9]$", "(?i)MLP", "lr0\\.1", "^train/", "nomatch", "é|\\d{2}"] {
        let fast = try Registry.keyListing(path: path, regex: regex)
        if let fast {
          XCTAssertEqual(String(decoding: fast, as: UTF8.self), try fullListing(path, regex), "\(dir) \(regex)")
          taken.append(dir)
        }
      }
    }
    // Sweeps without derive entries take the fast path (references checked, holes included);
    // the others decline.
    XCTAssertTrue(taken.contains("axes"))
    XCTAssertTrue(taken.contains("large"))
    XCTAssertFalse(taken.contains("sweeps"))
    XCTAssertFalse(taken.contains("derive_references"))
  }

  func testErrorsAreTheFullLoads() throws {
    let dir = fixtures + "/errors"
    let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }.sorted()
    var checked = 0
    for name in names {
      var full: String?
      var fast: String?
      do { _ = try fullListing(dir + "/" + name, ".*") } catch { full = "\(error)" }
      do {
        guard try Registry.keyListing(path: dir + "/" + name, regex: ".*") != nil else { continue }
      } catch { fast = "\(error)" }
      XCTAssertNotNil(full, name)
      XCTAssertEqual(fast, full, name)
      checked += 1
    }
    XCTAssertGreaterThan(checked, 10)
  }

  /// Thousands of keys (the key table grows several times), then a duplicate of an early key from
  /// another entry, and one produced twice by one entry: the full load's messages and locations.
  func testDuplicatesAmongManyKeys() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keylisting-\(getpid())").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let grid = """
      register:
        - key: "g/a{a}/b{b}"
          command: [/bin/true, "{a}"]
          axes: {a: range(0, 100), b: range(0, 100)}

      """
    let cases = [
      "ok.yaml": grid + "  - key: \"h/{x}\"\n    command: [/bin/true]\n    axes: {x: range(0, 7)}\n",
      "other.yaml": grid + "  - key: \"g/a{x}/b{x}\"\n    command: [/bin/true]\n    axes: {x: [5, 7]}\n",
      "twice.yaml": grid + "  - key: \"t/{x}\"\n    command: [/bin/true]\n    axes: {x: range(0, 3), y: range(0, 2)}\n",
      "regex.yaml": grid,
    ]
    for (name, text) in cases.sorted(by: { $0.key < $1.key }) {
      let path = dir + "/" + name
      try text.write(toFile: path, atomically: true, encoding: .utf8)
      let regex = name == "regex.yaml" ? "a(1" : "a1[0-9]/b9$"
      var full: String?
      var fast: String?
      do { full = try fullListing(path, regex) } catch { full = "error: \(error)" }
      do {
        fast = try Registry.keyListing(path: path, regex: regex).map { String(decoding: $0, as: UTF8.self) }
      } catch { fast = "error: \(error)" }
      XCTAssertEqual(fast, full, name)
      XCTAssertEqual(full?.hasPrefix("error: "), name != "ok.yaml", "\(name): \(full ?? "")")
    }
  }
}
