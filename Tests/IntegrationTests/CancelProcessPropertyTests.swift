import Foundation
import XCTest

/// The cancel property at the process level, through the real binaries: random arrays (sbatch
/// arrays with `-J`, registry sweeps), some completed, two running (adopted by a restarted daemon
/// in half the cases), the rest pending; a random selection through `orch cancel` (ids, element
/// ranges, `--sweep`) or `orch scancel` (ids, `--name`, `--state`). Afterwards exactly the selected
/// unfinished jobs are CANCELLED with their processes gone; every other running job still runs
/// its first attempt in the same process, every other job keeps its state (a pending one may have
/// started on a core the cancel freed). `CancelPropertyTests` checks thousands of cases on the
/// store; this checks what the store cannot see. `ORCH_PROCESS_CASES` (default 8), seeded by
/// `ORCH_FUZZ_SEED`.
final class CancelProcessPropertyTests: XCTestCase {
  struct Job {
    var display: String
    var array: Int
    var index: Int?
    var name: String
    var sweep: String
    var state: String
  }

  func testCancelTouchesExactlyTheSelectedJobsAndProcesses() throws {
    let env = ProcessInfo.processInfo.environment
    let cases = env["ORCH_PROCESS_CASES"].flatMap { Int($0) } ?? 8
    let seed = env["ORCH_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x6f72_6368
    for n in 0..<cases {
      var rng = SeededRandom(state: seed &+ UInt64(n) &* 0x1000_0001)
      try runCase(n, &rng)
    }
  }

  func runCase(_ n: Int, _ rng: inout SeededRandom) throws {
    let c = try Cluster("cancelprop\(n)")
    try c.startDaemon(cpus: "0-1")
    let body = "echo \\\"$ORCH_JOB_ID $$\\\" >> pids.txt; exec sleep 300"
    if rng.next(2) == 0 {
      _ = try c.submit(["--array=0-\(rng.next(3))", "-J", "quick", "-o", "/dev/null", "--wrap", "true"])
      try c.waitUntil("the quick ones complete") { try c.states().values.allSatisfy { $0 == "COMPLETED" } }
    }
    for a in 0..<(1 + rng.next(3)) {
      let size = 1 + rng.next(4)
      if rng.next(2) == 0 {
        let name = ["train", "eval"][rng.next(2)]
        let array = size > 1 || rng.next(2) == 0 ? ["--array=0-\(size - 1)"] : []
        _ = try c.submit(
          array + ["-J", name, "-o", "/dev/null", "--wrap", body.replacingOccurrences(of: "\\", with: "")])
      } else {
        let sweep = "s\(a % 2)"
        try c.write(
          "sweeps/\(sweep)-\(a).yaml",
          """
          register:
            - key: "\(sweep)-\(a)/{i}"
              command: [sh, -c, "\(body)"]
              axes: {i: range(0, \(size))}
          """)
        let r = try c.run(["submit", "sweeps/\(sweep)-\(a).yaml", "--output-root", c.runs])
        XCTAssertEqual(r.code, 0, r.err)
      }
    }
    try c.waitUntil("two jobs run (or all, if fewer)") {
      let s = try c.states().values
      return s.filter { $0 == "RUNNING" }.count == min(2, s.filter { $0 != "COMPLETED" }.count)
    }
    if rng.next(2) == 0 {
      c.stopDaemon(kill9: rng.next(2) == 0)
      try c.startDaemon(cpus: "0-1")
    }
    let jobs = try c.historyRows().map { row in
      Job(
        display: Self.display(row), array: row["arrayID"] as! Int,
        index: (row["isArray"] as! Bool) ? row["arrayIndex"] as? Int : nil, name: row["name"] as? String ?? "",
        sweep: row["sweep"] as? String ?? "", state: row["state"] as? String ?? "")
    }
    let pids = try c.waitForPids(jobs.filter { $0.state == "RUNNING" }.map(\.display))

    // The selection, and the model of what it selects.
    var argv: [String] = []
    var operands: [(array: Int, indices: Set<Int>?)] = []
    let useScancel = rng.next(2) == 0
    let unfinished = jobs.filter { $0.state == "PENDING" || $0.state == "RUNNING" }
    for _ in 0..<(rng.next(3)) {
      let job = jobs[rng.next(jobs.count)]
      guard let index = job.index, rng.next(3) != 0 else {
        argv.append(String(job.array))
        operands.append((job.array, nil))
        continue
      }
      if rng.next(2) == 0 {
        argv.append("\(job.array)_\(index)")
        operands.append((job.array, [index]))
      } else {
        let lo = max(0, index - rng.next(2))
        let hi = index + rng.next(2)
        let extra = rng.next(5)
        argv.append("\(job.array)_[\(lo)-\(hi),\(extra)]")
        operands.append((job.array, Set(lo...hi).union([extra])))
      }
    }
    var names: Set<String>?
    var states: Set<String>?
    var sweep: String?
    if useScancel {
      if rng.next(3) == 0 {
        names = [["train"], ["eval"], ["train", "eval"], ["quick"]][rng.next(4)]
        argv.append("--name=" + names!.sorted().joined(separator: ","))
      }
      if rng.next(3) == 0 || argv.isEmpty {
        let options: [(String, Set<String>)] = [
          ("PENDING", ["PENDING"]), ("R", ["RUNNING"]), ("PD,R", ["PENDING", "RUNNING"]),
        ]
        let (text, set) = options[rng.next(options.count)]
        states = set
        argv.append("--state=" + text)
      }
    } else if rng.next(2) == 0 || argv.isEmpty {
      sweep = jobs[rng.next(jobs.count)].sweep
      argv += ["--sweep", sweep!]
    }
    let selected = Set(
      unfinished.filter { job in
        let byID = operands.contains {
          $0.array == job.array && ($0.indices.map { s in job.index.map(s.contains) ?? false } ?? true)
        }
        if useScancel {
          if !operands.isEmpty && !byID { return false }
          if let names, !names.contains(job.name) { return false }
          if let states, !states.contains(job.state) { return false }
          return true
        }
        // `orch cancel`: the ids and the sweep's unfinished jobs together.
        return byID || job.sweep == sweep
      }.map(\.display))

    let r = try c.run([useScancel ? "scancel" : "cancel"] + argv)
    let what = "case \(n): orch \(useScancel ? "scancel" : "cancel") \(argv.joined(separator: " "))"
    // scancel exits 1 when an id it was given had already ended, as SLURM 23.02 does.
    XCTAssertTrue(r.code == 0 || (useScancel && r.code == 1), "\(what): \(r.err)")
    try c.waitUntil("\(what): the selected jobs are recorded CANCELLED") {
      let s = try c.states()
      return selected.allSatisfy { s[$0] == "CANCELLED" }
    }
    let after = try c.states()
    for job in jobs {
      let now = after[job.display]
      if selected.contains(job.display) {
        XCTAssertEqual(now, "CANCELLED", "\(what): \(job.display)")
        if let pid = pids[job.display] {
          try c.waitUntil("\(job.display)'s process is gone") { kill(pid, 0) != 0 || DaemonTests.isZombie(pid) }
        }
      } else if job.state == "RUNNING" {
        XCTAssertEqual(now, "RUNNING", "\(what): \(job.display) untouched")
        if let pid = pids[job.display] { XCTAssertEqual(kill(pid, 0), 0, "\(what): \(job.display)'s process runs on") }
      } else if job.state == "PENDING" {
        XCTAssertTrue(now == "PENDING" || now == "RUNNING", "\(what): \(job.display) is \(now ?? "-")")
      } else {
        XCTAssertEqual(now, job.state, "\(what): \(job.display)")
      }
    }
    let attempts = try c.run(["history", "--attempts", "--json"])
    let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(attempts.out.utf8)) as? [[String: Any]])
    // Attempts taken back before they started (REVOKED) ran nothing.
    let ran = rows.filter { $0["state"] as? String != "REVOKED" }
    let perJob = Dictionary(grouping: ran) { $0["jobID"] as? Int ?? 0 }
    XCTAssertTrue(perJob.values.allSatisfy { $0.count == 1 }, "\(what): nothing ran twice: \(ran)")
    _ = try c.run(["scancel", "--state=PD,R"])
  }

  static func display(_ row: [String: Any]) -> String {
    let id = row["arrayID"] as! Int
    if row["isArray"] as! Bool, let index = row["arrayIndex"] as? Int { return "\(id)_\(index)" }
    return "\(id)"
  }
}

extension Cluster {
  /// The process ids the given running jobs wrote to `pids.txt` ("DISPLAY PID" lines).
  func waitForPids(_ displays: [String]) throws -> [String: Int32] {
    var pids: [String: Int32] = [:]
    try waitUntil("the running jobs wrote their pids") {
      pids = [:]
      for line in read("pids.txt").split(separator: "\n") {
        let f = line.split(separator: " ")
        if f.count == 2, let pid = Int32(f[1]) { pids[String(f[0])] = pid }
      }
      return displays.allSatisfy { pids[$0] != nil }
    }
    return pids
  }
}
