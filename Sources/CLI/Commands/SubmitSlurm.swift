import ArgumentParser
import Backends
import Foundation
import Operations
import OrchCore
import Registry
import SlurmSyntax
import Store
import System

/// `orch submit --backend slurm`: the submission is stored as for the daemon, then handed to the
/// real SLURM (`SlurmBackend/`); the daemon is neither needed nor woken.
extension Submit {
  struct SlurmSetup {
    var commands: SlurmCommands
    var options: SlurmOptions
    var maxArraySize: Int

    /// What the scripts will hold is checked before the store is opened: a refusal writes nothing.
    func checkScriptInput(sweep: String, home: OrchHome) throws(OrchError) {
      try SlurmSubmitter.checkScriptInput(
        names: [sweep], options: options, home: home.path, worker: DaemonClient.workerPath())
    }
  }

  /// Checks the SLURM flags and finds SLURM; nil for the local backend.
  func slurmSetup(throttle: Int?) throws(OrchError) -> SlurmSetup? {
    switch backend {
    case .local:
      if partition != nil || arrayParallelism != nil || !sbatchArgs.isEmpty || slurmBin != nil {
        throw OrchError.badInput("--partition, --array-parallelism, --sbatch-arg and --slurm-bin need --backend slurm")
      }
      return nil
    case .slurm:
      break
    }
    if after != nil {
      throw OrchError.badInput(
        "--after names orch jobs; with --backend slurm give SLURM's: --sbatch-arg=--dependency=afterok:ID")
    }
    if let arrayParallelism, arrayParallelism < 1 {
      throw OrchError.badInput("--array-parallelism must be at least 1")
    }
    if let partition, partition.isEmpty { throw OrchError.badInput("--partition must not be empty") }
    if let partition { try UserText.check(partition, "--partition") }
    let commands = try SlurmCommands.locate(binDir: slurmBin)
    let config = try commands.config()
    let maxArraySize = config["MaxArraySize"].flatMap(Int.init) ?? ArraySpec.defaultMaxArraySize
    let options = SlurmOptions(
      partition: partition, parallelism: arrayParallelism ?? throttle, sbatchArgs: sbatchArgs)
    return SlurmSetup(commands: commands, options: options, maxArraySize: max(1, maxArraySize))
  }

  struct SlurmResult: Codable {
    var submission: Submitter.Result
    var arrays: [SlurmSubmitter.Submitted]
    /// The sbatch that submitted them, and orch's own executables skipped on PATH to find it.
    var sbatch: String
    var skipped: [String]
  }

  func submitToSlurm(
    _ setup: SlurmSetup, result: Submitter.Result, selected: Submitter.Selection, sweep: String, store: JobStore,
    home: OrchHome
  ) throws {
    let jobs = try storeCall { () throws(StoreError) in try store.slurmJobs(ids: result.jobs) }
    // Checkpoint references by key: the registry's binding (the stored one is already a path).
    var sourceOfKey: [String: [String]] = [:]
    selected.forEach { _, config in
      for slot in CheckpointReference.slots(config.pointee.binding) {
        if let ref = CheckpointReference.parse(slot.text), sourceOfKey[config.pointee.key]?.contains(ref.key) != true {
          sourceOfKey[config.pointee.key, default: []].append(ref.key)
        }
      }
    }
    var sources: [Int64: [String]] = [:]
    for job in jobs { if let source = sourceOfKey[job.key] { sources[job.id] = source } }
    let submitter = SlurmSubmitter(
      store: store, home: home, commands: setup.commands, maxArraySize: setup.maxArraySize,
      workerBinary: DaemonClient.workerPath(), cwd: FileManager.default.currentDirectoryPath)
    let label = "\(result.arrayID ?? result.jobs.first ?? 0)-\(Int(Posix.now() * 1000))"
    let arrays = try submitter.submit(jobs: jobs, options: setup.options, sources: sources, label: label)
    // A running daemon collects SLURM's jobs periodically; none is started for them.
    DaemonClient.wake(home)

    if json {
      try Output.json(
        SlurmResult(submission: result, arrays: arrays, sbatch: setup.commands.sbatch, skipped: setup.commands.skipped))
    } else {
      if let id = result.arrayID { Output.print("Submitted batch job \(id)\n") }
      var parts = ["\(result.new) new"]
      if result.requeued > 0 { parts.append("\(result.requeued) requeued") }
      if result.skippedCompleted > 0 { parts.append("\(result.skippedCompleted) already completed (skipped)") }
      if result.skippedActive > 0 { parts.append("\(result.skippedActive) already queued or running (skipped)") }
      Output.print("\(selected.count) configs of sweep \(sweep): \(parts.joined(separator: ", "))\n")
      Submit.printMovedAside(result.movedAside)
      let skipped = setup.commands.skipped
      if !arrays.isEmpty {
        Output.print(
          "through SLURM's \(setup.commands.sbatch)"
            + (skipped.isEmpty ? "" : " (skipped orch's own \(skipped.joined(separator: ", ")))") + "\n")
      }
      for a in arrays {
        Output.print(
          "SLURM job \(a.slurmJobID): \(a.jobs.count) element(s)\(a.dependency.map { ", --dependency=\($0)" } ?? "")\n")
      }
    }
    if wait {
      let failed = try SlurmWait.wait(
        store: store, commands: setup.commands, jobs: result.jobs + result.skippedJobs, quiet: json)
      if failed > 0 { throw ExitCode(1) }
    }
  }
}

/// `--wait` for SLURM's jobs: collect until every one has ended; returns how many did not complete.
enum SlurmWait {
  static func wait(store: JobStore, commands: SlurmCommands, jobs: [Int64], quiet: Bool) throws(OrchError) -> Int {
    let collector = SlurmCollector(store: store, commands: commands)
    while true {
      let rows = try storeCall { () throws(StoreError) in try store.slurmJobs(ids: jobs) }
      let active = rows.filter { !$0.state.isTerminal }
      // A job without a SLURM id was never submitted (an interrupted submission): nothing to wait for.
      if active.allSatisfy({ $0.slurmID == nil }) {
        let failed = rows.filter { $0.state != .completed }
        if !active.isEmpty { Output.print("\(active.count) job(s) were never submitted to SLURM\n") }
        if !quiet {
          Output.print("\(rows.count - failed.count) completed, \(failed.count) not completed\n")
        }
        return failed.count
      }
      _ = try collector.collect(active.filter { $0.slurmID != nil })
      if try storeCall({ () throws(StoreError) in try store.slurmJobs(ids: active.map(\.id)) }).contains(where: {
        !$0.state.isTerminal
      }) {
        usleep(500_000)
      }
    }
  }
}
