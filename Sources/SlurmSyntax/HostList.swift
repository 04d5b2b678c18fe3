import OrchCore

/// SLURM's hostlist expressions (`node[01-03,05]`, `gpu-[1-2]-[3-4]`), expanded as
/// `scontrol show hostnames` does and compressed as `scontrol show hostlist` does. Batch scripts
/// rely on the first: `MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)`.
public enum HostList {
  /// The most hosts one bracketed range may name (hostlist.c's MAX_RANGE).
  public static let maxRange = 65_536
  /// The most hosts one expression may name here: brackets multiply, and SLURM has no bound.
  public static let maxHosts = 1 << 20

  public enum Failure: Error, Equatable {
    /// A bracket's range is not `N` or `N-M` with N ≤ M: `_parse_single_range`'s message.
    case range(String, tooMany: Bool)
    /// Anything else SLURM would not read.
    case invalid

    /// `_parse_single_range`'s line for `tool`, which SLURM prints before its own refusal of the
    /// list; nil for other failures.
    public func rangeLine(_ tool: String) -> String? {
      guard case .range(let range, let tooMany) = self else { return nil }
      let what = tooMany ? "Too many hosts in range" : "Invalid range:"
      return "\(tool): error: _parse_single_range: \(what) `\(UserText.escaped(range))'"
    }
  }

  /// One host, or a run of numbered hosts under one prefix: hostlist.c's hostrange.
  struct Range {
    var prefix: String
    var lo: UInt64
    var hi: UInt64
    var width: Int
    /// A name with no number at its end.
    var single: Bool

    var count: UInt64 { single ? 1 : hi - lo + 1 }
  }

  /// Every host of `text`, in order, duplicates kept.
  public static func expand(_ text: String) throws(Failure) -> [String] {
    var out: [String] = []
    for item in items(text) {
      let names = try expandItem(Substring(item), limit: maxHosts - out.count)
      out += names
    }
    return out
  }

  /// `scontrol show hostlist` (in the order given) or `hostlistsorted`: each item's last bracket
  /// stays a range under the names its other brackets make (`n[1-2]x[3-4]` → `n1x[3-4],n2x[3-4]`).
  public static func compress(_ text: String, sorted: Bool) throws(Failure) -> String {
    var ranges: [Range] = []
    var count = 0
    for item in items(text) {
      for r in try itemRanges(Substring(item), limit: maxHosts - count) {
        count += Int(r.count)
        push(r, into: &ranges)
      }
    }
    if sorted {
      ranges.sort { lhs, rhs in compare(lhs, rhs) < 0 }
      coalesce(&ranges)
    }
    return ranged(ranges)
  }

  /// The items of a list: separated by commas or white space outside brackets.
  static func items(_ text: String) -> [String] {
    var out: [String] = []
    var current = ""
    var depth = 0
    for c in text {
      if c == "[" { depth += 1 } else if c == "]" { depth -= 1 }
      if depth <= 0 && (c == "," || c.isWhitespace) {
        if !current.isEmpty { out.append(current) }
        current = ""
      } else {
        current.append(c)
      }
    }
    if !current.isEmpty { out.append(current) }
    return out
  }

  /// `prefix[ranges]rest`, where rest is empty or holds the next bracket (the product of both).
  static func expandItem(_ item: Substring, limit: Int, tail allowed: Bool = false) throws(Failure) -> [String] {
    guard let open = item.firstIndex(of: "[") else {
      guard !item.contains("]") else { throw .invalid }
      return [String(item)]
    }
    let prefix = item[..<open]
    guard !prefix.contains("]"), let close = item[open...].firstIndex(of: "]") else { throw .invalid }
    let inside = item[item.index(after: open)..<close]
    guard !inside.contains("[") else { throw .invalid }
    let rest = item[item.index(after: close)...]
    if !rest.isEmpty && !rest.contains("[") && !allowed { throw .invalid }
    let numbers = try bracket(inside, limit: limit)
    let tails = rest.isEmpty ? [""] : try expandItem(rest, limit: limit, tail: allowed)
    let (product, overflow) = numbers.count.multipliedReportingOverflow(by: tails.count)
    guard !overflow, product <= limit else { throw .range(String(inside), tooMany: true) }
    var out: [String] = []
    out.reserveCapacity(numbers.count * tails.count)
    for n in numbers {
      for tail in tails { out.append(prefix + n + tail) }
    }
    return out
  }

