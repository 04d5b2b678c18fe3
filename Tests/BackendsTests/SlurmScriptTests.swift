import Foundation
import XCTest

@testable import Backends
@testable import OrchCore
@testable import SlurmSyntax
@testable import Store

/// What reaches an `array-N.sbatch` from the user — the sweep name (`--name`, or the sweep file's),
/// `--partition`, ORCH_HOME (the output directory and the manifest) and the worker's path — is
/// refused when it holds a control character, and otherwise comes back out of the script literally:
/// through sbatch's directive parser (`SbatchScript`, differential-tested against SLURM's) for the
/// `#SBATCH` lines, and through bash for the command line.
final class SlurmScriptTests: XCTestCase {
  var dir: String!

  override func setUpWithError() throws {
    dir = NSTemporaryDirectory() + "orch-slurm-script-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    // A stand-in sbatch: records that it ran and answers job 100.
    try "#!/bin/sh\necho called >> \"$(dirname \"$0\")/sbatch-calls\"\necho '100;cluster'\n".write(
      toFile: dir + "/sbatch", atomically: true, encoding: .utf8)
    chmod(dir + "/sbatch", 0o755)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

  static let controls: [UInt8] = Array(0x00...0x1F) + [0x7F]

  /// One pending SLURM job of an array named `name`, in a store under `home`.
  func pendingJob(name: String, home: OrchHome) throws -> (JobStore, SlurmJob) {
    let store = try home.openStore()
    return (store, try pendingJob(name: name, store: store))
  }

  func pendingJob(name: String, store: JobStore) throws -> SlurmJob {
    let id = try store.submit(now: 1) { tx in
      let id = try tx.insert(
        array: NewArray(sweep: name, name: name, source: "x", isArray: true, launch: "{}", outputRoot: dir + "/runs"),
        jobs: [
          NewJob(
            arrayIndex: 0, key: "k", configHash: "h", config: #"{"bindings":{},"command":["/bin/true"]}"#,
            resources: JobResources())
        ], dependencies: [])
      try tx.assignToSlurm(jobIDs: [id])
      return id
    }
    return try store.slurmJobs(ids: [id])[0]
  }

  func submitter(_ store: JobStore, _ home: OrchHome, worker: String = "/opt/orch-worker") -> SlurmSubmitter {
    SlurmSubmitter(
      store: store, home: home,
      commands: SlurmCommands(sbatch: dir + "/sbatch", scontrol: "/bin/false", scancel: "/bin/false"),
      maxArraySize: 10, workerBinary: worker, cwd: dir)
  }

  // MARK: Refused

  func testEveryControlByteInEveryScriptInputIsRefusedBeforeAnythingIsWritten() throws {
    let home = try OrchHome(path: dir + "/home")
    let store = try home.openStore()
    for byte in Self.controls {
      let c = String(UnicodeScalar(byte))
      let hostile = "a\(c)#SBATCH --wrap=touch \(dir!)/PWNED\(c)b"
      // Name, partition, worker path: through a submission, which fails the job and writes nothing.
      // SQLite keeps a text up to its NUL, so a stored name cannot hold one (and neither argv nor a
      // file name can give one): UserTextTests checks NUL in names before they are stored.
      for input in ["name", "partition", "worker"] where !(input == "name" && byte == 0) {
        let job = try pendingJob(name: input == "name" ? hostile : "s", store: store)
        let options = SlurmOptions(partition: input == "partition" ? hostile : nil)
        let what = "\(input) with byte \(byte)"
        do {
          _ = try submitter(store, home, worker: input == "worker" ? hostile : "/opt/orch-worker").submit(
            jobs: [job], options: options, sources: [:], label: "l")
          XCTFail("\(what): submitted")
        } catch {
          XCTAssertEqual(error.kind, .badInput, what)
          XCTAssertTrue(error.message.contains("control character"), "\(what): \(error.message)")
          XCTAssertFalse(error.description.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, what)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.path + "/slurm"), what)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/sbatch-calls"), what)
        XCTAssertEqual(try store.slurmJobs(ids: [job.id])[0].state, .failed, what)
      }
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/PWNED"))
  }

  func testAnOrchHomeWithANewlineIsRefusedAndOneWithABackslashToo() throws {
    for home in [dir + "/h\nome", dir + "/h\\ome"] {
      let orchHome = try OrchHome(path: home)
      let (store, job) = try pendingJob(name: "s", home: orchHome)
      XCTAssertThrowsError(
        try submitter(store, orchHome).submit(jobs: [job], options: SlurmOptions(), sources: [:], label: "l"), home)
      XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/slurm"), home)
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/sbatch-calls"))
  }

  // MARK: Literal

  static let hostileNames = [
    "it's", "a\"b", "a\\b", "a\\", "$(touch PWNED)", "`touch PWNED`", "a;touch PWNED", "a b  c", "#x", "a#b",
    "'", "\"", "\\\"", "'\\''", "%j %x %%", "-x", "--wrap=touch PWNED", "hetjob", "é🙂", "'\u{301}", "\\\u{301}",
    "\"\u{301}", "${IFS}touch${IFS}PWNED", "a|b&c>d<e", "*", "~root",
  ]

  func testHostileButPrintableNamesComeOutOfTheScriptLiterally() throws {
    for (i, name) in Self.hostileNames.enumerated() {
      // The worker and ORCH_HOME as hostile as a path may be (no '/' inside the name).
      // By scalars: a backslash with a combining mark is one Character, and still a backslash.
      func replacing(_ bad: Set<Unicode.Scalar>) -> String {
        String(String.UnicodeScalarView(name.unicodeScalars.map { bad.contains($0) ? "_" : $0 }))
      }
      let safe = replacing(["/"])
      // ORCH_HOME may not hold a backslash (sbatch's --output cannot): see the test above.
      let homePath = dir + "/home \(i) " + replacing(["/", "\\"])
      let home = try OrchHome(path: homePath)
      let workerDir = dir + "/bin \(i) \(safe)"
      try FileManager.default.createDirectory(atPath: workerDir, withIntermediateDirectories: true)
      let worker = workerDir + "/orch-worker \(safe)"
      try "#!/bin/sh\nprintf '%s\\n' \"$@\"\n".write(toFile: worker, atomically: true, encoding: .utf8)
      chmod(worker, 0o755)
      let (store, job) = try pendingJob(name: name, home: home)
      let arrays = try submitter(store, home, worker: worker).submit(
        jobs: [job], options: SlurmOptions(partition: name), sources: [:], label: "l")
      let scriptPath = try XCTUnwrap(arrays.first?.script)
      let script = try String(contentsOfFile: scriptPath, encoding: .utf8)

      // sbatch reads the directives back as written.
      let tokens = try SbatchScript.directiveTokens(script, file: scriptPath).map(\.text)
      let output = home.path.replacingOccurrences(of: "%", with: "%%") + "/slurm/l/slurm-%A_%a.out"
      XCTAssertEqual(
        tokens,
        ["--job-name=" + name, "--array=0-0", "--cpus-per-task=1", "--output=" + output, "--partition=" + name],
        "\(name)\n\(script)")

      // bash parses it, and running it (the worker a stub printing its arguments) runs only the worker.
      let check = try run("/bin/bash", ["-n", scriptPath])
      XCTAssertEqual(check.code, 0, "\(name): \(check.err)")
      let ran = try run("/bin/bash", [scriptPath])
      XCTAssertEqual(ran.err, "", name)
      XCTAssertEqual(
        ran.out,
        ["slurm-task", "--manifest", home.path + "/slurm/l/manifest.jsonl", "--offset", "0", ""].joined(
          separator: "\n"), name)
      XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/PWNED"), name)
    }
  }

  func run(_ path: String, _ args: [String]) throws -> (code: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: dir)
    p.environment = ["PATH": "/usr/bin:/bin"]
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }
}
