import Backends
import Foundation
import OrchCore
import Registry
import SlurmSyntax
import Store
import System
import Worker

/// Turns selected registry configs into one submission: one transaction that inserts the new jobs
/// as an array, requeues the ones that failed before, and skips those already COMPLETED with the
/// same config hash (unless forced). Shared by `orch submit` and the SLURM front end.
public struct Submitter {
  public struct Overrides {
    public var cpus: Int?
    public var timeLimit: Int??
    public var memLimit: Int64??
    public var maxAttempts: Int?
    public var priority: Int?
    /// `--gpus [TYPE:]N` (`.some(nil)`: `--gpus 0`, none).
    public var gpus: GPURequest??

    public init(
      cpus: Int? = nil, timeLimit: Int?? = nil, memLimit: Int64?? = nil, maxAttempts: Int? = nil, priority: Int? = nil,
      gpus: GPURequest?? = nil
    ) {
      self.cpus = cpus
      self.timeLimit = timeLimit
      self.memLimit = memLimit
      self.maxAttempts = maxAttempts
      self.priority = priority
      self.gpus = gpus
    }
  }

  /// The configs a submission takes: all of `configs`, or those at `indices` (array indices are
  /// positions in the listing).
  public struct Selection {
    public var configs: [ConfigSpec]
    public var indices: [Int]?

    public init(configs: [ConfigSpec], indices: [Int]? = nil) {
      self.configs = configs
      self.indices = indices
    }

    public var count: Int { indices?.count ?? configs.count }
    /// The sweep files the selection comes from (a handful: a linear scan beats hashing a million keys).
    public var files: Set<String> {
      var seen: [String] = []
      forEach { _, c in
        let file = c.pointee.file
        if seen.last != file && !seen.contains(file) { seen.append(file) }
      }
      return Set(seen)
    }
    /// Each config is lent to `body` by address, valid only during the call: passed by value, every
    /// config was copied on each of a submission's five passes, retaining and releasing its dozen
    /// references (a million configs: a second of the submission). Read fields through `pointee`.
    public func forEach(_ body: (Int, UnsafePointer<ConfigSpec>) throws -> Void) rethrows {
      try configs.withUnsafeBufferPointer { configs in
        guard let base = configs.baseAddress else { return }
        if let indices {
          for i in indices { try body(i, base + i) }
        } else {
          for i in 0..<configs.count { try body(i, base + i) }
        }
      }
    }
  }

  public struct Result: Codable {
    public var arrayID: Int64?
    /// Every job of the submission: the new ones and the requeued ones.
    public var jobs: [Int64]
    public var requeuedJobs: [Int64]
    /// The existing jobs of the selected configs that were skipped (COMPLETED with the same hash,
    /// or already queued or running): with `jobs`, every job `--wait` waits for and reports on.
    public var skippedJobs: [Int64] = []
    /// `--force`: run directories whose contents were moved aside for a fresh run.
    public var movedAside: [RunDirectoryAside.Move] = []
    public var new: Int
    public var requeued: Int
    public var skippedCompleted: Int
    public var skippedActive: Int
  }

  public let store: JobStore
  public let outputRoot: String
  public let force: Bool
  /// Set for `--backend slurm`: the jobs are SLURM's (the daemon leaves them alone) and the array
  /// keeps these sbatch options.
  public var slurm: SlurmOptions? = nil

  public init(store: JobStore, outputRoot: String, force: Bool, slurm: SlurmOptions? = nil) {
    self.store = store
    self.outputRoot = outputRoot
    self.force = force
    self.slurm = slurm
  }

  public func submit(
    sweep: String, source: String, selected: Selection, throttle: Int?,
    dependency: DependencySpec?, overrides: Overrides, launch: LaunchSpec
  ) throws(OrchError) -> Result {
    let now = Posix.now()
    let aside = RunDirectoryAside()
    do {
      return try submit(
        sweep: sweep, source: source, selected: selected, throttle: throttle, dependency: dependency,
        overrides: overrides, launch: launch, now: now, aside: aside)
    } catch {
      aside.undo()
      throw error
    }
  }

