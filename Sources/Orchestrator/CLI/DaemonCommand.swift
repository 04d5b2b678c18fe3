import ArgumentParser
import Foundation
import Worker

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

struct Configs: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the registered configs whose key matches a regex.",
    discussion: """
      The listing is the seed registries' (`python -m configs REGEX`); the numbers are array indices.
      Examples:
        orch configs blk4_shuffle
        orch configs '^train/digits' --sweeps experiments/sweeps --json
      """)

  @Argument(help: "A Python regex searched in each key (default: every key).") var regex: String = ".*"
  @Option(help: "The sweeps directory (or one sweep file).") var sweeps: String = "sweeps"
  @Flag(help: "Print JSON: index, key, file and hash of each config.") var json = false

  struct Item: Codable {
    var index: Int
    var key: String
    var file: String
    var hash: String
  }

  func run() throws {
    let registry = try Registry.load(path: sweeps)
    let matched = try registry.matching(regex)
    if json {
      try Output.json(
        matched.enumerated().map {
          Item(index: $0.offset, key: $0.element.key, file: $0.element.file, hash: $0.element.hash)
        })
    } else {
      Output.print(Registry.listing(matched, regex: regex))
    }
  }
}

struct Show: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a config's resolved bindings and command.",
    discussion: "Example:\n  orch show train/digits/mlp/randinit-lr0.1")

  @Argument(help: "The config key.") var key: String
  @Option(help: "The sweeps directory (or one sweep file).") var sweeps: String = "sweeps"
  @Flag(help: "Print the canonical JSON instead.") var json = false

  func run() throws {
    let registry = try Registry.load(path: sweeps)
    guard let config = registry.configs.first(where: { $0.key == key }) else {
      let near = registry.configs.map(\.key).filter { $0.contains(key) || key.contains($0) }.prefix(5)
      throw OrchError.badInput(
        "no config '\(key)' in \(sweeps)" + (near.isEmpty ? "" : "; similar: " + near.joined(separator: ", ")))
    }
    if json {
      Output.print(config.canonicalJSON + "\n")
      return
    }
    var text = "key: \(config.key)\nfile: \(config.file) (\(config.location))\nhash: \(config.hash)\nbindings:\n"
    for line in BindingsCommand.resolved(config) { text += "  \(line)\n" }
    switch config.kind {
    case .command(let argv, let env):
      text += "command: \(argv.map(Self.quote).joined(separator: " "))\n"
      for name in env.keys.sorted() { text += "env: \(name)=\(env[name]!)\n" }
    case .engine(let name):
      text += "engine: \(name)\n"
    }
    let r = config.resources
    text += "resources: cpus=\(r.cpus) time=\(r.timeLimit.map { TimeFormat.sacctElapsed($0) } ?? "UNLIMITED") "
    text +=
      "mem=\(r.memLimit.map { "\($0 / 1_048_576)M" } ?? "unlimited") max_attempts=\(r.maxAttempts) priority=\(r.priority)\n"
    Output.print(text)
  }

  static func quote(_ s: String) -> String {
    s.isEmpty || s.contains(where: { " \"'$\\".contains($0) })
      ? "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" : s
  }
}
