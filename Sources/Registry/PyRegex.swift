import Foundation
import OrchCore

/// Python `re` patterns (`re.search`, `re.sub`) for config keys. Swift `Regex` took 0.5–1.7 s and
/// NSRegularExpression 0.13–0.19 s per 100,000 keys here, too slow for `orch configs`; this
/// engine runs the common syntax (literals, `.`, classes, `\d\w\s`, anchors, groups, `|`, greedy
/// and lazy quantifiers, flags i/m/s/a) as a backtracking VM whose visited-state bitmap (RE2's
/// BitState) keeps it linear in the key length while giving Python's leftmost-first matches.
/// Rarer syntax (backreferences, lookaround, scoped flags) falls back to NSRegularExpression.
final class PyRegex {
  let pattern: String
  private let engine: Engine
  /// For yes/no searches: the same pattern without a leading or trailing `.*`, which cannot change
  /// whether there is a match (`.*seed1` is searched as the literal `seed1`).
  private let searchEngine: Engine

  private enum Engine {
    case literal([UInt8])
    case program(Program)
    case foundation(NSRegularExpression)
  }

  init(_ pattern: String) throws(OrchError) {
    self.pattern = pattern
    do throws(RegexError) {
      let program = try Program(pattern: pattern, forSearch: false)
      let search = try Program(pattern: pattern, forSearch: true)
      engine = program.literal.map { .literal($0) } ?? .program(program)
      searchEngine = search.literal.map { .literal($0) } ?? .program(search)
    } catch {
      switch error {
      case .unsupported:
        guard let ns = try? NSRegularExpression(pattern: PyRegex.icuPattern(pattern)) else {
          throw .badInput("bad regex '\(pattern)': unsupported syntax")
        }
        engine = .foundation(ns)
        searchEngine = .foundation(ns)
      case .syntax(let msg):
        throw .badInput("bad regex '\(pattern)': \(msg)")
      }
    }
  }

  var groupCount: Int {
    switch engine {
    case .literal: return 0
    case .program(let p): return p.groupCount
    case .foundation(let ns): return ns.numberOfCaptureGroups
    }
  }

  func groupIndex(named name: String) -> Int? {
    switch engine {
    case .literal: return nil
    case .program(let p): return p.groupNames[name]
    case .foundation:
      // NSRegularExpression does not expose names; resolve them from the pattern text.
      return Parser.names(pattern)[name]
    }
  }

  /// `re.search(pattern, s) is not None`.
  func search(_ s: String, scratch: Scratch) -> Bool {
    switch searchEngine {
    case .literal(let lit):
      return withUTF8(s) { Self.contains($0, lit) }
    case .program(let p):
      return withUTF8(s) { p.search($0, from: 0, mustAdvance: false, captures: false, scratch: scratch) != nil }
    case .foundation(let ns):
      return ns.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
  }

  func search(_ s: String) -> Bool {
    search(s, scratch: Scratch())
  }

  /// The matches `re.sub` replaces, as UTF-8 offsets: per match `[start, end, g1start, g1end, …]`,
  /// -1 for a group that did not take part.
  func substitutionMatches(_ s: String) -> [[Int]] {
    switch engine {
    case .literal(let lit):
      return withUTF8(s) { text in
        var out: [[Int]] = []
        var pos = 0
        var mustAdvance = false
        while pos <= text.count {
          guard let at = Self.find(text, lit, from: pos, skipEmptyAtStart: mustAdvance) else { break }
          out.append([at, at + lit.count])
          mustAdvance = lit.isEmpty
          pos = at + lit.count
        }
        return out
      }
    case .program(let p):
      return withUTF8(s) { text in
        let scratch = Scratch()
        var out: [[Int]] = []
        var pos = 0
        var mustAdvance = false
        while pos <= text.count,
          let caps = p.search(text, from: pos, mustAdvance: mustAdvance, captures: true, scratch: scratch)
        {
          out.append(caps)
          // Python 3.7+: after an empty match the next one must not be empty at the same place.
          mustAdvance = caps[0] == caps[1]
          pos = caps[1]
        }
        return out
      }
    case .foundation(let ns):
      return ns.matches(in: s, range: NSRange(s.startIndex..., in: s)).map { m in
        (0..<m.numberOfRanges).flatMap { g -> [Int] in
          guard let r = Range(m.range(at: g), in: s) else { return [-1, -1] }
          return [
            s.utf8.distance(from: s.startIndex, to: r.lowerBound),
            s.utf8.distance(from: s.startIndex, to: r.upperBound),
          ]
        }
      }
    }
  }

  /// The VM's working memory, reused across the keys of one `matching` call. Raw buffers: the
  /// VM's inner loop must not pay for array uniqueness and bounds checks.
  final class Scratch {
    fileprivate var visited = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    fileprivate var visitedCapacity = 1
    fileprivate var jobs = UnsafeMutablePointer<Job>.allocate(capacity: 64)
    fileprivate var jobsCapacity = 64
    fileprivate var caps: [Int] = []

    init() {}

    deinit {
      visited.deallocate()
      jobs.deallocate()
    }

    fileprivate func clearVisited(words: Int) {
      if visitedCapacity < words {
        visited.deallocate()
        visited = .allocate(capacity: words)
        visitedCapacity = words
      }
      visited.update(repeating: 0, count: words)
    }

    fileprivate func growJobs() {
      let bigger = UnsafeMutablePointer<Job>.allocate(capacity: jobsCapacity * 2)
      bigger.moveInitialize(from: jobs, count: jobsCapacity)
      jobs.deallocate()
      jobs = bigger
      jobsCapacity *= 2
    }
  }

  fileprivate struct Job {
    var restore: Bool
    var a: Int
    var b: Int
  }

  private func withUTF8<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let r = s.utf8.withContiguousStorageIfAvailable(body) { return r }
    return Array(s.utf8).withUnsafeBufferPointer(body)
  }

