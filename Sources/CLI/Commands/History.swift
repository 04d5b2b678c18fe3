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
    let filter = JobFilter(states: state == nil ? nil : states, jobs: jobs.isEmpty ? nil : ids, sweep: sweep)
    if attempts { return try Self.printAttempts(store: store, filter: filter, json: output.json) }
    try Self.printJobs(store: store, filter: filter, json: output.json)
  }
}
