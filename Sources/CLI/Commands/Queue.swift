import ArgumentParser
import Backends
import Foundation
import OrchCore
import Orchestrator
import Registry
import SlurmSyntax
import Store
import System

struct Queue: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Pending and running jobs (like squeue); pending array elements are collapsed.",
    discussion: "Examples:\n  orch queue\n  orch queue -r --sweep p100_source\n  orch queue --json")

  @Flag(name: [.customShort("r"), .customLong("array")], help: "One line per array element (squeue -r).")
  var expand = false
  @Option(help: "Only this sweep.") var sweep: String?
  @OptionGroup var output: JSONOutput

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    Collect.refresh(store, sweep: sweep)
    if output.json {
      return try JSONLines.print { (emit: (JobRow) -> Void) in
        try storeCall { () throws(StoreError) in
          try store.eachJob(JobFilter(states: [.running, .pending], sweep: sweep)) { emit($0) }
        }
      }
    }
    if expand { return try Self.printExpanded(store: store, home: home, sweep: sweep) }
    try Self.printCollapsed(store: store, home: home, sweep: sweep)
  }
}
