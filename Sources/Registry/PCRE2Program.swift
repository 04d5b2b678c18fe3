import CPCRE2

/// A Python pattern, parsed by `PyRegex`'s parser (Python's syntax and error messages), run by
/// PCRE2's JIT: 4–18× faster than the hand-written backtracking VM on 100,000 keys
/// (bench/RESULTS.md). The parsed tree is re-spelled in PCRE2 syntax that means what Python
/// means: classes as Unicode properties (`\d` = `\p{Nd}`, `\w` = letters, numbers and `_`),
/// `^`/`$` as explicit lookarounds on `\n` (PCRE2's multiline `^` does not match after a final
/// newline, Python's does), `.` as "not `\n`", characters as `\x{…}`, groups numbered as in the
/// pattern. Checked against Python's `re` by `RegexCorpusTests`.
///
/// Not thread-safe: one match block per program (a `PyRegex` is used by one thread).
final class PCRE2Program {
  private let code: OpaquePointer
  private let matchData: OpaquePointer
  let groupCount: Int

  init(_ root: RNode, flags: Flags, groupCount: Int) throws(RegexError) {
    var text = ""
    try Self.spell(root, flags, &text)
    var options = UInt32(PCRE2_UTF)
    if !flags.ascii { options |= UInt32(PCRE2_UCP) }
    if flags.ignoreCase { options |= UInt32(PCRE2_CASELESS) }
    var error: Int32 = 0
    var offset = 0
    let bytes = Array(text.utf8)
    guard
      let code = bytes.withUnsafeBufferPointer({
        pcre2_compile_8($0.baseAddress, $0.count, options, &error, &offset, nil)
      })
    else { throw .unsupported }
    // Without JIT (not built for this CPU) PCRE2's interpreter runs the same pattern.
    _ = pcre2_jit_compile_8(code, UInt32(PCRE2_JIT_COMPLETE))
    guard let matchData = pcre2_match_data_create_from_pattern_8(code, nil) else {
      pcre2_code_free_8(code)
      throw .unsupported
    }
    self.code = code
    self.matchData = matchData
    self.groupCount = groupCount
  }

  deinit {
    pcre2_match_data_free_8(matchData)
    pcre2_code_free_8(code)
  }

  /// Whether the pattern matches anywhere in `text`.
  func search(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
    run(text, from: 0, notEmptyAtStart: false) >= 0
  }

  /// The leftmost match at or after `from`, as `[start, end, g1start, g1end, …]` (UTF-8 offsets, -1
  /// for a group that did not take part); with `mustAdvance`, not an empty match at `from`.
  func search(_ text: UnsafeBufferPointer<UInt8>, from: Int, mustAdvance: Bool) -> [Int]? {
    guard run(text, from: from, notEmptyAtStart: mustAdvance) >= 0 else { return nil }
    let ovector = pcre2_get_ovector_pointer_8(matchData)!
    return (0..<(2 * (groupCount + 1))).map { i in
      // PCRE2_UNSET is the all-ones size_t.
      let v = Int(truncatingIfNeeded: ovector[i])
      return v < 0 ? -1 : v
    }
  }

  private func run(_ text: UnsafeBufferPointer<UInt8>, from: Int, notEmptyAtStart: Bool) -> Int32 {
    // Swift strings are valid UTF-8: no need for PCRE2 to check each subject again.
    var options = UInt32(PCRE2_NO_UTF_CHECK)
    if notEmptyAtStart { options |= UInt32(PCRE2_NOTEMPTY_ATSTART) }
    let empty: UInt8 = 0
    return withUnsafePointer(to: empty) { fallback in
      pcre2_match_8(code, text.baseAddress ?? fallback, text.count, from, options, matchData, nil)
    }
  }

  // MARK: Spelling the tree in PCRE2 syntax

