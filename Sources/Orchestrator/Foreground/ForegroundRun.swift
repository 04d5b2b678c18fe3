import CSupport
import Foundation
import Operations
import OrchCore
import Registry
import Store
import Synchronization
import System
import Worker

/// Signals that end a foreground run, counted by a handler (async-signal-safe: one atomic add).
private let interrupts = Atomic<Int>(0)
private let firstInterrupt = Atomic<Int32>(0)

/// The attempt of one job that this `orch run` process owns (see `Foreground` for the lost-owner
/// rule). It was committed RUNNING with this process as its owner, so no daemon claims it; its
/// events go to `<run dir>/events.jsonl` and into the store about once a second; it ends
/// COMPLETED, FAILED, or CANCELLED (Ctrl-C, SIGTERM, SIGHUP, or `orch cancel`), never requeued.
public final class ForegroundRun: @unchecked Sendable {
  public let store: JobStore
  public let home: OrchHome
  public let job: ClaimedJob
  let lock: OwnerLock
  public let eventsFD: Int32
  // Used by the thread that runs the job only.
  private var eventsOffset: Int64 = 0
  private var lastSync = 0.0
  private var syncWarned = false
  // Shared with the watchdog thread (`orch run`'s engine path): under `mutex`.
  private let mutex = NSLock()
  private var cancelSeen = false
  private var ended = false

  /// `orch cancel` recorded the intent (as of the last `sync` or `pollCancel`).
  var cancelRequested: Bool { mutex.withLock { cancelSeen } }

  public enum Start {
    case started(ForegroundRun)
    /// The config already COMPLETED as this job (and was not forced).
    case completed(String)
  }

  /// Records the run — reusing the config's job if it ended without completing (its run directory,
  /// so it resumes from its checkpoint), a new one-element submission otherwise (`force`: after
  /// moving the completed run aside) — RUNNING and owned by this process, in one transaction.
  public static func start(
    store: JobStore, home: OrchHome, config: ConfigSpec, sweep: String, source: String, outputRoot: String,
    force: Bool
  ) throws(OrchError) -> Start {
    do {
      try Posix.makeDirectories(Foreground.lockDirectory(home), mode: 0o700)
    } catch {
      throw OrchError.failure("\(error)")
    }
    let now = Posix.now()
    let aside = RunDirectoryAside()
    var lock: OwnerLock?
    let r = config.resources
    let resources = JobResources(
      cpus: r.cpus, timeLimit: r.timeLimit, memLimit: r.memLimit, maxAttempts: r.maxAttempts, priority: r.priority)
    let launch = LaunchSpec(
      env: ProcessInfo.processInfo.environment, cwd: FileManager.default.currentDirectoryPath,
      submitHost: ProcessInfo.processInfo.hostName)
    let claimed: ClaimedJob
    do {
      let recorded = try storeCall { () throws(StoreError) in
        try store.submit(now: now) { tx -> Recorded in
          let jobID: Int64
          let existing = try tx.existing(hash: config.hash)
          switch existing?.state {
          case .completed? where !force:
            return .completed(existing!.display)
          case .pending?, .running?:
            let d = existing!.display
            throw OrchError.failure(
              "config '\(config.key)' is already \(existing!.state == .pending ? "queued" : "running") as job \(d): "
                + "wait for it, or `orch cancel \(d)` first")
          case .failed?, .cancelled?, .timeout?, .outOfMemory?:
            try tx.requeue(jobID: existing!.id, resources: resources)
            jobID = existing!.id
          case .completed?, nil:
            if let existing {
              try aside.moveAside(
                runDir: outputRoot + "/" + config.key, replacing: existing, configHash: config.hash, tx: tx)
            }
            // A reference is resolved as at submission, but nothing waits: the checkpoint must exist.
            var json = config.canonicalJSON
            if CheckpointReference.references(config),
              let resolved = try CheckpointReference.resolve(
                config, index: 0, outputRoot: outputRoot, inSubmission: [:], tx: tx)
            {
              json = resolved.config.canonicalJSON
            }
            let array = NewArray(
              sweep: sweep, name: sweep, source: source, isArray: false, launch: launch.encoded(),
              outputRoot: outputRoot)
            // The hash stays the registry's, so a later submission recognises the config.
            let job = NewJob(
              arrayIndex: nil, key: config.key, configHash: config.hash, config: json, resources: resources)
            jobID = try tx.insert(array: array, jobs: [job], dependencies: [])
          }
          let job = try tx.startForeground(jobID: jobID, pid: getpid(), cpus: Posix.allowedCPUs()) { attempt in
            let path = Foreground.lockPath(home, jobID: jobID, attempt: attempt)
            lock = try OwnerLock.acquire(path)
            return path
          }
          return .claimed(job)
        }
      }
      switch recorded {
      case .completed(let display): return .completed(display)
      case .claimed(let job): claimed = job
      }
    } catch {
      aside.undo()
      lock?.release()
      throw error
    }
    guard let lock else { throw OrchError.failure("job \(claimed.display) was recorded without its lock") }
    let job = claimed
    for m in aside.moves { FileHandle.standardError.write(Data("old run moved aside: \(m.from) -> \(m.to)\n".utf8)) }
    do {
      try Posix.makeDirectories(job.runDir)
      try Posix.writeFile(job.runDir + "/config.json", job.config)
    } catch {
      let run = ForegroundRun(store: store, home: home, job: job, lock: lock, eventsFD: -1)
      run.finish(.failed, exitCode: 127, signal: nil, reason: "\(error)")
      throw OrchError.failure("\(error)")
    }
    let path = Foreground.eventsPath(runDir: job.runDir)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
    let run = ForegroundRun(store: store, home: home, job: job, lock: lock, eventsFD: fd)
    if fd < 0 {
      let message = "cannot open \(path): \(Posix.errorText())"
      run.finish(.failed, exitCode: 127, signal: nil, reason: message)
      throw OrchError.failure(message)
    }
    return .started(run)
  }

