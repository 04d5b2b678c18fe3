import Foundation
import OrchCore
import SlurmSyntax

/// `--begin`, `--nice` and `--partition`: when a job may start, its place in the queue, and the
/// one partition orch offers (`local`, or `ORCH_PARTITION`).
public struct SbatchSchedule {
  var begin: Double?
  var nice: Int?
  var partitions: [String] = []

  /// SLURM's bound on a nice value (NICE_OFFSET - 3).
  public static let niceLimit = 2_147_483_645

  mutating func apply(_ key: String, _ argument: String?, origin: SbatchOrigin) throws(OrchError) {
    let value = argument ?? ""
    switch key {
    case "begin":
      do {
        begin = try BeginTime.parse(value, now: Date().timeIntervalSince1970)
      } catch {
        // SLURM's parse_time says where it stopped first.
        Output.stderr("Invalid time specification (pos=\(error.position)): \(UserText.escaped(value))")
        throw origin.error("Invalid --begin specification")
      }
    case "nice":
      // `--nice` alone is 100, as in SLURM.
      guard let argument else {
        nice = 100
        return
      }
      guard let n = Int(SlurmText.trimmed(argument)), abs(n) <= Self.niceLimit else {
        throw origin.error(
          "Invalid --nice value: \(UserText.escaped(value)); expected an integer within ±\(Self.niceLimit)")
      }
      nice = n
    default:
      partitions = value.split(separator: ",").map(String.init)
    }
  }

  func finish(into request: inout SbatchRequest) throws(OrchError) {
    request.begin = begin
    request.nice = nice ?? 0
    if let unknown = partitions.first(where: { $0 != Partition.name }) {
      // SLURM's two lines: the first as sbatch notices it, the second as the submission fails.
      Output.stderr("sbatch: error: invalid partition specified: \(UserText.escaped(unknown))")
      throw .badInput("sbatch: error: Batch job submission failed: Invalid partition name specified")
    }
  }
}

/// orch's one partition: `local`, or the name in `ORCH_PARTITION`.
public enum Partition {
  public static var name: String {
    let configured = ProcessInfo.processInfo.environment["ORCH_PARTITION"] ?? ""
    let valid =
      !configured.isEmpty && configured.count <= 64
      && configured.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }
    return valid ? configured : "local"
  }

  /// SLURM's refusal, for a tool (`srun`, `sbatch`).
  public static func check(_ list: String?, tool: String) throws(OrchError) {
    guard let list else { return }
    if let unknown = list.split(separator: ",").first(where: { $0 != name }) {
      Output.stderr("\(tool): error: invalid partition specified: \(UserText.escaped(String(unknown)))")
      throw .badInput("\(tool): error: Unable to allocate resources: Invalid partition name specified")
    }
  }
}