  private static func contains(_ text: UnsafeBufferPointer<UInt8>, _ lit: [UInt8]) -> Bool {
    find(text, lit, from: 0, skipEmptyAtStart: false) != nil
  }

  private static func find(
    _ text: UnsafeBufferPointer<UInt8>, _ lit: [UInt8], from: Int, skipEmptyAtStart: Bool
  ) -> Int? {
    if lit.isEmpty {
      var at = from + (skipEmptyAtStart ? 1 : 0)
      while at < text.count, text[at] & 0xC0 == 0x80 { at += 1 }
      return at <= text.count ? at : nil
    }
    let first = lit[0]
    let n = lit.count
    guard text.count >= n else { return nil }
    var i = from
    let last = text.count - n
    while i <= last {
      if text[i] == first {
        var k = 1
        while k < n && text[i + k] == lit[k] { k += 1 }
        if k == n { return i }
      }
      i += 1
    }
    return nil
  }

  /// Python spellings ICU does not know.
  static func icuPattern(_ p: String) -> String {
    p.replacingOccurrences(of: "(?P<", with: "(?<")
      .replacingOccurrences(of: "\\Z", with: "\\z")
  }
}

// MARK: - Compiled program

private enum RegexError: Error {
  case syntax(String)
  case unsupported
}

private indirect enum RNode {
  case empty
  case char(UInt32)
  case any
  case set(CharSet)
  case concat([RNode])
  case alt([RNode])
  case rep(RNode, min: Int, max: Int, greedy: Bool)  // max -1 = unbounded
  case group(RNode, Int?)
  case anchor(Anchor)
}

private enum Anchor {
  case bol, eol, startText, endText, wordBoundary, notWordBoundary
  case startLine, endLine  // MULTILINE forms of ^ and $
}

private enum ClassKind { case digit, notDigit, word, notWord, space, notSpace }

private struct CharSet {
  var ranges: [(UInt32, UInt32)] = []
  var classes: [ClassKind] = []
  var negated = false
  var ascii: (UInt64, UInt64) = (0, 0)

  func contains(_ c: UInt32, flags: Flags) -> Bool {
    if c < 128 {
      return c < 64 ? ascii.0 & (1 << UInt64(c)) != 0 : ascii.1 & (1 << UInt64(c - 64)) != 0
    }
    return slowContains(c, flags: flags)
  }

  func slowContains(_ c: UInt32, flags: Flags) -> Bool {
    var hit = rawContains(c, flags: flags)
    if !hit && flags.ignoreCase && !(flags.ascii && c >= 128) {
      for v in caseVariants(c) where v != c && rawContains(v, flags: flags) { hit = true; break }
    }
    return hit != negated
  }

