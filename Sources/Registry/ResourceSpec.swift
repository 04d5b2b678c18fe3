import OrchCore

/// What one job asks for; SLURM's meaning for each field.
public struct Resources: Sendable, Hashable, Codable {
  public var cpus: Int = 1
  /// Seconds; nil = no limit.
  public var timeLimit: Int? = nil
  /// Bytes; nil = no limit.
  public var memLimit: Int64? = nil
  public var maxAttempts: Int = 1
  public var priority: Int = 0
  /// GPUs per job (`gpus`), of `gpu_type` (lowercase) when set; `gpus_shared` lets jobs share them.
  public var gpus: Int = 0
  public var gpuType: String? = nil
  public var gpusShared = false

  public init() {}
}
