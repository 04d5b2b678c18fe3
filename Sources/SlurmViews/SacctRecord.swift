import Backends
import SlurmSyntax
import Store

/// A job line: one job, or the elements of an array that never started, collapsed as SLURM
/// keeps them in one record (`12_[3-9]`).
public struct SacctRecord: Sendable {
  public var row: JobRow
  public var indices: [Int]

  public init(row: JobRow, indices: [Int]) {
    self.row = row
    self.indices = indices
  }

  public var collapsed: Bool { indices.count > 1 }

  public var jobID: String { collapsed ? "\(row.arrayID)_[\(ArraySpec.compress(indices))]" : row.display }
  public var rawID: String { collapsed ? String(row.arrayID) : String(row.id) }
}

/// What sacct's fields read besides the job rows.
public struct SacctContext: Sendable {
  public var now: Double
  public var host: String
  public var user: String
  public var uid: String
  /// GPU requests and assignments, read only when a TRES column is asked for.
  public var gpus: [Int64: GPUAllocation] = [:]
  /// Each job's submission (launch record, working directory, memory), for the fields that read it.
  public var arrays: [Int64: ArrayRecord] = [:]
  public var schedules: [Int64: JobSchedule] = [:]

  public init(now: Double, host: String, user: String, uid: String) {
    self.now = now
    self.host = host
    self.user = user
    self.uid = uid
  }
}