  private func rawContains(_ c: UInt32, flags: Flags) -> Bool {
    for (lo, hi) in ranges where c >= lo && c <= hi { return true }
    for k in classes where classMatch(k, c, ascii: flags.ascii) { return true }
    return false
  }

  mutating func finish(flags: Flags) {
    ascii = (0, 0)
    for c in UInt32(0)..<128 where slowContains(c, flags: flags) {
      if c < 64 { ascii.0 |= 1 << UInt64(c) } else { ascii.1 |= 1 << UInt64(c - 64) }
    }
  }
}

private struct Flags {
  var ignoreCase = false
  var multiline = false
  var dotAll = false
  var ascii = false
}

private func isWord(_ c: UInt32, ascii: Bool) -> Bool {
  if c < 128 {
    return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
  }
  if ascii { return false }
  guard let s = Unicode.Scalar(c) else { return false }
  switch s.properties.generalCategory {
  case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
  default: return s.properties.numericType != nil
  }
}

private func classMatch(_ k: ClassKind, _ c: UInt32, ascii: Bool) -> Bool {
  switch k {
  case .digit, .notDigit:
    let d: Bool
    if c < 128 {
      d = c >= 0x30 && c <= 0x39
    } else if ascii {
      d = false
    } else {
      d = Unicode.Scalar(c)?.properties.numericType == .decimal
    }
    return d == (k == .digit)
  case .word, .notWord:
    return isWord(c, ascii: ascii) == (k == .word)
  case .space, .notSpace:
    let s: Bool
    if c < 128 {
      s = c == 0x20 || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)
    } else if ascii {
      s = false
    } else {
      s = Unicode.Scalar(c)?.properties.isWhitespace ?? false
    }
    return s == (k == .space)
  }
}

private func caseVariants(_ c: UInt32) -> [UInt32] {
  guard let s = Unicode.Scalar(c) else { return [c] }
  var out: [UInt32] = [c]
  for m in [s.properties.lowercaseMapping, s.properties.uppercaseMapping, s.properties.titlecaseMapping] {
    let scalars = Array(m.unicodeScalars)
    if scalars.count == 1 { out.append(scalars[0].value) }
  }
  return out
}

private func fold(_ c: UInt32, ascii: Bool) -> UInt32 {
  if c < 128 { return (c >= 0x41 && c <= 0x5A) ? c + 32 : c }
  if ascii { return c }
  guard let s = Unicode.Scalar(c) else { return c }
  let lower = Array(s.properties.lowercaseMapping.unicodeScalars)
  return lower.count == 1 ? lower[0].value : c
}

struct ByteSet {
  private var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

  mutating func insert(_ b: UInt8) {
    let bit = UInt64(1) << UInt64(b & 63)
    switch b >> 6 {
    case 0: w.0 |= bit
    case 1: w.1 |= bit
    case 2: w.2 |= bit
    default: w.3 |= bit
    }
  }

  @inline(__always)
  func contains(_ b: UInt8) -> Bool {
    let bit = UInt64(1) << UInt64(b & 63)
    switch b >> 6 {
    case 0: return w.0 & bit != 0
    case 1: return w.1 & bit != 0
    case 2: return w.2 & bit != 0
    default: return w.3 & bit != 0
    }
  }
}

private enum Inst {
  case byte(UInt8)
  case char(UInt32)
  case fold(UInt32)
  case any(dotAll: Bool)
  case ascii(ByteSet, Int)
  case split(Int, Int)
  case jmp(Int)
  case save(Int)
  case assert(Anchor)
  case match
}

private struct Parser {
  var p: [Unicode.Scalar]
  var i = 0
  var flags = Flags()
  var groupCount = 0
  var groupNames: [String: Int] = [:]

  init(_ pattern: String) { p = Array(pattern.unicodeScalars) }

  var peek: Unicode.Scalar? { i < p.count ? p[i] : nil }

  mutating func eat(_ c: Unicode.Scalar) -> Bool {
    if peek == c { i += 1; return true }
    return false
  }

