import Foundation
import Store
import Worker

/// Who runs a job: the local daemon, or SLURM (`orch submit --backend slurm`). Operations hand
/// each backend its own jobs; the CLI never branches on which one it is.
protocol JobBackend {
  /// Ends the given unfinished jobs (or records the intent to); returns those it took.
  func cancel(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> CancelOutcome
  /// Queues the given finished jobs again under their own ids; returns the ids requeued.
  func retry(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> [Int64]
}

/// What a cancel did, in the terms the verbs report.
struct CancelOutcome: Sendable, Equatable {
  /// PENDING jobs cancelled at once.
  var pending: [Int64] = []
  /// RUNNING jobs whose cancel is recorded and was handed to their owner.
  var running: [Int64] = []
  /// Of `running`, those not yet recorded as ended when the operation stopped waiting.
  var stillRunning: [Int64] = []
  /// Jobs that had already ended: nothing was done to them.
  var ended: [Int64] = []
  /// SLURM element ids given to `scancel`.
  var slurmElements: [String] = []

  mutating func merge(_ other: CancelOutcome) {
    pending += other.pending
    running += other.running
    stillRunning += other.stillRunning
    ended += other.ended
    slurmElements += other.slurmElements
  }
}

/// The local daemon's jobs: PENDING ones are cancelled in the store; for RUNNING ones the intent is
/// recorded in the same transaction, then the daemon (started if none runs, so that recovery
/// applies it) ends them; `finish` records CANCELLED whoever reports the end.
struct LocalBackend: JobBackend {
  /// How long to wait for the daemon to record running jobs as ended (0: do not wait).
  var wait: Double

  func cancel(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> CancelOutcome {
    let result = try storeCall { () throws(StoreError) in
      try store.requestCancel(ids: jobs.map(\.id), now: Posix.now())
    }
    var outcome = CancelOutcome(pending: result.cancelled, running: result.requested, ended: result.untouched)
    if !result.requested.isEmpty {
      try DaemonClient.ensureRunning(home)
      let reply = DaemonClient.request(home, .cancel(jobs: result.requested))
      guard reply?.accepted == true else {
        throw .failure(
          "\(result.requested.count) running job(s) are marked for cancelling but no daemon answers; "
            + "the next `orch daemon` ends them")
      }
      let wait = min(self.wait, (reply?.killWait ?? 30) + 5)
      outcome.stillRunning = try DaemonClient.waitUntilEnded(store: store, jobs: result.requested, timeout: wait)
    } else if !result.cancelled.isEmpty {
      // A cancelled job may be what a dependency waits on.
      DaemonClient.wake(home)
    }
    return outcome
  }

  func retry(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> [Int64] {
    let ids = jobs.map(\.id)
    let requeued = try storeCall { () throws(StoreError) in try store.requeue(jobIDs: ids) }
    if !requeued.isEmpty { try DaemonClient.ensureRunning(home) }
    return requeued
  }
}

/// SLURM's jobs: `scancel` their elements and record CANCELLED; a retry is a new SLURM array of
/// the failed elements under the same orch ids.
struct SlurmJobBackend: JobBackend {
  func cancel(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> CancelOutcome {
    let cancelled = try SlurmCancel.cancel(jobs.map(\.id), store: store)
    let taken = Set(cancelled.map(\.id))
    return CancelOutcome(
      ended: jobs.map(\.id).filter { !taken.contains($0) }, slurmElements: cancelled.compactMap(\.slurmID))
  }

  func retry(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> [Int64] {
    do { return try Retry.retryThroughSlurm(jobs, store: store, home: home) } catch let error as OrchError {
      throw error
    } catch {
      throw .failure("\(error)")
    }
  }
}
