import Backends
import Foundation
import OrchCore
import Registry
import SlurmSyntax
import Store
import System
import Worker

extension Queue {
  /// The collapsed view: running jobs one per line, pending ones grouped in SQL per array, reason
  /// and backend (their indices compressed, read only for a group with gaps).
  static func printCollapsed(store: JobStore, home: OrchHome, sweep: String?) throws {
    let now = Posix.now()
    let running = try storeCall { () throws(StoreError) in try store.runningJobs(sweep: sweep) }
    let groups = try storeCall { () throws(StoreError) in try store.pendingGroups(sweep: sweep) }
    let withSlurm = running.contains { Backend(of: $0) == .slurm } || groups.contains { $0.backend == "slurm" }
    let gpus = try storeCall { () throws(StoreError) in
      try store.gpuAllocations(running.map(\.id) + groups.map(\.firstID))
    }
    let withGPUs = gpus.values.contains { $0.count > 0 }
    var lines: [(Int64, [String])] = []
    for r in running {
      let time = TimeFormat.squeueTime(TimeFormat.seconds(now - (r.startTime ?? now)))
      var line = [r.display, r.name, r.state.code, time, String(r.cpus), r.key]
      if withGPUs { line.insert(gpus[r.id].map { GPUText.queue($0, running: true) } ?? "", at: 5) }
      if withSlurm { line.insert(r.slurmID ?? "", at: 1) }
      lines.append((r.id, line))
    }
    for g in groups {
      let id: String
      if g.isArray && g.count > 1 {
        let indices: String
        if g.contiguous, let first = g.firstIndex, let last = g.lastIndex {
          indices = "\(first)-\(last)"
        } else {
          indices = ArraySpec.compress(try storeCall { () throws(StoreError) in try store.pendingIndices(g) })
        }
        id = "\(g.arrayID)_[\(indices)]"
      } else {
        id = JobStore.display(arrayID: g.arrayID, index: g.firstIndex, isArray: g.isArray)
      }
      var line = [id, g.name, JobState.pending.code, "0:00", String(g.cpus), "(\(g.reason ?? "Priority"))"]
      if withGPUs { line.insert(gpus[g.firstID].map { GPUText.queue($0, running: false) } ?? "", at: 5) }
      if withSlurm { line.insert(g.count > 1 ? "" : g.slurmID ?? "", at: 1) }
      lines.append((g.firstID, line))
    }
    lines.sort { $0.0 < $1.0 }
    var header = ["JOBID", "NAME", "ST", "TIME", "CPUS", "KEY/(REASON)"]
    if withGPUs { header.insert("GPUS", at: 5) }
    if withSlurm { header.insert("SLURM", at: 1) }
    Output.print(Output.table(header, lines.map(\.1)))
    if withGPUs { printMachineGPUs(home: home) }
  }

  /// What the machine has, so a pending GPU job's wait can be read against it.
  static func printMachineGPUs(home: OrchHome) {
    guard let node = NodeResources.load(home: home) else { return }
    Output.print(
      "GPUs on this machine: \(node.gpus.map { "\($0.index)" }.joined(separator: ",")) (\(node.gpuSource))\n")
  }

  /// `-r`: one line per job, streamed.
  static func printExpanded(store: JobStore, home: OrchHome, sweep: String?) throws {
    let filter = JobFilter(states: [.running, .pending], sweep: sweep)
    let withSlurm = try storeCall { () throws(StoreError) in try store.anySlurm(filter) }
    let gpus = try storeCall { () throws(StoreError) in try store.gpuAllocations(filter) }
    let withGPUs = !gpus.isEmpty
    let now = Posix.now()
    var header = ["JOBID", "NAME", "ST", "TIME", "CPUS", "KEY/(REASON)"]
    if withGPUs { header.insert("GPUS", at: 5) }
    if withSlurm { header.insert("SLURM", at: 1) }
    try StreamTable.print(header: header) { emit in
      try storeCall { () throws(StoreError) in
        try store.eachJob(filter) { r in
          let time =
            r.state == .running ? TimeFormat.squeueTime(TimeFormat.seconds(now - (r.startTime ?? now))) : "0:00"
          var line = [
            r.display, r.name, r.state.code, time, String(r.cpus),
            r.state == .running ? r.key : "(\(r.reason ?? "Priority"))",
          ]
          if withGPUs { line.insert(gpus[r.id].map { GPUText.queue($0, running: r.state == .running) } ?? "", at: 5) }
          if withSlurm { line.insert(r.slurmID ?? "", at: 1) }
          emit(line)
        }
      }
    }
    if withGPUs { printMachineGPUs(home: home) }
  }
}

extension History {
  /// Every job of the filter, one line each, streamed (terminal or JSON).
  static func printJobs(store: JobStore, filter: JobFilter, json: Bool) throws {
    if json {
      return try JSONLines.print { (emit: (JobRow) -> Void) in
        try storeCall { () throws(StoreError) in try store.eachJob(filter) { emit($0) } }
      }
    }
    let now = Posix.now()
    let withSlurm = try storeCall { () throws(StoreError) in try store.anySlurm(filter) }
    var header = ["JOBID", "NAME", "STATE", "EXITCODE", "ELAPSED", "ATTEMPTS", "KEY"]
    if withSlurm { header.insert("SLURM", at: 1) }
    try StreamTable.print(header: header) { emit in
      try storeCall { () throws(StoreError) in
        try store.eachJob(filter) { r in
          var line = [
            r.display, r.name, r.state.rawValue, "\(r.exitCode ?? 0):\(r.signal ?? 0)",
            elapsed(r.startTime, r.endTime, now: now), String(r.attempt), r.key,
          ]
          if withSlurm { line.insert(r.slurmID ?? "", at: 1) }
          emit(line)
        }
      }
    }
  }

  /// `--attempts`: one line per attempt, streamed.
  static func printAttempts(store: JobStore, filter: JobFilter, json: Bool) throws {
    if json {
      return try JSONLines.print { (emit: (AttemptRow) -> Void) in
        try storeCall { () throws(StoreError) in try store.eachAttempt(filter) { emit($1) } }
      }
    }
    let now = Posix.now()
    // The GPUs an attempt was given, as a column only where some attempt had any.
    let withGPUs = try storeCall { () throws(StoreError) in try store.anyAttemptGPUs(filter) }
    var header = ["JOBID", "ATTEMPT", "STATE", "EXITCODE", "ELAPSED", "CPUS", "REASON"]
    if withGPUs { header.insert("GPUS", at: 6) }
    try StreamTable.print(header: header) { emit in
      try storeCall { () throws(StoreError) in
        try store.eachAttempt(filter) { r, a in
          var line = [
            r.display, String(a.attempt), a.state, "\(a.exitCode ?? 0):\(a.signal ?? 0)",
            elapsed(a.startTime, a.endTime, now: now), a.cpus ?? "", a.reason ?? "",
          ]
          if withGPUs { line.insert(a.gpus ?? "", at: 6) }
          emit(line)
        }
      }
    }
  }

  static func elapsed(_ start: Double?, _ end: Double?, now: Double) -> String {
    guard let start else { return TimeFormat.sacctElapsed(0) }
    return TimeFormat.sacctElapsed(TimeFormat.seconds((end ?? now) - start))
  }
}
