import Foundation
import GRDB
import Store
import Worker
import XCTest

@testable import CLI
@testable import Orchestrator
@testable import SlurmSyntax

/// Property: over random arrays in random states and random scancel selections (ids, elements,
/// element ranges, `--name`, `--state`, mixtures), after the cancel exactly the selected unfinished
/// jobs end CANCELLED — whichever path reports their end (pool worker, adopted worker after a
/// restart, recovery of a lost worker, a queued order never started) — and every other job's
/// state, attempt and tries are untouched. `ORCH_PROPERTY_CASES` (default 2,000) seeded by
/// `ORCH_FUZZ_SEED`.
final class CancelPropertyTests: XCTestCase {
  struct Job {
    var id: Int64
    var array: Int64
    var index: Int?
    var name: String
    var state: JobState
  }

  /// How the end of a cancelled running job reaches the store.
  static let reporters: [@Sendable (Int64, Int) -> JobReport] = [
    // The pool worker's kill: SIGTERM.
    {
      JobReport(
        jobID: $0, attempt: $1, outcome: .failed, exitCode: nil, signal: 15, reason: nil, pid: 9, startTime: 2,
        endTime: 4)
    },
    // An adopted job's worker journals the SIGKILL after KillWait.
    {
      JobReport(
        jobID: $0, attempt: $1, outcome: .failed, exitCode: nil, signal: 9, reason: nil, pid: 9, startTime: 2,
        endTime: 4)
    },
    // Recovery: the worker was lost while the job ran.
    {
      JobReport(
        jobID: $0, attempt: $1, outcome: .workerLost, exitCode: nil, signal: nil, reason: "WorkerLost", pid: 9,
        startTime: 4, endTime: 4)
    },
    // A queued order taken back before it started.
    { JobReport.notStarted(jobID: $0, attempt: $1, at: 4) },
  ]