  private static func spell(_ n: RNode, _ flags: Flags, _ out: inout String) throws(RegexError) {
    switch n {
    case .empty: break
    case .char(let c):
      // Python's ASCII flag limits IGNORECASE to ASCII letters; PCRE2 in UTF mode folds every case.
      out += flags.ascii && flags.ignoreCase && c >= 128 ? "(?-i:" + char(c) + ")" : char(c)
    case .any: out += flags.dotAll ? "(?s:.)" : "[^\\n]"
    case .set(let s): out += set(s, flags)
    case .concat(let items): for item in items { try spell(item, flags, &out) }
    case .alt(let branches):
      out += "(?:"
      for (i, b) in branches.enumerated() {
        if i > 0 { out += "|" }
        try spell(b, flags, &out)
      }
      out += ")"
    case .rep(let inner, let min, let max, let greedy):
      // PCRE2 caps counted repeats at 65535; Python allows more (the ICU fallback then runs it).
      guard min <= 65535, max <= 65535 else { throw .unsupported }
      out += "(?:"
      try spell(inner, flags, &out)
      out += max < 0 ? "){\(min),}" : "){\(min),\(max)}"
      if !greedy { out += "?" }
    case .atomic(let inner):
      out += "(?>"
      try spell(inner, flags, &out)
      out += ")"
    case .group(let inner, let index):
      out += index == nil ? "(?:" : "("
      try spell(inner, flags, &out)
      out += ")"
    case .anchor(let a):
      switch a {
      case .bol, .startText: out += "\\A"
      case .eol: out += "(?=\\n?\\z)"
      case .endText: out += "\\z"
      case .startLine: out += "(?:\\A|(?<=\\n))"
      case .endLine: out += "(?=\\n|\\z)"
      case .wordBoundary: out += "\\b"
      // Python's \B never matches in an empty string.
      case .notWordBoundary: out += "(?!\\A\\z)\\B"
      }
    }
  }

  private static func char(_ c: UInt32) -> String { "\\x{" + String(c, radix: 16) + "}" }

  /// A class as one PCRE2 class. Python's `\s` also holds U+001C–U+001F, which `[^\s]`/`\S` then
  /// leave out here; config keys never hold those control characters.
  private static func set(_ s: CharSet, _ flags: Flags) -> String {
    if flags.ascii && flags.ignoreCase && s.ranges.contains(where: { $0.1 >= 128 }) {
      // Non-ASCII members match only themselves: tested apart, case-sensitively.
      var ascii = s
      ascii.ranges = s.ranges.filter { $0.0 < 128 }.map { ($0.0, min($0.1, 127)) }
      var exact = CharSet()
      exact.ranges = s.ranges.filter { $0.1 >= 128 }.map { (max($0.0, 128), $0.1) }
      let others = "(?-i:" + set(exact, Flags()) + ")"
      if s.negated { return "(?!" + others + ")" + set(ascii, flags) }
      ascii.negated = false
      return "(?:" + others + "|" + set(ascii, flags) + ")"
    }
    var out = s.negated ? "[^" : "["
    for (lo, hi) in s.ranges {
      out += lo == hi ? char(lo) : char(lo) + "-" + char(hi)
    }
    for k in s.classes {
      switch (k, flags.ascii) {
      case (.digit, false): out += "\\p{Nd}"
      case (.notDigit, false): out += "\\P{Nd}"
      case (.word, false): out += "\\p{L}\\p{N}_"
      case (.notWord, false): out += "\\P{Xwd}"
      case (.space, false): out += "\\p{Xps}\\x{1c}-\\x{1f}"
      case (.notSpace, false): out += "\\P{Xps}"
      case (.digit, true): out += "0-9"
      case (.notDigit, true): out += "\\D"
      case (.word, true): out += "0-9A-Za-z_"
      case (.notWord, true): out += "\\W"
      case (.space, true): out += "\\t-\\r \\x{1c}-\\x{1f}"
      case (.notSpace, true): out += "\\S"
      }
    }
    // An empty Python class cannot be written `[]` in PCRE2: it never matches (or, negated, any character).
    if s.ranges.isEmpty && s.classes.isEmpty { return s.negated ? "(?s:.)" : "(*FAIL)" }
    return out + "]"
  }
}

extension PCRE2Program {
  /// The text of a pattern that is a plain string (searched without PCRE2), or nil.
  static func literalText(_ n: RNode) -> String? {
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
}
