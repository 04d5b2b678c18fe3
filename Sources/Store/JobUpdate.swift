import GRDB

/// Where each job of an `scontrol update` stands when the update's transaction looked at it.
public struct JobUpdateOutcome: Sendable, Equatable {
  public var updated: [Int64] = []
  /// RUNNING (a claimed job, a queued order included): "Job is no longer pending execution".
  public var running: [Int64] = []
  /// Terminal: "Job has already finished".
  public var finished: [Int64] = []
  /// Pending on the SLURM backend: SLURM owns their schedule, orch's store does not.
  public var onSlurm: [Int64] = []
  /// The update names some of an array's pending elements but not all; nothing was written.
  public var partialArray = false
  /// The new dependency names the job's own array; nothing was written.
  public var selfDependency = false
  /// The new dependency closes a cycle through jobs still pending; nothing was written.
  public var circular = false

  public init() {}
}

extension JobStore {
  /// `scontrol update Dependency=`: replaces the dependency of array `array`'s PENDING jobs among
  /// `jobIDs` in one transaction — its terms, its text and its `?` flag — with what `rows` builds
  /// inside that transaction (the same existence checks as a submission's). The state of every job
  /// is read in that transaction too, so a job the daemon claimed a moment before is refused, never
  /// given a dependency it has already outrun. Only the terms the user wrote are replaced: the
  /// per-element `afterok` of a checkpoint reference (a row naming its job) stays, or a fine-tune
  /// could start before the checkpoint it reads exists. Each job not held waits again (ready = 0,
  /// reason Dependency) while any term binds it, so no claim can start it before the daemon's check
  /// finds the new terms met, and is ready at once when none does. A held job stays held: release
  /// recomputes the rest.
  public func updateDependency(
    array: Int64, jobIDs: [Int64], isOr: Bool,
    rows: (Submission) throws -> (rows: [DependencyRow], text: String?)
  ) throws(StoreError) -> JobUpdateOutcome {
    try write("while updating dependencies") { db in
      var outcome = try Self.classify(db, array: array, jobIDs: jobIDs)
      guard !outcome.updated.isEmpty, !outcome.partialArray else { return outcome }
      let (new, text) = try rows(Submission(db: db, now: 0))
      if new.contains(where: { $0.targetArray == array }) {
        outcome.selfDependency = true
        return outcome
      }
      if try Self.reaches(db, from: Set(new.compactMap(\.targetArray)), array: array) {
        outcome.circular = true
        return outcome
      }
      try db.execute(sql: "DELETE FROM dependencies WHERE array_id = ? AND job_id IS NULL", arguments: [array])
      let insert = try db.makeStatement(
        sql: """
          INSERT INTO dependencies(array_id, job_id, kind, target_array, target_first, target_last, target_step,
            delay_minutes)
          VALUES (?, NULL, ?, ?, ?, ?, ?, ?)
          """)
      for row in new {
        try insert.execute(arguments: [
          array, row.kind, row.targetArray, row.targetElements?.first, row.targetElements?.last,
          row.targetElements?.step, row.delayMinutes,
        ])
      }
      try db.execute(
        sql: "UPDATE arrays SET dependency = ?, dep_or = ? WHERE id = ?",
        arguments: [text, new.count > 1 && isOr, array]
      )
      let wait = try db.makeStatement(
        sql: """
          UPDATE jobs SET
            ready = NOT EXISTS (SELECT 1 FROM dependencies d WHERE d.array_id = jobs.array_id
              AND (d.job_id IS NULL OR d.job_id = jobs.id)),
            reason = CASE WHEN EXISTS (SELECT 1 FROM dependencies d WHERE d.array_id = jobs.array_id
              AND (d.job_id IS NULL OR d.job_id = jobs.id)) THEN 'Dependency' END
          WHERE id = ? AND state = 'PENDING' AND held = 0
          """)
      for id in outcome.updated { try wait.execute(arguments: [id]) }
      return outcome
    }
  }

  /// `scontrol update JobName=`: orch keeps one name per array (its singleton name, `%x`, what
  /// the listings show), so the update names the whole array or a job that is not one. A running
  /// job is renamed as SLURM renames it (its environment keeps the name it started with); a
  /// finished one is refused. The key and run directory keep the name the job was submitted with.
  public func updateName(array: Int64, jobIDs: [Int64], name: String) throws(StoreError) -> JobUpdateOutcome {
    try write("while renaming jobs") { db in
      var outcome = try Self.classify(db, array: array, jobIDs: jobIDs, runningToo: true)
      guard !outcome.updated.isEmpty, !outcome.partialArray else { return outcome }
      try db.execute(sql: "UPDATE arrays SET name = ? WHERE id = ?", arguments: [name, array])
      return outcome
    }
  }

