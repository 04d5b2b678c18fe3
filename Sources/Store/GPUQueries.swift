import GRDB

/// A job's GPU request and what its current (or last) attempt was given.
public struct GPUAllocation: Sendable, Codable {
  public var jobID: Int64
  public var count: Int
  public var type: String?
  public var shared: Bool
  /// Device indices of the job's current attempt; empty before it ran or without GPUs.
  public var assigned: [Int]
  public var memLimit: Int64?
}

extension JobStore {
  /// GPU requests and assignments of `ids` (jobs asking for no GPU included, with count 0).
  public func gpuAllocations(_ ids: [Int64]) throws(StoreError) -> [Int64: GPUAllocation] {
    try read("while reading GPU assignments") { db in
      var result: [Int64: GPUAllocation] = [:]
      let statement = try db.cachedStatement(
        sql: """
          SELECT j.id, j.gpus, j.gpu_type, j.gpus_shared, a.gpus, j.mem_limit FROM jobs j
          LEFT JOIN attempts a ON a.job_id = j.id AND a.attempt = j.attempt WHERE j.id = ?
          """)
      for id in ids {
        guard let row = try Row.fetchOne(statement, arguments: [id]) else { continue }
        result[id] = GPUAllocation(
          jobID: row[0], count: row[1], type: row[2], shared: row[3],
          assigned: ((row[4] as String?) ?? "").split(separator: ",").compactMap { Int($0) }, memLimit: row[5])
      }
      return result
    }
  }

  /// Records the GPUs SLURM allocated to an attempt (`orch collect`).
  public static func recordSlurmGPUs(_ db: Database, jobID: Int64, attempt: Int, gpus: [Int]) throws {
    try db.execute(
      sql: "UPDATE attempts SET gpus = ? WHERE job_id = ? AND attempt = ?",
      arguments: [gpus.map(String.init).joined(separator: ","), jobID, attempt])
  }
}

extension JobStore {
  /// GPU requests and assignments of the jobs of `filter` that ask for GPUs (a listing shows its
  /// GPU column only when there are any); read before a streamed listing, which cannot query
  /// inside its cursor.
  public func gpuAllocations(_ filter: JobFilter) throws(StoreError) -> [Int64: GPUAllocation] {
    let ids = try read("while listing jobs") { db in
      let (whereSQL, args) = JobStore.whereClause(filter)
      return try Int64.fetchAll(
        db,
        sql: """
          SELECT j.id FROM jobs j JOIN arrays a ON a.id = j.array_id LEFT JOIN sweeps s ON s.id = a.sweep_id
          \(whereSQL.isEmpty ? "WHERE" : whereSQL + " AND") j.gpus > 0
          """, arguments: StatementArguments(args))
    }
    return try gpuAllocations(ids)
  }

  /// Whether any attempt of the jobs of `filter` was given GPUs (`history --attempts` shows its
  /// GPU column only then), without reading the attempts.
  public func anyAttemptGPUs(_ filter: JobFilter) throws(StoreError) -> Bool {
    try read("while listing attempts") { db in
      let (whereSQL, args) = JobStore.whereClause(filter)
      return try Int.fetchOne(
        db,
        sql: """
          SELECT 1 FROM attempts t JOIN jobs j ON j.id = t.job_id JOIN arrays a ON a.id = j.array_id
          LEFT JOIN sweeps s ON s.id = a.sweep_id
          \(whereSQL.isEmpty ? "WHERE" : whereSQL + " AND") t.gpus IS NOT NULL LIMIT 1
          """, arguments: StatementArguments(args)) != nil
    }
  }
}
