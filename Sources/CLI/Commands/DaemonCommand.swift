import ArgumentParser
import Foundation
import OrchCore
import Orchestrator
import System

struct DaemonCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "daemon",
    abstract: "Run the daemon that claims queued jobs and runs them on pinned cores.",
    discussion: """
      One daemon runs per ORCH_HOME; `orch submit` starts one when none is running.
      Examples:
        orch daemon                 start in the background on every allowed CPU
        orch daemon --cpus 0-1 --foreground
        orch daemon --stop
      """)

  @Option(help: "CPUs to run jobs on, e.g. 0-3,6 (default: every CPU this process may use).") var cpus: String?
  @Flag(help: "Stay in the foreground and log to stderr.") var foreground = false
  @Flag(help: "Stop the running daemon (running jobs finish and are adopted by the next daemon).") var stop = false
  @Option(
    name: .customLong("kill-wait"), help: "Seconds between SIGTERM and SIGKILL at a time limit or cancel.")
  var killWait: Double = 30

  func run() throws {
    let home = try OrchHome()
    if stop {
      guard let reply = ControlSocket.send(.shutdown, path: home.socketPath), reply.accepted else {
        Output.print("no daemon is running for \(home.path)\n")
        return
      }
      while Posix.alive(reply.pid) { usleep(10_000) }
      Output.print("daemon stopped\n")
      return
    }
    let allowed = Posix.allowedCPUs()
    let chosen = try cpus.map { text throws(OrchError) in try CPUList.parse(text) } ?? allowed
    if let bad = chosen.first(where: { !allowed.contains($0) }) {
      throw OrchError.badInput(
        "CPU \(bad) is not available (allowed: \(allowed.map(String.init).joined(separator: ",")))")
    }
    guard foreground else {
      if let pid = DaemonLock.holder(home: home) { throw OrchError.failure("a daemon is already running (pid \(pid))") }
      try DaemonClient.startDetached(home, cpus: cpus)
      Output.print(
        "daemon started (pid \(DaemonLock.holder(home: home).map(String.init) ?? "?")), log: \(home.daemonLog)\n")
      return
    }
    let options = Daemon.Options(cpus: chosen, killWait: killWait, workerBinary: DaemonClient.workerPath())
    try Daemon(home: home, options: options).run()
  }
}
