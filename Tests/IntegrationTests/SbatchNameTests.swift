import Foundation
import XCTest

/// `sbatch -J` takes any name, as SLURM does, but the key and run directory made from it hold no
/// control, line or bidi characters (a registry key refuses them at file:line).
final class SbatchNameTests: XCTestCase {
  func testControlCharactersInAJobNameStayOutOfItsKey() throws {
    let c = try Cluster()
    let id = try c.submit(["--hold", "-J", "a\nb\u{202E}c/d", "-o", "/dev/null", "--wrap", "true"])
    let row = try XCTUnwrap(c.historyRows().first)
    XCTAssertEqual(row["name"] as? String, "a\nb\u{202E}c/d", "the name is kept as given")
    XCTAssertEqual(row["key"] as? String, "sbatch/a_b_c_d/\(id)")
    XCTAssertTrue((row["runDir"] as? String ?? "").hasSuffix("/sbatch/a_b_c_d/\(id)"))
  }
}
