import Foundation
import XCTest

/// Names and files written to hurt, through the real `orch`: a control character in anything that
/// reaches a SLURM script is refused before anything is written (a stand-in SLURM on PATH records
/// whether sbatch was ever called); a hostile but printable sweep name and ORCH_HOME reach the real
/// SLURM literally; errors stay on one line; a YAML alias bomb fails at once in bounded memory.
final class HostileInputTests: XCTestCase {
  static let controls: [UInt8] = Array(0x01...0x1F) + [0x7F]

  /// `sbatch`, `scontrol`, `scancel` that answer like SLURM and log every call to `calls`.
  func fakeSlurm(_ c: Cluster) throws -> String {
    let bin = c.root.appendingPathComponent("fake-slurm").path
    try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
    let scripts = [
      "sbatch": "echo \"sbatch $*\" >> \(bin)/calls\necho '100;cluster'",
      "scontrol": "echo 'MaxArraySize            = 1001'",
      "scancel": "echo \"scancel $*\" >> \(bin)/calls",
    ]
    for (name, body) in scripts {
      try "#!/bin/sh\n\(body)\n".write(toFile: bin + "/" + name, atomically: true, encoding: .utf8)
      chmod(bin + "/" + name, 0o755)
    }
    return bin
  }

  func assertRefused(
    _ r: Cluster.Result, _ what: String, home: String, calls: String, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    XCTAssertEqual(r.code, 2, "\(what): \(r.out) \(r.err)", file: file, line: line)
    XCTAssertEqual(
      r.err.split(separator: "\n", omittingEmptySubsequences: false).count, 2, r.err, file: file, line: line)
    XCTAssertTrue(r.err.contains("control character"), "\(what): \(r.err)", file: file, line: line)
    XCTAssertFalse(
      r.err.dropLast().unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "\(what): raw control in error",
      file: file, line: line)
    XCTAssertFalse(
      FileManager.default.fileExists(atPath: home + "/orch.db"), "\(what): store written", file: file, line: line)
    XCTAssertFalse(
      FileManager.default.fileExists(atPath: home + "/slurm"), "\(what): script written", file: file, line: line)
    XCTAssertFalse(FileManager.default.fileExists(atPath: calls), "\(what): sbatch called", file: file, line: line)
  }

