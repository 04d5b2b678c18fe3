import Foundation
import GRDB
import Store
import XCTest

/// A failed command changes nothing: seeded mutations of `orch sbatch`, `orch submit`, `scontrol`
/// and `scancel` command lines (hostile numbers, ranges, dependencies, names, control characters)
/// run through the real binary against one store; whenever a command fails, the store's rows and
/// the sbatch script directory must be exactly as before, and no command may die of a signal.
/// The daemon has one core, held by a long job, so the store changes only through the commands.
/// `ORCH_COMMAND_FUZZ` (default 150) cases, seeded by `ORCH_FUZZ_SEED`.
final class CommandFuzzTests: XCTestCase {
  static let seeds: [[String]] = [
    ["sbatch", "--hold", "--array=0-3%2", "-J", "x", "-o", "/dev/null", "--wrap", "true"],
    ["sbatch", "--hold", "-c", "1", "--mem-per-cpu=100M", "-t", "1:00", "--wrap", "true"],
    ["sbatch", "--hold", "--dependency=afterok:2_1", "--wrap", "true"],
    ["sbatch", "--hold", "--signal=B:USR1@30", "--time=10", "--wrap", "true"],
    ["submit", "sweeps/a.yaml", "--array", "0-2", "--after", "afterok:2", "--output-root", "runs"],
    ["submit", "sweeps/a.yaml", "--cpus", "1", "--time", "10:00", "--mem", "1G", "--output-root", "runs"],
    ["submit", "sweeps/a.yaml", "--max-attempts", "2", "--name", "n", "--output-root", "runs"],
    ["scontrol", "hold", "2_[0-2]"],
    ["scontrol", "release", "3"],
    ["scancel", "--state=PENDING", "--name=x"],
  ]
  static let tokens: [String] = [
    "0", "-1", "1", "2", "1000", "4294967296", "9223372036854775807", "99999999999999999999", "1e999", "nan",
    "8000000T", "0-4294967296", "1-3:0", "0-9%0", "1_[0-3999999]", "afterok:1_99", "after:1+999999999999999999",
    "afterany:99999", "singleton", "--hold", "--wrap", "-c", "-a", "--array", "--after", "--dependency",
    "%", "%9999999999a", "\n", "\u{1B}[31m", "\u{202E}", "$(touch pwned)", "`id`", "'", "\"", "\\", "", " ",
    "a/../../b", "/dev/null", "--time", "INFINITE", "10-00:00:00", "99999999:00", "--mem", "--cpus",
  ]

  func mutate(_ args: [String], _ rng: inout SeededRandom) -> [String] {
    var out = args
    for _ in 0..<(1 + rng.next(3)) {
      let i = 1 + rng.next(max(1, out.count - 1))
      switch rng.next(5) {
      case 0 where i < out.count: out[i] = Self.tokens[rng.next(Self.tokens.count)]
      case 1: out.insert(Self.tokens[rng.next(Self.tokens.count)], at: min(i, out.count))
      case 2 where i < out.count && out.count > 2: out.remove(at: i)
      case 3 where i < out.count:
        // Splice a token into the middle of an argument (`--array=0-3%2` → `--array=0-1e9993%2`).
        let arg = Array(out[i].unicodeScalars)
        let at = rng.next(arg.count + 1)
        out[i] =
          String(String.UnicodeScalarView(arg[..<at])) + Self.tokens[rng.next(Self.tokens.count)]
          + String(String.UnicodeScalarView(arg[at...]))
      default:
        if i < out.count, let last = out[i].unicodeScalars.last, let digit = Int(String(last)) {
          out[i] = String(out[i].dropLast()) + String((digit * 7 + 3) % 10) + "0000000000"
        }
      }
    }
    return out
  }

  /// Every row a command may write, and the scripts sbatch keeps.
  func snapshot(_ c: Cluster) throws -> [String] {
    let store = try JobStore(path: c.home + "/orch.db")
    var rows = try store.read("snapshot") { db -> [String] in
      var out: [String] = []
      for table in ["arrays", "jobs", "dependencies", "sweeps"] {
        for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY rowid") {
          out.append("\(table): \(row)")
        }
      }
      return out
    }
    let scripts = (try? FileManager.default.contentsOfDirectory(atPath: c.home + "/scripts")) ?? []
    rows += scripts.sorted().map { "script: \($0)" }
    return rows
  }

  func testFailedCommandsChangeNothing() throws {
    let env = ProcessInfo.processInfo.environment
    let cases = env["ORCH_COMMAND_FUZZ"].flatMap { Int($0) } ?? 150
    var rng = SeededRandom(state: env["ORCH_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x6f72_6368)
    let c = try Cluster()
    try c.write(
      "sweeps/a.yaml",
      """
      register:
        - key: "a/{i}"
          command: [sh, -c, "true"]
          axes: {i: range(0, 3)}
      """)
    try c.startDaemon(cpus: "0")
    _ = try c.submit(["-o", "/dev/null", "--wrap", "exec sleep 600"])
    try c.waitUntil("the blocker holds the core") { try c.states()["1"] == "RUNNING" }
    for seed in Self.seeds { _ = try c.run(seed) }
    var failures = 0
    for n in 0..<cases {
      let args = mutate(Self.seeds[rng.next(Self.seeds.count)], &rng)
      let before = try snapshot(c)
      let r = try c.run(args)
      let what = "case \(n): orch \(args.map { $0.debugDescription }.joined(separator: " "))"
      XCTAssertTrue(r.code == 0 || r.code == 1 || r.code == 2, "\(what) died: exit \(r.code) \(r.err)")
      guard r.code != 0 else {
        // The daemon, woken by the submission, re-checks dependencies: let it settle.
        var last = try snapshot(c)
        try c.waitUntil("the store settles after \(what)") {
          usleep(100_000)
          let now = try snapshot(c)
          defer { last = now }
          return now == last
        }
        continue
      }
      failures += 1
      let after = try snapshot(c)
      let gone = before.filter { !after.contains($0) }
      let added = after.filter { !before.contains($0) }
      XCTAssertTrue(gone.isEmpty && added.isEmpty, "\(what) failed (\(r.err)) and changed: -\(gone) +\(added)")
      XCTAssertFalse(
        r.err.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{202E}" }, "\(what): raw input in \(r.err)")
    }
    XCTAssertGreaterThan(failures, cases / 4, "most mutations are bad input")
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.root.appendingPathComponent("pwned").path))
    _ = try c.run(["scancel", "1"])
  }
}
