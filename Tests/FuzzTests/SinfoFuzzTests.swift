import SlurmSyntax
import XCTest

final class SinfoFuzzTests: XCTestCase {
  /// sinfo's `-o`, `-O`, `-t` and `-n` values: rendered or refused with an OrchError, never a trap,
  /// and never a line longer than the widths allow.
  func testSinfoFormats() {
    Fuzz.run(
      "sinfo-format",
      seeds: [
        "%9P %.5a %.10l %.6D %.6t %N", "%.20P|%-5a|%5l", "%all", "partition:.12,nodes:3,bogus",
        "idle,mix,alloc", "n[01-10],vm", "%99999999999999P", "statelong:9999999999",
      ], tokens: ["%", "%.", ":", ":.", ",", "[", "]", "-", "all", "idle", "partition", "nodelist"]
    ) { bytes in
      let text = Fuzz.text(bytes)
      let node = SinfoNode(name: "vm", partition: "local", cpus: 4, allocatedCPUs: 1, memoryMB: 1000)
      for pieces in [SinfoFormat.parse(text).pieces, SinfoFormat.parseLong(text).pieces] {
        let line = SinfoFormat.line(pieces, node: node, empty: text.count % 2 == 0)
        XCTAssertLessThanOrEqual(line.count, (pieces.count + 1) * 1_000_000 + text.count)
        _ = SinfoFormat.header(pieces)
      }
      _ = SinfoFilter.nodeListContains(text, "n05")
      _ = try SinfoFilter.states(text)
    }
  }
}
