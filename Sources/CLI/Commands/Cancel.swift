import ArgumentParser
import Foundation
import Operations
import OrchCore
import Store

struct Cancel: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Cancel jobs: pending ones at once, running ones by ending their whole process tree.",
    discussion: "Examples:\n  orch cancel 12\n  orch cancel 12_[1-3] 14_0\n  orch cancel --sweep p100_source")

  @Argument(help: "Job ids: 12, 12_3, 12_[1-3].") var ids: [String] = []
  @Option(help: "Cancel every unfinished job of this sweep.") var sweep: String?

  func validate() throws {
    if ids.isEmpty && sweep == nil { throw ValidationError("give job ids or --sweep NAME") }
  }

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    var targets = try JobIDs.resolve(ids, store: store)
    if let sweep {
      targets += try storeCall { () throws(StoreError) in
        try store.jobs(JobFilter(states: [.pending, .running], sweep: sweep)).map(\.id)
      }
    }
    let outcome = try Operations.cancel(targets, store: store, home: home, wait: 120)
    let running = outcome.running.count
    if outcome.slurmElements.isEmpty || !outcome.pending.isEmpty || running > 0 {
      Output.print("cancelled \(outcome.pending.count) pending and \(running) running job(s)\n")
    }
    if !outcome.slurmElements.isEmpty {
      let shown = outcome.slurmElements.prefix(10).joined(separator: " ")
      Output.print(
        "cancelled \(outcome.slurmElements.count) SLURM job(s): scancel \(shown)\(outcome.slurmElements.count > 10 ? " ..." : "")\n"
      )
    }
    if !outcome.stillRunning.isEmpty {
      Output.print(
        "\(outcome.stillRunning.count) of them still ending; they will be recorded CANCELLED: "
          + outcome.stillRunning.prefix(10).map(String.init).joined(separator: " ") + "\n")
    }
  }
}
