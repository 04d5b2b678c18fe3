import ArgumentParser
import CSupport
import Foundation
import OrchCore
import Registry
import Store

struct Results: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "One row per config of a sweep with its state and final metrics.",
    discussion: "Examples:\n  orch results p100_source\n  orch results p100_source --csv > results.csv")

  @Argument(help: "The sweep name (see `orch history`).") var sweep: String
  @Option(help: "Only these metrics, comma-separated (default: all final metrics).") var metrics: String?
  @Flag(help: "Print CSV.") var csv = false
  @Flag(help: "Print JSON.") var json = false

  struct Row: Codable {
    var key: String
    var job: String
    var state: String
    var metrics: [String: Double]
  }

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    let jobs = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(sweep: sweep)) }
    if jobs.isEmpty { throw OrchError.badInput("no jobs in sweep '\(sweep)'") }
    // A key submitted again (--force) is reported by its newest job.
    var newest: [String: JobRow] = [:]
    for j in jobs where (newest[j.key]?.id ?? -1) < j.id { newest[j.key] = j }
    let chosen = jobs.filter { newest[$0.key]?.id == $0.id }
    let final = try storeCall { () throws(StoreError) in try store.finalMetrics(jobIDs: chosen.map(\.id)) }
    let wanted = metrics.map { Set($0.split(separator: ",").map(String.init)) }
    let rows = chosen.map { job in
      Row(
        key: job.key, job: job.display, state: job.state.rawValue,
        metrics: (final[job.id] ?? [:]).filter { wanted?.contains($0.key) ?? true })
    }
    if json { return try Output.json(rows) }
    let names = Set(rows.flatMap { $0.metrics.keys }).sorted()
    let cells = rows.map { r in
      [r.key, r.job, r.state] + names.map { n in r.metrics[n].map { String(format: "%.6g", $0) } ?? "" }
    }
    let header = ["key", "job", "state"] + names
    if csv {
      Output.print(
        ([header] + cells).map { $0.map(Output.csvField).joined(separator: ",") }.joined(separator: "\n") + "\n")
    } else {
      Output.print(Output.table(header.map { $0.uppercased() }, cells))
    }
  }
}
