import TestSupport
import XCTest

@testable import Backends
@testable import OrchCore
@testable import Registry
@testable import SlurmSyntax

/// The one helper every error and name check uses for the user's text.
final class UserTextTests: XCTestCase {
  func testEscapesEveryRefusedCharacterAndNothingElse() {
    XCTAssertEqual(UserText.escaped("a\nb\tc\rd"), "a\\nb\\tc\\rd")
    XCTAssertEqual(UserText.escaped("\u{0}\u{1B}[31m\u{7F}\u{85}\u{9F}"), "\\u{0}\\u{1B}[31m\\u{7F}\\u{85}\\u{9F}")
    XCTAssertEqual(
      UserText.escaped("x\u{2028}y\u{2029}z\u{202E}w\u{2066}v"), "x\\u{2028}y\\u{2029}z\\u{202E}w\\u{2066}v")
    let printable = "plain é🙂 \\n 'quotes' \"too\" $(x) `y` ; %"
    XCTAssertEqual(UserText.escaped(printable), printable)
    // Escaping twice changes nothing: wrapping an error's message in another is safe.
    let once = UserText.escaped("a\n\u{202E}b")
    XCTAssertEqual(UserText.escaped(once), once)
    for v in UInt32(0)...0x3000 {
      guard let s = Unicode.Scalar(v) else { continue }
      XCTAssertEqual(UserText.problem(s) != nil, UserTextProbe.refused(s), "U+\(String(v, radix: 16))")
      XCTAssertFalse(UserText.escaped(String(s)).unicodeScalars.contains(where: UserTextProbe.refused))
    }
  }

  func testEveryErrorEscapesItsMessageAndItsFile() {
    let e = OrchError.badInput("bad name 'a\nb'", at: SourceLocation(file: "x\u{202E}.yaml", line: 2, column: 3))
    XCTAssertEqual(e.description, "x\\u{202E}.yaml:2:3: bad name 'a\\nb'")
    XCTAssertEqual(OrchError.failure("cannot write /tmp/a\rb").message, "cannot write /tmp/a\\rb")
  }

  /// SLURM's tools follow getopt's error with a usage line: that line stays, the input is escaped.
  func testAUsageLineFollowsTheEscapedMessage() {
    do {
      _ = try SlurmGetopt.parse(["--bo\ngus"], tool: "squeue", flags: [])
      XCTFail("parsed")
    } catch {
      XCTAssertEqual(
        error.description, "squeue: unrecognized option '--bo\\ngus'\nTry \"squeue --help\" for more information")
    }
  }

  func testNamesWithControlCharactersAreRefusedSayingWhichAndWhere() {
    for v in Array(UInt32(0)...0x1F) + [0x7F, 0x85, 0x2028, 0x202E] {
      let c = String(Unicode.Scalar(v)!)
      XCTAssertThrowsError(try Registry.checkSweepName("a\(c)b", given: true, path: "sweeps/x.yaml"))
      XCTAssertThrowsError(try Registry.checkSweepName("a\(c)b", given: false, path: "sweeps/a\(c)b.yaml"))
      XCTAssertThrowsError(
        try SlurmSubmitter.checkScriptInput(names: ["s"], options: SlurmOptions(), home: "/h\(c)", worker: "/w"))
    }
    do {
      try Registry.checkSweepName("p\u{202E}gnp.exe", given: false, path: "sweeps/p\u{202E}gnp.exe.yaml")
      XCTFail("accepted")
    } catch {
      XCTAssertEqual(
        error.description,
        "sweep name 'p\\u{202E}gnp.exe' contains a bidirectional control (U+202E at character 2); it must be"
          + " printable (the name of 'sweeps/p\\u{202E}gnp.exe.yaml'; rename it or give --name)")
    }
    XCTAssertNoThrow(try Registry.checkSweepName("p100 source é", given: true, path: "x"))
  }
}
