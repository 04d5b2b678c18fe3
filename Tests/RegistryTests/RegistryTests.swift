import Foundation
import SlurmSyntax
import XCTest

@testable import OrchCore
@testable import Registry

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("Fixtures/registry").path

final class RegistryTests: XCTestCase {
  private func load(_ path: String) throws -> Registry {
    try Registry.load(path: fixtures + "/" + path)
  }

  private func keys(_ r: Registry) -> [String] { r.configs.map(\.key) }

  /// Loads a fixture that must fail and returns the one-line error.
  private func failure(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> String {
    do {
      _ = try Registry.load(path: fixtures + "/" + path)
      XCTFail("\(path) loaded without error", file: file, line: line)
      return ""
    } catch {
      XCTAssertEqual(error.kind, .badInput, file: file, line: line)
      XCTAssertEqual(error.exitCode, 2, file: file, line: line)
      return error.description
    }
  }

  // MARK: Expansion

  func testExpansionOrderIsNestedLoopsLastAxisFastest() throws {
    let r = try load("axes")
    XCTAssertEqual(
      keys(r),
      [
        "grid/1/x", "grid/1/y", "grid/1/z", "grid/2/x", "grid/2/y", "grid/2/z",
        "zip/1-x/1", "zip/1-x/2", "zip/2-y/1", "zip/2-y/2",
        "range/10", "range/6", "range/2",
        "flow/0/0", "flow/0/1", "flow/0/2", "flow/1/0", "flow/1/1", "flow/1/2",
        "when/randinit/lr0.1", "when/finetune/lr0.02", "when/scratch/lr0.02",
        "types/yes/1e-05/2.0/0.0001/true/null/[1,\"a\"]",
      ])
    // The array index is the registration order, stable across loads.
    XCTAssertEqual(keys(try load("axes")), keys(r))
    XCTAssertEqual(try r.matching("^zip/").map(\.key), ["zip/1-x/1", "zip/1-x/2", "zip/2-y/1", "zip/2-y/2"])
    XCTAssertEqual(r.configs.map(\.file), Array(repeating: "p100_axes", count: 23))
  }

  func testZipListAndRangeBindings() throws {
    let r = try load("axes")
    let zip = try r.matching("^zip/")
    XCTAssertEqual(zip.map { $0.bindings["a"] }, [.int(1), .int(1), .int(2), .int(2)])
    XCTAssertEqual(zip.map { $0.bindings["b"] }, [.string("x"), .string("x"), .string("y"), .string("y")])
    // A list combination sets only its own names.
    XCTAssertEqual(zip.map { $0.bindings["d"] }, [nil, .bool(true), nil, .bool(true)])
    XCTAssertEqual(try r.matching("^range/").map { $0.binding("seed") }, [.int(10), .int(6), .int(2)])
    XCTAssertEqual(try r.matching("^flow/").count, 6)
    XCTAssertEqual(try SweepFile.range("range(0, 3)", at: SourceLocation(file: "f", line: 1, column: 1)), [0, 1, 2])
    XCTAssertEqual(try SweepFile.range("range(5)", at: SourceLocation(file: "f", line: 1, column: 1)), [0, 1, 2, 3, 4])
    XCTAssertEqual(try SweepFile.range("range(1,10,4)", at: SourceLocation(file: "f", line: 1, column: 1)), [1, 5, 9])
    XCTAssertEqual(
      try SweepFile.range("range(3, -3, -2)", at: SourceLocation(file: "f", line: 1, column: 1)), [3, 1, -1])
    XCTAssertEqual(try SweepFile.range("range(5, 1)", at: SourceLocation(file: "f", line: 1, column: 1)), [])
  }

  /// Ranges at Int's ends: stop − start and −step do not fit Int, which trapped the whole command
  /// ("arithmetic overflow") before the count was checked. The values are Python's.
  func testRangeAtIntLimits() throws {
    let at = SourceLocation(file: "f", line: 1, column: 1)
    XCTAssertEqual(
      try SweepFile.range("range(-9223372036854775808, 9223372036854775807, 4611686018427387904)", at: at),
      [Int.min, -4_611_686_018_427_387_904, 0, 4_611_686_018_427_387_904])
    XCTAssertEqual(
      try SweepFile.range("range(9223372036854775807, -9223372036854775808, -9223372036854775808)", at: at),
      [Int.max, -1])
    XCTAssertThrowsError(try SweepFile.range("range(-9223372036854775808, 9223372036854775807)", at: at)) {
      XCTAssertTrue("\($0)".contains("18446744073709551615 values, more than the limit"), "\($0)")
    }
  }

  func testWhenAppliesInOrderAfterAxes() throws {
    let r = try load("axes")
    let when = try r.matching("^when/")
    XCTAssertEqual(when.map { $0.binding("optimizer.base_lr") }, [.double(0.1), .double(0.02), .double(0.02)])
    // The second clause sees the first one's result; only finetune matches both of its conditions.
    XCTAssertEqual(
      when.map { $0.binding("train.finetune_from") }, [nil, .string("train/x@latest"), nil])
  }

  func testValuesKeepTheirYAMLCoreTypes() throws {
    let c = try load("axes").configs.last!
    let b = c.bindings
    XCTAssertEqual(b["s"], .string("yes"))
    XCTAssertEqual(b["on"], .string("on"))
    XCTAssertEqual(b["i"], .int(1))
    XCTAssertEqual(b["str1"], .string("1"))
    XCTAssertEqual(b["d"], .double(0.1))
    XCTAssertEqual(b["e"], .double(1e-05))
    XCTAssertEqual(b["f"], .double(2.0))
    XCTAssertEqual(b["t"], .bool(true))
    XCTAssertEqual(b["n"], .null)
    XCTAssertEqual(b["l"], .list([.int(1), .string("a")]))
    XCTAssertEqual(b["m"], .map(["z": .int(1), "a": .int(2)]))
    XCTAssertEqual(b["scope/model.depth"], .int(16))
    XCTAssertEqual(
      c.canonicalJSON,
      #"{"bindings":{"d":0.1,"e":1e-05,"f":2.0,"g":0.0001,"i":1,"l":[1,"a"],"m":{"a":2,"z":1},"n":null,"#
        + #""on":"on","s":"yes","scope/model.depth":16,"str1":"1","t":true},"engine":"train"}"#)
    XCTAssertEqual(c.sortedBindings.map(\.name).first, "d")
  }

  func testPythonFloatFormatting() {
    let cases: [(Double, String)] = [
      (0.1, "0.1"), (1e-05, "1e-05"), (2.0, "2.0"), (0.0001, "0.0001"), (0.02, "0.02"), (100.0, "100.0"),
      (1e16, "1e+16"), (1e15, "1000000000000000.0"), (1.5e-7, "1.5e-07"), (123456.789, "123456.789"),
      (0.0, "0.0"), (-0.0, "-0.0"), (-2.5, "-2.5"), (1.0 / 3.0, "0.3333333333333333"),
      (0.1 + 0.2, "0.30000000000000004"), (Double.leastNonzeroMagnitude, "5e-324"),
      (1.7976931348623157e308, "1.7976931348623157e+308"),
      (.infinity, "inf"), (-.infinity, "-inf"), (.nan, "nan"),
    ]
    for (d, text) in cases { XCTAssertEqual(BindingValue.double(d).templateText, text, "\(d)") }
    XCTAssertEqual(BindingValue.double(.infinity).json, "Infinity")
    XCTAssertEqual(BindingValue.string("a\"b\\c\n\u{1}é").json, #""a\"b\\c\n\u0001é""#)
    XCTAssertEqual(
      BindingValue.map(["b": .null, "a": .list([.bool(false), .int(-3)])]).json, #"{"a":[false,-3],"b":null}"#)
  }

  func testAnchorsAndMergeKeys() throws {
    let c = try load("merge").configs
    XCTAssertEqual(c.map(\.key), ["a/1", "b/2"])
    XCTAssertEqual(c.map(\.kind), [.engine("train"), .engine("train")])
    XCTAssertEqual(c.map(\.resources.cpus), [2, 3])
  }

  func testParallelExpansionKeepsOrderAndFirstError() throws {
    let c = try load("large").configs
    XCTAssertEqual(c.count, 40_000)
    for i in stride(from: 0, to: 40_000, by: 997) {
      XCTAssertEqual(c[i].key, "p/\(i)/x")
      XCTAssertEqual(c[i].kind, .command(argv: ["python3", "t.py", "\(i)", "p/\(i)/x"], env: [:]))
    }
    XCTAssertEqual(c.last?.key, "p/39999/x")
    XCTAssertEqual(Set(c.map(\.hash)).count, 40_000)
    let f = fixtures + "/errors/parallel_first_error.yaml"
    XCTAssertEqual(
      failure("errors/parallel_first_error.yaml"),
      "\(f):4:10: duplicate key 'p/19999/x' (first registered at \(f):4:10); one entry produced it twice:"
        + " its key must vary with every axis")
  }

  // MARK: Derive and listing

  func testDeriveAcrossFilesRerendersTheSourceSpec() throws {
    let r = try load("sweeps")
    XCTAssertEqual(r.configs.count, 18)
    let source = r.config(key: "train/digits/mlp/finetune-lr0.01")!
    let derived = r.config(key: "blk7_shuffle/digits/mlp/finetune-lr0.01/seed2")!
    XCTAssertEqual(derived.file, "p200_shuffle")
    XCTAssertEqual(derived.location, SourceLocation(file: fixtures + "/sweeps/p200_shuffle.yaml", line: 3, column: 13))
    var expected = source.bindings
    expected["data.block_shuffle"] = .int(7)
    expected["seed"] = .int(2)
    XCTAssertEqual(derived.bindings, expected)
    XCTAssertEqual(
      derived.kind,
      .command(
        argv: ["python3", "train.py", "--lr", "0.01", "--key", "blk7_shuffle/digits/mlp/finetune-lr0.01/seed2"],
        env: ["PYTHONUNBUFFERED": "1", "SEED": "2"]))
    // Source resources (cpus 2, mem 2G) with the derive's override (time 30:00).
    XCTAssertEqual(derived.resources.cpus, 2)
    XCTAssertEqual(derived.resources.timeLimit, 1800)
    XCTAssertEqual(derived.resources.memLimit, 2 << 30)
    XCTAssertEqual(source.resources.timeLimit, 600)
    XCTAssertNotEqual(derived.hash, source.hash)
    // Engine specs derive too, with a suffix and no rename.
    let engine = r.config(key: "train/mnist1d/cnn/randinit-lr0.05-wd0.0001")!
    XCTAssertEqual(engine.kind, .engine("train"))
    XCTAssertEqual(engine.binding("optimizer.weight_decay"), .double(0.0001))
  }

  func testListingIsByteIdenticalToTheSeedRegistry() throws {
    let r = try load("sweeps")
    let matched = try r.matching("blk7_shuffle")
    XCTAssertEqual(
      Registry.listing(matched, regex: "blk7_shuffle"),
      """
      12 configs found ====== with regex: blk7_shuffle
          0) blk7_shuffle/digits/mlp/randinit-lr0.1/seed0
          1) blk7_shuffle/digits/mlp/randinit-lr0.1/seed1
          2) blk7_shuffle/digits/mlp/randinit-lr0.1/seed2
          3) blk7_shuffle/digits/mlp/randinit-lr0.01/seed0
          4) blk7_shuffle/digits/mlp/randinit-lr0.01/seed1
          5) blk7_shuffle/digits/mlp/randinit-lr0.01/seed2
          6) blk7_shuffle/digits/mlp/finetune-lr0.1/seed0
          7) blk7_shuffle/digits/mlp/finetune-lr0.1/seed1
          8) blk7_shuffle/digits/mlp/finetune-lr0.1/seed2
          9) blk7_shuffle/digits/mlp/finetune-lr0.01/seed0
         10) blk7_shuffle/digits/mlp/finetune-lr0.01/seed1
         11) blk7_shuffle/digits/mlp/finetune-lr0.01/seed2

      """)
    XCTAssertEqual(Registry.listing([], regex: "nothing"), "0 configs found ====== with regex: nothing\n")
  }

  func testListingWidensPastThreeDigits() {
    let at = SourceLocation(file: "code", line: 1, column: 1)
    let configs = (0..<1001).map {
      ConfigSpec(key: "k\($0)", file: "code", bindings: [:], kind: .engine("train"), location: at)
    }
    let lines = Registry.listing(configs, regex: "k").split(separator: "\n", omittingEmptySubsequences: false)
    XCTAssertEqual(lines[0], "1001 configs found ====== with regex: k")
    XCTAssertEqual(lines[1], "    0) k0")
    XCTAssertEqual(lines[1000], "  999) k999")
    XCTAssertEqual(lines[1001], "  1000) k1000")
    XCTAssertEqual(lines[1002], "")
  }

  func testRenameUsesPythonReplacementSyntaxWithinOneFile() throws {
    let r = try load("rename/p100_rename.yaml")
    XCTAssertEqual(
      keys(r),
      ["train/digits/mlp/randinit-lr0.1", "ckpt3/digits/mlp+randinit-lr0.1", "ckpt10/digits/mlp+randinit-lr0.1"])
    let d = r.configs[2]
    XCTAssertEqual(
      d.kind, .command(argv: ["python3", "train.py", "--out", "runs/ckpt10/digits/mlp+randinit-lr0.1"], env: [:]))
    XCTAssertEqual(d.resources.priority, 5)
    XCTAssertEqual(d.resources.maxAttempts, 3)
  }

  func testCheckpointReferencesRenderTheirHolesFromTheConfigsBindings() throws {
    let r = try load("references/p200_refs.yaml")
    let evals = r.configs.filter { !$0.key.hasPrefix("train/") && !$0.key.hasPrefix("copy/") }
    XCTAssertEqual(evals.map(\.key), ["eval/a/seed0", "eval/b/seed0", "again/a/seed0"])
    // Each entry of the select step's candidate list is a reference too.
    XCTAssertEqual(
      r.configs.first { $0.key == "copy/b" }?.binding("select.from"),
      .list([.string("train/b/seed0@final"), .string("train/b/seed{1}@final")]))
    XCTAssertEqual(evals[1].binding("eval.checkpoint"), .string("train/b/seed0@final"))
    XCTAssertEqual(evals[1].binding("eval.checkpoint_b"), .string("train/b/seed{1}@E001"))
    // The hash is that of the rendered config; a derive copies the rendered reference.
    XCTAssertTrue(
      evals[1].canonicalJSON.contains("\"eval.checkpoint\":\"train/b/seed0@final\""), evals[1].canonicalJSON)
    XCTAssertNotEqual(evals[0].hash, evals[1].hash)
    XCTAssertEqual(evals[2].binding("eval.checkpoint"), .string("train/a/seed0@final"))
    XCTAssertTrue(
      failure("errors/reference_unbound.yaml").hasSuffix(
        "reference_unbound.yaml:2:10: config 'eval/0': eval.checkpoint 'train/{sed}@final' uses unbound name 'sed'"),
      failure("errors/reference_unbound.yaml"))
  }

  // MARK: Hashing

  func testHashIgnoresYAMLOrderKeyAndResources() throws {
    let c = try load("hash").configs
    XCTAssertEqual(c[0].canonicalJSON, c[1].canonicalJSON)
    XCTAssertEqual(c[0].hash, c[1].hash)
    XCTAssertNotEqual(c[0].hash, c[2].hash, "changed command")
    XCTAssertNotEqual(c[0].hash, c[3].hash, "1 and 1.0 are different values")
    XCTAssertEqual(
      c[0].canonicalJSON,
      #"{"bindings":{"a":1,"b":0.5,"c":"x"},"command":["python3","t.py","0.5"],"env":{"X":"1","Y":"2"}}"#)
    // sha256 of the JSON above, as Python's hashlib computes it.
    XCTAssertEqual(c[0].hash, "266915f6524d4c6a130a39d95cc0d19608cbc3263304ab62fc08259276b662cb")
    let built = ConfigSpec(
      key: "x", file: "code", bindings: c[0].bindings, kind: c[0].kind, location: c[0].location)
    XCTAssertEqual(built.canonicalJSON, c[0].canonicalJSON)
    XCTAssertEqual(built.hash, c[0].hash)
  }

  // MARK: Errors point at file:line:column

  func testMalformedYAML() {
    XCTAssertEqual(
      failure("errors/malformed.yaml"),
      fixtures + "/errors/malformed.yaml:4:4: malformed YAML: did not find expected '-' indicator"
        + " (while parsing a block collection at line 2, column 3)")
  }

  func testDuplicateKeyNamesBothLocations() {
    let f = fixtures + "/errors/duplicate.yaml"
    XCTAssertEqual(
      failure("errors/duplicate.yaml"), "\(f):5:10: duplicate key 'train/1' (first registered at \(f):2:10)")
    let g = fixtures + "/errors/duplicate_axis.yaml"
    XCTAssertEqual(
      failure("errors/duplicate_axis.yaml"),
      "\(g):2:10: duplicate key 'train/1' (first registered at \(g):2:10); one entry produced it twice:"
        + " its key must vary with every axis")
  }

  func testUnboundTemplateNameSuggestsClosest() {
    XCTAssertEqual(
      failure("errors/unbound.yaml"),
      fixtures + "/errors/unbound.yaml:3:41: template '{optimizer.base_l}' uses unbound name 'optimizer.base_l';"
        + " did you mean 'optimizer.base_lr'?")
  }

  func testUnsafeKeys() {
    XCTAssertEqual(
      failure("errors/unsafe_key.yaml"),
      fixtures + "/errors/unsafe_key.yaml:2:10: unsafe key 'runs/../model': '..' path component"
        + " (keys become run directories)")
    let cases: [(String, String?)] = [
      ("train/a-b/seed0", nil), ("a.b/..c/.d", nil), ("", "empty key"), ("/abs", "absolute path"),
      ("a//b", "empty path component"), ("a/", "empty path component"), ("./a", "'.' path component"),
      ("a/..", "'..' path component"), ("a\\b", "backslash"), ("a\tb", "control character"),
      ("a\u{7f}", "control character"),
    ]
    for (key, problem) in cases { XCTAssertEqual(unsafeKeyProblem(Array(key.utf8)), problem, key) }
  }

  func testBadRangeAndEmptyAxis() {
    XCTAssertEqual(
      failure("errors/bad_range.yaml"),
      fixtures + "/errors/bad_range.yaml:5:15: bad range 'range(0, 3, 0)': step must not be zero")
    XCTAssertEqual(failure("errors/empty_axis.yaml"), fixtures + "/errors/empty_axis.yaml:4:26: axis 'seed' is empty")
    // Bare ranges inside `[{…}]` are quoted before parsing; columns still match the file as written.
    XCTAssertEqual(
      failure("errors/flow_columns.yaml"),
      fixtures + "/errors/flow_columns.yaml:4:38: bad range 'range(0, 3, 0)': step must not be zero")
    XCTAssertEqual(
      failure("errors/zip_mismatch.yaml"),
      fixtures + "/errors/zip_mismatch.yaml:5:29: zip axes differ in length: 'a' has 3 values, 'b' has 2")
  }

  func testBadTimeAndMemory() {
    XCTAssertEqual(
      failure("errors/bad_time.yaml"),
      fixtures + "/errors/bad_time.yaml:4:32: bad time '1:2:3:4': expected min, min:sec, h:m:s, d-h, d-h:m or d-h:m:s")
    XCTAssertEqual(
      failure("errors/bad_mem.yaml"),
      fixtures + "/errors/bad_mem.yaml:5:12: bad memory '2X': expected an integer with an optional unit K, M, G or T"
        + " (default M)")
  }

  func testUnknownFieldAndCommandShape() {
    XCTAssertEqual(
      failure("errors/unknown_field.yaml"),
      fixtures + "/errors/unknown_field.yaml:3:5: unknown field 'comand' in a register entry; did you mean 'command'?")
    XCTAssertEqual(
      failure("errors/command_string.yaml"),
      fixtures + "/errors/command_string.yaml:3:14: command must be a list (argv); for a shell write [sh, -c, '…']")
    XCTAssertEqual(
      failure("errors/not_mapping.yaml"),
      fixtures + "/errors/not_mapping.yaml:1:1: top level must be a mapping with 'register', found a list")
    XCTAssertEqual(
      failure("errors/key_hole.yaml"),
      fixtures + "/errors/key_hole.yaml:2:17: '{key}' is the rendered key; it cannot appear in the key template")
    XCTAssertEqual(
      failure("errors/when_unknown.yaml"),
      fixtures + "/errors/when_unknown.yaml:6:14: when.if names 'intt', which this entry never binds;"
        + " did you mean 'init'?")
  }

  func testDeriveNeedsEarlierKeys() {
    XCTAssertEqual(
      failure("errors/derive_only.yaml"),
      fixtures + "/errors/derive_only.yaml:2:13: derive '^train/' matches no key registered before it"
        + " (only this file was loaded; load the sweeps directory to derive from others)")
    XCTAssertTrue(failure("sweeps/p200_shuffle.yaml").contains("matches no key registered before it"))
  }

  func testMissingDirectory() {
    XCTAssertEqual(failure("nope"), "sweeps directory '\(fixtures)/nope' does not exist")
    do {
      _ = try Registry.load(directory: fixtures + "/nope")
      XCTFail("loaded a missing directory")
    } catch {
      XCTAssertEqual(error.description, "sweeps directory '\(fixtures)/nope' does not exist")
    }
  }

  // MARK: Resources

  func testTimeSpec() throws {
    let cases: [(String, Int?)] = [
      ("10", 600), ("10:30", 630), ("1:00:00", 3600), ("2-3", 2 * 86400 + 3 * 3600),
      ("2-3:04", 2 * 86400 + 3 * 3600 + 240), ("1-0:0:5", 86405), ("0", nil), ("INFINITE", nil),
      ("unlimited", nil), ("0:45", 45),
    ]
    for (text, seconds) in cases { XCTAssertEqual(try TimeSpec.parseSeconds(text), seconds, text) }
    for bad in ["", "1:2:3:4", "1-2-3", "a", "-1", "1:", "1-2:3:4:5", "1.5"] {
      XCTAssertThrowsError(try TimeSpec.parseSeconds(bad), bad) { error in
        XCTAssertEqual(
          "\(error)", "bad time '\(bad)': expected min, min:sec, h:m:s, d-h, d-h:m or d-h:m:s")
      }
    }
  }

  func testMemorySpec() throws {
    let cases: [(String, Int64?)] = [
      ("2048", 2048 << 20), ("512K", 512 << 10), ("2G", 2 << 30), ("1t", 1 << 40), ("100m", 100 << 20), ("0", nil),
    ]
    for (text, bytes) in cases { XCTAssertEqual(try MemorySpec.parseBytes(text), bytes, text) }
    for bad in ["", "2X", "G", "1.5G", "-1", "2GB"] {
      XCTAssertThrowsError(try MemorySpec.parseBytes(bad), bad)
    }
    XCTAssertThrowsError(try MemorySpec.parseBytes("99999999999999T"))
  }

  // MARK: Regex

  func testMatchingUsesPythonSearchSemantics() throws {
    let r = try load("sweeps")
    func count(_ p: String) throws -> Int { try r.matching(p).count }
    XCTAssertEqual(try count("blk7"), 12)
    XCTAssertEqual(try count("^train/"), 6)
    XCTAssertEqual(try count("seed[02]$"), 8)
    XCTAssertEqual(try count(#"lr0\.01/seed\d"#), 6)
    XCTAssertEqual(try count("mnist1d|finetune-lr0.1/"), 5)
    XCTAssertEqual(try count("(randinit|finetune)-lr0.1$"), 2)
    XCTAssertEqual(try count("randinit.lr"), 10, "'.' matches any character, as in Python")
    XCTAssertEqual(try count(".*seed1"), 4)
    XCTAssertEqual(try count("(?i)BLK7"), 12)
    XCTAssertEqual(try count(#"\bseed\d\b"#), 12)
    XCTAssertEqual(try count(#"\Bseed"#), 0)
    XCTAssertEqual(try count("x{2}|{key}"), 0, "'{' that is no repeat count is a literal, as in Python")
    XCTAssertEqual(try count("lr0(?=.01)"), 8, "lookahead falls back to NSRegularExpression")
    XCTAssertEqual(try count(""), 18)
    XCTAssertThrowsError(try r.matching("seed(")) { error in
      XCTAssertEqual("\(error)", "bad regex 'seed(': missing ), unterminated subpattern at position 4")
    }
    XCTAssertThrowsError(try r.matching("*a")) { error in
      XCTAssertEqual("\(error)", "bad regex '*a': nothing to repeat at position 0")
    }
  }

  func testRegexSubstitutionSpans() throws {
    func spans(_ p: String, _ s: String) throws -> [[Int]] { try PyRegex(p).substitutionMatches(s) }
    XCTAssertEqual(try spans("a.c", "xxabcabc"), [[2, 5], [5, 8]])
    XCTAssertEqual(try spans("x*", "ab"), [[0, 0], [1, 1], [2, 2]])
    XCTAssertEqual(try spans("b*", "abb"), [[0, 0], [1, 3], [3, 3]])
    XCTAssertEqual(try spans("(a)|(b)", "b"), [[0, 1, -1, -1, 0, 1]])
    XCTAssertEqual(try spans("é.", "aéüb"), [[1, 5]])
    XCTAssertEqual(try spans("a+?", "aaa"), [[0, 1], [1, 2], [2, 3]])
  }
}
