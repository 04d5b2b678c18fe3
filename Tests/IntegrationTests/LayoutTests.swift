import Foundation
import XCTest

/// The module map in ARCHITECTURE.md is Package.swift's target graph, the graph has no cycle, and
/// no module but Engine grows past 5,000 lines.
final class LayoutTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  /// Library targets of Package.swift and the orch targets each names (products left out).
  func packageGraph() throws -> [String: Set<String>] {
    let text = try String(contentsOfFile: Self.root + "/Package.swift", encoding: .utf8)
    var graph: [String: Set<String>] = [:]
    let pattern = try NSRegularExpression(
      pattern: #"\.target\(\s*name: "(\w+)"(?:,\s*dependencies: \[(.*?)\])?"#, options: [.dotMatchesLineSeparators])
    for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
      let name = String(text[Range(match.range(at: 1), in: text)!])
      var deps = Set<String>()
      if let r = Range(match.range(at: 2), in: text) {
        // Quoted names not inside `.product(...)`.
        let list = text[r].replacingOccurrences(of: #"\.product\([^)]*\)"#, with: "", options: .regularExpression)
        for dep in list.split(separator: ",") {
          let trimmed = dep.trimmingCharacters(in: .whitespacesAndNewlines)
          if trimmed.hasPrefix("\"") { deps.insert(trimmed.trimmingCharacters(in: CharacterSet(charactersIn: "\""))) }
        }
      }
      graph[name] = deps
    }
    return graph
  }

  /// The rows of ARCHITECTURE.md's module table: `| `Name` | A, B, … | …`.
  func documentedGraph() throws -> [String: Set<String>] {
    let text = try String(contentsOfFile: Self.root + "/ARCHITECTURE.md", encoding: .utf8)
    let section = text.components(separatedBy: "## Modules").dropFirst().first ?? ""
    var graph: [String: Set<String>] = [:]
    for line in section.split(separator: "\n") where line.hasPrefix("| `") {
      let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard cells.count > 3 else { continue }
      let names = cells[1].components(separatedBy: ",").map {
        $0.trimmingCharacters(in: CharacterSet(charactersIn: "` "))
      }
      let deps = Set(
        cells[2].components(separatedBy: ",").map { $0.trimmingCharacters(in: .whitespaces) }
          .filter { !$0.isEmpty && !$0.hasPrefix("—") })
      for name in names { graph[name] = deps }
    }
    return graph
  }

  func testArchitectureTableIsPackageGraph() throws {
    let package = try packageGraph()
    let documented = try documentedGraph()
    XCTAssertFalse(package.isEmpty)
    for (name, deps) in package where name != "TestSupport" {
      XCTAssertEqual(documented[name], deps, "ARCHITECTURE.md's row for \(name) differs from Package.swift")
    }
  }

  func testGraphHasNoCycle() throws {
    let graph = try packageGraph()
    var state: [String: Int] = [:]  // 1 visiting, 2 done
    func visit(_ node: String, _ path: [String]) {
      if state[node] == 2 { return }
      if state[node] == 1 {
        XCTFail("cycle: \((path + [node]).joined(separator: " → "))")
        return
      }
      state[node] = 1
      for dep in graph[node, default: []].sorted() { visit(dep, path + [node]) }
      state[node] = 2
    }
    for node in graph.keys.sorted() { visit(node, []) }
  }

  func testNoModuleButEngineIsOverFiveThousandLines() throws {
    let sources = Self.root + "/Sources"
    for module in try FileManager.default.contentsOfDirectory(atPath: sources) where module != "Engine" {
      guard let files = FileManager.default.enumerator(atPath: sources + "/" + module) else { continue }
      var lines = 0
      for case let file as String in files where file.hasSuffix(".swift") {
        let text = try String(contentsOfFile: sources + "/" + module + "/" + file, encoding: .utf8)
        lines += text.split(separator: "\n", omittingEmptySubsequences: false).count
      }
      XCTAssertLessThanOrEqual(lines, 5000, "Sources/\(module) has \(lines) lines")
    }
  }
}
