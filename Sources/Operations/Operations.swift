import Backends
import Foundation
import OrchCore
import Store
import System

/// What the verbs do, each implemented once: `orch cancel`/`retry` and the SLURM-named verbs
/// (`scancel`, `scontrol hold|release|requeue`) resolve their arguments to job ids, call one of
/// these, and print what it returns. Every operation takes exactly the jobs it is given: an empty
/// selection does nothing.
public enum Operations {
  /// Cancels the given jobs: PENDING at once, RUNNING through their owner (SIGTERM, KillWait,
  /// SIGKILL of the whole process tree), waiting up to `wait` seconds for the store to record them.
  public static func cancel(_ ids: [Int64], store: JobStore, home: OrchHome, wait: Double) throws(OrchError)
    -> CancelOutcome
  {
    guard !ids.isEmpty else { return CancelOutcome() }
    let rows = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(jobs: ids)) }
    var outcome = CancelOutcome()
    outcome.ended = rows.filter(\.state.isTerminal).map(\.id)
    let active = rows.filter { !$0.state.isTerminal }
    for (backend, mine) in Backend.partition(active) {
      outcome.merge(try backend.implementation(wait: wait).cancel(mine, store: store, home: home))
    }
    return outcome
  }

  /// Requeues finished jobs (FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY) under their own ids, each
  /// through the backend that ran it; returns the ids requeued.
  public static func retry(_ rows: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> [Int64] {
    let rows = rows.filter { JobState.retryable.contains($0.state) }
    var requeued: [Int64] = []
    for (backend, mine) in Backend.partition(rows) {
      requeued += try backend.implementation(wait: 0).retry(mine, store: store, home: home)
    }
    return requeued
  }

  /// `scontrol requeue`: a running job is ended like a cancel, then it and the finished ones are
  /// queued again under the same ids (held, for `requeuehold`). Returns the ids requeued.
  public static func requeue(_ rows: [JobRow], hold: Bool, store: JobStore, home: OrchHome) throws(OrchError) -> [Int64]
  {
    let running = rows.filter { $0.state == .running }.map(\.id)
    if !running.isEmpty {
      let outcome = try cancel(running, store: store, home: home, wait: 120)
      if !outcome.stillRunning.isEmpty {
        throw .failure("\(outcome.stillRunning.count) job(s) did not end; requeue them once they have")
      }
    }
    let finished = rows.filter { $0.state != .pending }.map(\.id)
    let requeued = try storeCall { () throws(StoreError) in try store.requeueFinished(jobIDs: finished) }
    if hold {
      _ = try storeCall { () throws(StoreError) in try store.hold(jobIDs: requeued) }
    } else if !requeued.isEmpty {
      try DaemonClient.ensureRunning(home)
    }
    return requeued
  }

  /// Holds PENDING jobs (Reason=JobHeldUser); returns those held.
  public static func hold(_ rows: [JobRow], store: JobStore) throws(OrchError) -> [Int64] {
    let pending = rows.filter { $0.state == .pending }.map(\.id)
    return try storeCall { () throws(StoreError) in try store.hold(jobIDs: pending) }
  }

  /// Releases held jobs; returns those released (the daemon is woken to run them).
  public static func release(_ rows: [JobRow], store: JobStore, home: OrchHome) throws(OrchError) -> [Int64] {
    let pending = rows.filter { $0.state == .pending }.map(\.id)
    let released = try storeCall { () throws(StoreError) in try store.release(jobIDs: pending) }
    if !released.isEmpty { try DaemonClient.ensureRunning(home) }
    return released
  }

  /// scancel's reach for a signal: `-b` the batch shell only, `-f` the shell and everything it
  /// started, and by default the steps — here the shell's process group without the shell itself,
  /// since srun steps run as its children.
  public enum SignalScope { case batch, full, steps }

  /// Sends `signal` once to each given RUNNING job (the job keeps running its course).
  public static func signal(_ ids: [Int64], _ signal: Int32, scope: SignalScope, store: JobStore) throws(OrchError) {
    guard !ids.isEmpty else { return }
    let workers = try storeCall { () throws(StoreError) in try store.workerPIDs(jobIDs: ids) }
    let processes = JobProcess.list()
    for (_, worker) in workers {
      // The job's batch shell is the worker's child that leads its own process group.
      for shell in processes.filter({ $0.parent == worker && $0.group == $0.pid }).map(\.pid) {
        switch scope {
        case .batch: kill(shell, signal)
        case .full: kill(-shell, signal)
        case .steps:
          for p in processes where p.group == shell && p.pid != shell { kill(p.pid, signal) }
        }
      }
    }
  }
}
