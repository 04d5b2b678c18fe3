import Foundation
import TestSupport
import XCTest

@testable import Registry

/// Sweep files written to hurt: keys that would hide or reorder text, errors that would echo raw
/// control characters, and aliases that would grow a small file into billions of nodes.
final class HostileSweepTests: XCTestCase {
  var dir: String!

  override func setUpWithError() throws {
    dir = NSTemporaryDirectory() + "orch-hostile-sweep-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

  /// Writes `text` as a sweep file and returns the one-line error of loading it.
  func failure(_ text: String, name: String = "s.yaml", file: StaticString = #filePath, line: UInt = #line) -> String {
    let path = dir + "/" + name
    FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    do {
      let r = try Registry.load(path: path)
      XCTFail("loaded \(r.configs.count) configs", file: file, line: line)
      return ""
    } catch {
      XCTAssertEqual(error.kind, .badInput, file: file, line: line)
      let raw = error.description.unicodeScalars.filter { UserTextProbe.refused($0) }
      XCTAssertEqual(raw.map(\.value), [], "raw control characters in: \(error.description)", file: file, line: line)
      return error.description.replacingOccurrences(of: dir + "/", with: "")
    }
  }

  /// A file that is not UTF-8 names the first bad byte's line and column (it said 1:1 whatever
  /// the line), in characters after multi-byte ones.
  func testFileNotInUTF8NamesTheFirstBadByte() throws {
    let path = dir + "/latin.yaml"
    let latin = Array("register:\n  - key: \"é/caf".utf8) + [0xE9] + Array("{i}\"\n    command: [/bin/true]\n".utf8)
    XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(latin)))
    XCTAssertThrowsError(try Registry.load(path: path)) {
      XCTAssertEqual(
        "\($0)".replacingOccurrences(of: dir + "/", with: ""),
        "latin.yaml:2:16: sweep file is not valid UTF-8: byte 0xE9 (save the file as UTF-8)")
    }
    XCTAssertEqual(YAMLSource.firstInvalidUTF8([0x61, 0x0A, 0x0A, 0x62, 0xC3]).line, 3)
  }

  // MARK: Keys

  /// C1 controls (U+0085 NEL among them), line and paragraph separators and bidi controls are
  /// refused in keys, at the key's line, as C0 controls were.
  func testKeysRefuseLineAndBidiControls() {
    let cases: [(String, String)] =
      [
        ("\\x85", "control character"), ("\\x80", "control character"), ("\\x9F", "control character"),
        ("\\u2028", "line separator"), ("\\u2029", "paragraph separator"), ("\\u200E", "bidirectional control"),
        ("\\u200F", "bidirectional control"), ("\\u061C", "bidirectional control"),
      ] + (0x202A...0x202E).map { ("\\u\(String($0, radix: 16))", "bidirectional control") }
      + (0x2066...0x2069).map { ("\\u\(String($0, radix: 16))", "bidirectional control") }
    for (escape, problem) in cases {
      let message = failure("register:\n  - key: \"train/a\(escape)b/seed0\"\n    command: [\"true\"]\n")
      XCTAssertTrue(message.hasPrefix("s.yaml:2:10: unsafe key 'train/a\\u{"), message)
      XCTAssertTrue(message.hasSuffix("b/seed0': \(problem) (keys become run directories)"), message)
    }
    // The same through a template hole: the rendered key is checked.
    let rendered = failure(
      "register:\n  - key: \"run/{name}\"\n    command: [\"true\"]\n    axes: {name: [ok, \"a\\u202Eb\"]}\n")
    XCTAssertEqual(
      rendered, "s.yaml:2:10: unsafe key 'run/a\\u{202E}b': bidirectional control (keys become run directories)")
    // Printable Unicode stays allowed.
    XCTAssertNil(unsafeKeyProblem(Array("train/é🙂/σ".utf8)))
  }

  // MARK: Errors quoting input

  func testErrorsEscapeTheControlCharactersTheyQuote() {
    XCTAssertEqual(
      failure("register:\n  - key: \"a\\nb\\tc\\rd\"\n    command: [\"true\"]\n"),
      "s.yaml:2:10: unsafe key 'a\\nb\\tc\\rd': control character (keys become run directories)")
    XCTAssertEqual(
      failure("register:\n  - key: k\n    \"\\e[2J\\e[31mcomand\": [\"true\"]\n"),
      "s.yaml:3:5: unknown field '\\u{1B}[2J\\u{1B}[31mcomand' in a register entry; expected one of: key, command,"
        + " engine, env, bindings, axes, when, resources")
    XCTAssertEqual(
      failure("register:\n  - key: k\n    command: [\"true\"]\n    bindings: {\"a\\u2028b\": 1}\n"),
      "s.yaml:4:16: bad binding name 'a\\u{2028}b': expected gin names such as 'optimizer.base_lr' or"
        + " 'scope/model.depth'")
    // The file's own name is input too.
    XCTAssertEqual(
      failure("register: [\n", name: "a\nb\u{1B}c.yaml").components(separatedBy: ":").first, "a\\nb\\u{1B}c.yaml")
    do {
      _ = try Registry.load(path: dir + "/missing\n\u{202E}.yaml")
      XCTFail("loaded a missing file")
    } catch {
      XCTAssertEqual(error.description, "sweep file '\(dir!)/missing\\n\\u{202E}.yaml' does not exist")
    }
  }

  // MARK: Aliases

  /// `levels` levels of ten aliases each: 10^levels strings from a few hundred bytes.
  static func laughs(levels: Int, asKey: Bool = false) -> String {
    var text = "x-0: &l0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
    for level in 1..<levels {
      text += "x-\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ",") + "]\n"
    }
    let top = "*l\(levels - 1)"
    if asKey { return text + "x-key: {? \(top) : 1, ? *l\(levels - 2) : 2}\nregister: []\n" }
    return text + "register:\n  - key: lol\n    command: [echo]\n    bindings: {boom: \(top)}\n"
  }

  func testBillionLaughsIsRefusedBeforeItGrows() {
    // 9 levels: 10^9 strings (past 5.7 GB before); as a mapping key, hashing it never ended.
    for asKey in [false, true] {
      let message = failure(Self.laughs(levels: 9, asKey: asKey))
      XCTAssertEqual(
        message,
        "s.yaml:5:39: aliases copy more than 100000 nodes (here at '*l3'): nested aliases grow a small file"
          + " without bound (a YAML alias bomb), so they are limited")
    }
  }

  func testAliasesWithinTheBoundStillWork() throws {
    // 4 levels: 10^4 strings, and the merge keys every real sweep uses.
    let path = dir + "/ok.yaml"
    try Self.laughs(levels: 4).write(toFile: path, atomically: true, encoding: .utf8)
    let r = try Registry.load(path: path)
    guard case .list(let top)? = r.configs.first?.bindings["boom"], case .list(let inner) = top[0] else {
      return XCTFail("no list")
    }
    XCTAssertEqual(top.count, 10)
    XCTAssertEqual(inner.count, 10)
    try """
    x-d: &d {cpus: 1, time: "10"}
    register:
      - {key: a, command: ["true"], resources: {<<: *d, cpus: 2}}
      - {key: b, command: ["true"], resources: *d}
    """.write(toFile: path, atomically: true, encoding: .utf8)
    XCTAssertEqual(try Registry.load(path: path).configs.map(\.resources.cpus), [2, 1])
  }

  /// One long string aliased a thousand times is as many copies of its bytes.
  func testAliasesCopyingTooMuchTextAreRefused() {
    let long = String(repeating: "x", count: 4096)
    let copies = Array(repeating: "*s", count: 300).joined(separator: ", ")
    XCTAssertEqual(
      failure("x-s: &s \(long)\nx-l: [\(copies)]\nregister: []\n"),
      "s.yaml:2:\(7 + 4 * 256): aliases copy more than 1048576 bytes of text (here at '*s'); they are limited so a"
        + " small file cannot grow without bound")
  }

  /// Aliases nest what they copy: chained anchors of 900 levels each would make a tree far deeper
  /// than libyaml lets a file nest (1,000), and every walk over it recurse as deep.
  func testAliasesCannotNestPastTheFilesOwnLimit() {
    var text = "x-0: &d0 " + String(repeating: "[", count: 900) + "1" + String(repeating: "]", count: 900) + "\n"
    for i in 1..<40 {
      text +=
        "x-\(i): &d\(i) " + String(repeating: "[", count: 900) + "*d\(i - 1)" + String(repeating: "]", count: 900)
        + "\n"
    }
    text += "register:\n  - key: deep\n    command: [echo]\n    bindings: {x: *d39}\n"
    let message = failure(text)
    XCTAssertEqual(message, "s.yaml:2:910: alias '*d0' nests the file deeper than 1000 levels")
  }
}
