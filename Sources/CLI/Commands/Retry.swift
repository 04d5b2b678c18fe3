import ArgumentParser
import Backends
import Foundation
import Operations
import OrchCore
import Store

struct Retry: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Requeue failed jobs (FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY) under their own ids.",
    discussion: "Examples:\n  orch retry --failed --sweep p100_source\n  orch retry 12_7")

  @Flag(help: "Every failed job (of --sweep, if given).") var failed = false
  @Option(help: "Only this sweep.") var sweep: String?
  @Argument(help: "Job ids to retry.") var ids: [String] = []

  func validate() throws {
    if !failed && ids.isEmpty { throw ValidationError("give job ids or --failed") }
  }

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    let named = try JobIDs.resolve(ids, store: store)
    let rows = try storeCall { () throws(StoreError) in
      try store.jobs(JobFilter(states: JobState.retryable, jobs: ids.isEmpty ? nil : named, sweep: sweep))
    }
    // What SLURM ran is retried through SLURM (a new array of only those elements, same orch ids;
    // it prints its arrays), the rest by the local daemon.
    let local = Set(rows.filter { Backend(of: $0) == .local }.map(\.id))
    let requeued = try Operations.retry(rows, store: store, home: home).filter { local.contains($0) }
    if !local.isEmpty || rows.isEmpty {
      let shown = rows.filter { requeued.contains($0.id) }.prefix(10).map(\.display).joined(separator: " ")
      let n = requeued.count
      Output.print("requeued \(n) job(s)\(n > 0 ? ": " + shown + (n > 10 ? " ..." : "") : "")\n")
    }
  }
}
