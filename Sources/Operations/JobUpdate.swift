import Backends
import OrchCore
import SlurmSyntax
import Store
import System
import Worker

/// `scontrol update job`'s Dependency= and JobName=, each one transaction per array through the
/// store (`JobStore.updateDependency`, `updateName`). Every function returns the lines scontrol
/// prints for what it refused, in SLURM's words; an empty list means everything was updated.
extension Operations {
  /// Every field of `fields`, each in its own transaction per array: what one refuses is said, the
  /// others still apply (slurmctld applies an update's fields one by one too).
  public static func update(_ fields: UpdateFields, _ rows: [JobRow], store: JobStore, home: OrchHome)
    throws(OrchError) -> [String]
  {
    var refused = try fields.dependency.map { v throws(OrchError) in try updateDependency(v, rows, store: store) } ?? []
    refused += try fields.name.map { v throws(OrchError) in try updateName(v, rows, store: store) } ?? []
    refused += fields.partition.map { updatePartition($0, rows) } ?? []
    if fields.cpus != nil || fields.memory != nil {
      refused += try updateResources(cpus: fields.cpus, memory: fields.memory, rows, store: store, home: home)
    }
    return refused
  }

  /// A dependency checked as `sbatch --dependency` checks it (every job and element it names must
  /// exist), then written in place of the jobs' own terms.
  public static func updateDependency(_ value: String, _ rows: [JobRow], store: JobStore) throws(OrchError)
    -> [String]
  {
    var refused: [String] = []
    for (array, mine) in byArray(rows) {
      guard let spec = UpdateValues.dependency(value) else {
        refused.append(UpdateValues.refusal(mine, problem))
        continue
      }
      do {
        let outcome = try store.updateDependency(array: array, jobIDs: mine.map(\.id), isOr: spec?.isOr ?? false) {
          tx in
          guard let spec else { return ([], nil) }
          return (try spec.rows(in: tx), try DependencyDisplay.text(spec) { try tx.isArray(Int64($0)) })
        }
        refused += refusals(outcome, mine)
        if outcome.selfDependency { refused.append(UpdateValues.refusal(pending(outcome, mine), problem)) }
        if outcome.circular { refused.append(UpdateValues.refusal(pending(outcome, mine), "Circular job dependency")) }
      } catch {
        // A term on a job or element the store does not have: sbatch's own refusal.
        guard error.underlying is OrchError else { throw .failure(error.message) }
        refused.append(UpdateValues.refusal(mine, problem))
      }
    }
    return refused
  }

  /// A new name for whole arrays or single jobs, running ones included, as SLURM renames them.
  public static func updateName(_ name: String, _ rows: [JobRow], store: JobStore) throws(OrchError) -> [String] {
    var refused: [String] = []
    for (array, mine) in byArray(rows) {
      let outcome = try storeCall { () throws(StoreError) in
        try store.updateName(array: array, jobIDs: mine.map(\.id), name: name)
      }
      refused += refusals(outcome, mine)
    }
    return refused
  }

  /// New CPUs and memory: each job's claim reserves them and its worker enforces the memory. A
  /// request this machine can never run is refused with nothing written, as orch's sbatch refuses
  /// it (SLURM's update says so too for CPUs, yet keeps the value: the job would wait forever).
  public static func updateResources(
    cpus: Int?, memory: UpdateValues.Memory?, _ rows: [JobRow], store: JobStore, home: OrchHome
  ) throws(OrchError) -> [String] {
    let allowed = Posix.allowedCPUs().count
    let node = try NodeResources.current(home: home)
    var refused: [String] = []
    for (array, mine) in byArray(rows) {
      if let cpus, allowed > 0, cpus > allowed {
        refused.append(UpdateValues.refusal(mine, unavailable))
        continue
      }
      do {
        let outcome = try store.updateResources(array: array, jobIDs: mine.map(\.id), perArray: memory != nil) {
          text in
          try plan(cpus: cpus, memory: memory, launch: text, mostCPUs: mine.map(\.cpus).max() ?? 1, node: node)
        }
        refused += refusals(outcome, mine)
      } catch {
        guard error.underlying is Unavailable else { throw .failure(error.message) }
        refused.append(UpdateValues.refusal(mine, unavailable))
      }
    }
    return refused
  }

