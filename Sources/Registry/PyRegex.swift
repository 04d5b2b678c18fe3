import Foundation
import OrchCore

/// Python `re` patterns (`re.search`, `re.sub`) for config keys. Swift `Regex` took 0.5–1.7 s and
/// NSRegularExpression 0.13–0.19 s per 100,000 keys here, too slow for `orch configs`. The parser
/// below reads Python's syntax (literals, `.`, classes, `\d\w\s`, anchors, groups, `|`, greedy
/// and lazy quantifiers, flags i/m/s/a) with Python's error messages; `PCRE2Program` runs the
/// parsed pattern through PCRE2's JIT. Rarer syntax (backreferences, lookaround, scoped flags)
/// falls back to NSRegularExpression.
public final class PyRegex {
  let pattern: String
  private let engine: Engine

  private enum Engine {
    case literal([UInt8])
    case pcre2(PCRE2Program)
    case foundation(NSRegularExpression)
  }

  private var groupNames: [String: Int] = [:]

  public init(_ pattern: String) throws(OrchError) {
    self.pattern = pattern
    do throws(RegexError) {
      var parser = Parser(pattern)
      let root = try parser.parse()
      groupNames = parser.groupNames
      if !parser.flags.ignoreCase, let literal = PCRE2Program.literalText(root) {
        engine = .literal(Array(literal.utf8))
      } else {
        engine = .pcre2(try PCRE2Program(root, flags: parser.flags, groupCount: parser.groupCount))
      }
    } catch {
      switch error {
      case .unsupported:
        guard let ns = try? NSRegularExpression(pattern: PyRegex.icuPattern(pattern)) else {
          throw .badInput("bad regex '\(pattern)': unsupported syntax")
        }
        engine = .foundation(ns)
      case .syntax(let msg):
        throw .badInput("bad regex '\(pattern)': \(msg)")
      }
    }
  }

  var groupCount: Int {
    switch engine {
    case .literal: return 0
    case .pcre2(let p): return p.groupCount
    case .foundation(let ns): return ns.numberOfCaptureGroups
    }
  }

  func groupIndex(named name: String) -> Int? {
    switch engine {
    case .literal: return nil
    case .pcre2: return groupNames[name]
    case .foundation:
      // NSRegularExpression does not expose names; resolve them from the pattern text.
      return Parser.names(pattern)[name]
    }
  }

  /// `re.search(pattern, s) is not None`.
  public func search(_ s: String, scratch: Scratch) -> Bool {
    switch engine {
    case .literal(let lit):
      return withUTF8(s) { Self.contains($0, lit) }
    case .pcre2(let p):
      return withUTF8(s) { p.search($0) }
    case .foundation(let ns):
      return ns.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
  }

  func search(_ s: String) -> Bool {
    search(s, scratch: Scratch())
  }

  /// `search` over UTF-8 bytes, without a String.
  func search(utf8 text: UnsafeBufferPointer<UInt8>) -> Bool {
    switch engine {
    case .literal(let lit): return Self.contains(text, lit)
    case .pcre2(let p): return p.search(text)
    case .foundation: return search(String(decoding: text, as: UTF8.self), scratch: Scratch())
    }
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
    case .pcre2(let p):
      return withUTF8(s) { text in
        var out: [[Int]] = []
        var pos = 0
        var mustAdvance = false
        while pos <= text.count, let caps = p.search(text, from: pos, mustAdvance: mustAdvance) {
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

  /// Kept for callers that search many keys with one pattern; PCRE2's match block lives in the
  /// compiled pattern.
  public final class Scratch {
    public init() {}
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

// MARK: - Parsed pattern

enum RegexError: Error {
  case syntax(String)
  case unsupported
}

indirect enum RNode {
  case empty
  case char(UInt32)
  case any
  case set(CharSet)
  case concat([RNode])
  case alt([RNode])
  case rep(RNode, min: Int, max: Int, greedy: Bool)  // max -1 = unbounded
  case group(RNode, Int?)
  /// `(?>…)`, and a possessive repeat (`a++`) around its repeat: no backtracking into it (3.11+).
  case atomic(RNode)
  case anchor(Anchor)
}

enum Anchor {
  case bol, eol, startText, endText, wordBoundary, notWordBoundary
  case startLine, endLine  // MULTILINE forms of ^ and $
}

enum ClassKind { case digit, notDigit, word, notWord, space, notSpace }

struct CharSet {
  var ranges: [(UInt32, UInt32)] = []
  var classes: [ClassKind] = []
  var negated = false
}

struct Flags {
  var ignoreCase = false
  var multiline = false
  var dotAll = false
  var ascii = false
}

struct Parser {
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
      let repeated = RNode.rep(last, min: lo, max: hi, greedy: greedy)
      items[items.count - 1] = greedy && eat("+") ? .atomic(repeated) : repeated
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
        if eat(">") { return .atomic(try groupBody()) }
        if eat("#") {
          while let d = peek, d != ")" { i += 1 }
          if !eat(")") { throw .syntax("missing ), unterminated comment at position \(i)") }
          return .empty
        }
        if eat("P") && eat("<") {
          let nameStart = i
          var name = ""
          while let d = peek, d != ">" { name.unicodeScalars.append(d); i += 1 }
          guard eat(">"), !name.isEmpty else { throw .syntax("missing >, unterminated name at position \(i)") }
          // Python: a group name is an identifier, defined once.
          let first = name.unicodeScalars.first!
          guard first == "_" || first.properties.isXIDStart,
            name.unicodeScalars.allSatisfy({ $0.properties.isXIDContinue })
          else { throw .syntax("bad character in group name '\(name)' at position \(nameStart)") }
          if let previous = groupNames[name] {
            throw .syntax(
              "redefinition of group name '\(name)' as group \(groupCount + 1); was group \(previous) at position \(nameStart)"
            )
          }
          groupCount += 1
          let index = groupCount
          groupNames[name] = index
          return .group(try groupBody(), index)
        }
        // `(?<name>…)` is not Python's spelling (3.11 has only `(?P<name>…)`).
        if i + 1 < p.count, p[i] == "<", p[i + 1] != "=", p[i + 1] != "!" {
          throw .syntax("unknown extension ?<\(p[i + 1]) at position \(i - 1)")
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
