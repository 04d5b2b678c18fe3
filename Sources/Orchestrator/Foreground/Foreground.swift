import Backends
import Foundation
import GRDB
import OrchCore
import Store
import System
import Worker

/// A foreground `orch run -k KEY` is a job like any other — a one-element submission, an attempt,
/// events, metrics, checkpoints, artifacts — whose attempt this process owns instead of a pool
/// worker (`ForegroundRun`). The rule for a lost owner:
///
/// The `orch run` process holds an exclusive flock on `$ORCH_HOME/foreground/<job>.<attempt>.lock`
/// from before its attempt is committed until after its end is. The kernel drops the lock when the
/// process dies, even by kill -9, so a RUNNING foreground attempt whose lock is free has lost its
/// owner. The first orch process that looks — a starting daemon's recovery, `orch run`, `orch
/// submit`, a `--wait`, `orch queue`/`history` — ingests what the attempt wrote to its events file,
/// kills what is left of its command's process group, and records it FAILED (`ForegroundLost`),
/// never requeued: nobody asked for it to run anywhere else. `orch submit` or `orch run` starts it
/// again, resuming from its checkpoint. A daemon never claims, adopts or recovers such an attempt.
public enum Foreground {
  static let lostReason = "ForegroundLost"

  static func lockDirectory(_ home: OrchHome) -> String { home.path + "/foreground" }

  static func lockPath(_ home: OrchHome, jobID: Int64, attempt: Int) -> String {
    lockDirectory(home) + "/\(jobID).\(attempt).lock"
  }

  /// Ends every foreground attempt whose owner is gone; returns the jobs it ended. `wake`: tell a
  /// running daemon (a job waiting on one of them may now run, or never will).
  @discardableResult
  public static func reap(store: JobStore, home: OrchHome, wake: Bool = true) throws(OrchError) -> [Int64] {
    let running = try storeCall { () throws(StoreError) in try store.foregroundRunning() }
    let lost = running.filter { !OwnerLock.isHeld($0.lock) }
    guard !lost.isEmpty else { return [] }
    let now = Posix.now()
    let ended = try storeCall { () throws(StoreError) in
      try store.write("while recording lost foreground runs") { db in
        var ended: [Int64] = []
        for a in lost {
          _ = try ingestEvents(
            db, jobID: a.jobID, attempt: a.attempt, path: eventsPath(runDir: a.runDir), from: 0, all: true, now: now)
          var outcome = AttemptOutcome(
            jobID: a.jobID, attempt: a.attempt, state: .failed, exitCode: nil, signal: nil, reason: lostReason,
            endTime: now)
          outcome.mayRequeue = false
          if case .terminal = try JobStore.finish(db, outcome) { ended.append(a.jobID) }
        }
        if !ended.isEmpty { try DependencyCheck.run(db, now: now) }
        return ended
      }
    }
    for a in lost where ended.contains(a.jobID) {
      killLeftovers(a)
      unlink(a.lock)
    }
    if wake && !ended.isEmpty { DaemonClient.wake(home) }
    return ended
  }

  /// SIGKILL to the process group of a lost attempt's command. A group id is not reused while any
  /// member lives; if its leader is alive it must be the process recorded (same start time).
  static func killLeftovers(_ a: ForegroundAttempt) {
    guard let pid = a.jobPID, pid > 0 else { return }
    if Posix.alive(pid), let start = a.jobStart, startTicks(pid) != start { return }
    kill(-pid, SIGKILL)
  }

  /// A process's start time (clock ticks after boot, /proc/PID/stat field 22).
  public static func startTicks(_ pid: pid_t) -> Int64? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.count > 19 ? Int64(fields[19]) : nil
  }

  /// A foreground attempt's events (fd 3 of its command, the engine's stream): as a SLURM element's,
  /// one attempt's worth, truncated when the attempt starts.
  static func eventsPath(runDir: String) -> String { SlurmTask.eventsPath(runDir: runDir) }

  /// Stores the event lines of `path` from byte `offset` — complete lines only, unless `all` (the
  /// writer is gone) — and returns the offset after them. Idempotent by (job, attempt, seq).
  static func ingestEvents(
    _ db: Database, jobID: Int64, attempt: Int, path: String, from offset: Int64, all: Bool, now: Double
  ) throws -> Int64 {
    guard let handle = FileHandle(forReadingAtPath: path) else { return offset }
    defer { try? handle.close() }
    guard (try? handle.seek(toOffset: UInt64(max(0, offset)))) != nil, let data = try? handle.readToEnd(),
      !data.isEmpty
    else { return offset }
    var bytes = [UInt8](data)
    if !all {
      guard let last = bytes.lastIndex(of: UInt8(ascii: "\n")) else { return offset }
      bytes.removeSubrange((last + 1)...)
    }
    try EventIngest.ingest(db, [EventChunk(jobID: jobID, attempt: attempt, offset: offset, data: bytes)], now: now)
    return offset + Int64(bytes.count)
  }
}

/// The owner's exclusive flock (see `Foreground`).
struct OwnerLock {
  let fd: Int32
  let path: String

  static func acquire(_ path: String) throws(OrchError) -> OwnerLock {
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    if fd < 0 { throw OrchError.failure("cannot open \(path): \(Posix.errorText())") }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      close(fd)
      throw OrchError.failure("\(path) is locked by another process")
    }
    _ = Posix.writeAll(fd, Array("\(getpid())\n".utf8))
    return OwnerLock(fd: fd, path: path)
  }

  /// After the attempt's end is committed.
  func release() {
    unlink(path)
    close(fd)
  }

  /// Whether a live process holds the lock at `path`. A missing file has no holder; a file that
  /// cannot be checked counts as held (nothing is ended on a doubt).
  static func isHeld(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return errno != ENOENT }
    defer { close(fd) }
    if flock(fd, LOCK_SH | LOCK_NB) == 0 {
      flock(fd, LOCK_UN)
      return false
    }
    return true
  }
}
