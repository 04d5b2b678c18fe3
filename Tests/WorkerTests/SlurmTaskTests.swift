import Foundation
import XCTest

@testable import Worker

final class SlurmTaskTests: XCTestCase {
  func testManifestEntriesAreReadByLine() throws {
    let path = NSTemporaryDirectory() + "orch-manifest-\(UUID().uuidString).jsonl"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let entries = (0..<3).map {
      SlurmManifestEntry(
        job: "4_\($0)", attempt: 1, key: "k/\($0)", runDir: "/r/k/\($0)", config: "{\"bindings\":{}}",
        argv: $0 == 1 ? nil : ["/bin/echo", "a\nb"], env: ["A": "1"], cwd: "/", cpus: 2, home: "/h")
    }
    try (entries.map { $0.encodedLine() }.joined(separator: "\n") + "\n").write(
      toFile: path, atomically: true, encoding: .utf8)
    XCTAssertEqual(try SlurmTask.entry(manifest: path, index: 0), entries[0])
    XCTAssertEqual(try SlurmTask.entry(manifest: path, index: 1), entries[1])
    XCTAssertEqual(try SlurmTask.entry(manifest: path, index: 2), entries[2])
    XCTAssertThrowsError(try SlurmTask.entry(manifest: path, index: 3))
  }
}