  mutating func parse() throws(RegexError) -> RNode {
    // Global inline flags such as `(?i)`; Python 3.11 only allows them at the start.
    while i + 2 < p.count, p[i] == "(", p[i + 1] == "?", "aiLmsux".unicodeScalars.contains(p[i + 2]) {
      var j = i + 2
      var f = flags
      while j < p.count, "aiLmsux".unicodeScalars.contains(p[j]) {
        switch p[j] {
        case "i": f.ignoreCase = true
        case "m": f.multiline = true
        case "s": f.dotAll = true
        case "a": f.ascii = true
        case "u": break
        default: throw .unsupported
        }
        j += 1
      }
      guard j < p.count, p[j] == ")" else { throw .unsupported }
      flags = f
      i = j + 1
    }
    let node = try parseAlt()
    if i < p.count { throw .syntax("unbalanced parenthesis at position \(i)") }
    return node
  }

  mutating func parseAlt() throws(RegexError) -> RNode {
    var branches = [try parseConcat()]
    while eat("|") { branches.append(try parseConcat()) }
    return branches.count == 1 ? branches[0] : .alt(branches)
  }

  mutating func parseConcat() throws(RegexError) -> RNode {
    var items: [RNode] = []
    var lastQuantified = false
    while let c = peek, c != "|", c != ")" {
      let here = i
      var bounds: (Int, Int)? = nil
      switch c {
      case "*": i += 1; bounds = (0, -1)
      case "+": i += 1; bounds = (1, -1)
      case "?": i += 1; bounds = (0, 1)
      case "{": bounds = braceQuantifier()
      default: break
      }
      guard let (lo, hi) = bounds else {
        items.append(try parseAtom())
        lastQuantified = false
        continue
      }
      guard let last = items.last, !isAnchor(last) else { throw .syntax("nothing to repeat at position \(here)") }
      if lastQuantified { throw .syntax("multiple repeat at position \(here)") }
      if hi >= 0 && lo > hi { throw .syntax("min repeat greater than max repeat at position \(here + 1)") }
      let greedy = !eat("?")
      if peek == "+" { throw .unsupported }  // possessive (3.11+)
      items[items.count - 1] = .rep(last, min: lo, max: hi, greedy: greedy)
      lastQuantified = true
    }
    if items.isEmpty { return .empty }
    return items.count == 1 ? items[0] : .concat(items)
  }

  private func isAnchor(_ n: RNode) -> Bool {
    if case .anchor = n { return true }
    return false
  }

  /// `{m}`, `{m,}`, `{,n}`, `{m,n}`; anything else leaves `{` a literal, as Python does.
  mutating func braceQuantifier() -> (Int, Int)? {
    let start = i
    i += 1
    var lo = "", hi = ""
    while let c = peek, c.properties.numericType == .decimal, c.isASCII { lo.unicodeScalars.append(c); i += 1 }
    if eat(",") {
      while let c = peek, c.properties.numericType == .decimal, c.isASCII { hi.unicodeScalars.append(c); i += 1 }
    } else {
      hi = lo
    }
    guard eat("}"), i - start > 2 else {
      i = start
      return nil
    }
    let min = lo.isEmpty ? 0 : Int(lo) ?? Int.max
    let max = hi.isEmpty ? -1 : Int(hi) ?? Int.max
    return (min, max)
  }

  mutating func parseAtom() throws(RegexError) -> RNode {
    let c = p[i]
    i += 1
    switch c {
    case ".": return .any
    case "^": return .anchor(flags.multiline ? .startLine : .bol)
    case "$": return .anchor(flags.multiline ? .endLine : .eol)
    case "[": return .set(try parseClass())
    case "\\": return try parseEscape()
    case "(":
      if eat("?") {
        if eat(":") { return .group(try groupBody(), nil) }
        if eat("#") {
          while let d = peek, d != ")" { i += 1 }
          if !eat(")") { throw .syntax("missing ), unterminated comment at position \(i)") }
          return .empty
        }
        if eat("P") && eat("<") {
          var name = ""
          while let d = peek, d != ">" { name.unicodeScalars.append(d); i += 1 }
          guard eat(">"), !name.isEmpty else { throw .syntax("missing >, unterminated name at position \(i)") }
          groupCount += 1
          let index = groupCount
          groupNames[name] = index
          return .group(try groupBody(), index)
        }
        throw .unsupported
      }
      groupCount += 1
      let index = groupCount
      return .group(try groupBody(), index)
    default: return .char(c.value)
    }
  }

