import Worker
import XCTest

@testable import SlurmSyntax

final class SlurmOutputPatternTests: XCTestCase {
  let job = JobIdentity(
    jobID: 1180, arrayID: 1180, arrayIndex: 3, isArray: true, attempt: 1, name: "w", key: "k", runDir: "/r",
    home: "/h")

  func expand(_ pattern: String) -> String {
    OutputPattern.expand(pattern, job: job, host: "node", user: "u")
  }

  /// A width pads to at most 10 digits, as the real SLURM 22.05 names
  /// `-o 'w-%20a-%12j-%099999999999a-%3A.txt'`: `w-0000000003-0000001180-0000000003-1180.txt`.
  /// The width was taken whole, so `%099999999999a` asked for a 100 GB string of zeros.
  func testWidthIsAtMostTenDigitsAsInSlurm() {
    XCTAssertEqual(expand("w-%20a-%12j-%099999999999a-%3A.txt"), "w-0000000003-0000001180-0000000003-1180.txt")
    XCTAssertEqual(expand("%99999999999999999999999a"), "0000000003")
    XCTAssertEqual(expand("%4a %x %%"), "0003 w %")
    // Only ASCII digits make a width, as in SLURM's C code.
    XCTAssertEqual(expand("%٣a"), "%٣a")
  }
}
