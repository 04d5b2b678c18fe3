import XCTest

@testable import CLI

final class ProgressTests: XCTestCase {
  /// The ETA is run time × work left / slots: two slots, a 10 s mean, one job running for 4 s
  /// (6 s left) and 3 pending (30 s) → 18 s. Counting jobs alone (elapsed / finished × left) would
  /// say something else entirely when the first jobs were quick to be skipped.
  func testETAIsMeanRunTimeTimesWorkLeftOverSlots() {
    XCTAssertEqual(Progress.eta(meanRun: 10, runningStarts: [96], pending: 3, slots: 2, now: 100), 18)
    // A job running past the mean counts as nearly done, never negative.
    XCTAssertEqual(Progress.eta(meanRun: 10, runningStarts: [50], pending: 0, slots: 1, now: 100), 0)
    // Nothing has completed yet: no estimate.
    XCTAssertNil(Progress.eta(meanRun: nil, runningStarts: [99], pending: 5, slots: 2, now: 100))
    // No slot seen yet counts as one.
    XCTAssertEqual(Progress.eta(meanRun: 2, runningStarts: [], pending: 4, slots: 0, now: 100), 8)
  }

  /// A progress line never wraps on a narrow terminal (a wrapped line leaves stale lines behind).
  func testLinesAreCutToTheTerminalWidth() {
    let line = "[0:05] completed 12/24  running 2  pending 10  failed 0  ETA 0:04"
    XCTAssertEqual(Terminal.fit(line, columns: nil), line)
    XCTAssertEqual(Terminal.fit(line, columns: 200), line)
    let cut = Terminal.fit(line, columns: 30)
    XCTAssertLessThanOrEqual(cut.count, 29)
    XCTAssertTrue(cut.hasSuffix("…"))
    XCTAssertEqual(Terminal.fit(line, columns: 1).count, 1)
  }

  func testDurations() {
    XCTAssertEqual(Terminal.duration(nil), "?")
    XCTAssertEqual(Terminal.duration(.infinity), "?")
    XCTAssertEqual(Terminal.duration(-1), "?")
    XCTAssertEqual(Terminal.duration(61.2), "1:02")
  }
}
