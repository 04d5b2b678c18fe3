import ArgumentParser
import Backends
import Foundation
import Operations
import OrchCore
import Orchestrator
import Registry
import SlurmSyntax
import System
import Worker

struct Submit: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Queue the configs of a sweep file or directory as one job array.",
    discussion: """
      Array indices are positions in `orch configs REGEX`, so --array 0-9 always picks the same configs.
      Configs already COMPLETED with the same config hash are skipped; failed,
      cancelled or timed-out ones are requeued under their old ids and resume
      from their run directory's newest checkpoint.
      --force reruns completed configs from scratch as new jobs: the contents of
      the old run directory are moved aside to <run dir>.replaced-<old job id>
      (the old job's checkpoint and artifact paths in the store follow them),
      so the new attempt starts from epoch 0 and nothing of the old run is lost.
      With --wait the summary covers exactly the selected configs: skipped
      COMPLETED ones count as completed; jobs already queued or running are
      waited for.

      Examples:
        orch submit sweeps/ --match '^demo/' --wait
        orch submit sweeps/p100_source.yaml --array 0-15%4 --cpus 2 --time 30:00
        orch submit sweeps/p200_finetune.yaml --after afterok:12
        orch submit sweeps/demo.yaml --backend slurm --partition cpu \\
          --array-parallelism 8

      With --backend slurm the jobs go to the real SLURM (sbatch on PATH, skipping orch's own shims, or in
      --slurm-bin DIR / $ORCH_SLURM_BIN) as job arrays; `orch collect` brings their events and final
      states back into the store.
      """)

  @Argument(help: "A sweep file or a directory of sweep files.") var path: String
  @Option(help: "Only configs whose key matches this regex (Python re.search).") var match: String?
  @Option(help: "Indices into the matching configs: 0-15, 1,3,5, 0-15:4, with %N to run at most N at once.")
  var array: String?
  @Option(help: "CPUs per task.") var cpus: Int?
  @Option(help: "Time limit: min, min:sec, h:m:s, d-h, d-h:m, d-h:m:s, or UNLIMITED.") var time: String?
  @Option(help: "Memory limit: 512M, 4G, ... (default unit M).") var mem: String?
  @Option(name: .customLong("max-attempts"), help: "Attempts per job before it stays failed.") var maxAttempts: Int?
  @Option(help: "GPUs per job, [TYPE:]N (e.g. 2 or a100:1); overrides the sweep's resources.gpus.") var gpus: String?
  @Option(help: "Higher runs first.") var priority: Int?
  @Option(help: "Dependency: a job id (afterok) or SLURM syntax such as afterany:12:13 or aftercorr:12.")
  var after: String?
  @Option(help: "Name of the sweep (default: the file's name, or the directory's).") var name: String?
  @Option(name: .customLong("output-root"), help: "Where run directories go (default: $ORCH_HOME/runs).")
  var outputRoot: String?
  @Flag(
    help: """
      Wait for the selected configs' jobs (new, requeued and skipped ones alike), show progress and print \
      a summary; exit 1 if any did not complete.
      """)
  var wait = false
  @Flag(
    help: """
      Rerun configs that already COMPLETED, from scratch: the new job starts in an empty run directory \
      (what was there is moved aside to <run dir>.replaced-<old job id>).
      """)
  var force = false
  @Flag(name: .customLong("no-daemon"), help: "Do not start a daemon if none is running.") var noDaemon = false
  @Flag(help: "Print the submission as JSON.") var json = false
  @Option(help: "Who runs the jobs: local (the daemon) or slurm (the real SLURM's sbatch).") var backend = Backend.local
  @Option(help: "SLURM partition (--backend slurm).") var partition: String?
  @Option(name: .customLong("array-parallelism"), help: "At most N elements of each SLURM array at once.")
  var arrayParallelism: Int?
  @Option(
    name: .customLong("sbatch-arg"), parsing: .unconditionalSingleValue,
    help: "An extra sbatch argument, e.g. --sbatch-arg=--qos=short (repeatable; --backend slurm).")
  var sbatchArgs: [String] = []
  @Option(
    name: .customLong("slurm-bin"),
    help:
      "The directory of SLURM's sbatch, scontrol and scancel (default: $ORCH_SLURM_BIN, else PATH without orch's shims)."
  )
  var slurmBin: String?

  func run() throws {
    // Everything that can be wrong with the input is checked before the store is opened.
    let registry = try Registry.load(path: path)
    let regex = match ?? ".*"
    let matched = match == nil ? registry.configs : try registry.matching(regex)
    // Not with --wait: the process lives on for the sweep, which needs none of it.
    if !wait {
      HeldUntilExit.hold(registry)
      HeldUntilExit.hold(matched)
    }
    let spec = try array.map { text throws(OrchError) in try ArraySpec.parse(text) }
    if let spec, let bad = spec.indices.first(where: { $0 >= matched.count }) {
      throw OrchError.badInput("--array index \(bad) is out of range: \(matched.count) configs match '\(regex)'")
    }
    let selected = Submitter.Selection(configs: matched, indices: spec?.indices)
    if selected.count == 0 { throw OrchError.badInput("no configs match '\(regex)' in \(path)") }
    try EngineBindings.check(selected)
    var overrides = Submitter.Overrides()
    if let cpus {
      guard cpus >= 1 else { throw OrchError.badInput("--cpus must be at least 1") }
      overrides.cpus = cpus
    }
    if let time { overrides.timeLimit = .some(try TimeSpec.parseSeconds(time)) }
    if let mem { overrides.memLimit = .some(try MemorySpec.parseBytes(mem)) }
    if let maxAttempts {
      guard maxAttempts >= 1 else { throw OrchError.badInput("--max-attempts must be at least 1") }
      overrides.maxAttempts = maxAttempts
    }
    overrides.priority = priority
    if let gpus {
      do { overrides.gpus = .some(try GPURequest.parseCount(gpus)) } catch {
        throw OrchError.badInput("bad --gpus '\(UserText.escaped(gpus))': expected [TYPE:]N, e.g. 2 or a100:1")
      }
    }
    if backend == .local { try Self.checkCPUs(selected, override: overrides.cpus) }
    let dependency = try after.map { text throws(OrchError) in try DependencySpec.parse(text, option: "--after") }
    let sweep = name ?? Self.sweepName(path: path, files: selected.files)
    try Registry.checkSweepName(sweep, given: name != nil, path: path)
    // SLURM is asked before anything is written: a missing sbatch changes nothing.
    let slurm = try slurmSetup(throttle: spec?.throttle)

    let home = try OrchHome()
    if slurm == nil { try Self.checkNode(selected, overrides: overrides, home: home) }
    if let slurm { try slurm.checkScriptInput(sweep: sweep, home: home) }
    let store = try home.openStore()
    // A foreground `orch run` killed earlier is no longer "already running".
    _ = try? Foreground.reap(store: store, home: home)
    let root = outputRoot.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
    var submitter = Submitter(store: store, outputRoot: root ?? home.defaultOutputRoot, force: force)
    submitter.slurm = slurm?.options
    let launch = LaunchSpec(
      env: ProcessInfo.processInfo.environment, cwd: FileManager.default.currentDirectoryPath,
      submitHost: ProcessInfo.processInfo.hostName)
    let result = try submitter.submit(
      sweep: sweep, source: path, selected: selected, throttle: spec?.throttle, dependency: dependency,
      overrides: overrides, launch: launch)
    if let slurm {
      return try submitToSlurm(slurm, result: result, selected: selected, sweep: sweep, store: store, home: home)
    }

    if json {
      try Output.json(result)
    } else {
      if let id = result.arrayID { Output.print("Submitted batch job \(id)\n") }
      var parts = ["\(result.new) new"]
      if result.requeued > 0 { parts.append("\(result.requeued) requeued") }
      if result.skippedCompleted > 0 { parts.append("\(result.skippedCompleted) already completed (skipped)") }
      if result.skippedActive > 0 { parts.append("\(result.skippedActive) already queued or running (skipped)") }
      Output.print("\(selected.count) configs of sweep \(sweep): \(parts.joined(separator: ", "))\n")
      Self.printMovedAside(result.movedAside)
    }
    // Waiting on a skipped job that is still queued needs a daemon as much as a new one does.
    if !result.jobs.isEmpty || (wait && result.skippedActive > 0) {
      if noDaemon {
        DaemonClient.wake(home)
      } else {
        try DaemonClient.ensureRunning(home)
      }
    }
    if wait {
      let failed = try Progress.wait(store: store, result: result, home: home)
      if failed > 0 { throw ExitCode(1) }
    }
  }

  /// `--force`: where the old runs went (the first few; the JSON output lists all).
  static func printMovedAside(_ moves: [RunDirectoryAside.Move]) {
    for m in moves.prefix(3) { Output.print("old run moved aside: \(m.from) -> \(m.to)\n") }
    if moves.count > 3 { Output.print("... and \(moves.count - 3) more old runs moved aside (.replaced-<job id>)\n") }
  }

  /// A job asking for more CPUs than this machine lets orch use would pend forever: refused at
  /// submit, in sbatch's words (SbatchSubmit does the same for `-c`).
  static func checkCPUs(_ selected: Submitter.Selection, override: Int?) throws(OrchError) {
    let available = Posix.allowedCPUs().count
    guard available > 0 else { return }
    let unavailable = "Requested node configuration is not available: this machine has \(available) CPUs for jobs"
    if let override {
      if override > available { throw .badInput("--cpus \(override): \(unavailable)") }
      return
    }
    var tooLarge: ConfigSpec?
    selected.forEach { _, config in
      if tooLarge == nil && config.pointee.resources.cpus > available { tooLarge = config.pointee }
    }
    if let config = tooLarge {
      throw .badInput(
        "config '\(config.key)' asks for \(config.resources.cpus) CPUs: \(unavailable)", at: config.location)
    }
  }

  /// A job asking for more GPUs (or memory) than this machine has for jobs would pend forever:
  /// refused at submit, in SLURM's words, with nothing queued.
  static func checkNode(_ selected: Submitter.Selection, overrides: Submitter.Overrides, home: OrchHome)
    throws(OrchError)
  {
    // Each distinct request once: a million configs ask for a handful of different things.
    var requests: [GPURequest: ConfigSpec] = [:]
    var memories: [Int64: ConfigSpec] = [:]
    selected.forEach { _, config in
      let r = config.pointee.resources
      let gpus: GPURequest? = overrides.gpus ?? GPURequest(count: r.gpus, type: r.gpuType)
      if let gpus, gpus.count > 0, requests[gpus] == nil { requests[gpus] = config.pointee }
      if let memory = overrides.memLimit ?? r.memLimit, memories[memory] == nil { memories[memory] = config.pointee }
    }
    guard !requests.isEmpty || !memories.isEmpty else { return }
    let node = try NodeResources.current(home: home)
    var problem: (ConfigSpec, String)?
    for (gpus, config) in requests.sorted(by: { $0.key.count > $1.key.count }) where problem == nil {
      if let why = node.unavailable(gpus: gpus, memory: nil) { problem = (config, why) }
    }
    for (memory, config) in memories.sorted(by: { $0.key > $1.key }) where problem == nil {
      if let why = node.unavailable(gpus: nil, memory: memory) { problem = (config, why) }
    }
    if let (config, why) = problem {
      let location = overrides.gpus == nil ? config.location : nil
      throw .badInput(
        "Requested node configuration is not available: config '\(config.key)' \(why)", at: location)
    }
  }

  static func sweepName(path: String, files: Set<String>) -> String {
    if files.count == 1, let file = files.first { return file }
    var isDir: ObjCBool = false
    let url = URL(fileURLWithPath: path).standardizedFileURL
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
      return url.lastPathComponent
    }
    return url.deletingPathExtension().lastPathComponent
  }
}
