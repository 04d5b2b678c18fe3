import ArgumentParser
import Backends
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
        orch daemon --gpus 0,1,2,3 --mem 200G
        orch daemon --status
        orch daemon --stop
      GPUs come from nvidia-smi (else /proc/driver/nvidia/gpus), unless --gpus or ORCH_GPUS lists them
      (0,1,2 or 0-3, each optionally :TYPE; `none` for no GPU, `detect` to look again). Jobs' --mem
      add up to at most --mem (default: the machine's memory minus a reserve); a job that does not
      fit waits. A daemon started without --gpus/--mem keeps the last daemon's.
      """)

  @Option(help: "CPUs to run jobs on, e.g. 0-3,6 (default: every CPU this process may use).") var cpus: String?
  @Flag(help: "Stay in the foreground and log to stderr.") var foreground = false
  @Flag(help: "Stop the running daemon (running jobs finish and are adopted by the next daemon).") var stop = false
  @Option(help: "GPUs to hand out: 0,1,2 or 0-3 (optionally :TYPE each), none, or detect (default: detect).")
  var gpus: String?
  @Option(help: "Memory jobs' --mem may add up to, e.g. 20G (default: the machine's memory minus a reserve).")
  var mem: String?
  @Flag(help: "Show whether a daemon runs, and its CPUs, GPUs and memory.") var status = false
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
    if status { return try DaemonStatus.show(home: home) }
    let allowed = Posix.allowedCPUs()
    let chosen = try cpus.map { text throws(OrchError) in try CPUList.parse(text) } ?? allowed
    if let bad = chosen.first(where: { !allowed.contains($0) }) {
      throw OrchError.badInput(
        "CPU \(bad) is not available (allowed: \(allowed.map(String.init).joined(separator: ",")))")
    }
    // Checked before anything starts: a bad list or size exits 2.
    var node = try DaemonStatus.resources(home: home, cpus: chosen, gpus: gpus, mem: mem)
    guard foreground else {
      if let pid = DaemonLock.holder(home: home) { throw OrchError.failure("a daemon is already running (pid \(pid))") }
      try DaemonClient.startDetached(
        home, cpus: cpus, extra: (gpus.map { ["--gpus", $0] } ?? []) + (mem.map { ["--mem", $0] } ?? []))
      Output.print(
        "daemon started (pid \(DaemonLock.holder(home: home).map(String.init) ?? "?")), log: \(home.daemonLog)\n")
      return
    }
    var options = Daemon.Options(cpus: chosen, killWait: killWait, workerBinary: DaemonClient.workerPath())
    options.gpus = node.gpus
    options.memory = node.memory
    node.cpus = chosen
    options.node = node
    try Daemon(home: home, options: options).run()
  }
}
