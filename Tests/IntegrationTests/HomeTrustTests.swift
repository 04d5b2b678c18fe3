import Foundation
import XCTest

/// What `orch` refuses to use as its home and store: another user's home (a store someone else
/// created there ran their queued job as root), one others can write, a store or socket another
/// user planted, and a store file that is empty or damaged — for every command, the daemon too.
final class HomeTrustTests: XCTestCase {
  /// Another user's uid (`nobody`); these cases need root to chown.
  func otherUser() throws -> (uid: uid_t, gid: gid_t) {
    guard geteuid() == 0 else { throw XCTSkip("chown to another user needs root") }
    guard let entry = getpwnam("nobody") else { throw XCTSkip("no user 'nobody'") }
    return (entry.pointee.pw_uid, entry.pointee.pw_gid)
  }

  /// Runs `orch ARGS` and gives up (failing) when it has not exited within `timeout` seconds: the
  /// daemon, started on a home it should refuse, would otherwise serve forever.
  func runBounded(_ c: Cluster, _ args: [String], timeout: Double = 30) throws -> Cluster.Result {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Cluster.binDir + "/orch")
    p.arguments = args
    p.currentDirectoryURL = c.root
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = c.home
    p.environment = env
    let err = c.root.appendingPathComponent("stderr-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: err.path, contents: nil)
    p.standardError = try FileHandle(forWritingTo: err)
    p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning {
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      XCTFail("orch \(args.joined(separator: " ")) still running after \(timeout) s")
    }
    return Cluster.Result(code: p.terminationStatus, out: "", err: c.read(err.lastPathComponent))
  }

  func assertRefused(
    _ c: Cluster, _ parts: [String], code: Int32 = 2, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    try c.write("sweeps/job.yaml", "register:\n  - key: job\n    command: [\"true\"]\n")
    for args in [["queue"], ["submit", "sweeps/job.yaml", "--no-daemon"], ["daemon", "--foreground", "--cpus", "0"]] {
      let r = try runBounded(c, args)
      XCTAssertEqual(r.code, code, "orch \(args[0]): \(r.err)", file: file, line: line)
      for part in parts {
        XCTAssertTrue(r.err.contains(part), "orch \(args[0]): '\(r.err)' lacks '\(part)'", file: file, line: line)
      }
    }
  }

  func testAHomeOwnedByAnotherUserIsRefused() throws {
    let (uid, gid) = try otherUser()
    let c = try Cluster()
    // A store with a pending job, then the home handed to another user: as if they had made it.
    try c.write("sweeps/theirs.yaml", "register:\n  - key: theirs\n    command: [id]\n")
    XCTAssertEqual(try c.run(["submit", "sweeps/theirs.yaml", "--no-daemon"]).code, 0)
    for path in [c.home, c.home + "/orch.db", c.home + "/workers"] { XCTAssertEqual(chown(path, uid, gid), 0) }
    chmod(c.home, 0o777)
    try assertRefused(c, ["ORCH_HOME \(c.home) is owned by nobody (uid \(uid)), not by you"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.sock"), "no daemon started")
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/daemon.lock"))
  }

  func testAHomeWritableByGroupOrOthersIsRefusedAndOneReadableIsUsedAsItIs() throws {
    let c = try Cluster()
    try FileManager.default.createDirectory(atPath: c.home, withIntermediateDirectories: true)
    for (mode, who) in [(0o777, "group and others"), (0o1777, "group and others"), (0o770, "group"), (0o702, "others")]
    {
      chmod(c.home, mode_t(mode))
      try assertRefused(
        c, ["ORCH_HOME \(c.home) has mode \(String(mode, radix: 8)), writable by \(who)", "chmod 700 \(c.home)"])
      XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: c.home), [], "nothing created")
    }
    chmod(c.home, 0o755)
    XCTAssertEqual(try c.run(["queue"]).code, 0)
    let mode = (try FileManager.default.attributesOfItem(atPath: c.home)[.posixPermissions] as? Int) ?? 0
    XCTAssertEqual(mode, 0o755)
  }

  func testAStoreSocketOrJournalDirectoryOwnedByAnotherUserIsRefused() throws {
    let (uid, gid) = try otherUser()
    let c = try Cluster()
    XCTAssertEqual(try c.run(["queue"]).code, 0)
    for entry in ["orch.db", "orch.sock", "workers"] {
      let path = c.home + "/" + entry
      if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
      XCTAssertEqual(chown(path, uid, gid), 0)
      try assertRefused(c, ["\(path) is owned by nobody (uid \(uid)), not by you"])
      XCTAssertEqual(chown(path, 0, 0), 0)
    }
    XCTAssertEqual(try c.run(["queue"]).code, 0)
  }

  /// `ORCH_HOME=` (a variable expanded empty) made the working directory the home: a store,
  /// journals and the daemon's socket among the user's files.
  func testAnEmptyOrchHomeIsTheDefaultHomeNotTheWorkingDirectory() throws {
    let c = try Cluster()
    let home = c.root.appendingPathComponent("user").path
    XCTAssertEqual(try c.run(["queue"], env: ["ORCH_HOME": "", "HOME": home]).code, 0)
    XCTAssertFalse(
      FileManager.default.fileExists(atPath: c.root.appendingPathComponent("orch.db").path),
      "a store in the working directory")
    XCTAssertTrue(FileManager.default.fileExists(atPath: home + "/.local/state/orch/orch.db"), "the default home")
  }

  func testAnEmptyStoreIsAnErrorForEveryCommandAndStaysAsItIs() throws {
    let c = try Cluster()
    try c.write("sweeps/many.yaml", "register:\n  - key: j{i}\n    command: [\"true\"]\n    axes: {i: range(0, 200)}\n")
    XCTAssertEqual(try c.run(["submit", "sweeps/many.yaml", "--no-daemon"]).code, 0)
    // 200 pending jobs vanished when a 0-byte orch.db was opened as a new, empty store.
    XCTAssertEqual(truncate(c.home + "/orch.db", 0), 0)
    try assertRefused(c, ["store \(c.home)/orch.db is empty (0 bytes)"], code: 1)
    let size = try FileManager.default.attributesOfItem(atPath: c.home + "/orch.db")[.size] as? Int
    XCTAssertEqual(size, 0)
  }
}
