import Foundation
import XCTest

/// The kill campaign: random kill -9 of the daemon, of pool workers and of jobs while a sweep runs.
/// Every job must end COMPLETED exactly once in the store; a job may have finished its work twice
/// only when a kill landed in the one window orch cannot close — after the job's last write and
/// before its worker journaled the exit (the attempt that wrote DONE is then recorded as killed or
/// lost, never COMPLETED). `ORCH_CHAOS_JOBS` (default 300) and `ORCH_CHAOS_KILLS` (default 40)
/// size it; `bench/chaos/run.sh` runs it larger and prints the figures.
final class ChaosTests: XCTestCase {
  func testKillCampaignCompletesEveryJobExactlyOnce() throws {
    let env = ProcessInfo.processInfo.environment
    let jobs = env["ORCH_CHAOS_JOBS"].flatMap { Int($0) } ?? 300
    let kills = env["ORCH_CHAOS_KILLS"].flatMap { Int($0) } ?? 40
    var rng = SystemRandomNumberGenerator()
    let c = try Cluster()
    try c.write(
      "sweeps/chaos.yaml",
      """
      register:
        - key: "chaos/{i}"
          resources: {max_attempts: 50}
          command:
            - sh
            - -c
            - "echo START {i} $ORCH_ATTEMPT $$ >> log.txt; sleep 0.$(( {i} % 3 + 1 )); echo DONE {i} $ORCH_ATTEMPT >> log.txt"
          axes: {i: range(0, \(jobs))}
      """)
    try c.startDaemon(cpus: "0-1")
    XCTAssertEqual(try c.run(["submit", "sweeps/chaos.yaml", "--output-root", c.runs]).code, 0)
    var counts = ["daemon": 0, "worker": 0, "job": 0]
    for _ in 0..<kills {
      usleep(UInt32.random(in: 50_000...400_000, using: &rng))
      let states = try c.states()
      if states.count == jobs && states.values.allSatisfy({ $0 == "COMPLETED" }) { break }
      switch Int.random(in: 0..<3, using: &rng) {
      case 0:
        c.stopDaemon(kill9: true)
        counts["daemon"]! += 1
        try c.startDaemon(cpus: "0-1")
      case 1:
        if let worker = RecoveryTests.workerPIDs(home: c.home).randomElement(using: &rng) {
          kill(worker, SIGKILL)
          counts["worker"]! += 1
        }
      default:
        let running = c.read("log.txt").split(separator: "\n").suffix(4).compactMap { line -> Int32? in
          let f = line.split(separator: " ")
          return f.first == "START" && f.count == 4 ? Int32(f[3]) : nil
        }
        if let pid = running.randomElement(using: &rng), kill(pid, SIGKILL) == 0 { counts["job"]! += 1 }
      }
    }
    try c.waitUntil("every job completes", timeout: 600) {
      let s = try c.states()
      return s.count == jobs && s.values.allSatisfy { $0 == "COMPLETED" }
    }
    // Attempts as the store recorded them: (job index, attempt) → state.
    let r = try c.run(["history", "--attempts", "--json"])
    let attempts = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
    var recorded: [String: String] = [:]
    var completedPerJob: [Int: Int] = [:]
    for a in attempts {
      let job = a["jobID"] as! Int - 1
      recorded["\(job)/\(a["attempt"] as! Int)"] = a["state"] as? String
      if a["state"] as? String == "COMPLETED" { completedPerJob[job, default: 0] += 1 }
    }
    XCTAssertEqual(completedPerJob.count, jobs)
    XCTAssertTrue(completedPerJob.values.allSatisfy { $0 == 1 }, "one COMPLETED attempt per job")
    var window = 0
    var done: [Int: [String]] = [:]
    for line in c.read("log.txt").split(separator: "\n") where line.hasPrefix("DONE ") {
      let f = line.split(separator: " ")
      done[Int(f[1])!, default: []].append(String(f[2]))
    }
    for i in 0..<jobs {
      let runs = done[i] ?? []
      XCTAssertGreaterThanOrEqual(runs.count, 1, "job \(i) ran to its end")
      XCTAssertEqual(Set(runs).count, runs.count, "job \(i): one run per attempt id \(runs)")
      let completed = runs.filter { recorded["\(i)/\($0)"] == "COMPLETED" }
      XCTAssertEqual(completed.count, 1, "job \(i): exactly one finished run is the recorded completion")
      // Any other finished run was killed inside the window: recorded as failed or lost.
      for attempt in runs where recorded["\(i)/\(attempt)"] != "COMPLETED" {
        XCTAssertEqual(recorded["\(i)/\(attempt)"], "FAILED", "job \(i) attempt \(attempt)")
        window += 1
      }
    }
    let total = done.values.reduce(0) { $0 + $1.count }
    print(
      "chaos: \(jobs) jobs, kills daemon \(counts["daemon"]!) worker \(counts["worker"]!) job \(counts["job"]!); "
        + "completed once: \(completedPerJob.values.filter { $0 == 1 }.count); finished runs \(total); "
        + "reruns after a kill inside the window: \(window)")
  }
}