  mutating func groupBody() throws(RegexError) -> RNode {
    let start = i
    let body = try parseAlt()
    if !eat(")") { throw .syntax("missing ), unterminated subpattern at position \(start - 1)") }
    return body
  }

  mutating func parseEscape() throws(RegexError) -> RNode {
    guard let c = peek else { throw .syntax("bad escape (end of pattern) at position \(i - 1)") }
    i += 1
    switch c {
    case "d": return .set(classSet(.digit))
    case "D": return .set(classSet(.notDigit))
    case "w": return .set(classSet(.word))
    case "W": return .set(classSet(.notWord))
    case "s": return .set(classSet(.space))
    case "S": return .set(classSet(.notSpace))
    case "b": return .anchor(.wordBoundary)
    case "B": return .anchor(.notWordBoundary)
    case "A": return .anchor(.startText)
    case "Z": return .anchor(.endText)
    case "1"..."9": throw .unsupported  // backreference
    default:
      i -= 1
      return .char(try commonEscape(inClass: false))
    }
  }

  /// Escapes that stand for one character, inside or outside a class.
  mutating func commonEscape(inClass: Bool) throws(RegexError) -> UInt32 {
    let at = i - 1
    let c = p[i]
    i += 1
    switch c {
    case "n": return 0x0A
    case "t": return 0x09
    case "r": return 0x0D
    case "f": return 0x0C
    case "v": return 0x0B
    case "a": return 0x07
    case "b" where inClass: return 0x08
    case "x": return try hexDigits(2, at: at)
    case "u": return try hexDigits(4, at: at)
    case "U": return try hexDigits(8, at: at)
    case "0"..."7":
      var v = c.value - 0x30
      var n = 1
      while n < 3, let d = peek, ("0"..."7").contains(d) { v = v * 8 + d.value - 0x30; i += 1; n += 1 }
      if c != "0" && n < 3 && !inClass { throw .unsupported }
      return v
    case "N": throw .unsupported
    default:
      if c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c)) {
        throw .syntax("bad escape \\\(c) at position \(at)")
      }
      return c.value
    }
  }

  mutating func hexDigits(_ n: Int, at: Int) throws(RegexError) -> UInt32 {
    guard i + n <= p.count, let v = UInt32(String(String.UnicodeScalarView(p[i..<i + n])), radix: 16) else {
      throw .syntax("incomplete escape at position \(at)")
    }
    i += n
    return v
  }

  func classSet(_ k: ClassKind) -> CharSet {
    var s = CharSet()
    s.classes = [k]
    s.finish(flags: flags)
    return s
  }

  mutating func parseClass() throws(RegexError) -> CharSet {
    let start = i - 1
    var set = CharSet()
    if eat("^") { set.negated = true }
    var first = true
    while true {
      guard let c = peek else { throw .syntax("unterminated character set at position \(start)") }
      if c == "]" && !first { i += 1; break }
      first = false
      let itemStart = i
      let lo: UInt32
      i += 1
      if c == "\\" {
        guard let e = peek else { throw .syntax("unterminated character set at position \(start)") }
        switch e {
        case "d": set.classes.append(.digit); i += 1; continue
        case "D": set.classes.append(.notDigit); i += 1; continue
        case "w": set.classes.append(.word); i += 1; continue
        case "W": set.classes.append(.notWord); i += 1; continue
        case "s": set.classes.append(.space); i += 1; continue
        case "S": set.classes.append(.notSpace); i += 1; continue
        default: lo = try commonEscape(inClass: true)
        }
      } else {
        lo = c.value
      }
      var hi = lo
      if peek == "-", i + 1 < p.count, p[i + 1] != "]" {
        i += 1
        let d = p[i]
        i += 1
        if d == "\\" {
          guard let e = peek else { throw .syntax("unterminated character set at position \(start)") }
          if "dDwWsS".unicodeScalars.contains(e) {
            throw .syntax("bad character range at position \(itemStart)")
          }
          hi = try commonEscape(inClass: true)
        } else {
          hi = d.value
        }
        if hi < lo { throw .syntax("bad character range at position \(itemStart)") }
      }
      set.ranges.append((lo, hi))
    }
    set.finish(flags: flags)
    return set
  }

  /// Group names only, for the NSRegularExpression fallback.
  static func names(_ pattern: String) -> [String: Int] {
    let p = Array(pattern.unicodeScalars)
    var out: [String: Int] = [:]
    var count = 0
    var k = 0
    var inClass = false
    while k < p.count {
      let c = p[k]
      if c == "\\" { k += 2; continue }
      if inClass { if c == "]" { inClass = false }; k += 1; continue }
      if c == "[" { inClass = true; k += 1; if k < p.count && p[k] == "]" { k += 1 }; continue }
      if c == "(" {
        if k + 1 < p.count && p[k + 1] == "?" {
          if k + 3 < p.count && p[k + 2] == "P" && p[k + 3] == "<" {
            count += 1
            var name = ""
            var j = k + 4
            while j < p.count && p[j] != ">" { name.unicodeScalars.append(p[j]); j += 1 }
            out[name] = count
          } else if k + 2 < p.count && p[k + 2] == "<" && k + 3 < p.count && p[k + 3] != "=" && p[k + 3] != "!" {
            count += 1
          }
        } else {
          count += 1
        }
      }
      k += 1
    }
    return out
  }
}

