import Foundation
import XCTest

/// Driving the SLURM front end: `orch sbatch`, the companions, and the shims on PATH.
extension Cluster {
  var shimsDir: String { root.appendingPathComponent("shims").path }

  /// `orch sbatch ARGS`; returns the result and the job id it printed, if any (`--wait` may
  /// exit non-zero after printing one).
  @discardableResult
  func sbatch(_ args: [String], env: [String: String] = [:]) throws -> (Result, Int?) {
    let r = try run(["sbatch"] + args, env: env)
    let first = r.out.split(separator: "\n").first.map(String.init) ?? ""
    return (r, Int(first.hasPrefix("Submitted batch job ") ? String(first.dropFirst(20)) : first))
  }

  /// Submits and returns the id, failing the test when sbatch fails.
  func submit(_ args: [String], env: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line)
    throws -> Int
  {
    let (r, id) = try sbatch(args, env: env)
    XCTAssertEqual(r.code, 0, "sbatch \(args): \(r.err)", file: file, line: line)
    guard let id else { throw XCTSkip("sbatch printed no id: \(r.out) \(r.err)") }
    return id
  }

  /// `sh -c SCRIPT` in the cluster root with the shims first on PATH.
  @discardableResult
  func shell(_ script: String, env extra: [String: String] = [:]) throws -> Result {
    var env = extra
    env["PATH"] = shimsDir + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    for (k, v) in extra where k == "PATH" { env[k] = v }
    return try execute("/bin/sh", ["-c", script], env: env)
  }

  func installShims() throws {
    let r = try run(["shims", shimsDir])
    XCTAssertEqual(r.code, 0, r.err)
  }

  /// `sacct -j ID -X -P -n -o JobID,State,ExitCode` as [JobID: "STATE code:signal"].
  func accounting(_ id: Int) throws -> [String: String] {
    let r = try run(["sacct", "-j", String(id), "-X", "-P", "-n", "-o", "JobID,State,ExitCode"])
    var out: [String: String] = [:]
    for line in r.out.split(separator: "\n") {
      let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
      if f.count == 3 { out[f[0]] = "\(f[1]) \(f[2])" }
    }
    return out
  }

  /// Waits until no job of `id` is PENDING or RUNNING; returns the final accounting.
  @discardableResult
  func waitFinished(_ id: Int, timeout: Double = 60) throws -> [String: String] {
    var last: [String: String] = [:]
    try waitUntil("job \(id) finishes", timeout: timeout) {
      last = try accounting(id)
      return !last.isEmpty && !last.values.contains { $0.hasPrefix("PENDING") || $0.hasPrefix("RUNNING") }
    }
    return last
  }

  /// State and reason of one job or element, from `squeue -t all`.
  func queueState(_ id: String) throws -> String {
    try run(["squeue", "-t", "all", "-r", "-h", "-j", id, "-o", "%T %r"]).out.trimmingCharacters(
      in: .whitespacesAndNewlines)
  }

  /// `orch history --json` rows of array `id`: [display: (start, end)].
  func times(_ id: Int) throws -> [String: (start: Double, end: Double)] {
    var out: [String: (Double, Double)] = [:]
    for row in try historyRows() where row["arrayID"] as? Int == id {
      guard let start = row["startTime"] as? Double, let end = row["endTime"] as? Double else { continue }
      let index = row["arrayIndex"] as? Int
      out[index.map { "\(id)_\($0)" } ?? "\(id)"] = (start, end)
    }
    return out
  }
}

/// `KEY=value` lines of a job's output.
func variables(_ text: String) -> [String: String] {
  var out: [String: String] = [:]
  for line in text.split(separator: "\n") {
    guard let eq = line.firstIndex(of: "=") else { continue }
    out[String(line[..<eq])] = String(line[line.index(after: eq)...])
  }
  return out
}
