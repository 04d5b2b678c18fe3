import XCTest

@testable import SlurmSyntax

final class SlurmTimeFormatTests: XCTestCase {
  func testSqueueTime() {
    XCTAssertEqual(TimeFormat.squeueTime(0), "0:00")
    XCTAssertEqual(TimeFormat.squeueTime(5), "0:05")
    XCTAssertEqual(TimeFormat.squeueTime(754), "12:34")
    XCTAssertEqual(TimeFormat.squeueTime(3599), "59:59")
    XCTAssertEqual(TimeFormat.squeueTime(3600), "1:00:00")
    XCTAssertEqual(TimeFormat.squeueTime(3723), "1:02:03")
    XCTAssertEqual(TimeFormat.squeueTime(86_399), "23:59:59")
    XCTAssertEqual(TimeFormat.squeueTime(86_400), "1-00:00:00")
    XCTAssertEqual(TimeFormat.squeueTime(93_784), "1-02:03:04")
    XCTAssertEqual(TimeFormat.squeueTime(365 * 86_400), "365-00:00:00")
    XCTAssertEqual(TimeFormat.squeueTime(365 * 86_400 + 1), "INVALID")
    XCTAssertEqual(TimeFormat.squeueTime(-1), "INVALID")
  }

  func testSacctElapsed() {
    XCTAssertEqual(TimeFormat.sacctElapsed(0), "00:00:00")
    XCTAssertEqual(TimeFormat.sacctElapsed(5), "00:00:05")
    XCTAssertEqual(TimeFormat.sacctElapsed(754), "00:12:34")
    XCTAssertEqual(TimeFormat.sacctElapsed(3723), "01:02:03")
    XCTAssertEqual(TimeFormat.sacctElapsed(86_400), "1-00:00:00")
    XCTAssertEqual(TimeFormat.sacctElapsed(93_784), "1-02:03:04")
    XCTAssertEqual(TimeFormat.sacctElapsed(12 * 86_400 + 3600), "12-01:00:00")
    XCTAssertEqual(TimeFormat.sacctElapsed(-1), "INVALID")
  }

  func testTimeLimits() {
    XCTAssertEqual(TimeFormat.squeueTimeLimit(minutes: nil), "UNLIMITED")
    XCTAssertEqual(TimeFormat.squeueTimeLimit(minutes: 30), "30:00")
    XCTAssertEqual(TimeFormat.squeueTimeLimit(minutes: 60), "1:00:00")
    XCTAssertEqual(TimeFormat.squeueTimeLimit(minutes: 1440), "1-00:00:00")
    XCTAssertEqual(TimeFormat.sacctTimelimit(minutes: nil), "UNLIMITED")
    XCTAssertEqual(TimeFormat.sacctTimelimit(minutes: 30), "00:30:00")
    XCTAssertEqual(TimeFormat.sacctTimelimit(minutes: 2 * 1440 + 61), "2-01:01:00")
    // Minutes too many to count in seconds (from a store written by hand, say) print as SLURM
    // prints what it cannot show, instead of trapping.
    XCTAssertEqual(TimeFormat.squeueTimeLimit(minutes: Int.max), "INVALID")
    XCTAssertEqual(TimeFormat.sacctTimelimit(minutes: Int.max / 59), "INVALID")
    XCTAssertEqual(TimeFormat.sacctTimelimit(minutes: Int.min), "INVALID")
  }
}
