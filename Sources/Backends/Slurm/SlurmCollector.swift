import Foundation
import GRDB
import OrchCore
import Store
import System
import Worker

/// `orch collect`: brings what SLURM ran back into the store — each element's events
/// (`runs/<key>/events.jsonl`: metrics, checkpoints, artifacts) and its state, from
/// `scontrol show job -o` while SLURM remembers the job (MinJobAge) and from the job-completion
/// log after. Idempotent: events by (job, attempt, seq), states by attempt; a job whose end is
/// recorded is not read again, so a second run over the same jobs adds nothing.
public struct SlurmCollector {
  public struct Summary: Codable, Equatable {
    public var jobs = 0
    public var events = 0
    public var changed = 0

    public init(jobs: Int = 0, events: Int = 0, changed: Int = 0) {
      self.jobs = jobs
      self.events = events
      self.changed = changed
    }
  }

  public let store: JobStore
  public let commands: SlurmCommands

  public init(store: JobStore, commands: SlurmCommands) {
    self.store = store
    self.commands = commands
  }

  public func collect(sweep: String?) throws(OrchError) -> Summary {
    let jobs = try storeCall { () throws(StoreError) in try store.activeSlurmJobs(sweep: sweep) }
    return try collect(jobs)
  }

  public func collect(_ jobs: [SlurmJob]) throws(OrchError) -> Summary {
    guard !jobs.isEmpty else { return Summary() }
    let seen = try observe(jobs)
    return try record(jobs.compactMap { job in job.slurmID.flatMap { seen[$0] }.map { (job, $0) } })
  }

  /// What SLURM says about the elements of these jobs, by element id (`12_3`).
  func observe(_ jobs: [SlurmJob]) throws(OrchError) -> [String: SlurmObservation] {
    var arrays: [String] = []
    for job in jobs {
      guard let array = job.slurmID?.split(separator: "_").first.map(String.init) else { continue }
      if arrays.last != array && !arrays.contains(array) { arrays.append(array) }
    }
    var seen: [String: SlurmObservation] = [:]
    var forgotten: Set<String> = []
    for array in arrays {
      guard let records = try commands.showJob(array) else {
        forgotten.insert(array)
        continue
      }
      for record in records {
        guard let (owner, indices) = record.elements, let o = record.observation else { continue }
        for i in indices { seen["\(owner)_\(i)"] = o }
      }
    }
    if !forgotten.isEmpty, let log = try commands.config()["JobCompLoc"],
      let data = FileManager.default.contents(atPath: log)
    {
      for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
        let record = SlurmRecord(line: line)
        guard let (owner, indices) = record.elements, forgotten.contains(owner), let o = record.observation else {
          continue
        }
        // A later line (a requeued element's last run) wins.
        for i in indices { seen["\(owner)_\(i)"] = o }
      }
    }
    return seen
  }

  /// One transaction: each job's events (once SLURM started it), then its state.
  func record(_ observed: [(SlurmJob, SlurmObservation)]) throws(OrchError) -> Summary {
    var summary = Summary(jobs: observed.count)
    let now = Posix.now()
    try storeCall { () throws(StoreError) in
      try store.write("while collecting SLURM jobs") { db in
        for (job, o) in observed {
          if o.state != .pending {
            summary.events += try ingestEvents(db, job, complete: o.state.isTerminal, now: now)
          }
          if try JobStore.observeSlurm(db, jobID: job.id, attempt: job.attempt, o) { summary.changed += 1 }
          if let gpus = o.gpus, !gpus.isEmpty {
            try JobStore.recordSlurmGPUs(db, jobID: job.id, attempt: job.attempt, gpus: gpus)
          }
        }
      }
    }
    return summary
  }

  /// `runs/<key>/events.jsonl` of the job's current attempt; while it runs, only complete lines.
  func ingestEvents(_ db: Database, _ job: SlurmJob, complete: Bool, now: Double) throws -> Int {
    guard let data = FileManager.default.contents(atPath: SlurmTask.eventsPath(runDir: job.runDir)) else { return 0 }
    var bytes = [UInt8](data)
    if !complete, let last = bytes.lastIndex(of: UInt8(ascii: "\n")) {
      bytes.removeSubrange((last + 1)...)
    } else if !complete {
      return 0
    }
    let before =
      try Int.fetchOne(
        db, sql: "SELECT COUNT(*) FROM events WHERE job_id = ? AND attempt = ?", arguments: [job.id, job.attempt]) ?? 0
    try EventIngest.ingest(db, [EventChunk(jobID: job.id, attempt: job.attempt, offset: 0, data: bytes)], now: now)
    let after =
      try Int.fetchOne(
        db, sql: "SELECT COUNT(*) FROM events WHERE job_id = ? AND attempt = ?", arguments: [job.id, job.attempt]) ?? 0
    return after - before
  }

  /// `orch cancel` of SLURM's jobs, after scancel: cancelled in the store at once (SLURM 22.05
  /// forgets cancelled elements of a pending array), with whatever events they wrote.
  func cancelled(_ jobs: [SlurmJob]) throws(OrchError) {
    let now = Posix.now()
    _ = try record(
      jobs.map { ($0, SlurmObservation(state: .cancelled, reason: "Cancelled", startTime: nil, endTime: now)) })
  }
}

/// `orch cancel` and `orch scancel` of jobs SLURM runs: `scancel` on their elements, then the store.
enum SlurmCancel {
  /// Cancels the unfinished SLURM jobs among `ids`; returns them (the caller handles the rest).
  static func cancel(_ ids: [Int64], store: JobStore) throws(OrchError) -> [SlurmJob] {
    let jobs = try storeCall { () throws(StoreError) in try store.slurmJobs(ids: Array(Set(ids))) }
      .filter { $0.slurmID != nil && !$0.state.isTerminal }
    guard !jobs.isEmpty else { return [] }
    let commands = try SlurmCommands.locate()
    try commands.cancel(jobs.compactMap(\.slurmID))
    try SlurmCollector(store: store, commands: commands).cancelled(jobs)
    return jobs
  }
}