  func testControlCharactersInNamesPartitionsFilesAndHomesAreRefusedBeforeAnythingIsWritten() throws {
    let c = try Cluster()
    let bin = try fakeSlurm(c)
    let env = ["PATH": bin + ":/usr/bin:/bin"]
    try c.write("sweeps/s.yaml", "register:\n  - key: k\n    command: [\"true\"]\n")
    for byte in Self.controls {
      let ch = String(UnicodeScalar(byte))
      let hostile = "a\(ch)#SBATCH --wrap='touch \(c.root.path)/PWNED'\(ch)b"
      let slurm = ["--backend", "slurm"]
      assertRefused(
        try c.run(["submit", "sweeps/s.yaml", "--name", hostile] + slurm, env: env), "--name \(byte)", home: c.home,
        calls: bin + "/calls")
      assertRefused(
        try c.run(["submit", "sweeps/s.yaml", "--partition", hostile] + slurm, env: env), "--partition \(byte)",
        home: c.home, calls: bin + "/calls")
      // The sweep name is the file's when no --name is given.
      let named = "sweeps/a\(ch)b.yaml"
      try c.write(named, "register:\n  - key: k\(byte)\n    command: [\"true\"]\n")
      assertRefused(
        try c.run(["submit", named] + slurm, env: env), "file name \(byte)", home: c.home, calls: bin + "/calls")
      // Names are refused whoever runs the jobs.
      assertRefused(try c.run(["submit", named], env: env), "local \(byte)", home: c.home, calls: bin + "/calls")
      try FileManager.default.removeItem(atPath: c.root.appendingPathComponent(named).path)
      // ORCH_HOME holds the scripts' output directory and manifest.
      let home = c.root.appendingPathComponent("home\(ch)x").path
      assertRefused(
        try c.run(["submit", "sweeps/s.yaml"] + slurm, env: env.merging(["ORCH_HOME": home]) { $1 }),
        "ORCH_HOME \(byte)", home: home, calls: bin + "/calls")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.root.path + "/PWNED"))
  }

  /// A sweep name and an ORCH_HOME with quotes, `$()`, backticks, `;`, `#`, `%` and spaces: the
  /// real SLURM names the job exactly so and writes its output file under the literal directory.
  func testAHostileButPrintableNameAndHomeReachTheRealSlurmLiterally() throws {
    let slurm = try RealSlurm.find()
    let c = try Cluster()
    try c.write("sweeps/s.yaml", "register:\n  - key: k\n    command: [\"true\"]\n")
    let pwned = c.root.path + "/PWNED"
    let name = "it's \"a\\b\" $(touch \(pwned)) `touch \(pwned)`; #x %j"
    let home = c.root.path + "/home 'q' \"d\" $(touch \(pwned)) ;#x %j %%"
    var env = slurm.env
    env["ORCH_HOME"] = home
    let r = try c.run(["submit", "sweeps/s.yaml", "--backend", "slurm", "--name", name, "--json"], env: env)
    XCTAssertEqual(r.code, 0, r.err)
    let submission = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
    let array = try XCTUnwrap((submission["arrays"] as? [[String: Any]])?.first)
    let id = try XCTUnwrap(array["slurmJobID"] as? Int)
    let script = try XCTUnwrap(array["script"] as? String)
    defer { _ = try? runProgram("/usr/bin/scancel", ["\(id)"], cwd: "/", env: slurm.env) }

    let show = try runProgram("/usr/bin/scontrol", ["show", "job", "-o", "\(id)_0"], cwd: "/", env: slurm.env)
    XCTAssertEqual(show.code, 0, show.err)
    let jobName = show.out.components(separatedBy: " JobName=").dropFirst().first?.components(separatedBy: " UserId=")
      .first
    XCTAssertEqual(jobName, name, show.out)
    // The element ran and SLURM wrote its output where the script said, `%` and all.
    let output = (script as NSString).deletingLastPathComponent + "/slurm-\(id)_0.out"
    try c.waitUntil("the element wrote its output", timeout: 120) {
      FileManager.default.fileExists(atPath: output)
    }
    try c.waitUntil("the element completed", timeout: 120) {
      _ = try c.run(["collect"], env: env)
      let history = try c.run(["history", "--json"], env: env)
      return history.out.contains("\"COMPLETED\"")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: pwned))
    try? FileManager.default.removeItem(atPath: home)
  }

  func testErrorsQuotingInputStayOnOneLine() throws {
    let c = try Cluster()
    try c.write("sweeps/x.yaml", "register:\n  - key: k\n    command: [\"true\"]\n")
    try c.write("bad/x.yaml", "register:\n  - key: \"a\\u202Eb\\nc\"\n    command: [\"true\"]\n")
    for args in [
      ["submit", "sweeps/missing\nsecond line\u{1B}[2J.yaml"], ["configs", "(\n", "--sweeps", "sweeps"],
      ["submit", "sweeps/x.yaml", "--array", "1\n2"], ["submit", "sweeps/x.yaml", "--cpus", "1\u{1B}[31m"],
      ["submit", "sweeps/x.yaml", "--after", "afterok:\u{202E}1"], ["configs", ".", "--sweeps", "bad"],
    ] {
      let r = try c.run(args)
      XCTAssertEqual(r.code, 2, "\(args): \(r.err)")
      XCTAssertTrue(r.err.hasSuffix("\n"), r.err)
      XCTAssertFalse(r.err.dropLast().unicodeScalars.contains(where: Self.refused), "\(args): \(r.err)")
    }
    XCTAssertTrue(try c.run(["configs", ".", "--sweeps", "bad"]).err.contains("unsafe key 'a\\u{202E}b\\nc'"))
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.db"))
  }

  /// Nine levels of ten aliases: 10^9 strings from 500 bytes, which grew past 5.7 GB; as a mapping
  /// key, Yams hashed it for ever. Both fail at once with the error naming the file and the alias,
  /// in an address space of 2 GB (`timeout` only stops a run that would never end).
  func testABillionLaughsFailsAtOnceWithItsError() throws {
    let c = try Cluster()
    var text = "x-0: &l0 [" + Array(repeating: "\"lol\"", count: 10).joined(separator: ",") + "]\n"
    for level in 1..<9 {
      text += "x-\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ",") + "]\n"
    }
    try c.write(
      "sweeps/laughs.yaml", text + "register:\n  - key: lol\n    command: [echo]\n    bindings: {boom: *l8}\n")
    try c.write("sweeps/keys.yaml", text + "x-key: {? *l8 : 1, ? *l7 : 2}\nregister: []\n")
    for file in ["laughs", "keys"] {
      let r = try c.execute(
        "/bin/sh",
        [
          "-c", "ulimit -v 2000000; exec timeout -s KILL 120 \"$@\"", "sh", Cluster.binDir + "/orch", "configs", ".",
          "--sweeps", "sweeps/\(file).yaml",
        ], env: [:])
      XCTAssertEqual(r.code, 2, "\(file): \(r.err)")
      XCTAssertEqual(
        r.err,
        "orch: sweeps/\(file).yaml:5:39: aliases copy more than 100000 nodes (here at '*l3'): nested aliases grow a"
          + " small file without bound (a YAML alias bomb), so they are limited\n")
    }
  }

  /// Control, line and bidi characters: none may reach the terminal raw.
  static func refused(_ s: Unicode.Scalar) -> Bool {
    s.value < 0x20 || (0x7F...0x9F).contains(s.value) || [0x061C, 0x200E, 0x200F, 0x2028, 0x2029].contains(s.value)
      || (0x202A...0x202E).contains(s.value) || (0x2066...0x2069).contains(s.value)
  }
}
