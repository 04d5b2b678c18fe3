import Foundation
import Store
import XCTest

/// `/events`: what the daemon records reaches an open stream — state changes, counts, metrics.
final class UIEventsTests: XCTestCase {
  func testStateChangesAndMetricsReachAnOpenStream() throws {
    let h = try UIHarness()
    try h.startDaemon()
    try h.startUI()
    // Braces in a sweep's command are template holes: the job's script is a file.
    try h.write(
      "job.sh",
      """
      sleep 0.5
      echo '{"type":"metric","name":"val_acc","value":0.75,"epoch":1}' >&3
      sleep 0.5

      """)
    let sweep = """
      register:
        - key: live/one
          command: [sh, \(h.root.path)/job.sh]
      """
    let text = try h.events(
      "/events?sweep=live", timeout: 60,
      during: { try h.submit("live", sweep, daemon: true) },
      until: { $0.contains("\"state\":\"COMPLETED\"") && $0.contains("\"done\":1") })
    XCTAssertTrue(text.contains("event: job\ndata: {\"id\":"), text)
    XCTAssertTrue(text.contains("\"state\":\"RUNNING\""), text)
    XCTAssertTrue(text.contains("\"state\":\"COMPLETED\""), text)
    XCTAssertTrue(text.contains("event: counts\ndata: {\"sweep\":\"live\""), text)
    XCTAssertTrue(text.contains("\"done\":1"), text)
    XCTAssertTrue(
      text.contains("event: metric\ndata: {\"job\":") && text.contains("\"name\":\"val_acc\",\"epoch\":1"), text)

    // A job's own stream carries its state at once.
    let store = try JobStore(path: h.home + "/orch.db")
    guard let id = try store.jobs(JobFilter(sweep: "live")).first?.id else { return XCTFail("no job") }
    let own = try h.events(
      "/events?job=\(id)", timeout: 10, during: {}, until: { $0.contains("event: job") })
    XCTAssertTrue(own.contains("\"id\":\(id),\"state\":\"COMPLETED\""), own)
  }
}
