import Foundation
import XCTest

/// A sweep whose name holds `/` (every sbatch submission's is `sbatch/<name>`; `--name` may give
/// one too) has every page reachable from its links, while file paths stay confined.
final class UISlashNameTests: XCTestCase {
  /// Every `href`/`action`/`src`/`data-…` URL in a page that starts with `prefix`, unescaped.
  static func links(_ page: String, prefix: String) -> [String] {
    let pattern = #"(?:href|action|src|data-base|data-events)="([^"]*)""#
    let regex = try! NSRegularExpression(pattern: pattern)
    let range = NSRange(page.startIndex..., in: page)
    return regex.matches(in: page, range: range).compactMap { m in
      Range(m.range(at: 1), in: page).map { String(page[$0]).replacingOccurrences(of: "&amp;", with: "&") }
    }.filter { $0.hasPrefix(prefix) }
  }

  func testEveryPageOfASweepNamedWithASlashIsReachable() throws {
    let h = try UIHarness()
    try h.write(
      "sweeps/team.yaml",
      """
      register:
        - key: "team/{i}"
          axes:
            - grid: {i: [\((0...200).map(String.init).joined(separator: ", "))]}
          command: [sh, -c, "echo hello"]
      """)
    let r = try h.run(["submit", "sweeps/team.yaml", "--name", "team/a", "--output-root", h.runs, "--no-daemon"])
    XCTAssertEqual(r.code, 0, r.err)
    let sb = try h.run(["sbatch", "--job-name=slashy", "--wrap", "echo element"])
    XCTAssertEqual(sb.code, 0, sb.err)
    // `orch analyze` names its files after the sweep with `/` made `_`.
    try h.write("home/analysis/importance-team_a.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>")
    try h.startUI()

    let overview = try h.get("/").body
    for name in ["team/a", "sbatch/slashy"] {
      let encoded = name.replacingOccurrences(of: "/", with: "%2F")
      let base = "/sweeps/\(encoded)"
      XCTAssertTrue(Self.links(overview, prefix: base).contains(base), "the overview links \(base)")
      let sweep = try h.get(base)
      XCTAssertEqual(sweep.status, 200, "\(base): \(sweep.body.prefix(300))")
      let inner = Self.links(sweep.body, prefix: base)
      if name == "team/a" {
        // 201 runs: two pages, the next one linked (and the query it carries kept).
        XCTAssertTrue(inner.contains("\(base)?page=2"), "page links: \(inner)")
        let sorted = try h.get(base + "?where=i%20%3C%2010&sort=-i&page=1")
        XCTAssertEqual(sorted.status, 200)
        XCTAssertTrue(sorted.body.contains("data-job"), "filtered rows")
      }
      XCTAssertTrue(inner.contains("\(base)/curves"), "\(inner)")
      XCTAssertTrue(inner.contains("\(base)/analyses"), "\(inner)")
      for link in inner {
        XCTAssertEqual(try h.get(link).status, 200, link)
      }
      let curves = try h.get(base + "/curves")
      XCTAssertEqual(curves.status, 200)
      let streams = Self.links(curves.body, prefix: "/events")
      XCTAssertEqual(streams, ["/events?sweep=\(encoded)"])
      let counts = try h.events(
        "/events?sweep=\(encoded)", timeout: 10, during: {}, until: { $0.contains("event: counts") })
      XCTAssertTrue(counts.contains("\"sweep\":\"\(name)\""), counts)
    }
    let analyses = try h.get("/sweeps/team%2Fa/analyses")
    XCTAssertEqual(analyses.status, 200)
    let files = Array(Set(Self.links(analyses.body, prefix: "/sweeps/team%2Fa/analyses/")))
    XCTAssertEqual(files, ["/sweeps/team%2Fa/analyses/importance-team_a.svg"])
    XCTAssertEqual(try h.get("/sweeps/team%2Fa/analyses/importance-team_a.svg").status, 200)

    // The name is a lookup value; files are still confined: no traversal through it or after it.
    XCTAssertEqual(try h.get("/sweeps/team%2Fa/analyses/..%2F..%2Forch.db").status, 404)
    XCTAssertEqual(try h.get("/sweeps/team%2Fa/analyses/../../orch.db").status, 404)
    XCTAssertEqual(try h.get("/sweeps/..%2F..%2Forch.db/analyses/x.svg").status, 404)
    XCTAssertEqual(try h.get("/sweeps/team%2Fa%00/curves").status, 404)
    XCTAssertEqual(try h.get("/jobs/1/files/..%2F..%2Forch.db").status, 404)
  }
}
