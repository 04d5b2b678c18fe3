import OrchCore
import Store

/// Values of `scontrol update job` beyond its times and priorities, read as slurmctld reads them.
public enum UpdateValues {
  /// `Dependency=`: empty clears the dependency; anything else is sbatch's `--dependency` syntax
  /// (a bare id is `afterany`). Nil when it does not parse: slurmctld's "Job dependency problem".
  public static func dependency(_ text: String) -> DependencySpec?? {
    if SlurmText.trimmed(text).isEmpty { return .some(nil) }
    do { return .some(try SbatchValues.dependency(text)) } catch { return nil }
  }

  /// `MinMemoryNode=`/`MinMemoryCPU=`: whole megabytes, as scontrol reads them (no unit: `1G` is
  /// refused); 0 is no request.
  public struct Memory: Sendable, Equatable {
    public var megabytes: Int64
    public var perCPU: Bool
  }

  public static func memory(_ text: String, perCPU: Bool) -> Memory? {
    guard SlurmText.isDigits(text), let n = Int64(text), n <= Int64.max >> 20 else { return nil }
    return Memory(megabytes: n, perCPU: perCPU)
  }

  /// `NumCPUs=N` or `N-M` (SLURM keeps the range; orch reserves its minimum, what SLURM allocates).
  public enum CPUs: Equatable {
    case count(Int)
    /// Not a number: scontrol says so before it says the value is invalid.
    case notNumeric
    case invalid
  }

  public static func cpus(_ text: String) -> CPUs {
    let (low, high) = SlurmText.splitOnce(text, "-")
    guard SlurmText.isDigits(low), high.map({ SlurmText.isDigits($0) }) ?? true else { return .notNumeric }
    guard let n = Int(low), n <= Int(Int32.max) else { return .notNumeric }
    if let high, (Int(high) ?? Int.max) < n { return .invalid }
    return n < 1 ? .invalid : .count(n)
  }

  /// How scontrol names the jobs an update refused: `why for job 12` for a job, `12_0-3: why` for
  /// elements of an array (its compressed index list).
  public static func refusal(_ rows: [JobRow], _ why: String) -> String {
    guard let first = rows.first else { return why }
    guard first.isArray else { return "\(why) for job \(first.display)" }
    return "\(first.arrayID)_\(ArraySpec.compress(rows.compactMap(\.arrayIndex))): \(why)"
  }
}