  private func submit(
    sweep: String, source: String, selected: Selection, throttle: Int?, dependency: DependencySpec?,
    overrides: Overrides, launch: LaunchSpec, now: Double, aside: RunDirectoryAside
  ) throws(OrchError) -> Result {
    try storeCall { () throws(StoreError) in
      try store.submit(now: now, large: selected.count >= 10_000) { tx in
        var result = Result(
          arrayID: nil, jobs: [], requeuedJobs: [], new: 0, requeued: 0, skippedCompleted: 0, skippedActive: 0)
        let checkExisting = !(try tx.isEmpty())
        var fresh: [NewJob] = []
        fresh.reserveCapacity(selected.count)
        var referencing: [(position: Int, index: Int, config: ConfigSpec)] = []
        try selected.forEach { index, config in
          let resources = apply(overrides, to: config.pointee.resources)
          if checkExisting, let existing = try tx.existing(hash: config.pointee.hash) {
            switch existing.state {
            case .completed where !force:
              result.skippedCompleted += 1
              result.skippedJobs.append(existing.id)
              return
            case .pending, .running:
              result.skippedActive += 1
              result.skippedJobs.append(existing.id)
              return
            case .failed, .cancelled, .timeout, .outOfMemory:
              try tx.requeue(jobID: existing.id, resources: resources)
              result.requeued += 1
              result.jobs.append(existing.id)
              result.requeuedJobs.append(existing.id)
              return
            case .completed:
              try aside.moveAside(
                runDir: outputRoot + "/" + config.pointee.key, replacing: existing, configHash: config.pointee.hash,
                tx: tx)
            }
          }
          if CheckpointReference.references(config) {
            referencing.append((fresh.count, index, config.pointee))
          }
          fresh.append(
            NewJob(
              arrayIndex: index, key: config.pointee.key, configHash: config.pointee.hash,
              config: config.pointee.canonicalJSON,
              resources: resources))
        }
        var deps = try resolve(dependency, tx)
        if !referencing.isEmpty {
          var inSubmission: [String: (index: Int, config: String)] = [:]
          for job in fresh { if let i = job.arrayIndex { inSubmission[job.key] = (i, job.config) } }
          for (position, index, config) in referencing {
            guard
              let (resolved, rows) = try CheckpointReference.resolve(
                config, index: index, outputRoot: outputRoot, inSubmission: inSubmission, tx: tx)
            else { continue }
            // The hash stays the registry's, so a resubmission still recognises the config.
            fresh[position].config = resolved.canonicalJSON
            deps += rows
          }
        }
        if !fresh.isEmpty {
          var launch = launch
          let indices = fresh.compactMap(\.arrayIndex)
          launch.arrayTaskCount = indices.count
          launch.arrayTaskMin = indices.min() ?? 0
          launch.arrayTaskMax = indices.max() ?? 0
          launch.arrayTaskStep = Self.step(of: indices)
          let array = NewArray(
            sweep: sweep, name: sweep, source: source, isArray: true, throttle: throttle,
            dependency: dependency?.description, dependencyOr: dependency?.isOr ?? false, launch: launch.encoded(),
            outputRoot: outputRoot)
          let id = try tx.insert(array: array, jobs: fresh, dependencies: deps)
          result.arrayID = id
          result.new = fresh.count
          result.jobs += (0..<Int64(fresh.count)).map { id + $0 }
        }
        result.movedAside = aside.moves
        if let slurm {
          try tx.assignToSlurm(jobIDs: result.jobs)
          if let id = result.arrayID { try tx.setSlurmOptions(array: id, slurm.encoded()) }
        }
        return result
      }
    }
  }

  func apply(_ o: Overrides, to r: Resources) -> JobResources {
    let gpus = o.gpus.map { $0 ?? GPURequest(count: 0) } ?? GPURequest(count: r.gpus, type: r.gpuType)
    return JobResources(
      cpus: o.cpus ?? r.cpus, timeLimit: o.timeLimit ?? r.timeLimit, memLimit: o.memLimit ?? r.memLimit,
      maxAttempts: o.maxAttempts ?? r.maxAttempts, priority: o.priority ?? r.priority, gpus: gpus.count,
      gpuType: gpus.count > 0 ? gpus.type : nil, gpusShared: gpus.count > 0 && r.gpusShared)
  }

  /// Dependency terms name arrays (`12`) or elements (`12_3`); unknown ids are bad input.
  func resolve(_ spec: DependencySpec?, _ tx: Submission) throws -> [DependencyRow] {
    try spec?.rows(in: tx) ?? []
  }

  /// SLURM_ARRAY_TASK_STEP: the common difference of the indices, 1 when there is none.
  static func step(of indices: [Int]) -> Int {
    guard indices.count > 1 else { return 1 }
    let d = indices[1] - indices[0]
    for i in 2..<indices.count where indices[i] - indices[i - 1] != d { return 1 }
    return max(d, 1)
  }
}
