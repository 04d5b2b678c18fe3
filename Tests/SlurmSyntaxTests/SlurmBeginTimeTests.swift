import Foundation
import OrchCore
import XCTest

@testable import SlurmSyntax

/// `sbatch --begin` / `scontrol update StartTime=` forms, against the local calendar.
final class SlurmBeginTimeTests: XCTestCase {
  var calendar: Calendar {
    var c = Calendar(identifier: .gregorian)
    c.timeZone = TimeZone.current
    return c
  }

  /// 2026-12-06 10:30:00 local time.
  var now: Double {
    calendar.date(from: DateComponents(year: 2026, month: 12, day: 6, hour: 10, minute: 30))!.timeIntervalSince1970
  }

  func local(_ y: Int, _ mo: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0, _ s: Int = 0) -> Double {
    calendar.date(from: DateComponents(year: y, month: mo, day: d, hour: h, minute: mi, second: s))!
      .timeIntervalSince1970
  }

  func testForms() throws {
    let cases: [(String, Double)] = [
      ("now", now), ("now+60", now + 60), ("now+2minutes", now + 120), ("now+1hour", now + 3600),
      ("now+3days", now + 3 * 86_400), ("now+1week", now + 604_800),
      ("16:00", local(2026, 12, 6, 16)), ("09:15", local(2026, 12, 7, 9, 15)), ("4:00 PM", local(2026, 12, 6, 16)),
      ("16:00:30", local(2026, 12, 6, 16, 0, 30)), ("midnight", local(2026, 12, 7)), ("noon", local(2026, 12, 6, 12)),
      ("elevenses", local(2026, 12, 6, 11)), ("fika", local(2026, 12, 6, 15)), ("teatime", local(2026, 12, 6, 16)),
      ("today", local(2026, 12, 6)), ("tomorrow", local(2026, 12, 7)), ("noon-tomorrow", local(2026, 12, 7, 12)),
      ("16:00 tomorrow", local(2026, 12, 7, 16)), ("2030-01-02T03:04:05", local(2030, 1, 2, 3, 4, 5)),
      ("2030-01-02", local(2030, 1, 2)), ("2030-01-02T03:04", local(2030, 1, 2, 3, 4)),
      ("12/25", local(2026, 12, 25)), ("12/25/27", local(2027, 12, 25)), ("12.25.2027", local(2027, 12, 25)),
      ("1225", local(2026, 12, 25)), ("122527", local(2027, 12, 25)),
    ]
    for (text, expected) in cases {
      XCTAssertEqual(try BeginTime.parse(text, now: now), expected, text)
    }
  }

  func testRefusals() {
    for text in [
      "", "bogus", "25:00", "12:60", "13/01", "12/32", "now+", "now+x", "now+99999999999", "now+999999999weeks",
      "2030-13-01", "16:00 now", "99", "12345",
    ] {
      XCTAssertThrowsError(try BeginTime.parse(text, now: now), text)
    }
  }

  /// Seeded mutations of valid forms never trap, and an accepted one is a finite time.
  func testMutationsNeverTrap() {
    var state: UInt64 = 18
    func next() -> UInt64 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return state >> 33
    }
    let seeds = ["now+60", "16:00", "noon-tomorrow", "2030-01-02T03:04:05", "12/25/27", "4:00 PM"]
    let alphabet = Array("0123456789:-+/.T amponwkhdesy\u{0}\u{202E}é")
    for i in 0..<3000 {
      var chars = Array(seeds[i % seeds.count])
      for _ in 0...(next() % 4) {
        let position = chars.isEmpty ? 0 : Int(next() % UInt64(chars.count + 1))
        switch next() % 3 {
        case 0: chars.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: position)
        case 1: if position < chars.count { chars.remove(at: position) }
        default: if position < chars.count { chars[position] = alphabet[Int(next() % UInt64(alphabet.count))] }
        }
      }
      if let t = try? BeginTime.parse(String(chars), now: now) { XCTAssertTrue(t.isFinite, String(chars)) }
    }
  }
}
