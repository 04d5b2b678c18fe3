import Engine
import Foundation
import OrchCore
import SlurmSyntax
import Store
import System

/// A retry of SLURM's jobs: a new SLURM array of the given elements under the same orch ids,
/// each fine-tune or evaluation waiting again for its source when that is retried with it.
enum SlurmRetry {
  /// Resubmits SLURM's failed jobs to SLURM; prints the arrays; returns the ids requeued.
  @discardableResult
  static func resubmit(_ rows: [JobRow], store: JobStore, home: OrchHome) throws -> [Int64] {
    let commands = try SlurmCommands.locate()
    let maxArraySize = try commands.config()["MaxArraySize"].flatMap(Int.init) ?? ArraySpec.defaultMaxArraySize
    let requeued = try storeCall { () throws(StoreError) in try store.requeueForSlurm(jobIDs: rows.map(\.id)) }
    let jobs = try storeCall { () throws(StoreError) in try store.slurmJobs(ids: requeued) }
    // A fine-tune or an evaluation retried with its source waits for it again: the stored references
    // are the source's checkpoint paths, inside the source's run directory.
    var sources: [Int64: [String]] = [:]
    for job in jobs {
      for path in Self.checkpointPaths(job.config) {
        if let source = jobs.first(where: { $0.id != job.id && (path.hasPrefix($0.runDir + "/") || path == $0.runDir) })
        {
          sources[job.id, default: []].append(source.key)
        }
      }
    }
    let submitter = SlurmSubmitter(
      store: store, home: home, commands: commands, maxArraySize: max(1, maxArraySize),
      workerBinary: DaemonClient.workerPath(), cwd: FileManager.default.currentDirectoryPath)
    var order: [String?] = []
    var byOptions: [String?: [SlurmJob]] = [:]
    for job in jobs {
      if byOptions[job.slurmOptions] == nil { order.append(job.slurmOptions) }
      byOptions[job.slurmOptions, default: []].append(job)
    }
    for options in order {
      let group = byOptions[options]!
      let label = "retry-\(group[0].id)-\(Int(Posix.now() * 1000))"
      let arrays = try submitter.submit(
        jobs: group, options: SlurmOptions.decode(options), sources: sources, label: label)
      for a in arrays {
        Output.print(
          "requeued \(a.jobs.count) job(s) as SLURM job \(a.slurmJobID)\(a.dependency.map { " (--dependency=\($0))" } ?? ""): "
            + group.filter { a.jobs.contains($0.id) }.prefix(10).map(\.display).joined(separator: " ")
            + (a.jobs.count > 10 ? " ..." : "") + "\n")
      }
    }
    DaemonClient.wake(home)
    return requeued
  }

  static func checkpointPaths(_ config: String) -> [String] {
    guard let object = try? JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any],
      let bindings = object["bindings"] as? [String: Any]
    else { return [] }
    return EngineSchema.checkpointBindings.compactMap { bindings[$0] as? String }
      + EngineSchema.checkpointListBindings.flatMap { (bindings[$0] as? [Any])?.compactMap { $0 as? String } ?? [] }
  }
}