private struct Program {
  var insts: [Inst] = []
  var sets: [CharSet] = []
  var flags = Flags()
  var groupCount = 0
  var groupNames: [String: Int] = [:]
  /// Set when the whole pattern is a plain string, searched without the VM.
  var literal: [UInt8]? = nil
  var anchoredAtStart = false
  /// Bytes a match can start with (nil when it may be empty or start with anything): positions
  /// that cannot start a match are skipped without running the VM.
  var firstBytes: ByteSet? = nil

  init(pattern: String, forSearch: Bool) throws(RegexError) {
    var parser = Parser(pattern)
    var root = try parser.parse()
    if forSearch { root = Program.trimDotStars(root) }
    flags = parser.flags
    groupCount = parser.groupCount
    groupNames = parser.groupNames
    if !flags.ignoreCase, let lit = Program.literalText(root) { literal = Array(lit.utf8) }
    insts.append(.save(0))
    try emit(root)
    insts.append(.save(1))
    insts.append(.match)
    if case .anchor(.startText) = Program.firstNode(root) { anchoredAtStart = true }
    if case .anchor(.bol) = Program.firstNode(root) { anchoredAtStart = true }
    firstBytes = Program.firstByteSet(insts, sets, flags)
  }

  private static func firstByteSet(_ insts: [Inst], _ sets: [CharSet], _ flags: Flags) -> ByteSet? {
    var bytes = ByteSet()
    var seen = Set<Int>()
    var stack = [1]
    while let pc = stack.popLast() {
      guard seen.insert(pc).inserted else { continue }
      switch insts[pc] {
      case .byte(let b): bytes.insert(b)
      case .char(let c):
        // A lone surrogate (`\ud800`) can never match UTF-8 text.
        if let scalar = Unicode.Scalar(c) { bytes.insert(Array(String(scalar).utf8)[0]) }
      case .fold(let c):
        guard c < 128 else { return nil }
        bytes.insert(UInt8(c))
        if c >= 0x61 && c <= 0x7A { bytes.insert(UInt8(c - 32)) }
        // Some non-ASCII letters fold to ASCII ones (KELVIN SIGN to k).
        for b in UInt8(0xC0)...UInt8(0xF7) { bytes.insert(b) }
      case .any: return nil
      case .ascii(let bits, _):
        for b in UInt8(0)..<128 where bits.contains(b) { bytes.insert(b) }
        for b in UInt8(0xC0)...UInt8(0xF7) { bytes.insert(b) }
      case .split(let x, let y): stack += [x, y]
      case .jmp(let x): stack.append(x)
      case .save, .assert: stack.append(pc + 1)
      case .match: return nil
      }
    }
    return bytes
  }

  private static func trimDotStars(_ n: RNode) -> RNode {
    func isDotStar(_ n: RNode) -> Bool {
      if case .rep(.any, 0, -1, _) = n { return true }
      return false
    }
    if isDotStar(n) { return .empty }
    guard case .concat(var items) = n else { return n }
    while let first = items.first, isDotStar(first) { items.removeFirst() }
    while let last = items.last, isDotStar(last) { items.removeLast() }
    return items.count == 1 ? items[0] : .concat(items)
  }

