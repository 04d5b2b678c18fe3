import Foundation
import Store
import System

/// How the short-lived CLI reaches the daemon: wake it after a submission, ask it to signal
/// running jobs, or start one (detached, in its own session) when none is running.
public enum DaemonClient {
  static func ping(_ home: OrchHome) -> Bool {
    request(home, .ping)?.accepted == true
  }

  /// Wakes the daemon; returns false when none is listening.
  @discardableResult
  public static func wake(_ home: OrchHome) -> Bool {
    ControlSocket.send(.wake, path: home.socketPath, wait: false) != nil
  }

  /// Sends a request and waits for the reply; nil when no daemon answers.
  public static func request(_ home: OrchHome, _ request: ControlRequest) -> ControlReply? {
    ControlSocket.send(request, path: home.socketPath)
  }

  /// Waits (up to `timeout`) until the store records none of `jobs` as RUNNING, so a following
  /// listing shows them ended; returns those still RUNNING.
  public static func waitUntilEnded(store: JobStore, jobs: [Int64], timeout: Double) throws(OrchError) -> [Int64] {
    let deadline = Posix.now() + timeout
    while true {
      let left = try storeCall { () throws(StoreError) in
        try store.jobs(JobFilter(states: [.running], jobs: jobs)).map(\.id)
      }
      if left.isEmpty || Posix.now() >= deadline { return left }
      usleep(20_000)
    }
  }

  /// Wakes the running daemon or starts one, then waits until it answers.
  public static func ensureRunning(_ home: OrchHome, cpus: String? = nil) throws(OrchError) {
    if wake(home) { return }
    try startDetached(home, cpus: cpus)
  }

  public static func startDetached(_ home: OrchHome, cpus: String?, extra: [String] = []) throws(OrchError) {
    let exe = executablePath()
    let log = open(home.daemonLog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    if log < 0 { throw OrchError.failure("cannot open \(home.daemonLog): \(Posix.errorText())") }
    defer { close(log) }
    var argv = [exe, "daemon", "--foreground"]
    if let cpus { argv += ["--cpus", cpus] }
    argv += extra
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
  public static func executablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
  }

  public static func workerPath() -> String {
    if let env = ProcessInfo.processInfo.environment["ORCH_WORKER"] { return env }
    return ((executablePath() as NSString).deletingLastPathComponent as NSString).appendingPathComponent("orch-worker")
  }
}
