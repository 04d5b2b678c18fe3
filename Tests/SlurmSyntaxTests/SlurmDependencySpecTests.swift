import Store
import TestSupport
import XCTest

@testable import OrchCore
@testable import SlurmSyntax

final class SlurmDependencySpecTests: XCTestCase {
  typealias Term = DependencySpec.Term

  func testEveryType() throws {
    XCTAssertEqual(try DependencySpec.parse("after:12").terms, [Term(kind: .after, jobID: 12)])
    XCTAssertEqual(try DependencySpec.parse("afterany:12").terms, [Term(kind: .afterany, jobID: 12)])
    XCTAssertEqual(try DependencySpec.parse("afterok:12").terms, [Term(kind: .afterok, jobID: 12)])
    XCTAssertEqual(try DependencySpec.parse("afternotok:12").terms, [Term(kind: .afternotok, jobID: 12)])
    XCTAssertEqual(try DependencySpec.parse("aftercorr:12").terms, [Term(kind: .aftercorr, jobID: 12)])
    XCTAssertEqual(try DependencySpec.parse("singleton").terms, [Term(kind: .singleton)])
    XCTAssertEqual(try DependencySpec.parse("AfterOK:12").terms, [Term(kind: .afterok, jobID: 12)])
    XCTAssertEqual(try DependencySpec.parse("SINGLETON").terms, [Term(kind: .singleton)])
  }

  func testIdsAndDelays() throws {
    XCTAssertEqual(
      try DependencySpec.parse("afterok:12:13_3").terms,
      [Term(kind: .afterok, jobID: 12), Term(kind: .afterok, jobID: 13, arrayIndex: 3)])
    XCTAssertEqual(try DependencySpec.parse("afterany:12_*").terms, [Term(kind: .afterany, jobID: 12)])
    // A bracket list is one term per range, never expanded.
    XCTAssertEqual(
      try DependencySpec.parse("afterok:12_[1-2,5]").terms,
      [
        Term(kind: .afterok, jobID: 12, elements: ElementRange(first: 1, last: 2)),
        Term(kind: .afterok, jobID: 12, arrayIndex: 5),
      ])
    XCTAssertEqual(
      try DependencySpec.parse("afterok:12_[0-5:2]:13").terms,
      [
        Term(kind: .afterok, jobID: 12, elements: ElementRange(first: 0, last: 4, step: 2)),
        Term(kind: .afterok, jobID: 13),
      ])
    XCTAssertEqual(
      try DependencySpec.parse("afterok:12_[0-3999999]").terms,
      [Term(kind: .afterok, jobID: 12, elements: ElementRange(first: 0, last: 3_999_999))])
    XCTAssertEqual(
      try DependencySpec.parse("after:12+5:13_2+10:14").terms,
      [
        Term(kind: .after, jobID: 12, delayMinutes: 5),
        Term(kind: .after, jobID: 13, arrayIndex: 2, delayMinutes: 10),
        Term(kind: .after, jobID: 14),
      ])
  }

  func testSeparators() throws {
    let and = try DependencySpec.parse("afterok:12,afternotok:13,singleton")
    XCTAssertFalse(and.isOr)
    XCTAssertEqual(
      and.terms,
      [Term(kind: .afterok, jobID: 12), Term(kind: .afternotok, jobID: 13), Term(kind: .singleton)])
    let or = try DependencySpec.parse("afterok:12?afternotok:13")
    XCTAssertTrue(or.isOr)
    XCTAssertEqual(or.terms.count, 2)
    // Commas inside brackets are not term separators.
    let bracketed = try DependencySpec.parse("afterok:12_[1,3]?after:14")
    XCTAssertTrue(bracketed.isOr)
    XCTAssertEqual(bracketed.terms.count, 3)
    XCTAssertFalse(try DependencySpec.parse("afterok:12").isOr)
  }

  func testBareIdsMeanAfterok() throws {
    XCTAssertEqual(try DependencySpec.parse("12").terms, [Term(kind: .afterok, jobID: 12)])
    XCTAssertEqual(
      try DependencySpec.parse("12:13").terms, [Term(kind: .afterok, jobID: 12), Term(kind: .afterok, jobID: 13)])
    XCTAssertEqual(
      try DependencySpec.parse("12,13_2").terms,
      [Term(kind: .afterok, jobID: 12), Term(kind: .afterok, jobID: 13, arrayIndex: 2)])
    XCTAssertEqual(try DependencySpec.parse("12:13").description, "afterok:12:13")
  }

  func testRepeatsDropped() throws {
    XCTAssertEqual(try DependencySpec.parse("afterok:12:12,afterok:12").terms, [Term(kind: .afterok, jobID: 12)])
    XCTAssertEqual(
      try DependencySpec.parse("after:12+5:12").terms, [Term(kind: .after, jobID: 12, delayMinutes: 5)])
    XCTAssertEqual(try DependencySpec.parse("singleton,singleton").terms, [Term(kind: .singleton)])
    XCTAssertFalse(try DependencySpec.parse("afterok:12?afterok:12").isOr)
    XCTAssertEqual(try DependencySpec.parse("afterok:12,afterany:12").terms.count, 2)
  }

