import Foundation

/// SLURM's time specifications for `sbatch --begin` and `scontrol update StartTime=` (sbatch(1)):
/// a sequence of parts, each giving the day or the time of day —
/// `now[+count[seconds|minutes|hours|days|weeks]]`, `HH:MM[:SS] [AM|PM]`, `YYYY-MM-DD[THH:MM[:SS]]`,
/// `MM/DD[/YY]`, `MM.DD[.YY]`, `MMDD[YY]`, `today`, `tomorrow`, `midnight`, `noon`, `elevenses`
/// (11:00), `fika` (15:00), `teatime` (16:00) — separated by blanks, `-` or `T`
/// (`noon-tomorrow`, `16:00 tomorrow`). A time of day without a day that has already passed today
/// means tomorrow, as in SLURM.
public enum BeginTime {
  public struct Invalid: Error, Sendable {
    public var position: Int
    public var text: String
  }

  /// Seconds since the epoch, in the local time zone's calendar.
  public static func parse(_ text: String, now: Double) throws(Invalid) -> Double {
    let chars = Array(text.lowercased())
    var pos = 0
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone.current
    let nowDate = Date(timeIntervalSince1970: now)
    var day: DateComponents?
    var time: (h: Int, m: Int, s: Int)?
    var absolute: Double?
    func fail() -> Invalid { Invalid(position: pos, text: text) }
    func word(_ w: String) -> Bool {
      let w = Array(w)
      guard pos + w.count <= chars.count, Array(chars[pos..<pos + w.count]) == w else { return false }
      pos += w.count
      return true
    }
    func number(maxDigits: Int = 9) -> (value: Int, digits: Int)? {
      var value = 0
      var digits = 0
      while pos < chars.count, digits < maxDigits, let d = chars[pos].wholeNumberValue, chars[pos].isASCII {
        value = value * 10 + d
        digits += 1
        pos += 1
      }
      return digits == 0 ? nil : (value, digits)
    }
    func today() -> DateComponents { calendar.dateComponents([.year, .month, .day], from: nowDate) }
    func dayAfter(_ c: DateComponents) -> DateComponents {
      let date = calendar.date(from: c).flatMap { calendar.date(byAdding: .day, value: 1, to: $0) } ?? nowDate
      return calendar.dateComponents([.year, .month, .day], from: date)
    }
    func year(_ y: Int, digits: Int) -> Int { digits <= 2 ? 2000 + y : y }

    while pos < chars.count {
      let c = chars[pos]
      if c == " " || c == "\t" || c == "-" {
        pos += 1
        continue
      }
      if word("today") { day = today(); continue }
      if word("tomorrow") { day = dayAfter(today()); continue }
      if word("teatime") { time = (16, 0, 0); continue }
      if c == "t" {
        pos += 1
        continue
      }
      if word("now") {
        var seconds = 0
        if pos < chars.count, chars[pos] == "+" {
          pos += 1
          guard let (n, _) = number() else { throw fail() }
          var unit = 1
          for (names, size) in [
            (["seconds", "second", "secs", "sec", "s"], 1), (["minutes", "minute", "mins", "min", "m"], 60),
            (["hours", "hour", "h"], 3600), (["days", "day", "d"], 86_400), (["weeks", "week", "w"], 604_800),
          ] where names.contains(where: { word($0) }) {
            unit = size
            break
          }
          let (product, overflow) = n.multipliedReportingOverflow(by: unit)
          guard !overflow, product <= 100 * 365 * 86_400 else { throw fail() }
          seconds = product
        }
        absolute = now + Double(seconds)
        continue
      }
      if word("midnight") { time = (0, 0, 0); continue }
      if word("noon") { time = (12, 0, 0); continue }
      if word("elevenses") { time = (11, 0, 0); continue }
      if word("fika") { time = (15, 0, 0); continue }
      guard c.isASCII, c.isNumber else { throw fail() }
      let start = pos
      guard let (first, firstDigits) = number() else { throw fail() }
      let next = pos < chars.count ? chars[pos] : " "
      if next == ":" {
        pos += 1
        guard let (m, _) = number(maxDigits: 2) else { throw fail() }
        var s = 0
        if pos < chars.count, chars[pos] == ":" {
          pos += 1
          guard let (sec, _) = number(maxDigits: 2) else { throw fail() }
          s = sec
        }
        var h = first
        let save = pos
        while pos < chars.count, chars[pos] == " " { pos += 1 }
        if word("am") {
          if h == 12 { h = 0 }
        } else if word("pm") {
          if h < 12 { h += 12 }
        } else {
          pos = save
        }
        guard firstDigits <= 2, h < 24, m < 60, s < 60 else { throw fail() }
        time = (h, m, s)
      } else if next == "-", firstDigits == 4 {
        pos += 1
        guard let (mo, _) = number(maxDigits: 2), pos < chars.count, chars[pos] == "-" else { throw fail() }
        pos += 1
        guard let (d, _) = number(maxDigits: 2) else { throw fail() }
        day = DateComponents(year: first, month: mo, day: d)
      } else if next == "/" || next == "." {
        pos += 1
        guard firstDigits <= 2, let (d, _) = number(maxDigits: 2) else { throw fail() }
        var y = today().year ?? 2000
        if pos < chars.count, chars[pos] == next {
          pos += 1
          guard let (yy, yDigits) = number(maxDigits: 4) else { throw fail() }
          y = year(yy, digits: yDigits)
        }
        day = DateComponents(year: y, month: first, day: d)
      } else if firstDigits == 4 || firstDigits == 6 {
        let mmdd = firstDigits == 6 ? first / 100 : first
        let y = firstDigits == 6 ? year(first % 100, digits: 2) : today().year ?? 2000
        day = DateComponents(year: y, month: mmdd / 100, day: mmdd % 100)
      } else {
        pos = start
        throw fail()
      }
      if let d = day, !(1...12).contains(d.month ?? 0) || !(1...31).contains(d.day ?? 0) { throw fail() }
    }
    if let absolute, day == nil, time == nil { return absolute }
    if absolute != nil { throw Invalid(position: 0, text: text) }
    guard day != nil || time != nil else { throw Invalid(position: 0, text: text) }
    let t = time ?? (0, 0, 0)
    var components = day ?? today()
    components.hour = t.h
    components.minute = t.m
    components.second = t.s
    guard var date = calendar.date(from: components) else { throw Invalid(position: 0, text: text) }
    if day == nil, date.timeIntervalSince1970 < now, let next = calendar.date(byAdding: .day, value: 1, to: date) {
      date = next
    }
    return date.timeIntervalSince1970
  }
}