  /// Sorts `jobIDs` of `array` by state. Pending local jobs are `updated` (and running ones too
  /// when `runningToo`); the update must name every such job of the array or `partialArray` is set.
  static func classify(_ db: Database, array: Int64, jobIDs: [Int64], runningToo: Bool = false) throws
    -> JobUpdateOutcome
  {
    var outcome = JobUpdateOutcome()
    let statement = try db.cachedStatement(sql: "SELECT state, backend FROM jobs WHERE id = ? AND array_id = ?")
    for id in jobIDs {
      guard let row = try Row.fetchOne(statement, arguments: [id, array]) else { continue }
      let state: String = row[0]
      let backend: String? = row[1]
      if state == JobState.running.rawValue {
        if runningToo && backend == nil { outcome.updated.append(id) } else { outcome.running.append(id) }
      } else if state != JobState.pending.rawValue {
        outcome.finished.append(id)
      } else if backend != nil {
        outcome.onSlurm.append(id)
      } else {
        outcome.updated.append(id)
      }
    }
    let wanted = runningToo ? "(state = 'PENDING' OR state = 'RUNNING')" : "state = 'PENDING'"
    let all =
      try Int.fetchOne(
        db, sql: "SELECT COUNT(*) FROM jobs WHERE \(JobStore.inArray) AND \(wanted) AND backend IS NULL",
        arguments: [array, array]) ?? 0
    outcome.partialArray = Set(outcome.updated).count < all
    return outcome
  }

  /// Whether following the terms of arrays that still have pending jobs from `targets` leads back
  /// to `array`. A finished job's terms are history (SLURM drops them once it starts), not a cycle.
  static func reaches(_ db: Database, from targets: Set<Int64>, array: Int64) throws -> Bool {
    var seen = Set<Int64>()
    var queue = Array(targets)
    let next = try db.cachedStatement(
      sql: """
        SELECT DISTINCT d.target_array FROM dependencies d
        WHERE d.array_id = ? AND d.target_array IS NOT NULL
          AND EXISTS (SELECT 1 FROM jobs j WHERE j.array_id = d.array_id AND j.state = 'PENDING')
        """)
    while let id = queue.popLast() {
      if id == array { return true }
      guard seen.insert(id).inserted else { continue }
      queue += try Int64.fetchAll(next, arguments: [id])
    }
    return false
  }
}

/// What an `scontrol update` of NumCPUs, MinMemoryNode or MinMemoryCPU writes, decided from the
/// array's launch record as it stands inside the update's transaction.
public struct ResourcePlan: Sendable {
  /// The new CPU count of every job; nil keeps each job's own.
  public var cpus: Int?
  /// Whether each job's memory limit is rewritten: `memoryPerCPU` × its CPUs, else `memoryPerNode`
  /// (nil: no limit).
  public var memoryChanged = false
  public var memoryPerCPU: Int64?
  public var memoryPerNode: Int64?
  /// The array's new launch record (its `SLURM_MEM_PER_*`); nil leaves it as it is.
  public var launch: String?

  public init(cpus: Int? = nil) { self.cpus = cpus }
}

extension JobStore {
  /// `scontrol update NumCPUs=`/`MinMemoryNode=`/`MinMemoryCPU=`: the CPUs and memory limit the
  /// daemon's claim reserves (and the worker enforces) for each PENDING job, written in one
  /// transaction with the array's launch record when `plan` changes it. A change of the launch
  /// record (the memory the job's environment and `scontrol show job` report) is the array's, so
  /// `perArray` updates must name all its pending jobs.
  public func updateResources(
    array: Int64, jobIDs: [Int64], perArray: Bool, _ plan: (_ launch: String) throws -> ResourcePlan
  ) throws(StoreError) -> JobUpdateOutcome {
    try write("while updating job resources") { db in
      var outcome = try Self.classify(db, array: array, jobIDs: jobIDs)
      if !perArray { outcome.partialArray = false }
      guard !outcome.updated.isEmpty, !outcome.partialArray else { return outcome }
      let launch = try String.fetchOne(db, sql: "SELECT launch FROM arrays WHERE id = ?", arguments: [array]) ?? ""
      let plan = try plan(launch)
      if let new = plan.launch {
        try db.execute(sql: "UPDATE arrays SET launch = ? WHERE id = ?", arguments: [new, array])
      }
      let statement = try db.makeStatement(
        sql: """
          UPDATE jobs SET cpus = COALESCE(?1, cpus),
            mem_limit = CASE WHEN ?2 THEN COALESCE(?3 * COALESCE(?1, cpus), ?4) ELSE mem_limit END
          WHERE id = ?5 AND state = 'PENDING'
          """)
      for id in outcome.updated {
        try statement.execute(arguments: [
          plan.cpus, plan.memoryChanged, plan.memoryPerCPU, plan.memoryPerNode, id,
        ])
      }
      return outcome
    }
  }
}
