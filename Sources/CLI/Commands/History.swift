import ArgumentParser
import Backends
import Foundation
import OrchCore
import Registry
import SlurmSyntax
import Store
import System

struct History: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Jobs with their state, exit code:signal, elapsed time and attempts (like sacct).",
    discussion:
      "Examples:\n  orch history --sweep p100_source\n  orch history -j 12 --attempts\n  orch history --state FAILED --json"
  )

  @Option(name: .shortAndLong, parsing: .upToNextOption, help: "Job ids: 12, 12_3, 12_[1-3].") var jobs: [String] = []
  @Option(help: "Only this sweep.") var sweep: String?
  @Option(help: "Only these states, comma-separated (COMPLETED,FAILED,...).") var state: String?
  @Flag(help: "One line per attempt.") var attempts = false
  @OptionGroup var output: JSONOutput

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    var states: [JobState] = []
    for s in (state ?? "").split(separator: ",") {
      guard let st = JobState(rawValue: s.uppercased()) else {
        throw OrchError.badInput(
          "unknown state '\(s)': expected one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      states.append(st)
    }
    let ids = try JobIDs.resolve(jobs, store: store)
    Collect.refresh(store, sweep: sweep)
    let rows = try storeCall { () throws(StoreError) in
      try store.jobs(
        JobFilter(states: state == nil ? nil : states, jobs: jobs.isEmpty ? nil : ids, sweep: sweep))
    }
    let now = Posix.now()
    func elapsed(_ start: Double?, _ end: Double?) -> String {
      guard let start else { return TimeFormat.sacctElapsed(0) }
      return TimeFormat.sacctElapsed(TimeFormat.seconds((end ?? now) - start))
    }
    if attempts {
      var all: [(JobRow, AttemptRow)] = []
      for r in rows {
        for a in try storeCall({ () throws(StoreError) in try store.attempts(jobID: r.id) }) { all.append((r, a)) }
      }
      if output.json { return try Output.json(all.map(\.1)) }
      // The GPUs an attempt was given, as a column only where some attempt had any.
      let withGPUs = all.contains { $0.1.gpus != nil }
      var header = ["JOBID", "ATTEMPT", "STATE", "EXITCODE", "ELAPSED", "CPUS", "REASON"]
      if withGPUs { header.insert("GPUS", at: 6) }
      Output.print(
        Output.table(
          header,
          all.map { r, a in
            var line = [
              r.display, String(a.attempt), a.state, "\(a.exitCode ?? 0):\(a.signal ?? 0)",
              elapsed(a.startTime, a.endTime),
              a.cpus ?? "", a.reason ?? "",
            ]
            if withGPUs { line.insert(a.gpus ?? "", at: 6) }
            return line
          }))
      return
    }
    if output.json { return try Output.json(rows) }
    let withSlurm = rows.contains { Backend(of: $0) == .slurm }
    var header = ["JOBID", "NAME", "STATE", "EXITCODE", "ELAPSED", "ATTEMPTS", "KEY"]
    if withSlurm { header.insert("SLURM", at: 1) }
    Output.print(
      Output.table(
        header,
        rows.map { r in
          var line = [
            r.display, r.name, r.state.rawValue, "\(r.exitCode ?? 0):\(r.signal ?? 0)", elapsed(r.startTime, r.endTime),
            String(r.attempt), r.key,
          ]
          if withSlurm { line.insert(r.slurmID ?? "", at: 1) }
          return line
        }))
  }
}
