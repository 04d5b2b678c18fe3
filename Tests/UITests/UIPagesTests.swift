import Foundation
import Store
import XCTest

/// What the pages show of finished command jobs: the attempts fragment the job page re-reads, the
/// command apart from the bindings, the curves' legend and whole-epoch ticks, one section per plot.
final class UIPagesTests: XCTestCase {
  func matches(_ pattern: String, in text: String) -> [String] {
    let regex = try! NSRegularExpression(pattern: pattern)
    return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
      Range($0.range(at: 1), in: text).map { String(text[$0]) }
    }
  }

  func testFinishedCommandJobsPages() throws {
    let h = try UIHarness()
    try h.write(
      "job.sh",
      """
      for e in 1 2 3; do echo "{\\"type\\":\\"metric\\",\\"name\\":\\"val_acc\\",\\"value\\":0.$e,\\"epoch\\":$e}" >&3; done

      """)
    let sweep = """
      register:
        - key: "pg/{hue}"
          command: [sh, \(h.root.path)/job.sh, "{hue}"]
          env: {GREETING: "hello world"}
          axes:
            - grid: {hue: [plain, "<b>bold</b>"]}
      """
    try h.startDaemon()
    try h.submit("pg", sweep, daemon: true)
    let store = try JobStore(path: h.home + "/orch.db")
    try h.waitUntil("both jobs complete", timeout: 120) {
      try store.jobs(JobFilter(sweep: "pg")).filter { $0.state == .completed }.count == 2
    }
    let ids = try store.jobs(JobFilter(sweep: "pg")).map(\.id).sorted()
    try h.write("home/analysis/importance-pg.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>")
    try h.write("home/analysis/importance-pg.png", "not really a png")
    try h.startUI()

    // The attempts table alone, as the job page re-reads it on a state change.
    let attempts = try h.get("/jobs/\(ids[0])/attempts")
    XCTAssertEqual(attempts.status, 200, attempts.body)
    XCTAssertTrue(attempts.body.hasPrefix("<table id=\"attempts\">"), attempts.body)
    XCTAssertTrue(attempts.body.contains("<td>COMPLETED</td><td>0</td>"), attempts.body)
    XCTAssertEqual(matches(#"<td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)</td>"#, in: attempts.body).count, 2, "start and end")
    XCTAssertEqual(try h.get("/jobs/999/attempts").status, 404)

    // The command and its environment on a line of their own, not among the bindings.
    let job = try h.get("/jobs/\(ids[0])").body
    let command = matches(#"<p id="command">(.*?)</p>"#, in: job)
    XCTAssertEqual(command.count, 1, job)
    XCTAssertTrue(command.first?.contains("job.sh") ?? false, "\(command)")
    XCTAssertTrue(command.first?.contains("GREETING=") ?? false, "\(command)")
    let bindings = matches(#"<table id="bindings">(.*?)</table>"#, in: job.replacingOccurrences(of: "\n", with: " "))
    XCTAssertEqual(bindings.count, 1)
    for name in ["command", "env", "env.GREETING"] {
      XCTAssertFalse(bindings.first?.contains("<td>\(name)</td>") ?? true, "\(name) listed as a binding: \(bindings)")
    }
    XCTAssertTrue(bindings.first?.contains("<td>hue</td>") ?? false, "\(bindings)")

    // Curves coloured by a binding: a legend (escaped) and whole-number epoch ticks.
    let curves = try h.get("/sweeps/pg/curves?jobs=\(ids.map(String.init).joined(separator: ","))&color=hue").body
    let legend = matches(#"<div id="legend" class="legend">(.*?)</div>"#, in: curves)
    XCTAssertEqual(legend.count, 1, curves)
    XCTAssertTrue(legend.first?.contains("&lt;b&gt;bold&lt;/b&gt;") ?? false, "\(legend)")
    XCTAssertTrue(legend.first?.contains("plain") ?? false, "\(legend)")
    XCTAssertEqual(legend.first.map { matches(#"class="(swatch)""#, in: $0).count }, 2, "\(legend)")
    XCTAssertFalse(curves.contains("<b>bold</b>"))
    let xTicks = matches(#"<text class="tick[^"]*" [^>]*text-anchor="middle">([^<]*)</text>"#, in: curves)
    XCTAssertFalse(xTicks.isEmpty, curves)
    XCTAssertTrue(xTicks.allSatisfy { Int($0) != nil }, "epoch ticks \(xTicks)")

    // The PNG written beside the SVG: one section, the SVG shown, the PNG a link under it.
    let analyses = try h.get("/sweeps/pg/analyses").body
    XCTAssertEqual(
      matches(#"<section class="analysis"><h2>([^<]*)</h2>"#, in: analyses), ["importance-pg.svg"], analyses)
    XCTAssertEqual(
      matches(#"<img class="plot" src="([^"]*)""#, in: analyses), ["/sweeps/pg/analyses/importance-pg.svg"])
    XCTAssertTrue(analyses.contains("href=\"/sweeps/pg/analyses/importance-pg.png\""), analyses)
  }
}
