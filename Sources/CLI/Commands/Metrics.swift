import ArgumentParser
import Foundation
import OrchCore
import Registry
import Store

struct Metrics: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "A job's metrics as reported on fd 3 (per step/epoch, and the final ones).",
    discussion: "Examples:\n  orch metrics 12_3\n  orch metrics 12_3 --csv > curves.csv")

  @Argument(help: "One job: 12 or 12_3.") var job: String
  @OptionGroup var output: TableOutput

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    let row = try JobIDs.single(job, store: store)
    let metrics = try storeCall { () throws(StoreError) in try store.metrics(jobID: row.id) }
    if output.json { return try Output.json(metrics) }
    let cells = metrics.map { m in
      [
        String(m.attempt), m.epoch.map(String.init) ?? "", m.step.map(String.init) ?? "", m.name, String(m.value),
        m.final ? "1" : "0",
      ]
    }
    let header = ["attempt", "epoch", "step", "name", "value", "final"]
    if output.csv {
      Output.print(
        ([header] + cells).map { $0.map(Output.csvField).joined(separator: ",") }.joined(separator: "\n") + "\n")
    } else {
      Output.print(Output.table(header.map { $0.uppercased() }, cells))
    }
  }
}
