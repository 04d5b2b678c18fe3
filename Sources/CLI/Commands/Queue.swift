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
    let rows = try storeCall { () throws(StoreError) in
      try store.jobs(JobFilter(states: [.running, .pending], sweep: sweep))
    }
    if output.json { return try Output.json(rows) }
    let now = Posix.now()
    let withSlurm = rows.contains { Backend(of: $0) == .slurm }
    let gpus = try storeCall { () throws(StoreError) in try store.gpuAllocations(rows.map(\.id)) }
    let withGPUs = gpus.values.contains { $0.count > 0 }
    var lines: [[String]] = []
    var i = 0
    while i < rows.count {
      let r = rows[i]
      var j = i + 1
      if !expand, r.state == .pending, r.isArray {
        while j < rows.count, rows[j].arrayID == r.arrayID, rows[j].state == .pending, rows[j].reason == r.reason,
          rows[j].backend == r.backend
        {
          j += 1
        }
      }
      let id =
        j - i > 1
        ? "\(r.arrayID)_[\(ArraySpec.compress(rows[i..<j].compactMap(\.arrayIndex)))]" : r.display
      let time = r.state == .running ? TimeFormat.squeueTime(TimeFormat.seconds(now - (r.startTime ?? now))) : "0:00"
      let detail = r.state == .running ? r.key : "(\(r.reason ?? "Priority"))"
      var line = [id, r.name, r.state.code, time, String(r.cpus), detail]
      if withGPUs { line.insert(gpus[r.id].map { GPUText.queue($0, running: r.state == .running) } ?? "", at: 5) }
      if withSlurm { line.insert(j - i > 1 ? "" : r.slurmID ?? "", at: 1) }
      lines.append(line)
      i = j
    }
    var header = ["JOBID", "NAME", "ST", "TIME", "CPUS", "KEY/(REASON)"]
    if withGPUs { header.insert("GPUS", at: 5) }
    if withSlurm { header.insert("SLURM", at: 1) }
    Output.print(Output.table(header, lines))
    // What the machine has, so a pending GPU job's wait can be read against it.
    if withGPUs, let node = NodeResources.load(home: home) {
      Output.print(
        "GPUs on this machine: \(node.gpus.map { "\($0.index)" }.joined(separator: ",")) (\(node.gpuSource))\n")
    }
  }
}