  /// The numbers of one bracket, as text: `01-03,5` → 01 02 03 5.
  static func bracket(_ inside: Substring, limit: Int) throws(Failure) -> [String] {
    var out: [String] = []
    for r in try bracketRanges(inside, prefix: "", limit: limit) {
      for n in r.lo...r.hi { out.append(padded(n, r.width)) }
    }
    return out
  }

  /// One bracket's pieces as ranges, each written at the width of its low bound.
  static func bracketRanges(_ inside: Substring, prefix: String, limit: Int) throws(Failure) -> [Range] {
    var out: [Range] = []
    var count = 0
    for piece in inside.split(separator: ",", omittingEmptySubsequences: false) {
      let bounds = piece.split(separator: "-", omittingEmptySubsequences: false)
      guard (1...2).contains(bounds.count), bounds.allSatisfy({ isNumber($0) }),
        let lo = UInt64(bounds[0]), let hi = UInt64(bounds[bounds.count - 1]), lo <= hi
      else { throw .range(String(piece), tooMany: false) }
      guard hi - lo < UInt64(maxRange), count + Int(hi - lo) < limit else {
        throw .range(String(piece), tooMany: true)
      }
      count += Int(hi - lo) + 1
      out.append(Range(prefix: prefix, lo: lo, hi: hi, width: bounds[0].count, single: false))
    }
    return out
  }

  /// An item as hostlist.c pushes it: a name, or its last bracket's ranges under each name the
  /// text before that bracket expands to.
  static func itemRanges(_ item: Substring, limit: Int) throws(Failure) -> [Range] {
    guard let open = item.lastIndex(of: "[") else {
      guard !item.contains("]") else { throw .invalid }
      return [range(of: String(item))]
    }
    guard let close = item[open...].firstIndex(of: "]"), item.index(after: close) == item.endIndex else {
      throw .invalid
    }
    let head = item[..<open]
    let prefixes =
      head.contains("[") || head.contains("]") ? try expandItem(head, limit: limit, tail: true) : [String(head)]
    let inside = item[item.index(after: open)..<close]
    var out: [Range] = []
    var count = 0
    for prefix in prefixes {
      let ranges = try bracketRanges(inside, prefix: prefix, limit: limit - count)
      count += ranges.reduce(0) { $0 + Int($1.count) }
      out += ranges
    }
    return out
  }

  static func isNumber(_ s: Substring) -> Bool { !s.isEmpty && s.allSatisfy { $0.isASCII && $0.isNumber } }

  static func padded(_ n: UInt64, _ width: Int) -> String {
    let digits = String(n)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
  }

  /// Leading zeros `num` shows at `width` (hostlist.c's `_zero_padded`).
  static func zeros(_ num: UInt64, _ width: Int) -> Int { max(0, width - String(num).count) }

  /// Whether numbers written at widths `wn` and `wm` can share a range, and the width they share
  /// (hostlist.c's `_width_equiv`).
  static func sharedWidth(_ n: UInt64, _ wn: Int, _ m: UInt64, _ wm: Int) -> (wn: Int, wm: Int)? {
    if wn == wm { return (wn, wm) }
    let npad = zeros(n, wn)
    let nmpad = zeros(n, wm)
    let mpad = zeros(m, wm)
    let mnpad = zeros(m, wn)
    if npad != nmpad && mpad != mnpad { return nil }
    return npad != nmpad ? (wn, wn) : (wm, wm)
  }

  /// A host name split as hostlist.c splits it: the digits at its end are its number.
  static func range(of host: String) -> Range {
    let digits = host.reversed().prefix { $0.isASCII && $0.isNumber }.count
    let prefix = String(host.dropLast(digits))
    guard digits > 0, let n = UInt64(host.suffix(digits)) else {
      return Range(prefix: host, lo: 0, hi: 0, width: 0, single: true)
    }
    return Range(prefix: prefix, lo: n, hi: n, width: digits, single: false)
  }

  static func push(_ new: Range, into ranges: inout [Range]) {
    if var last = ranges.last, !last.single, !new.single, last.prefix == new.prefix, last.hi &+ 1 == new.lo,
      let widths = sharedWidth(last.lo, last.width, new.lo, new.width)
    {
      last.width = widths.wn
      last.hi = new.hi
      ranges[ranges.count - 1] = last
      return
    }
    ranges.append(new)
  }