  private enum Recorded {
    case claimed(ClaimedJob)
    case completed(String)
  }

  private init(store: JobStore, home: OrchHome, job: ClaimedJob, lock: OwnerLock, eventsFD: Int32) {
    self.store = store
    self.home = home
    self.job = job
    self.lock = lock
    self.eventsFD = eventsFD
  }

  // MARK: - While it runs

  /// From now on SIGINT, SIGTERM and SIGHUP are counted instead of ending this process: the first
  /// stops the job (CANCELLED), a second stops it at once.
  public static func catchInterrupts() {
    for sig in [SIGINT, SIGTERM, SIGHUP] {
      signal(sig) { sig in
        if interrupts.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue == 1 {
          firstInterrupt.store(sig, ordering: .sequentiallyConsistent)
        }
      }
    }
  }

  /// Signals received so far, and the first of them.
  public var interruptCount: Int { interrupts.load(ordering: .sequentiallyConsistent) }
  public var firstSignal: Int32 { firstInterrupt.load(ordering: .sequentiallyConsistent) }

  /// Whether the job should stop: a signal, or `orch cancel`.
  public var stopRequested: Bool { interruptCount > 0 || cancelRequested }

  /// New complete event lines into the store and the cancel intent out of it, at most once a
  /// second. A store that cannot be reached is reported once and does not stop the job: its
  /// events stay in the file and are ingested when it ends.
  public func sync() {
    let now = Posix.now()
    guard now - lastSync >= 1 else { return }
    lastSync = now
    do {
      var st = stat()
      let path = Foreground.eventsPath(runDir: job.runDir)
      if stat(path, &st) == 0, Int64(st.st_size) > eventsOffset {
        let from = eventsOffset
        eventsOffset = try storeCall { () throws(StoreError) in
          try store.write("while recording job \(job.id)'s events") { db in
            try Foreground.ingestEvents(
              db, jobID: job.id, attempt: job.attempt, path: path, from: from, all: false, now: now)
          }
        }
      }
      try pollCancel(store)
    } catch {
      if !syncWarned { FileHandle.standardError.write(Data("orch: \(error)\n".utf8)) }
      syncWarned = true
    }
  }

  /// Reads the cancel intent through `store` (a thread of its own opens its own connection).
  public func pollCancel(_ store: JobStore) throws(OrchError) {
    let wanted = try storeCall { () throws(StoreError) in
      try store.cancelRequested(jobID: job.id, attempt: job.attempt)
    }
    mutex.withLock { cancelSeen = cancelSeen || wanted }
  }

  /// Records the end in one transaction (with every remaining event, and the dependency check
  /// for jobs waiting on this one), then releases the lock and wakes a running daemon. A cancel
  /// the store records makes a non-COMPLETED end CANCELLED. Returns the state recorded.
  @discardableResult
  public func finish(_ state: JobState, exitCode: Int32?, signal: Int32?, reason: String?) -> JobState? {
    guard claimEnd() else { return nil }
    return record(state, exitCode: exitCode, signal: signal, reason: reason)
  }

  /// `finish` unless another thread is recording the end already (then false, at once).
  public func finishFirst(_ state: JobState, exitCode: Int32?, signal: Int32?, reason: String?) -> Bool {
    guard claimEnd() else { return false }
    record(state, exitCode: exitCode, signal: signal, reason: reason)
    return true
  }

  /// The first caller records the end: the watchdog and the job's thread may race.
  private func claimEnd() -> Bool {
    mutex.withLock {
      defer { ended = true }
      return !ended
    }
  }

  @discardableResult
  private func record(_ state: JobState, exitCode: Int32?, signal: Int32?, reason: String?) -> JobState? {
    let now = Posix.now()
    var outcome = AttemptOutcome(
      jobID: job.id, attempt: job.attempt, state: state, exitCode: exitCode, signal: signal, reason: reason,
      endTime: now)
    outcome.mayRequeue = false
    let path = Foreground.eventsPath(runDir: job.runDir)
    let from = eventsOffset
    var recorded: JobState?
    do {
      recorded = try storeCall { () throws(StoreError) in
        try store.write("while recording the end of job \(job.id)") { db -> JobState? in
          _ = try Foreground.ingestEvents(
            db, jobID: job.id, attempt: job.attempt, path: path, from: from, all: true, now: now)
          guard case .terminal(let s) = try JobStore.finish(db, outcome) else { return nil }
          try DependencyCheck.run(db, now: now)
          return s
        }
      }
    } catch {
      FileHandle.standardError.write(Data("orch: job \(job.display): \(error)\n".utf8))
    }
    if eventsFD >= 0 { close(eventsFD) }
    lock.release()
    DaemonClient.wake(home)
    if recorded == nil {
      FileHandle.standardError.write(
        Data("orch: job \(job.display) was already recorded as ended (see `orch history -j \(job.display)`)\n".utf8))
    }
    return recorded
  }
}
