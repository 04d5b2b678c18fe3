import TestSupport
import XCTest

@testable import OrchCore
@testable import SlurmSyntax

final class SlurmJobSelectorTests: XCTestCase {
  func testAcceptedForms() throws {
    XCTAssertEqual(try JobSelector.parse("12"), .job(12))
    XCTAssertEqual(try JobSelector.parse(" 12 "), .job(12))
    XCTAssertEqual(try JobSelector.parse("12_3"), .elements(12, [3]))
    XCTAssertEqual(try JobSelector.parse("12_0"), .elements(12, [0]))
    XCTAssertEqual(try JobSelector.parse("12_[1-3,5]"), .elements(12, [1, 2, 3, 5]))
    XCTAssertEqual(try JobSelector.parse("12_[5,1-3]"), .elements(12, [1, 2, 3, 5]))
    XCTAssertEqual(try JobSelector.parse("12_[0-8:4]"), .elements(12, [0, 4, 8]))
    XCTAssertEqual(try JobSelector.parse("12_[7]"), .elements(12, [7]))
  }

  func testRejectedForms() {
    for text in [
      "", "0", "-1", "a", "12_", "_3", "12_[1-3%2]", "12_[1-3", "12_[]", "12_[a]", "12_-1", "12_3_4",
      "12_x", "12.0", "12_[[1]]", "12_[1-3]x", "1 2", "99999999999999999999999",
    ] {
      slurmRejection { () throws(OrchError) in try JobSelector.parse(text) }
    }
  }

  func testExactMessages() {
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try JobSelector.parse("12_[1-3%2]") },
      "job id '12_[1-3%2]' has a '%' throttle; a throttle belongs to sbatch --array, expected 12_[1-3,5]")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try JobSelector.parse("0") },
      "job id '0' is 0; job ids start at 1")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try JobSelector.parse("12.0") },
      "job id '12.0' names a job step; steps are not supported, expected 12, 12_3 or 12_[1-3,5]")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try JobSelector.parse("12_[]") },
      "job id '12_[]' has no indices; expected N, A-B or A-B:STEP separated by ','")
  }

  func testDescriptionRoundTrip() throws {
    for text in ["12", "12_3", "12_[1-3,5]", "40_[0-7]"] {
      let selector = try JobSelector.parse(text)
      XCTAssertEqual(selector.description, text)
      XCTAssertEqual(try JobSelector.parse(selector.description), selector)
    }
    XCTAssertEqual(try JobSelector.parse("12_[3]").description, "12_3")
    XCTAssertEqual(try JobSelector.parse("12_[1-3,5]").jobID, 12)
  }
}
