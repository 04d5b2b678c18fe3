import ArgumentParser
import Engine
import Foundation
import Store
import Worker

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run one config in the foreground (the `train.py -k KEY` habit), outside the queue.",
    discussion: """
      Engine configs train with a progress bar; command configs run with their output on the terminal.
      Nothing is recorded in the store: submit the config to have it queued, pinned and recorded.
      Example:
        orch run -k train/digits/mlp/randinit-lr0.1
      """)

  @Option(name: .shortAndLong, help: "The config key.") var key: String
  @Option(help: "The sweeps directory (or one sweep file).") var sweeps: String = "sweeps"
  @Option(name: .customLong("output-root"), help: "Where the run directory goes (default: $ORCH_HOME/runs).")
  var outputRoot: String?

  func run() throws {
    let registry = try Registry.load(path: sweeps)
    guard var config = registry.configs.first(where: { $0.key == key }) else {
      throw OrchError.badInput("no config '\(key)' in \(sweeps)")
    }
    let home = try OrchHome()
    // KEY@E010 names the newest job with that key in the store, as at submission (no waiting:
    // the checkpoint must be there already).
    if CheckpointReference.references(config) {
      let store = try home.openStore()
      let source = config
      let resolved = try storeCall { () throws(StoreError) in
        try store.submit(now: Posix.now()) { tx in
          try CheckpointReference.resolve(source, index: 0, outputRoot: "", inSubmission: [:], tx: tx)
        }
      }
      if let resolved { config = resolved.config }
    }
    let root = outputRoot.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
    let runDir = (root ?? home.defaultOutputRoot) + "/" + config.key
    do {
      try Posix.makeDirectories(runDir)
      try Posix.writeFile(runDir + "/config.json", config.canonicalJSON)
    } catch {
      throw OrchError.failure("\(error)")
    }
    switch config.kind {
    case .engine:
      let bar = ProgressBar()
      var hooks = TrainHooks()
      hooks.onBatch = { epoch, step, steps in bar.draw(epoch: epoch, step: step, steps: steps) }
      hooks.log = { line in bar.line(line) }
      do {
        _ = try EngineJob.run(runDir: runDir, hooks: hooks)
        bar.line("run directory: \(runDir)")
      } catch {
        throw OrchError.failure("\(error)")
      }
    case .command(let argv, let env):
      var environment = ProcessInfo.processInfo.environment
      for (k, v) in env { environment[k] = v }
      environment["ORCH_KEY"] = config.key
      environment["ORCH_RUN_DIR"] = runDir
      let pid: pid_t
      do {
        pid = try Spawn.start(
          argv: argv, env: environment.map { "\($0.key)=\($0.value)" }, cwd: nil, stdout: 1, stderr: 2, events: -1)
      } catch {
        throw OrchError.failure("\(error)")
      }
      var status: Int32 = 0
      while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
      let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
      if code != 0 { throw ExitCode(code) }
    }
  }
}

/// A one-line progress bar on stderr (redrawn in place on a terminal, per-epoch lines otherwise).
final class ProgressBar {
  let tty = isatty(2) != 0
  var last = 0.0

  func draw(epoch: Int, step: Int, steps: Int) {
    guard tty, steps > 0 else { return }
    let now = Posix.now()
    guard now - last > 0.05 || step == steps else { return }
    last = now
    let width = 30
    let done = width * step / steps
    let text =
      "\repoch \(epoch) [\(String(repeating: "#", count: done))\(String(repeating: ".", count: width - done))] \(step)/\(steps)"
    FileHandle.standardError.write(Data(text.utf8))
  }

  func line(_ text: String) {
    FileHandle.standardError.write(Data(((tty ? "\r\u{1B}[K" : "") + text + "\n").utf8))
  }
}

struct Results: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "One row per config of a sweep with its state and final metrics.",
    discussion: "Examples:\n  orch results p100_source\n  orch results p100_source --csv > results.csv")

  @Argument(help: "The sweep name (see `orch history`).") var sweep: String
  @Option(help: "Only these metrics, comma-separated (default: all final metrics).") var metrics: String?
  @Flag(help: "Print CSV.") var csv = false
  @Flag(help: "Print JSON.") var json = false

  struct Row: Codable {
    var key: String
    var job: String
    var state: String
    var metrics: [String: Double]
  }

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    let jobs = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(sweep: sweep)) }
    if jobs.isEmpty { throw OrchError.badInput("no jobs in sweep '\(sweep)'") }
    // A key submitted again (--force) is reported by its newest job.
    var newest: [String: JobRow] = [:]
    for j in jobs where (newest[j.key]?.id ?? -1) < j.id { newest[j.key] = j }
    let chosen = jobs.filter { newest[$0.key]?.id == $0.id }
    let final = try storeCall { () throws(StoreError) in try store.finalMetrics(jobIDs: chosen.map(\.id)) }
    let wanted = metrics.map { Set($0.split(separator: ",").map(String.init)) }
    let rows = chosen.map { job in
      Row(
        key: job.key, job: job.display, state: job.state.rawValue,
        metrics: (final[job.id] ?? [:]).filter { wanted?.contains($0.key) ?? true })
    }
    if json { return try Output.json(rows) }
    let names = Set(rows.flatMap { $0.metrics.keys }).sorted()
    let cells = rows.map { r in
      [r.key, r.job, r.state] + names.map { n in r.metrics[n].map { String(format: "%.6g", $0) } ?? "" }
    }
    let header = ["key", "job", "state"] + names
    if csv {
      Output.print(
        ([header] + cells).map { $0.map(Output.csvField).joined(separator: ",") }.joined(separator: "\n") + "\n")
    } else {
      Output.print(Output.table(header.map { $0.uppercased() }, cells))
    }
  }
}