  /// hostlist.c's `hostrange_cmp`: prefixes in natural order, a name without a number first, then
  /// by number where the widths agree, else by width.
  static func compare(_ a: Range, _ b: Range) -> Int {
    let byPrefix = naturalCompare(a.prefix, b.prefix)
    if byPrefix != 0 { return byPrefix }
    if a.single != b.single { return a.single ? -1 : 1 }
    if sharedWidth(a.lo, a.width, b.lo, b.width) != nil { return a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0 }
    return a.width - b.width
  }

  /// Runs of digits compare as numbers, everything else byte by byte.
  static func naturalCompare(_ a: String, _ b: String) -> Int {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    var i = 0
    var j = 0
    func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
    while i < x.count && j < y.count {
      if isDigit(x[i]) && isDigit(y[j]) {
        var ei = i
        var ej = j
        while ei < x.count && isDigit(x[ei]) { ei += 1 }
        while ej < y.count && isDigit(y[ej]) { ej += 1 }
        let u = x[i..<ei].drop { $0 == 48 }
        let v = y[j..<ej].drop { $0 == 48 }
        if u.count != v.count { return u.count < v.count ? -1 : 1 }
        if !u.elementsEqual(v) { return u.lexicographicallyPrecedes(v) ? -1 : 1 }
        i = ei
        j = ej
      } else {
        if x[i] != y[j] { return x[i] < y[j] ? -1 : 1 }
        i += 1
        j += 1
      }
    }
    return (x.count - i) - (y.count - j)
  }

  /// After sorting: overlapping ranges are split so that each number shows where hostlist.c
  /// puts it, then neighbours are joined (`hostlist_coalesce`, `hostlist_collapse`).
  static func coalesce(_ ranges: inout [Range]) {
    var i = ranges.count - 1
    while i > 0 {
      let prev = ranges[i - 1]
      let next = ranges[i]
      guard !prev.single, !next.single, prev.prefix == next.prefix, prev.hi > next.lo,
        sharedWidth(prev.lo, prev.width, next.lo, next.width) != nil
      else {
        i -= 1
        continue
      }
      var common = (lo: next.lo, hi: min(prev.hi, next.hi))
      if common.hi < prev.hi { ranges[i].hi = prev.hi }
      ranges[i - 1].hi = common.lo
      ranges[i].lo = common.hi
      var at = i
      let hprev = ranges[i - 1]
      let hnext = ranges[i]
      if hprev.lo > hprev.hi {
        ranges.remove(at: i - 1)
        at -= 1
      }
      while common.lo <= common.hi {
        let one = Range(prefix: prev.prefix, lo: common.lo, hi: common.lo, width: prev.width, single: false)
        if common.lo > hprev.hi {
          ranges.insert(one, at: at)
          at += 1
        }
        if common.lo < hnext.lo {
          ranges.insert(one, at: at)
          at += 1
        }
        common.lo += 1
      }
      i = ranges.count - 1
    }
    var k = 1
    while k < ranges.count {
      let a = ranges[k - 1]
      let b = ranges[k]
      if !a.single, !b.single, a.prefix == b.prefix, a.hi &+ 1 == b.lo, sharedWidth(a.lo, a.width, b.lo, b.width) != nil
      {
        ranges[k - 1].hi = b.hi
        ranges.remove(at: k)
      } else {
        k += 1
      }
    }
  }

  /// `n[1-3,5],a,m7`: ranges under one prefix share a bracket (hostlist.c's ranged string).
  static func ranged(_ ranges: [Range]) -> String {
    func within(_ a: Range, _ b: Range) -> Bool { a.prefix == b.prefix && !a.single && !b.single }
    func numbers(_ r: Range) -> String {
      r.lo == r.hi ? padded(r.lo, r.width) : padded(r.lo, r.width) + "-" + padded(r.hi, r.width)
    }
    var parts: [String] = []
    var i = 0
    while i < ranges.count {
      let r = ranges[i]
      if r.single {
        parts.append(r.prefix)
        i += 1
        continue
      }
      let bracketed = r.count > 1 || (i + 1 < ranges.count && within(r, ranges[i + 1]))
      guard bracketed else {
        parts.append(r.prefix + padded(r.lo, r.width))
        i += 1
        continue
      }
      var group = [numbers(r)]
      i += 1
      while i < ranges.count && within(ranges[i], ranges[i - 1]) {
        group.append(numbers(ranges[i]))
        i += 1
      }
      parts.append(r.prefix + "[" + group.joined(separator: ",") + "]")
    }
    return parts.joined(separator: ",")
  }
}