  func testCancelEndsExactlyTheSelectedJobs() throws {
    let cases = ProcessInfo.processInfo.environment["ORCH_PROPERTY_CASES"].flatMap { Int($0) } ?? 2000
    var rng = SplitMix(seed: Fuzz.seed ^ 0x63_616e_63656c)
    let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("orch-prop-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    // scancel reports invalid and ended ids on stderr; thousands of cases of it are noise here.
    let savedStderr = dup(2)
    let null = open("/dev/null", O_WRONLY)
    dup2(null, 2)
    defer {
      dup2(savedStderr, 2)
      close(null)
      close(savedStderr)
    }
    for n in 0..<cases {
      try runCase(n, dir: dir, rng: &rng)
    }
  }

  func runCase(_ n: Int, dir: URL, rng: inout SplitMix) throws {
    func pick(_ k: Int) -> Int { Int(rng.next() % UInt64(k)) }
    let store = try JobStore(path: dir.appendingPathComponent("\(n % 8).db").path + "-\(n)")
    defer { try? FileManager.default.removeItem(atPath: dir.appendingPathComponent("\(n % 8).db").path + "-\(n)") }
    let names = ["train", "eval", "wrap"]
    var jobs: [Job] = []
    for a in 0..<(1 + pick(4)) {
      let size = 1 + pick(8)
      let isArray = size > 1 || pick(2) == 0
      let name = names[pick(names.count)]
      let first = try store.submit(now: 1) { tx in
        try tx.insert(
          array: NewArray(
            sweep: "s\(a % 2)", name: name, source: "x", isArray: isArray, launch: "{}", outputRoot: "/tmp/r"),
          jobs: (0..<size).map {
            NewJob(
              arrayIndex: isArray ? $0 : nil, key: "a\(a)-\($0)", configHash: "h\(a)-\($0)", config: "{}",
              resources: JobResources(maxAttempts: 3))
          }, dependencies: [])
      }
      for i in 0..<size {
        jobs.append(Job(id: first + Int64(i), array: first, index: isArray ? i : nil, name: name, state: .pending))
      }
    }
    // States: some run (claimed as the daemon claims), some ended before the cancel.
    for i in jobs.indices {
      switch pick(5) {
      case 0, 1:
        let claimed = try store.write("claim") { db in
          try db.execute(sql: "UPDATE jobs SET priority = 1 WHERE id = ?", arguments: [jobs[i].id])
          defer { try? db.execute(sql: "UPDATE jobs SET priority = 0 WHERE id = ?", arguments: [jobs[i].id]) }
          return try JobStore.claim(db, freeCPUs: 1, now: 2, workerPID: 7, cpus: { Array(0..<$0) })
        }
        XCTAssertEqual(claimed?.id, jobs[i].id)
        jobs[i].state = .running
      case 2:
        try store.write("end") { db in
          try db.execute(sql: "UPDATE jobs SET state = 'COMPLETED', end_time = 3 WHERE id = ?", arguments: [jobs[i].id])
        }
        jobs[i].state = .completed
      default: break
      }
    }
    // A selection, as scancel takes it.
    var argv: [String] = []
    var operands: [(array: Int64, indices: Set<Int>?)] = []
    if pick(4) != 0 {
      for _ in 0..<(1 + pick(3)) {
        let job = jobs[pick(jobs.count)]
        guard let index = job.index else {
          argv.append(String(job.array))
          operands.append((job.array, nil))
          continue
        }
        switch pick(3) {
        case 0:
          argv.append(String(job.array))
          operands.append((job.array, nil))
        case 1:
          argv.append("\(job.array)_\(index)")
          operands.append((job.array, [index]))
        default:
          let lo = max(0, index - pick(3))
          let hi = index + pick(3)
          let extra = pick(9)
          argv.append("\(job.array)_[\(lo)-\(hi),\(extra)]")
          operands.append((job.array, Set(lo...hi).union([extra])))
        }
      }
    }
    var wantedNames: Set<String>?
    if pick(3) == 0 {
      let chosen = Set((0..<(1 + pick(2))).map { _ in names[pick(names.count)] })
      wantedNames = chosen
      argv.append("--name=" + chosen.sorted().joined(separator: ","))
    }
    var wantedStates: Set<JobState>?
    if pick(3) == 0 || argv.isEmpty {
      let options: [(String, Set<JobState>)] = [
        ("PENDING", [.pending]), ("RUNNING", [.running]), ("PD,R", [.pending, .running]), ("CD", []),
      ]
      let (text, states) = options[pick(options.count)]
      wantedStates = states
      argv.append("--state=" + text)
    }
    let expected = Set(
      jobs.filter { job in
        guard !job.state.isTerminal else { return false }
        if !operands.isEmpty,
          !operands.contains(where: {
            $0.array == job.array && ($0.indices.map { s in job.index.map(s.contains) ?? false } ?? true)
          })
        {
          return false
        }
        if let wantedNames, !wantedNames.contains(job.name) { return false }
        if let wantedStates, !wantedStates.contains(job.state) { return false }
        return true
      }.map(\.id))

    let before = try snapshot(store)
    let args = try SlurmGetopt.parse(argv, tool: "scancel", flags: Scancel.flags)
    let selected = try Scancel.select(args, store: store).rows.map(\.id)
    XCTAssertEqual(Set(selected), expected, "case \(n): scancel \(argv.joined(separator: " "))")
    let result = try store.requestCancel(ids: selected, now: 3)
    // The owners report the ends of the running ones, each by a random path.
    try store.write("report") { db in
      for id in result.requested {
        let attempt = try Int.fetchOne(db, sql: "SELECT attempt FROM jobs WHERE id = ?", arguments: [id])!
        let report = Self.reporters[pick(Self.reporters.count)](id, attempt)
        _ = try JobStore.finish(db, Daemon.outcome(of: report))
      }
    }
    let after = try snapshot(store)
    for job in jobs {
      if expected.contains(job.id) {
        XCTAssertEqual(after[job.id]?.state, "CANCELLED", "case \(n): \(job.id) selected by \(argv)")
      } else {
        XCTAssertEqual(after[job.id]?.state, before[job.id]?.state, "case \(n): \(job.id) untouched by \(argv)")
        XCTAssertEqual(after[job.id]?.attempt, before[job.id]?.attempt)
        XCTAssertEqual(after[job.id]?.cancel, 0)
      }
    }
  }

  func snapshot(_ store: JobStore) throws -> [Int64: (state: String, attempt: Int, cancel: Int)] {
    try store.read("snapshot") { db in
      var out: [Int64: (String, Int, Int)] = [:]
      for row in try Row.fetchAll(db, sql: "SELECT id, state, attempt, cancel_requested FROM jobs") {
        out[row[0]] = (row[1], row[2], row[3])
      }
      return out
    }
  }
}
