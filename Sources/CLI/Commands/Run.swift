import ArgumentParser
import Backends
import CSupport
import Engine
import Foundation
import Operations
import OrchCore
import Orchestrator
import Registry
import Store
import System
import Worker

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run one config in the foreground (the `train.py -k KEY` habit), recorded as a job.",
    discussion: """
      Engine configs train with a progress bar; command configs run with their
      output on the terminal. The run is a job like any other: a one-element
      submission of the config's sweep, RUNNING and owned by this process (no
      daemon claims it; none is needed), with its attempt, events, metrics,
      checkpoints and results in the store (history, metrics, results).
      As at submission, a config that already COMPLETED with the same hash is
      not run again (--force reruns it from scratch, moving the contents of the
      old run directory aside to <run dir>.replaced-<old job id>); one that
      failed or was cancelled runs again as its old job, resuming from its
      checkpoint; one already queued or running is refused.
      Ctrl-C (or SIGTERM, SIGHUP, `orch cancel JOB`) stops the job and records
      it CANCELLED; a second Ctrl-C stops it at once. If this process dies
      without recording the end (kill -9), the next orch command that looks
      records the job FAILED (reason ForegroundLost); it is never requeued.

      Example:
        orch run -k demo/digits/mlp_w64/lr0.1/seed0 --sweeps sweeps/demo.yaml
      """)

  @Option(name: .shortAndLong, help: "The config key.") var key: String
  @Option(help: "The sweeps directory (or one sweep file).") var sweeps: String = "sweeps"
  @Option(name: .customLong("output-root"), help: "Where the run directory goes (default: $ORCH_HOME/runs).")
  var outputRoot: String?
  @Flag(help: "Run the config again from scratch even if it already COMPLETED.") var force = false

  func run() throws {
    let registry = try Registry.load(path: sweeps)
    guard let config = registry.configs.first(where: { $0.key == key }) else {
      throw OrchError.badInput("no config '\(key)' in \(sweeps)")
    }
    try EngineBindings.check(Submitter.Selection(configs: [config], indices: nil))
    // Only the daemon hands out GPUs: run here, the job could land on a device a queued job holds.
    if config.resources.gpus > 0 {
      throw OrchError.badInput(
        "config '\(key)' asks for \(config.resources.gpus) GPU(s), which only the daemon assigns: submit it instead "
          + "(orch submit \(sweeps) --match '^\(NSRegularExpression.escapedPattern(for: key))$' --wait)")
    }
    let home = try OrchHome()
    let store = try home.openStore()
    // A killed earlier run of this config must not stand in the way.
    _ = try? Foreground.reap(store: store, home: home)
    let root = outputRoot.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
    ForegroundRun.catchInterrupts()
    let started = try ForegroundRun.start(
      store: store, home: home, config: config, sweep: config.file, source: sweeps,
      outputRoot: root ?? home.defaultOutputRoot, force: force)
    guard case .started(let run) = started else {
      if case .completed(let display) = started {
        FileHandle.standardError.write(
          Data("config '\(key)' already COMPLETED as job \(display) (`orch run --force` runs it again)\n".utf8))
      }
      return
    }
    FileHandle.standardError.write(Data("job \(run.job.display): \(run.job.runDir)\n".utf8))
    let code: Int32
    switch JobConfig.parse(run.job.config).engine {
    case .some: code = runEngine(run)
    case .none: code = try runCommand(run, config: config)
    }
    if code != 0 { throw ExitCode(code) }
  }

  /// Trains (or evaluates) in this process; the first signal stops training at the next step,
  /// a second (or any, for work that cannot stop between steps) ends the job at once.
  func runEngine(_ run: ForegroundRun) -> Int32 {
    let bar = ProgressBar()
    bar.epochs = (try? EngineSchema.validate(configJSON: run.job.config))?.epochs
    var hooks = TrainHooks()
    hooks.onBatch = { epoch, step, steps in
      bar.draw(epoch: epoch, step: step, steps: steps)
      run.sync()
    }
    hooks.shouldStop = { run.stopRequested }
    hooks.log = { line in bar.line(line) }
    // Only training polls `shouldStop` (between steps); evaluation and the select step do not.
    let cooperative = JobConfig.parse(run.job.config).engine == "train"
    let storePath = run.store.path
    let watchdog = Thread {
      let own = try? JobStore(path: storePath)
      var lastPoll = 0.0
      while true {
        usleep(100_000)
        if let own, Posix.now() - lastPoll >= 1 {
          lastPoll = Posix.now()
          try? run.pollCancel(own)
        }
        if run.interruptCount >= 2 || (run.stopRequested && !cooperative) {
          // False: the job's thread is recording its end already.
          guard run.finishFirst(.cancelled, exitCode: nil, signal: nil, reason: "Cancelled") else { return }
          FileHandle.standardError.write(Data("\ncancelled; run directory: \(run.job.runDir)\n".utf8))
          _exit(130)
        }
      }
    }
    watchdog.start()
    let events = EventStream(fd: run.eventsFD)
    do {
      let result = try EngineJob.run(runDir: run.job.runDir, events: events, hooks: hooks)
      if result.stopped {
        run.finish(.cancelled, exitCode: nil, signal: nil, reason: "Cancelled")
        bar.line("stopped; run directory: \(run.job.runDir)")
        return 130
      }
      let state = run.finish(.completed, exitCode: 0, signal: nil, reason: nil)
      bar.line("run directory: \(run.job.runDir)")
      return state == .completed ? 0 : 1
    } catch {
      bar.line("orch: \(error)")
      run.finish(.failed, exitCode: 1, signal: nil, reason: "NonZeroExitCode")
      return 1
    }
  }

  /// Runs the command in its own process group with events on fd 3; a signal or `orch cancel` is
  /// passed on to the group (SIGINT for Ctrl-C, else SIGTERM), SIGKILL after 30 s or a second signal.
  func runCommand(_ run: ForegroundRun, config: ConfigSpec) throws -> Int32 {
    guard case .command(let argv, let env) = config.kind else { return 1 }
    var environment = ProcessInfo.processInfo.environment
    for (k, v) in env { environment[k] = v }
    environment["ORCH_JOB_ID"] = run.job.display
    environment["ORCH_KEY"] = run.job.key
    environment["ORCH_RUN_DIR"] = run.job.runDir
    environment["ORCH_ATTEMPT"] = String(run.job.attempt)
    environment["ORCH_EVENTS_FD"] = "3"
    environment["ORCH_HOME"] = run.home.path
    let pid: pid_t
    do {
      pid = try Spawn.start(
        argv: argv, env: environment.map { "\($0.key)=\($0.value)" }, cwd: nil, stdout: 1, stderr: 2,
        events: run.eventsFD)
    } catch {
      run.finish(.failed, exitCode: 127, signal: nil, reason: "\(error)")
      throw OrchError.failure("\(error)")
    }
    try? run.store.setForegroundProcess(
      jobID: run.job.id, attempt: run.job.attempt, pid: pid, start: Foreground.startTicks(pid))
    let pidfd = orch_pidfd_open(pid)
    var killAt: Double?
    var stopping = false
    var status: Int32 = 0
    while true {
      if pidfd >= 0 {
        var pfd = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, 200)
      } else {
        usleep(200_000)
      }
      if waitpid(pid, &status, WNOHANG) == pid { break }
      run.sync()
      if run.stopRequested && !stopping {
        stopping = true
        killAt = GroupStop.begin(pid, signal: run.firstSignal == SIGINT ? SIGINT : SIGTERM, grace: 30)
      }
      killAt = GroupStop.killIfDue(pid, killAt: killAt, now: run.interruptCount >= 2 ? nil : Posix.now())
    }
    if pidfd >= 0 { close(pidfd) }
    // The command is gone; whatever it left behind in its group goes with it, as under a worker.
    kill(-pid, SIGKILL)
    let exited = (status & 0x7f) == 0
    let exitCode: Int32? = exited ? (status >> 8) & 0xff : nil
    let signal: Int32? = exited ? nil : status & 0x7f
    if stopping {
      run.finish(.cancelled, exitCode: exitCode, signal: signal, reason: "Cancelled")
      return 130
    }
    if exitCode == 0 {
      return run.finish(.completed, exitCode: 0, signal: nil, reason: nil) == .completed ? 0 : 1
    }
    run.finish(
      .failed, exitCode: exitCode, signal: signal,
      reason: exitCode != nil ? "NonZeroExitCode" : "Signal \(signal ?? 0)")
    return exitCode ?? 128 + (signal ?? 0)
  }
}

