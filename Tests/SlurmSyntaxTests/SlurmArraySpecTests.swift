import TestSupport
import XCTest

@testable import OrchCore
@testable import SlurmSyntax

final class SlurmArraySpecTests: XCTestCase {
  func testAcceptedForms() throws {
    let cases: [(String, [Int], Int?)] = [
      ("0", [0], nil),
      ("7", [7], nil),
      ("0-3", [0, 1, 2, 3], nil),
      ("0,6,16-18", [0, 6, 16, 17, 18], nil),
      ("0-15:4", [0, 4, 8, 12], nil),
      ("1-10:3", [1, 4, 7, 10], nil),
      ("1-2:5", [1], nil),
      ("0-15%4", Array(0...15), 4),
      ("0-15:4%1", [0, 4, 8, 12], 1),
      ("5,3,3,1-2", [1, 2, 3, 5], nil),
      ("3-3", [3], nil),
      ("007", [7], nil),
      ("  1-2 ", [1, 2], nil),
      ("4000000", [4_000_000], nil),
    ]
    for (text, indices, throttle) in cases {
      let spec = try ArraySpec.parse(text)
      XCTAssertEqual(spec.indices, indices, text)
      XCTAssertEqual(spec.throttle, throttle, text)
    }
  }

  func testLargestArray() throws {
    let spec = try ArraySpec.parse("0-4000000")
    XCTAssertEqual(spec.indices.count, 4_000_001)
    XCTAssertEqual(spec.indices.last, 4_000_000)
    XCTAssertEqual(spec.description, "0-4000000")
  }

  /// A list that repeats or overlaps its ranges costs no more than its result: `0-3999999`
  /// forty times is four million indices, built at once, not 160 million appended and sorted.
  func testRepeatedRangesStayBounded() throws {
    let repeated = try ArraySpec.parse(Array(repeating: "0-3999999", count: 40).joined(separator: ","))
    XCTAssertEqual(repeated.indices.count, 4_000_000)
    XCTAssertEqual(repeated.indices.last, 3_999_999)
    let overlapping = try ArraySpec.parse((0..<40).map { "\($0)-3999999" }.joined(separator: ",") + ",4000000")
    XCTAssertEqual(overlapping.indices.count, 4_000_001)
    let mixed = try ArraySpec.parse("1-3999999:2,0-3999999:2,5-9,5-9")
    XCTAssertEqual(mixed.indices.count, 4_000_000)
    XCTAssertEqual(Array(mixed.indices.prefix(3)), [0, 1, 2])
    let stepped = slurmRejection { () throws(OrchError) in
      try ArraySpec.parse((0..<20).map { "\($0)-3999999:2" }.joined(separator: ","))
    }
    XCTAssertTrue(
      stepped.hasSuffix("' repeats stepped ranges over more than 16000004 indices in all; list each index once"),
      stepped)
  }

  func testRejectedForms() {
    for text in [
      "", "   ", "0-", "-3", "5-1", "1-3%0", "a", "0-10:0", "1,-2", "1--3", "1,,2", "1,", ",1",
      "1:2", "1-3:", "1-3:x", "1-3%", "1-3%a", "1%2%3", "1-3%-1", "1.5", "1-2-3", "0-4000001",
      "4000001", "99999999999999999999999", "1 ,2", "%4",
    ] {
      slurmRejection { () throws(OrchError) in try ArraySpec.parse(text) }
    }
  }

  func testExactMessages() {
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try ArraySpec.parse("") },
      "empty --array value; expected indices such as 0-15, 1,3,5, 0-15:4 or 0-15%4")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try ArraySpec.parse("0-") },
      "--array '0-' has open range '0-'; expected A-B with both ends given")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try ArraySpec.parse("-3") },
      "--array '-3' has negative index '-3'; indices are whole numbers ≥ 0")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try ArraySpec.parse("5-1") },
      "--array '5-1' has descending range '5-1'; expected A-B with A ≤ B")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try ArraySpec.parse("1-3%0") },
      "--array '1-3%0' has throttle '%0'; expected a whole number ≥ 1 after '%' (at most N elements at once)")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try ArraySpec.parse("a") },
      "--array 'a' has bad element 'a'; expected N, A-B or A-B:STEP with whole numbers")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try ArraySpec.parse("0-10:0") },
      "--array '0-10:0' has step 0 in '0-10:0'; expected a step ≥ 1")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try ArraySpec.parse("0-4000001") },
      "--array '0-4000001' has index 4000001, above the maximum 4000000 (MaxArraySize 4000001)")
  }

  func testSiteMaxArraySize() throws {
    XCTAssertEqual(try ArraySpec.parse("0-1000", maxArraySize: ArraySpec.defaultMaxArraySize).indices.count, 1001)
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try ArraySpec.parse("1001", maxArraySize: 1001) },
      "--array '1001' has index 1001, above the maximum 1000 (MaxArraySize 1001)")
  }

  func testCompress() {
    XCTAssertEqual(ArraySpec.compress([1, 2, 3, 5, 7, 8, 9]), "1-3,5,7-9")
    XCTAssertEqual(ArraySpec.compress([]), "")
    XCTAssertEqual(ArraySpec.compress([4]), "4")
    XCTAssertEqual(ArraySpec.compress([1, 2]), "1-2")
    XCTAssertEqual(ArraySpec.compress([0, 4, 8, 12]), "0,4,8,12")
    XCTAssertEqual(ArraySpec.compress([9, 1, 2, 2, 3]), "1-3,9")
    XCTAssertEqual(ArraySpec.compress(Array(5...1024)), "5-1024")
  }

  func testCompressRoundTrip() throws {
    let samples: [[Int]] = [
      [0], [1, 2, 3, 5, 7, 8, 9], [0, 4, 8, 12], Array(0...99), [3, 10, 11, 12, 40, 42, 43],
      [1_000_000, 1_000_001, 3_999_999],
    ]
    for indices in samples {
      XCTAssertEqual(try ArraySpec.parse(ArraySpec.compress(indices)).indices, indices)
    }
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<200 {
      let indices = Array(
        Set(
          (0..<Int.random(in: 1...40, using: &generator)).map { _ in
            Int.random(in: 0...60, using: &generator)
          })
      ).sorted()
      XCTAssertEqual(try ArraySpec.parse(ArraySpec.compress(indices)).indices, indices)
    }
  }

  func testDescriptionRoundTrip() throws {
    for text in ["0-15%4", "0-15:4", "1,3,5-7", "0", "5-1024%10"] {
      let spec = try ArraySpec.parse(text)
      XCTAssertEqual(try ArraySpec.parse(spec.description), spec, text)
    }
    XCTAssertEqual(try ArraySpec.parse("0-15%4").description, "0-15%4")
    XCTAssertEqual(try ArraySpec.parse("0-15:4").description, "0,4,8,12")
    XCTAssertEqual(try ArraySpec.parse("3,1,2").description, "1-3")
  }
}