  struct Unavailable: Error {}

  static let unavailable = "Requested partition configuration not available now"

  /// The writes of a resource update against the array's launch record: MinMemoryNode/CPU replace
  /// its `SLURM_MEM_PER_*` (0: none), and a CPU count under `--mem-per-cpu` scales the limit.
  static func plan(cpus: Int?, memory: UpdateValues.Memory?, launch text: String, mostCPUs: Int, node: NodeResources)
    throws -> ResourcePlan
  {
    var launch = try LaunchSpec.decode(text)
    var plan = ResourcePlan(cpus: cpus)
    if let memory {
      launch.env["SLURM_MEM_PER_NODE"] = nil
      launch.env["SLURM_MEM_PER_CPU"] = nil
      plan.memoryChanged = true
      if memory.megabytes > 0 {
        launch.env[memory.perCPU ? "SLURM_MEM_PER_CPU" : "SLURM_MEM_PER_NODE"] = String(memory.megabytes)
        if memory.perCPU {
          plan.memoryPerCPU = memory.megabytes << 20
        } else {
          plan.memoryPerNode = memory.megabytes << 20
        }
      }
      plan.launch = launch.encoded()
    } else if cpus != nil, let perCPU = launch.env["SLURM_MEM_PER_CPU"].flatMap({ Int64($0) }), perCPU > 0,
      perCPU <= Int64.max >> 20
    {
      plan.memoryChanged = true
      plan.memoryPerCPU = perCPU << 20
    }
    var total = plan.memoryPerNode
    if let perCPU = plan.memoryPerCPU {
      let (product, overflow) = perCPU.multipliedReportingOverflow(by: Int64(cpus ?? mostCPUs))
      if overflow { throw Unavailable() }
      total = product
    }
    if plan.memoryChanged, node.unavailable(gpus: nil, memory: total) != nil { throw Unavailable() }
    return plan
  }

  /// orch's one partition: naming it changes nothing (a running job too, as in SLURM); any other
  /// name, or a list, is SLURM's invalid partition, or too late for a job no longer pending.
  public static func updatePartition(_ value: String, _ rows: [JobRow]) -> [String] {
    var refused: [String] = []
    for (_, mine) in byArray(rows) {
      let finished = mine.filter(\.state.isTerminal)
      let running = value == Partition.name ? [] : mine.filter { $0.state == .running }
      let pending = value == Partition.name ? [] : mine.filter { $0.state == .pending }
      for (jobs, why) in [
        (pending, "Invalid partition name specified"), (running, "Job is no longer pending execution"),
        (finished, "Job has already finished"),
      ] where !jobs.isEmpty {
        refused.append(UpdateValues.refusal(jobs, why))
      }
    }
    return refused
  }

  static let problem = "Job dependency problem"

  /// The refusals every update shares: a job no longer pending, finished, run by SLURM, or an
  /// update of some elements of an array whose value orch keeps once for the array.
  static func refusals(_ outcome: JobUpdateOutcome, _ rows: [JobRow]) -> [String] {
    func pick(_ ids: [Int64]) -> [JobRow] {
      let set = Set(ids)
      return rows.filter { set.contains($0.id) }
    }
    var out: [String] = []
    if outcome.partialArray, let first = rows.first {
      out.append(
        UpdateValues.refusal(
          pick(outcome.updated),
          "orch keeps this value once per array: update the whole array (\(first.arrayID)), not some of its elements"))
    }
    for (ids, why) in [
      (outcome.running, "Job is no longer pending execution"), (outcome.finished, "Job has already finished"),
      (outcome.onSlurm, "orch does not update a job that SLURM runs; use SLURM's scontrol"),
    ] where !ids.isEmpty {
      out.append(UpdateValues.refusal(pick(ids), why))
    }
    return out
  }

  static func pending(_ outcome: JobUpdateOutcome, _ rows: [JobRow]) -> [JobRow] {
    let set = Set(outcome.updated)
    return rows.filter { set.contains($0.id) }
  }

  static func byArray(_ rows: [JobRow]) -> [(Int64, [JobRow])] {
    Dictionary(grouping: rows, by: \.arrayID).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
  }
}