  func testJobIDs() throws {
    XCTAssertEqual(try DependencySpec.parse("afterok:12_1:13,after:12_2,singleton").jobIDs, [12, 13])
  }

  func testDescriptionRoundTrip() throws {
    let cases: [(String, String)] = [
      ("afterok:12", "afterok:12"),
      ("afterok:12:13,after:14+5", "afterok:12:13,after:14+5"),
      ("afterok:12,afterok:13", "afterok:12:13"),
      ("afterany:12?afternotok:13_4", "afterany:12?afternotok:13_4"),
      ("singleton,afterok:1", "singleton,afterok:1"),
      ("afterok:12_[1-2]", "afterok:12_[1-2]"),
      ("afterok:12_[0-9:3,11]?after:4_[2-3]+5", "afterok:12_[0-9:3]:12_11?after:4_[2-3]+5"),
      ("afterok:12_[5-5]", "afterok:12_5"),
      ("aftercorr:7_*", "aftercorr:7"),
      ("12", "afterok:12"),
      ("AFTER:3+1", "after:3+1"),
    ]
    for (text, canonical) in cases {
      let spec = try DependencySpec.parse(text)
      XCTAssertEqual(spec.description, canonical, text)
      XCTAssertEqual(try DependencySpec.parse(spec.description), spec, text)
    }
    XCTAssertEqual(Term(kind: .after, jobID: 4, arrayIndex: 2, delayMinutes: 3).description, "after:4_2+3")
    XCTAssertEqual(Term(kind: .singleton).description, "singleton")
  }

  func testRejectedForms() {
    for text in [
      "", "afterok", "afterok:", "afterok:12,", ",afterok:12", "afterok:12,,afterok:13", "afterok:12?",
      "afterok:12,afterany:13?after:14", "afterburstbuffer:12", "expand:12", "before:12", "afterok:a",
      "afterok:0", "afterok:-3", "afterok:12::13", "afterok:12_", "afterok:12_x", "afterok:12_[1-3",
      "afterok:12_[1-3%2]", "afterok:12_[]", "afterok:12+5", "after:12+0", "after:12+", "after:12+x",
      "singleton:12", "aftercorr:12_3", "aftercorr:12_[1-2]", "afterok:12.0", "0", "12:abc", "afterok :12",
      "afterok:99999999999999999999999",
    ] {
      slurmRejection { () throws(OrchError) in try DependencySpec.parse(text) }
    }
  }

  func testExactMessages() {
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try DependencySpec.parse("afterok:1,afterok:2?afterok:3") },
      "--dependency 'afterok:1,afterok:2?afterok:3' mixes ',' (all must hold) and '?' (any one suffices); use only one kind of separator"
    )
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try DependencySpec.parse("afterburstbuffer:12") },
      "--dependency 'afterburstbuffer:12' uses afterburstbuffer; orch has no burst buffers, use after, afterany, afterok, afternotok, aftercorr or singleton"
    )
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try DependencySpec.parse("before:12") },
      "--dependency 'before:12' has unknown type 'before'; expected after, afterany, afterok, afternotok, aftercorr or singleton"
    )
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try DependencySpec.parse("singleton:12") },
      "--dependency 'singleton:12' gives job ids to singleton; singleton takes none")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try DependencySpec.parse("afterok:12+5") },
      "--dependency 'afterok:12+5' puts a '+minutes' delay on afterok; only after:id+minutes takes one")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try DependencySpec.parse("afterok:0") },
      "--dependency 'afterok:0': job id '0' is 0; job ids start at 1")
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try DependencySpec.parse("") },
      "empty --dependency value; expected type:id[:id…] such as afterok:12 or afterany:12,after:13")
  }

  /// Issue 13 item 2: a delay is at most SLURM's 2147483647 minutes; more was accepted and then
  /// overflowed the daemon's `minutes * 60` on every restart.
  func testDelayWithinSlurmsLimit() throws {
    XCTAssertEqual(
      try DependencySpec.parse("after:12+2147483647").terms,
      [Term(kind: .after, jobID: 12, delayMinutes: 2_147_483_647)])
    for delay in ["2147483648", "999999999999999999", "99999999999999999999999"] {
      XCTAssertEqual(
        slurmRejection { () throws(OrchError) in try DependencySpec.parse("after:12+\(delay)") },
        "--dependency 'after:12+\(delay)' has delay '+\(delay)' minutes; at most 2147483647 (SLURM's limit)")
    }
    XCTAssertEqual(
      slurmRejection { () throws(OrchError) in try DependencySpec.parse("after:1+999999999999999999", option: "--after")
      },
      "--after 'after:1+999999999999999999' has delay '+999999999999999999' minutes; at most 2147483647 (SLURM's limit)"
    )
  }

  /// Repeats are dropped on type and target, a range being its own target.
  func testRangeRepeatsDropped() throws {
    XCTAssertEqual(try DependencySpec.parse("afterok:12_[1-3],afterok:12_[1-3]").terms.count, 1)
    XCTAssertEqual(try DependencySpec.parse("afterok:12_[1-3]:12_[1-3:1]").terms.count, 1)
    XCTAssertEqual(try DependencySpec.parse("afterok:12_[1-3]:12_2").terms.count, 2)
  }
}
