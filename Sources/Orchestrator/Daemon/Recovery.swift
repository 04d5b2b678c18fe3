import CSupport
import Foundation
import GRDB
import Store
import Worker

/// What a starting daemon does with each job the store records as RUNNING (a previous daemon died
/// or was stopped). One rule per case, each with a test in `RecoveryTests`:
///
/// 1. A worker journal holds the attempt's report → the job ended while no daemon listened:
///    record that outcome (COMPLETED stays COMPLETED; nothing runs twice).
/// 2. The attempt's worker process is still alive → adopt it: keep its cores reserved, watch it
///    through a pidfd, and apply these rules again when it exits (it journals the outcome first).
/// 3. The worker is gone and journaled the start but no end → the attempt is lost: kill what is
///    left of its process group and record FAILED (`WorkerLost`); the usual requeue rule applies
///    (attempt + 1 while attempts remain, else the job stays FAILED; an sbatch job is requeued
///    unless it was submitted with `--no-requeue`, as SLURM requeues after a node failure).
/// 4. The worker is gone and never journaled a start → the claim is undone: back to PENDING,
///    and the attempt does not count against the job's attempts.
///
/// PENDING jobs are claimable as they are; terminal jobs are never touched. Journals of dead
/// workers are deleted once every attempt they mention is recorded.
///
/// A foreground `orch run`'s attempt is not the daemon's: it is left alone while its owner lives,
/// and recorded FAILED (`ForegroundLost`, never requeued) once the owner is gone (`Foreground`).
extension Daemon {
  func recover() throws(OrchError) {
    try Foreground.reap(store: store, home: home, wake: false)
    let journals =
      (try? FileManager.default.contentsOfDirectory(atPath: home.workers))?
      .filter { $0.hasSuffix(".journal") }.map { home.workers + "/" + $0 } ?? []
    let summaries = journals.map { ($0, JournalSummary(path: $0)) }
    let running = try storeCall { () throws(StoreError) in
      try store.read("while reading running jobs") { try JobStore.runningAttempts($0) }
    }
    var ended: [JobReport] = []
    var chunks: [EventChunk] = []
    var keep = Set<String>()
    for attempt in running {
      let journal = summaries.first {
        $0.1.report(job: attempt.jobID, attempt: attempt.attempt) != nil
          || $0.1.started(job: attempt.jobID, attempt: attempt.attempt) != nil
      }
      chunks += journal?.1.events(job: attempt.jobID, attempt: attempt.attempt) ?? []
      if let report = journal?.1.report(job: attempt.jobID, attempt: attempt.attempt) {
        log.say(
          "recovery: job \(attempt.jobID) attempt \(attempt.attempt) ended \(report.outcome.rawValue) while no daemon ran"
        )
        ended.append(report)
      } else if let worker = attempt.workerPID, Self.isWorker(worker) {
        let pidfd = orch_pidfd_open(worker)
        if pidfd >= 0 {
          _ = fcntl(pidfd, F_SETFD, FD_CLOEXEC)
          let path = journal?.0 ?? Self.journalPath(of: worker)
          adopted.append(
            Adopted(
              workerPID: worker, pidfd: pidfd, jobID: attempt.jobID, attempt: attempt.attempt, cpus: attempt.cpus,
              journal: path))
          freeCPUs.removeAll { attempt.cpus.contains($0) }
          if let path { keep.insert(path) }
          log.say("recovery: adopted job \(attempt.jobID) (worker \(worker) still running it)")
          continue
        }
        ended.append(lost(attempt, pid: journal?.1.started(job: attempt.jobID, attempt: attempt.attempt)))
      } else {
        ended.append(lost(attempt, pid: journal?.1.started(job: attempt.jobID, attempt: attempt.attempt)))
      }
    }
    try finishRecovered(ended, events: chunks)
    for (path, _) in summaries where !keep.contains(path) { unlink(path) }
  }

  /// Rules 3 and 4: kill leftovers; the outcome is FAILED (WorkerLost) or never started.
  func lost(_ attempt: RunningAttempt, pid: Int32?) -> JobReport {
    if let pid { kill(-pid, SIGKILL) }
    let now = Posix.now()
    log.say("recovery: job \(attempt.jobID) attempt \(attempt.attempt) \(pid == nil ? "never started" : "lost")")
    guard let pid else { return JobReport.notStarted(jobID: attempt.jobID, attempt: attempt.attempt, at: now) }
    return JobReport(
      jobID: attempt.jobID, attempt: attempt.attempt, outcome: .workerLost, exitCode: nil, signal: nil,
      reason: JobReport.Outcome.workerLost.reason, pid: pid, startTime: now, endTime: now)
  }

  /// Records recovered outcomes, and the events journaled with them, in one transaction.
  func finishRecovered(_ reports: [JobReport], events: [EventChunk]) throws(OrchError) {
    let now = Posix.now()
    try storeCall { () throws(StoreError) in
      try store.write("while recovering running jobs") { db in
        try EventIngest.ingest(db, events, now: now)
        for report in reports { try self.record(db, report) }
        try JobStore.recountRunning(db)
        try DependencyCheck.run(db, now: now)
      }
    }
  }

  /// Rule 2's second half: the adopted worker exited; its journal now says how the job ended.
  func adoptedWorkerExited(_ index: Int) throws(OrchError) {
    let a = adopted.remove(at: index)
    close(a.pidfd)
    let summary = a.journal.map { JournalSummary(path: $0) }
    let report =
      summary?.report(job: a.jobID, attempt: a.attempt)
      ?? lost(
        RunningAttempt(jobID: a.jobID, attempt: a.attempt, workerPID: a.workerPID, cpus: a.cpus),
        pid: summary?.started(job: a.jobID, attempt: a.attempt))
    try finishRecovered([report], events: summary?.events(job: a.jobID, attempt: a.attempt) ?? [])
    dirty = true
    freeCPUs = (freeCPUs + a.cpus.filter { options.cpus.contains($0) }).sorted()
    if let path = a.journal { unlink(path) }
  }

  static func isWorker(_ pid: Int32) -> Bool {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
    let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    return args.first.map { $0.hasSuffix("orch-worker") } == true && args.contains("serve")
  }

  /// The journal a live pool worker writes (from its `--journal` argument).
  static func journalPath(of worker: Int32) -> String? {
    guard let data = FileManager.default.contents(atPath: "/proc/\(worker)/cmdline") else { return nil }
    let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    guard let i = args.firstIndex(of: "--journal"), i + 1 < args.count else { return nil }
    return args[i + 1]
  }
}
