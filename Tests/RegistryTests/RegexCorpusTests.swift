import Foundation
import XCTest

@testable import Registry

/// The registry's regexes against Python's `re` itself: hundreds of generated patterns over keys,
/// `re.search` and the spans `re.sub` replaces (with groups), compared with what `python3` computes.
final class RegexCorpusTests: XCTestCase {
  static let keys: [String] = [
    "train/digits/mlp_w4/randinit-lr0.1/seed99",
    "train/digits/mlp_w40/randinit-lr0.01/seed9",
    "train/digits/cnn/finetune-lr0.1/seed0",
    "blk7_shuffle/digits/mlp/randinit-lr0.1/seed1",
    "blk7_shuffle/mnist1d/cnn/finetune-lr0.05-wd0.0001/seed2",
    "eval/cifar/resnet18/ckpt@E030",
    "grid/mlp/lr5/a3/b17/seed42",
    "sweep_A/Run-01/X_y",
    "a/b/c",
    "aaa/bbb/aaa",
    "abcabcabc",
    "x",
    "seed",
    "lr0.1lr0.01",
    "caf\u{e9}/na\u{ef}ve/\u{c9}t\u{e9}",
    "\u{65e5}\u{672c}/\u{8a9e}3",
    "digits\u{663}\u{664}/arabic",
    "MiXeD/CaSe/KEY",
    "tab-free_key.with.dots",
    "under_score__double",
    "1234567890",
    "ends-with-dash-",
    "",
  ]

  /// Pieces the generator combines: Python syntax that config keys meet, valid and not. Not here:
  /// lookaround, backreferences, scoped flags and `(?x)`, which fall back to NSRegularExpression
  /// (ICU), whose answers differ from Python's (ICU rejects a quantified lookaround or `{,n}`).
  static let atoms: [String] = [
    "a", "b", "c", "x", "seed", "lr0", "mlp", "train", "digits", "/", "-", "_", ".", #"\."#, #"\d"#, #"\D"#, #"\w"#,
    #"\W"#, #"\s"#, #"\S"#, "[0-9]", "[a-z]", "[^/]", "[A-Z]", "[._-]", "[^a-z0-9]", #"[\d.]"#, "[a-c]", "[]a]",
    "é", "É", "日", "[é-ï]", "(a|b)", "(?:lr|seed)", "(?P<g>[a-z]+)", "(seed|lr)", "(a)", "(b)?", "^", "$", #"\A"#,
    #"\Z"#, #"\b"#, #"\B"#, "x{2}", "{key}", "{",
    "}",
  ]
  static let quantifiers = ["", "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{1,3}", "{,2}", "{2,}", "{1,2}?"]
  static let flags = ["", "", "", "", "(?i)", "(?s)", "(?m)", "(?a)", "(?im)", "(?ai)"]
  static let extras = [
    "mlp_w4[0-9]/.*seed99", ".*seed1", "^train/.*", "seed9$", "seed9+$", #"lr0\.0?1"#, "(a)(b)?",
    "a**", "(", ")", "[", "[a-", "a{2,1}", "*a", "+", #"\"#, "a|", "|", "(?P<1>a)",
    "(?P<n>a)(?P<n>b)",
    #"\p{L}"#, #"\h"#, #"\Qa\E"#, "(?>a)", "a++", "(?|a)", #"\K"#, #"\R"#, "(?R)", #"\z"#, #"\G"#, "(?#comment)a",
    #"\x41"#, #"\u00e9"#, #"\N{LATIN SMALL LETTER E WITH ACUTE}"#, #"\0"#, #"\07"#, #"[\b]"#, "(?u)x", "(?L)x",
    "a{,}", "a{}", "[[:alpha:]]", "[a-z&&[^b]]", "(?<name>a)", "x*", "", "^$",
    "(a|ab)(c|bcd)(d*)", "(a*)*", "(a*)+b", "(?s).", "a.c", #"\bseed\d\b"#, #"\Bseed"#,
  ]

  /// Deterministic patterns: the extras, then random concatenations of quantified atoms, some
  /// with alternation, a group around part of them, or a leading flag.
  static func patterns(count: Int) -> [String] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next(_ n: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int((state >> 33) % UInt64(n))
    }
    var out = extras
    while out.count < count {
      var p = flags[next(flags.count)]
      let parts = 1 + next(4)
      for i in 0..<parts {
        var atom = atoms[next(atoms.count)]
        if next(4) == 0 { atom = "(" + atom + atoms[next(atoms.count)] + ")" }
        p += atom + quantifiers[next(quantifiers.count)]
        if i + 1 < parts && next(6) == 0 { p += "|" }
      }
      out.append(p)
    }
    return out
  }

  /// Python's answers: per pattern nil (re.error) or, per key, whether `re.search` matches and the
  /// UTF-8 spans of `re.finditer` (the matches `re.sub` replaces), groups included, -1 for none.
  static func python(_ patterns: [String], _ keys: [String]) throws -> [[[[Int]]]?]? {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("regex-corpus-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("in.json")
    try JSONSerialization.data(withJSONObject: ["patterns": patterns, "keys": keys]).write(to: input)
    let script = #"""
      import json, re, sys, warnings
      warnings.simplefilter("ignore")
      data = json.load(open(sys.argv[1], encoding="utf-8"))
      def b(s, i): return -1 if i < 0 else len(s[:i].encode("utf-8"))
      out = []
      for p in data["patterns"]:
          try:
              r = re.compile(p)
          except (re.error, OverflowError, RecursionError):
              out.append(None)
              continue
          per = []
          for k in data["keys"]:
              spans = [[b(k, m.start()), b(k, m.end())] + [b(k, x) for g in range(1, r.groups + 1) for x in m.span(g)]
                       for m in r.finditer(k)]
              per.append([[1 if r.search(k) else 0]] + spans)
          out.append(per)
      json.dump(out, sys.stdout)
      """#
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, input.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    return try JSONDecoder().decode([[[[Int]]]?].self, from: data)
  }

  func testSearchAndSubstitutionMatchPythonsRe() throws {
    let patterns = Self.patterns(count: 600)
    guard let expected = try Self.python(patterns, Self.keys) else {
      throw XCTSkip("python3 is not available")
    }
    XCTAssertEqual(expected.count, patterns.count)
    var compared = 0
    var rejectedByBoth = 0
    for (p, want) in zip(patterns, expected) {
      let regex: PyRegex
      do {
        regex = try PyRegex(p)
      } catch {
        XCTAssertNil(want, "pattern \(p.debugDescription): Python compiles it, orch says \(error)")
        if want == nil { rejectedByBoth += 1 }
        continue
      }
      guard let want else {
        XCTFail("pattern \(p.debugDescription): Python rejects it, orch accepts it")
        continue
      }
      let scratch = PyRegex.Scratch()
      for (k, w) in zip(Self.keys, want) {
        XCTAssertEqual(
          regex.search(k, scratch: scratch), w[0] == [1], "re.search(\(p.debugDescription), \(k.debugDescription))")
        XCTAssertEqual(
          regex.substitutionMatches(k), Array(w.dropFirst()),
          "re.finditer(\(p.debugDescription), \(k.debugDescription)) spans")
        compared += 1
      }
    }
    // Both sides of the corpus are exercised: most patterns compile, a few dozen are errors.
    XCTAssertGreaterThan(compared, 400 * Self.keys.count)
    XCTAssertGreaterThan(rejectedByBoth, 10)
  }
}