  private static func firstNode(_ n: RNode) -> RNode {
    switch n {
    case .concat(let items): return items.first.map(firstNode) ?? n
    case .group(let inner, _): return firstNode(inner)
    default: return n
    }
  }

  private static func literalText(_ n: RNode) -> String? {
    switch n {
    case .empty: return ""
    case .char(let c): return Unicode.Scalar(c).map { String($0) }
    case .concat(let items):
      var s = ""
      for item in items {
        guard let t = literalText(item) else { return nil }
        s += t
      }
      return s
    default: return nil
    }
  }

  private mutating func emit(_ n: RNode) throws(RegexError) {
    if insts.count > 50_000 { throw .unsupported }
    switch n {
    case .empty: break
    case .char(let c):
      if flags.ignoreCase {
        insts.append(.fold(fold(c, ascii: flags.ascii)))
      } else if c < 128 {
        insts.append(.byte(UInt8(c)))
      } else {
        insts.append(.char(c))
      }
    case .any: insts.append(.any(dotAll: flags.dotAll))
    case .set(let s):
      sets.append(s)
      var bits = ByteSet()
      for b in UInt32(0)..<128 where s.contains(b, flags: flags) { bits.insert(UInt8(b)) }
      insts.append(.ascii(bits, sets.count - 1))
    case .concat(let items):
      for item in items { try emit(item) }
    case .alt(let branches):
      var jumps: [Int] = []
      for (k, b) in branches.enumerated() {
        if k < branches.count - 1 {
          let split = insts.count
          insts.append(.split(split + 1, -1))
          try emit(b)
          jumps.append(insts.count)
          insts.append(.jmp(-1))
          insts[split] = .split(split + 1, insts.count)
        } else {
          try emit(b)
        }
      }
      for j in jumps { insts[j] = .jmp(insts.count) }
    case .group(let inner, let index):
      if let index { insts.append(.save(2 * index)) }
      try emit(inner)
      if let index { insts.append(.save(2 * index + 1)) }
    case .anchor(let a): insts.append(.assert(a))
    case .rep(let inner, let lo, let hi, let greedy):
      for _ in 0..<lo { try emit(inner) }
      if hi < 0 {
        let split = insts.count
        insts.append(.split(-1, -1))
        try emit(inner)
        insts.append(.jmp(split))
        insts[split] = greedy ? .split(split + 1, insts.count) : .split(insts.count, split + 1)
      } else if hi > lo {
        var splits: [Int] = []
        for _ in lo..<hi {
          splits.append(insts.count)
          insts.append(.split(-1, -1))
          try emit(inner)
        }
        let end = insts.count
        for s in splits { insts[s] = greedy ? .split(s + 1, end) : .split(end, s + 1) }
      }
    }
  }

  /// Leftmost-first search from `from`; returns the capture offsets or nil.
  func search(
    _ text: UnsafeBufferPointer<UInt8>, from: Int, mustAdvance: Bool, captures: Bool, scratch: PyRegex.Scratch
  ) -> [Int]? {
    scratch.clearVisited(words: (insts.count * (text.count + 1) + 63) / 64)
    let start = insts.withUnsafeBufferPointer { code in
      run(
        code, text, from: from, mustAdvance: mustAdvance, captures: captures, slots: 2 * (groupCount + 1),
        scratch: scratch)
    }
    guard let start else { return nil }
    return captures ? scratch.caps : [start, start]
  }

