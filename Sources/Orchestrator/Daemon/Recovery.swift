import Backends
import CSupport
import Foundation
import GRDB
import OrchCore
import Store
import System
import Worker

/// What a starting daemon does with each job the store records as RUNNING (a previous daemon died
/// or was stopped). One rule per case, each with a test in `RecoveryTests`:
///
/// 1. A worker journal holds the attempt's report → the job ended while no daemon listened:
///    record that outcome (COMPLETED stays COMPLETED; nothing runs twice).
/// 2. The attempt's worker process is still alive → adopt it: keep its cores reserved, watch it
///    through a pidfd, and apply these rules again when it exits (it journals the outcome first).
/// 3. The worker is gone and journaled that it began spawning the attempt, but no end → the
///    attempt is lost: kill what is left of it (the process group of every process still carrying
///    its `ORCH_HOME`/`SLURM_JOB_ID`/`ORCH_ATTEMPT`: a journaled pid may have been reused) and
///    record FAILED (`WorkerLost`); the usual requeue rule applies, under a new attempt number
///    (attempt + 1 while attempts remain, else the job stays FAILED; an sbatch job is requeued
///    unless it was submitted with `--no-requeue`, as SLURM requeues after a node failure).
/// 4. The worker is gone and never began spawning it → the claim is undone: back to PENDING; the
///    attempt stays recorded as REVOKED (its number is never reused) and does not count against
///    the job's attempts.
///
/// A worker is judged dead before its journal is read, so an end it journaled is always seen.
/// PENDING jobs are claimable as they are; terminal jobs are never touched. Journals of dead
/// workers are deleted once the transaction recording every attempt they mention has committed.
///
/// A foreground `orch run`'s attempt is not the daemon's: it is left alone while its owner lives,
/// and recorded FAILED (`ForegroundLost`, never requeued) once the owner is gone (`Foreground`).
extension Daemon {
  func recover() throws(OrchError) {
    try Foreground.reap(store: store, home: home, wake: false)
    let running = try storeCall { () throws(StoreError) in
      try store.read("while reading running jobs") { try JobStore.runningAttempts($0) }
    }
    // First who is alive: a dead worker's journal is read only after it is known to be dead, so a
    // worker that ends meanwhile has journaled its report before anyone reads it.
    var dead: [RunningAttempt] = []
    var watched: Set<String> = []
    var ended: [JobReport] = []
    var chunks: [EventChunk] = []
    for attempt in running {
      guard let worker = attempt.workerPID, let pidfd = Self.openLiveWorker(worker) else {
        dead.append(attempt)
        continue
      }
      let path = Self.journalPath(of: worker)
      // A live worker may have ended this attempt already and gone on to a queued one.
      let summary = path.map(JournalSummary.init(path:))
      if let report = summary?.report(job: attempt.jobID, attempt: attempt.attempt) {
        close(pidfd)
        chunks += summary?.events(job: attempt.jobID, attempt: attempt.attempt) ?? []
        ended.append(report)
        continue
      }
      adopted.append(
        Adopted(
          workerPID: worker, pidfd: pidfd, jobID: attempt.jobID, attempt: attempt.attempt, cpus: attempt.cpus,
          gpus: attempt.gpus, gpusShared: attempt.gpusShared, memLimit: attempt.memLimit, journal: path))
      freeCPUs.removeAll { attempt.cpus.contains($0) }
      holdRecovered(attempt, adopted: true)
      if let path { watched.insert(path) }
      log.say("recovery: adopted job \(attempt.jobID) (worker \(worker) still running it)")
    }
    let journals =
      (try? FileManager.default.contentsOfDirectory(atPath: home.workers))?
      .filter { $0.hasSuffix(".journal") }.map { home.workers + "/" + $0 }.filter { !watched.contains($0) } ?? []
    let summaries = journals.map(JournalSummary.init(path:))
    for attempt in dead {
      let journal = summaries.first { $0.mentions(job: attempt.jobID, attempt: attempt.attempt) }
      chunks += journal?.events(job: attempt.jobID, attempt: attempt.attempt) ?? []
      let report = endOfLostAttempt(jobID: attempt.jobID, attempt: attempt.attempt, journal: journal)
      if report.outcome == .workerLost { holdRecovered(attempt, adopted: false) }
      log.say("recovery: job \(attempt.jobID) attempt \(attempt.attempt): \(report.outcome.rawValue)")
      ended.append(report)
    }
    try finishRecovered(ended, events: chunks)
    // Every attempt these journals hold is now recorded; live workers' journals stay.
    for path in journals { unlink(path) }
  }

  /// A pidfd on `pid` if it is a pool worker that is still alive once the pidfd holds it (so the pid
  /// cannot have been reused by another process in between).
  static func openLiveWorker(_ pid: Int32) -> Int32? {
    let pidfd = orch_pidfd_open(pid)
    guard pidfd >= 0 else { return nil }
    _ = fcntl(pidfd, F_SETFD, FD_CLOEXEC)
    var pfd = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
    if isWorker(pid) && poll(&pfd, 1, 0) == 0 { return pidfd }
    close(pidfd)
    return nil
  }

  /// How an attempt ended whose worker is gone, from that worker's journal (read after its death):
  /// its journaled report; else, if its spawn began, it is lost (FAILED, `WorkerLost`) and whatever
  /// is left of it is killed; else it never started (the claim is undone). Shared by recovery and
  /// by a pool worker lost under the running daemon.
  func endOfLostAttempt(jobID: Int64, attempt: Int, journal: JournalSummary?) -> JobReport {
    if let report = journal?.report(job: jobID, attempt: attempt) { return report }
    let now = Posix.now()
    guard journal?.wasLaunched(job: jobID, attempt: attempt) == true else {
      return JobReport.notStarted(jobID: jobID, attempt: attempt, at: now)
    }
    let pid = journal?.started(job: jobID, attempt: attempt)
    // Found by its environment, not by the journaled pid: after a reboot that pid (and its group)
    // may be another process's; this also finds a job whose pid was never journaled.
    AttemptProcesses.kill(home: home.path, jobID: jobID, attempt: attempt)
    return JobReport(
      jobID: jobID, attempt: attempt, outcome: .workerLost, exitCode: nil, signal: nil,
      reason: JobReport.Outcome.workerLost.reason, pid: pid ?? 0, startTime: now, endTime: now)
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
    let report = endOfLostAttempt(jobID: a.jobID, attempt: a.attempt, journal: summary)
    try finishRecovered([report], events: summary?.events(job: a.jobID, attempt: a.attempt) ?? [])
    releaseAdopted(a, lost: report.outcome == .workerLost)
    dirty = true
    // A worker adopted for two attempts (one queued behind the other) held the same cores for both.
    let held = Set(adopted.flatMap(\.cpus))
    let back = a.cpus.filter { options.cpus.contains($0) && !held.contains($0) && !freeCPUs.contains($0) }
    freeCPUs = (freeCPUs + back).sorted()
    if let path = a.journal, !adopted.contains(where: { $0.journal == path }) { unlink(path) }
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
