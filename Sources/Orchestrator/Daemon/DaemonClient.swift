import Foundation
import Store
import Worker

/// How the short-lived CLI reaches the daemon: wake it after a submission, ask it to signal
/// running jobs, or start one (detached, in its own session) when none is running.
enum DaemonClient {
  static func ping(_ home: OrchHome) -> Bool {
    ControlSocket.send(ControlRequest(op: "ping"), path: home.socketPath)?.ok == true
  }

  /// Wakes the daemon; returns false when none is listening.
  @discardableResult
  static func wake(_ home: OrchHome) -> Bool {
    ControlSocket.send(ControlRequest(op: "wake"), path: home.socketPath, wait: false) != nil
  }

  static func cancel(_ home: OrchHome, jobs: [Int64]) -> ControlReply? {
    ControlSocket.send(ControlRequest(op: "cancel", jobs: jobs), path: home.socketPath)
  }

  /// Asks the daemon to end running jobs, then waits (up to `timeout`) until the store records
  /// them, so a following listing shows them ended. False when no daemon answers.
  static func cancelAndWait(_ home: OrchHome, store: JobStore, jobs: [Int64], timeout: Double) throws(OrchError)
    -> Bool
  {
    guard cancel(home, jobs: jobs)?.ok == true else { return false }
    let deadline = Posix.now() + timeout
    while Posix.now() < deadline {
      let left = try storeCall { () throws(StoreError) in
        try store.stateCounts(JobFilter(states: [.running], jobs: jobs))
      }
      if left.isEmpty { break }
      usleep(20_000)
    }
    return true
  }

  /// Wakes the running daemon or starts one, then waits until it answers.
  static func ensureRunning(_ home: OrchHome, cpus: String? = nil) throws(OrchError) {
    if wake(home) { return }
    try startDetached(home, cpus: cpus)
  }

  static func startDetached(_ home: OrchHome, cpus: String?) throws(OrchError) {
    let exe = executablePath()
    let log = open(home.daemonLog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    if log < 0 { throw OrchError.failure("cannot open \(home.daemonLog): \(Posix.errorText())") }
    defer { close(log) }
    var argv = [exe, "daemon", "--foreground"]
    if let cpus { argv += ["--cpus", cpus] }
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = home.path
    do {
      _ = try Spawn.start(
        argv: argv, env: env.map { "\($0.key)=\($0.value)" }, cwd: "/", stdout: log, stderr: log, events: -1,
        newSession: true)
    } catch {
      throw OrchError.failure("cannot start the daemon: \(error)")
    }
    let deadline = Posix.now() + 10
    while Posix.now() < deadline {
      if ping(home) { return }
      usleep(10_000)
    }
    throw OrchError.failure("the daemon did not start; see \(home.daemonLog)")
  }

  /// This executable (for spawning `orch daemon`) and its sibling `orch-worker`.
  static func executablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
  }

  static func workerPath() -> String {
    if let env = ProcessInfo.processInfo.environment["ORCH_WORKER"] { return env }
    return ((executablePath() as NSString).deletingLastPathComponent as NSString).appendingPathComponent("orch-worker")
  }
}
