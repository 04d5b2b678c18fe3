import Foundation
import OrchCore
import Store
import System

/// Who runs a job: the local daemon, or SLURM (`orch submit --backend slurm`). Operations hand
/// each backend its own jobs; the CLI never branches on which one it is.
public protocol JobBackend {
  /// Ends the given unfinished jobs (or records the intent to); returns those it took.
  func cancel(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> CancelOutcome
  /// Queues the given finished jobs again under their own ids; returns the ids requeued.
  func retry(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> [Int64]
}

/// The backends a job can have (`JobRow.backend`).
public enum Backend: String, CaseIterable, Sendable {
  case local
  case slurm

  /// The order operations visit them: SLURM's jobs first, so that a local cancel's wait for the
  /// daemon does not delay `scancel`.
  static let visitOrder: [Backend] = [.slurm, .local]

  /// The stored name; anything but `slurm` is the local daemon's.
  public init(of row: JobRow) { self = row.backend == Backend.slurm.rawValue ? .slurm : .local }

  /// `wait`: how long a local cancel waits for the daemon to record the jobs as ended.
  public func implementation(wait: Double) -> any JobBackend {
    switch self {
    case .slurm: SlurmJobBackend()
    case .local: LocalBackend(wait: wait)
    }
  }

  /// The given jobs grouped by backend, in `visitOrder`, each group in the given order.
  public static func partition(_ rows: [JobRow]) -> [(backend: Backend, rows: [JobRow])] {
    visitOrder.compactMap { backend in
      let mine = rows.filter { Backend(of: $0) == backend }
      return mine.isEmpty ? nil : (backend, mine)
    }
  }
}

/// What a cancel did, in the terms the verbs report.
public struct CancelOutcome: Sendable, Equatable {
  /// PENDING jobs cancelled at once.
  public var pending: [Int64] = []
  /// RUNNING jobs whose cancel is recorded and was handed to their owner.
  public var running: [Int64] = []
  /// Of `running`, those not yet recorded as ended when the operation stopped waiting.
  public var stillRunning: [Int64] = []
  /// Jobs that had already ended: nothing was done to them.
  public var ended: [Int64] = []
  /// SLURM element ids given to `scancel`.
  public var slurmElements: [String] = []

  public init(
    pending: [Int64] = [], running: [Int64] = [], stillRunning: [Int64] = [], ended: [Int64] = [],
    slurmElements: [String] = []
  ) {
    self.pending = pending
    self.running = running
    self.stillRunning = stillRunning
    self.ended = ended
    self.slurmElements = slurmElements
  }

  public mutating func merge(_ other: CancelOutcome) {
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
public struct LocalBackend: JobBackend {
  /// How long to wait for the daemon to record running jobs as ended (0: do not wait).
  public var wait: Double

  public init(wait: Double) { self.wait = wait }

  public func cancel(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> CancelOutcome {
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

  public func retry(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> [Int64] {
    let ids = jobs.map(\.id)
    let requeued = try storeCall { () throws(StoreError) in try store.requeue(jobIDs: ids) }
    if !requeued.isEmpty { try DaemonClient.ensureRunning(home) }
    return requeued
  }
}

/// SLURM's jobs: `scancel` their elements and record CANCELLED; a retry is a new SLURM array of
/// the failed elements under the same orch ids.
public struct SlurmJobBackend: JobBackend {
  public init() {}

  public func cancel(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> CancelOutcome {
    let cancelled = try SlurmCancel.cancel(jobs.map(\.id), store: store)
    let taken = Set(cancelled.map(\.id))
    return CancelOutcome(
      ended: jobs.map(\.id).filter { !taken.contains($0) }, slurmElements: cancelled.compactMap(\.slurmID))
  }

  public func retry(_ jobs: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> [Int64] {
    do { return try SlurmRetry.resubmit(jobs, store: store, home: home) } catch let error as OrchError {
      throw error
    } catch {
      throw .failure("\(error)")
    }
  }
}
