/// Job states in SLURM's vocabulary. `PENDING → RUNNING → terminal`; a requeue moves
/// `RUNNING → PENDING` with the next attempt number.
public enum JobState: String, Sendable, Codable, CaseIterable {
  case pending = "PENDING"
  case running = "RUNNING"
  case completed = "COMPLETED"
  case failed = "FAILED"
  case cancelled = "CANCELLED"
  case timeout = "TIMEOUT"
  case outOfMemory = "OUT_OF_MEMORY"

  public var isTerminal: Bool { self != .pending && self != .running }

  /// squeue's compact code.
  public var code: String {
    switch self {
    case .pending: "PD"
    case .running: "R"
    case .completed: "CD"
    case .failed: "F"
    case .cancelled: "CA"
    case .timeout: "TO"
    case .outOfMemory: "OOM"
    }
  }

  /// States that `orch retry --failed` and a resubmission put back in the queue.
  public static let retryable: [JobState] = [.failed, .cancelled, .timeout, .outOfMemory]
}
