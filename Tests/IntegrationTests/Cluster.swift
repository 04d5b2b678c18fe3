import Foundation
import XCTest

/// A throwaway orch installation for one test: its own ORCH_HOME, output root and sweeps
/// directory, driving the real `orch` binary. Waits poll a condition with a deadline.
final class Cluster {
  let root: URL
  var home: String { root.appendingPathComponent("home").path }
  var runs: String { root.appendingPathComponent("runs").path }
  var sweeps: String { root.appendingPathComponent("sweeps").path }
  var daemon: Process?

  static let binDir: String = {
    if let dir = ProcessInfo.processInfo.environment["ORCH_BIN_DIR"] { return dir }
    let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    return package.appendingPathComponent(".build/debug").path
  }()

  init(_ name: String = #function) throws {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("orch-it-\(safe)-\(getpid())")
    try? FileManager.default.removeItem(at: root)
    try FileManager.default.createDirectory(atPath: sweeps, withIntermediateDirectories: true)
    guard FileManager.default.isExecutableFile(atPath: Cluster.binDir + "/orch") else {
      throw XCTSkip("build the binaries first (`swift build`; `make test` does): \(Cluster.binDir)/orch")
    }
  }

  deinit {
    stopDaemon(kill9: false)
    // Any leftover daemon started by `submit` is asked to stop.
    _ = try? run(["daemon", "--stop"])
    try? FileManager.default.removeItem(at: root)
  }

  func write(_ relative: String, _ text: String) throws {
    let url = root.appendingPathComponent(relative)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try text.write(to: url, atomically: true, encoding: .utf8)
  }

  /// Writes `sweeps/NAME.yaml` — one config, key NAME, running `sh -c SCRIPT` — and submits it.
  func submitCommand(_ name: String, _ script: String, maxAttempts: Int = 1) throws {
    let quoted = script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    try write(
      "sweeps/\(name).yaml",
      """
      register:
        - key: \(name)
          resources: {max_attempts: \(maxAttempts)}
          command: [sh, -c, "\(quoted)"]
      """)
    let r = try run(["submit", "sweeps/\(name).yaml", "--output-root", runs])
    XCTAssertEqual(r.code, 0, r.err)
  }

  func read(_ relative: String) -> String {
    (try? String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)) ?? ""
  }

  struct Result {
    var code: Int32
    var out: String
    var err: String
  }

  @discardableResult
  func run(_ args: [String], env extra: [String: String] = [:], input: String? = nil) throws -> Result {
    try execute(Cluster.binDir + "/orch", args, env: extra, input: input)
  }

  /// Runs a program in the cluster root with this ORCH_HOME and collects its output; `input` is
  /// its stdin (else it inherits the test's).
  func execute(_ path: String, _ args: [String], env extra: [String: String], input: String? = nil) throws -> Result {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.currentDirectoryURL = root
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = home
    // A requeued job reruns at once here; SlurmFidelityDifferentialTests keeps SLURM's 121 s delay.
    env["ORCH_REQUEUE_DELAY"] = "0"
    for (k, v) in extra { env[k] = v }
    p.environment = env
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let stdin = Pipe()
    if input != nil { p.standardInput = stdin }
    try p.run()
    if let input {
      stdin.fileHandleForWriting.write(Data(input.utf8))
      try? stdin.fileHandleForWriting.close()
    }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Result(
      code: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
  }

  /// Starts `orch daemon --foreground` as a child we can kill -9.
  func startDaemon(cpus: String = "0-1", killWait: String = "1", env extra: [String: String] = [:]) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Cluster.binDir + "/orch")
    p.arguments = ["daemon", "--foreground", "--cpus", cpus, "--kill-wait", killWait]
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = home
    env["ORCH_INGEST_INTERVAL"] = "0.2"
    for (k, v) in extra { env[k] = v }
    p.environment = env
    let log = FileHandle(forWritingAtPath: "/dev/null")
    p.standardOutput = log
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    daemon = p
    try waitUntil("daemon answers", timeout: 20) {
      FileManager.default.fileExists(atPath: self.home + "/orch.sock") && (try? self.run(["queue"]).code) == 0
    }
  }

  func stopDaemon(kill9: Bool) {
    guard let p = daemon, p.isRunning else { return }
    if kill9 {
      kill(p.processIdentifier, SIGKILL)
    } else {
      kill(p.processIdentifier, SIGTERM)
    }
    p.waitUntilExit()
    daemon = nil
  }

  func waitUntil(_ what: String, timeout: Double = 60, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if try condition() { return }
      usleep(50_000)
    }
    XCTFail("timed out waiting until \(what)")
    throw CancellationError()
  }

  /// `orch history --json` decoded to [display id: state].
  func states(sweep: String? = nil) throws -> [String: String] {
    var args = ["history", "--json"]
    if let sweep { args += ["--sweep", sweep] }
    let r = try run(args)
    guard r.code == 0, let rows = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]] else {
      XCTFail("history failed: \(r.err)")
      return [:]
    }
    var states: [String: String] = [:]
    for row in rows {
      let id = row["arrayID"] as! Int
      let index = row["arrayIndex"] as? Int
      let display = (row["isArray"] as! Bool) && index != nil ? "\(id)_\(index!)" : "\(id)"
      states[display] = row["state"] as? String
    }
    return states
  }

  func historyRows() throws -> [[String: Any]] {
    let r = try run(["history", "--json"])
    return (try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]]) ?? []
  }
}

/// SplitMix64: the seeded generator of the integration tests' random campaigns.
struct SeededRandom {
  var state: UInt64
  /// A number in 0..<k.
  mutating func next(_ k: Int) -> Int {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return Int((z ^ (z >> 31)) % UInt64(k))
  }
}
