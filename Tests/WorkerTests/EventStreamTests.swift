import Foundation
import XCTest

@testable import Worker

/// How a pool worker cuts a job's fd-3 bytes into forwarded lines and counted drops.
final class EventStreamTests: XCTestCase {
  func bytes(_ s: String) -> ArraySlice<UInt8> { Array(s.utf8)[...] }

  func testLinesSplitAcrossReadsKeepTheirOffsets() {
    var s = EventStream()
    XCTAssertEqual(s.feed(bytes("{\"a\":1}\n{\"b\"")), [.lines(offset: 0, data: Array("{\"a\":1}\n".utf8))])
    XCTAssertEqual(s.feed(bytes(":2}\n")), [.lines(offset: 8, data: Array("{\"b\":2}\n".utf8))])
    XCTAssertEqual(s.feed(bytes("tail")), [])
    XCTAssertEqual(s.finish(), [.lines(offset: 16, data: Array("tail".utf8))])
  }

  /// A line over the limit is never held past it: dropped, counted where it started, and the
  /// lines after it keep their offsets.
  func testAnOverlongLineIsDroppedAndCounted() {
    var s = EventStream(maxLine: 8)
    XCTAssertEqual(s.feed(bytes("ok\n0123456")), [.lines(offset: 0, data: Array("ok\n".utf8))])
    XCTAssertEqual(s.feed(bytes("789abc")), [])
    XCTAssertEqual(s.pending.count, 0, "nothing of the long line is buffered")
    XCTAssertEqual(
      s.feed(bytes("def\nnext\n")),
      [
        .dropped(offset: 3, lines: 1, bytes: 17, reason: .tooLong), .lines(offset: 20, data: Array("next\n".utf8)),
      ])
    // Exactly the limit is kept.
    XCTAssertEqual(s.feed(bytes("12345678\n")), [.lines(offset: 25, data: Array("12345678\n".utf8))])
    XCTAssertEqual(s.feed(bytes("123456789")), [])
    XCTAssertEqual(s.finish(), [.dropped(offset: 34, lines: 1, bytes: 9, reason: .tooLong)])
    XCTAssertEqual(s.droppedLines, 2)
    XCTAssertEqual(s.droppedBytes, 26)
  }

  /// Whole lines go in chunks of up to 64 KiB; a longer line (under the limit) goes alone.
  func testLinesAreChunkedAndALongLineTravelsAlone() {
    var s = EventStream()
    let line = Array(String(repeating: "x", count: 99).utf8) + [10]
    let pieces = s.feed(Array(repeatElement(line, count: 1000).joined())[...])
    XCTAssertEqual(pieces.count, 2)
    guard case .lines(0, let first) = pieces[0], case .lines(let second, let rest) = pieces[1] else {
      return XCTFail("\(pieces)")
    }
    XCTAssertEqual(first.count, 655 * 100)
    XCTAssertEqual(second, 65_500)
    XCTAssertEqual(rest.count, 345 * 100)
    let long = Array(repeating: UInt8(ascii: "y"), count: 200_000) + [10]
    XCTAssertEqual(s.feed(long[...]), [.lines(offset: 100_000, data: long)])
  }

  /// An attempt's journaled bytes are bounded: past its budget, lines are dropped, summed into one
  /// notice at the end of the stream.
  func testPastTheBudgetLinesAreDroppedAndSummed() {
    var s = EventStream(budget: 20)
    XCTAssertEqual(s.feed(bytes("0123456789\n")), [.lines(offset: 0, data: Array("0123456789\n".utf8))])
    XCTAssertEqual(s.feed(bytes("0123456789\nab\ncd\n")), [])
    XCTAssertEqual(s.finish(), [.dropped(offset: 11, lines: 3, bytes: 17, reason: .overBudget)])
  }
}
