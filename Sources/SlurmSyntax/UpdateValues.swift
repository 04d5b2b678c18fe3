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

  /// How scontrol names the jobs an update refused: `why for job 12` for a job, `12_0-3: why` for
  /// elements of an array (its compressed index list).
  public static func refusal(_ rows: [JobRow], _ why: String) -> String {
    guard let first = rows.first else { return why }
    guard first.isArray else { return "\(why) for job \(first.display)" }
    return "\(first.arrayID)_\(ArraySpec.compress(rows.compactMap(\.arrayIndex))): \(why)"
  }
}