  /// Tries each start position in turn (skipping those `firstBytes` rules out) within one call, so
  /// the visited bitmap is shared and the cost stays linear in the key length.
  private func run(
    _ code: UnsafeBufferPointer<Inst>, _ text: UnsafeBufferPointer<UInt8>, from: Int, mustAdvance: Bool,
    captures: Bool, slots: Int, scratch: PyRegex.Scratch
  ) -> Int? {
    // Locals only in the loop: class property accesses would pay dynamic exclusivity checks.
    let n = text.count
    let width = n + 1
    let visited = scratch.visited
    let flags = self.flags
    let firstBytes = self.firstBytes
    var start = from
    var caps = captures ? [Int](repeating: -1, count: slots) : []
    var jobs = scratch.jobs
    var capacity = scratch.jobsCapacity
    var top = 0
    defer { if captures { scratch.caps = caps } }
    while true {
      if top == 0 {
        if start > n || (anchoredAtStart && start > from) { return nil }
        if let firstBytes {
          while start < n && !firstBytes.contains(text[start]) { start += 1 }
          if start >= n { return nil }
        }
        jobs[0] = PyRegex.Job(restore: false, a: 0, b: start)
        top = 1
        start += 1
        while start < n && text[start] & 0xC0 == 0x80 { start += 1 }
      }
      top -= 1
      let job = jobs[top]
      if job.restore {
        caps[job.a] = job.b
        continue
      }
      var pc = job.a
      var pos = job.b
      thread: while true {
        let bit = pc &* width &+ pos
        let mask = UInt64(1) << UInt64(bit & 63)
        if visited[bit >> 6] & mask != 0 { break thread }
        visited[bit >> 6] |= mask
        switch code[pc] {
        case .byte(let b):
          guard pos < n, text[pos] == b else { break thread }
          pc += 1
          pos += 1
        case .char(let c):
          guard pos < n else { break thread }
          let (s, len) = decode(text, pos)
          guard s == c else { break thread }
          pc += 1
          pos += len
        case .fold(let c):
          guard pos < n else { break thread }
          let (s, len) = decode(text, pos)
          guard fold(s, ascii: flags.ascii) == c else { break thread }
          pc += 1
          pos += len
        case .any(let dotAll):
          guard pos < n, dotAll || text[pos] != 0x0A else { break thread }
          pos += text[pos] < 0x80 ? 1 : decode(text, pos).1
          pc += 1
        case .ascii(let bits, let k):
          guard pos < n else { break thread }
          let b = text[pos]
          if b < 0x80 {
            guard bits.contains(b) else { break thread }
            pos += 1
          } else {
            let (s, len) = decode(text, pos)
            guard sets[k].contains(s, flags: flags) else { break thread }
            pos += len
          }
          pc += 1
        case .split(let x, let y):
          if top == capacity {
            scratch.growJobs()
            jobs = scratch.jobs
            capacity = scratch.jobsCapacity
          }
          jobs[top] = PyRegex.Job(restore: false, a: y, b: pos)
          top += 1
          pc = x
        case .jmp(let x):
          pc = x
        case .save(let k):
          if captures {
            if top == capacity {
              scratch.growJobs()
              jobs = scratch.jobs
              capacity = scratch.jobsCapacity
            }
            jobs[top] = PyRegex.Job(restore: true, a: k, b: caps[k])
            top += 1
            caps[k] = pos
          }
          pc += 1
        case .assert(let a):
          guard check(a, text, pos) else { break thread }
          pc += 1
        case .match:
          if mustAdvance && pos == from { break thread }
          return pos
        }
      }
    }
  }

  private func decode(_ t: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
    let b0 = UInt32(t[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(t[i + 1] & 0x3F), 2) }
    if b0 < 0xF0 {
      return ((b0 & 0x0F) << 12 | UInt32(t[i + 1] & 0x3F) << 6 | UInt32(t[i + 2] & 0x3F), 3)
    }
    return (
      (b0 & 0x07) << 18 | UInt32(t[i + 1] & 0x3F) << 12 | UInt32(t[i + 2] & 0x3F) << 6
        | UInt32(t[i + 3] & 0x3F), 4
    )
  }

  private func scalarBefore(_ t: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32? {
    guard i > 0 else { return nil }
    var k = i - 1
    while k > 0 && t[k] & 0xC0 == 0x80 { k -= 1 }
    return decode(t, k).0
  }

  private func check(_ a: Anchor, _ t: UnsafeBufferPointer<UInt8>, _ pos: Int) -> Bool {
    let n = t.count
    switch a {
    case .startText, .bol: return pos == 0
    case .endText: return pos == n
    case .eol: return pos == n || (pos == n - 1 && t[pos] == 0x0A)
    case .startLine: return pos == 0 || t[pos - 1] == 0x0A
    case .endLine: return pos == n || t[pos] == 0x0A
    case .notWordBoundary where n == 0:
      return false  // Python's \B never matches an empty string
    case .wordBoundary, .notWordBoundary:
      let before = scalarBefore(t, pos).map { isWord($0, ascii: flags.ascii) } ?? false
      let after = pos < n ? isWord(decode(t, pos).0, ascii: flags.ascii) : false
      return (before != after) == (a == .wordBoundary)
    }
  }
}
