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

  /// `refusal` of the unfinished jobs for `why` and of the finished ones as "Job has already finished".
  public static func refusals(_ rows: [JobRow], _ why: String) -> [String] {
    let (finished, other) = (rows.filter(\.state.isTerminal), rows.filter { !$0.state.isTerminal })
    return (other.isEmpty ? [] : [refusal(other, why)])
      + (finished.isEmpty ? [] : [refusal(finished, "Job has already finished")])
  }

  /// How scontrol names the jobs an update refused: `why for job 12` for a job, `12_0-3: why` for
  /// elements of an array (its compressed index list).
  public static func refusal(_ rows: [JobRow], _ why: String) -> String {
    guard let first = rows.first else { return why }
    guard first.isArray else { return "\(why) for job \(first.display)" }
    return "\(first.arrayID)_\(ArraySpec.compress(rows.compactMap(\.arrayIndex))): \(why)"
  }
}

/// The fields of `scontrol update job` beyond its times, priorities and throttle, each checked as
/// scontrol checks it before its one request.
public struct UpdateFields: Sendable {
  public var dependency: String?
  public var name: String?
  public var cpus: Int?
  public var memory: UpdateValues.Memory?
  public var partition: String?

  public init() {}

  public static let keys: Set<String> = [
    "dependency", "jobname", "name", "numcpus", "minmemorynode", "minmemorycpu", "partition",
  ]

  /// Takes `key` (lowercase, one of `keys`) = `value`; returns scontrol's error lines for a value it
  /// refuses (exit 1, nothing written).
  public mutating func take(_ key: String, _ value: String) -> String? {
    let shown = UserText.escaped(value)
    switch key {
    case "dependency": dependency = value
    case "jobname", "name": name = value
    case "partition": partition = value
    case "numcpus":
      switch UpdateValues.cpus(value) {
      case .count(let n): cpus = n
      case .notNumeric:
        return "scontrol: error: Invalid numeric value \"\(shown)\" for NumCPUs.\n"
          + "scontrol: error: Invalid NumCPUs value: \(shown)"
      case .invalid: return "scontrol: error: Invalid NumCPUs value: \(shown)"
      }
    default:
      guard let m = UpdateValues.memory(value, perCPU: key == "minmemorycpu") else {
        return "scontrol: error: Invalid \(key == "minmemorycpu" ? "MinMemoryCPU" : "MinMemoryNode") value: \(shown)"
      }
      memory = m
    }
    return nil
  }
}