/// A one-line progress bar on stderr (redrawn in place on a terminal, per-epoch lines otherwise),
/// with the elapsed time and the ETA of the whole run, cut to the terminal's width.
final class ProgressBar {
  let tty = isatty(2) != 0
  var last = 0.0
  let start = Posix.now()
  /// The run's epochs (from the config), for the ETA of the whole run.
  var epochs: Int?
  /// The first position drawn (a resumed run starts past epoch 1): the rate is measured from it.
  var first: Double?

  func draw(epoch: Int, step: Int, steps: Int) {
    guard tty, steps > 0 else { return }
    let now = Posix.now()
    guard now - last > 0.05 || step == steps else { return }
    last = now
    let width = 30
    let done = width * step / steps
    var text =
      "epoch \(epoch)\(epochs.map { "/\($0)" } ?? "") [\(String(repeating: "#", count: done))\(String(repeating: ".", count: width - done))] \(step)/\(steps)"
    let elapsed = now - start
    text += "  elapsed \(Terminal.duration(elapsed))"
    if let epochs, epochs > 0 {
      let position = Double(epoch - 1) + Double(step) / Double(steps)
      if first == nil { first = position }
      let progressed = position - (first ?? position)
      let eta = progressed > 0 && elapsed > 0.5 ? elapsed / progressed * (Double(epochs) - position) : nil
      text += "  ETA \(Terminal.duration(eta))"
    }
    FileHandle.standardError.write(Data(("\r" + Terminal.fit(text) + "\u{1B}[K").utf8))
  }

  func line(_ text: String) {
    FileHandle.standardError.write(Data(((tty ? "\r\u{1B}[K" : "") + text + "\n").utf8))
  }
}
