import Analysis
import ArgumentParser
import Backends
import Foundation
import OrchCore
import Orchestrator
import Registry
import Store

/// `orch collect [SWEEP]`: the events and final states of the jobs SLURM runs, into the store.
struct Collect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Bring the events and states of jobs submitted with --backend slurm into the store.",
    discussion: """
      Reads each element's runs/<key>/events.jsonl (metrics, checkpoints, artifacts) and its state from
      `scontrol show job` (or, once SLURM forgot the job, the job-completion log). Running it twice adds
      nothing. `orch queue` and `orch history` collect too; the daemon does every few seconds.

      Examples:
        orch collect
        orch collect p100_source --json
      """)

  @Argument(help: "Only this sweep.") var sweep: String?
  @Flag(help: "Print the summary as JSON.") var json = false

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    let jobs = try storeCall { () throws(StoreError) in try store.activeSlurmJobs(sweep: sweep) }
    var summary = SlurmCollector.Summary()
    if !jobs.isEmpty {
      summary = try SlurmCollector(store: store, commands: try SlurmCommands.locate()).collect(jobs)
    }
    if json { return try Output.json(summary) }
    Output.print(
      "collected \(summary.jobs) SLURM job(s): \(summary.changed) state change(s), \(summary.events) new event(s)\n")
  }

  /// Before a listing: SLURM's latest word on its unfinished jobs, when SLURM is at hand. A
  /// listing still answers (from the store) if SLURM does not; the reason goes to stderr.
  static func refresh(_ store: JobStore, sweep: String? = nil) {
    // Likewise a foreground `orch run` that died without recording its end.
    if let home = try? OrchHome() { _ = try? Foreground.reap(store: store, home: home) }
    do {
      guard try storeCall({ () throws(StoreError) in try store.hasActiveSlurmJobs() }) else { return }
      let commands = try SlurmCommands.locate()
      _ = try SlurmCollector(store: store, commands: commands).collect(sweep: sweep)
    } catch {
      FileHandle.standardError.write(Data("orch: SLURM's states not collected: \(error)\n".utf8))
    }
  }
}
