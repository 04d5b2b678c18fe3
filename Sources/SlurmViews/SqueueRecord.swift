import Backends
import Foundation
import Operations
import SlurmSyntax
import Store
import Worker

/// One line of squeue: a job, or pending elements of one array collapsed.
public struct SqueueRecord {
  public var first: JobRow
  public var indices: [Int]
  public var reason: String
  public var array: ArrayRecord?
  public var schedule: JobSchedule? = nil
  /// The record is an array's whole pending record, though it holds one element.
  public var wholeArray = false
  /// GPUs and memory limit, read when the format prints them.
  public var resources: GPUAllocation? = nil
  /// Where a held job's dependency stands (nil: not held, or no dependency).
  public var heldDependency: DependencyStatus? = nil

  public init(
    first: JobRow, indices: [Int], reason: String, array: ArrayRecord?, schedule: JobSchedule? = nil,
    wholeArray: Bool = false, resources: GPUAllocation? = nil
  ) {
    self.first = first
    self.indices = indices
    self.reason = reason
    self.array = array
    self.schedule = schedule
    self.wholeArray = wholeArray
    self.resources = resources
  }

  /// The array's own record (several pending elements, or its only one), not one element's.
  public var collapsed: Bool { indices.count > 1 || wholeArray }

  /// SLURM's reason: why a pending job waits; for an ended one, what slurmctld recorded when it
  /// ended (a non-zero exit, a signal — `JobLaunchFailure` in SLURM's words —, the time or memory
  /// limit, a dependency that can never be met); `None` otherwise.
  public static func reason(_ row: JobRow, array: ArrayRecord?) -> String {
    switch row.state {
    case .pending: break
    case .running, .completed: return "None"
    case .failed: return row.reason == "NonZeroExitCode" ? "NonZeroExitCode" : "JobLaunchFailure"
    case .timeout: return "TimeLimit"
    case .outOfMemory: return "OutOfMemory"
    case .cancelled: return row.reason == "DependencyNeverSatisfied" ? "DependencyNeverSatisfied" : "None"
    }
    if let reason = row.reason, !reason.isEmpty, !reason.contains(" ") || reason == SlurmSchedule.requeuedHeld {
      return reason
    }
    if let array, let throttle = array.throttle, array.running >= throttle { return "JobArrayTaskLimit" }
    return "Priority"
  }

  /// `%m`: `--mem`, else `--mem-per-cpu` (per CPU, as SLURM prints it), else the store's limit;
  /// in MB with SLURM's unit steps (1024M is 1G).
  public static func memoryText(launch: LaunchSpec?, limit: Int64?, convert: Bool = true) -> String {
    let mb =
      launch?.env["SLURM_MEM_PER_NODE"].flatMap { Int64($0) } ?? launch?.env["SLURM_MEM_PER_CPU"].flatMap {
        Int64($0)
      } ?? (limit ?? 0) >> 20
    // --noconvert: megabytes as they are (`2048M`, not `2G`).
    return convert ? TRESText.megabytes(mb) : "\(mb)M"
  }

  /// A held job's dependency as slurmctld shows it: with its state until met, then none.
  public var heldDependencyText: String {
    guard let text = array?.dependency, let status = heldDependency else { return "(null)" }
    switch status {
    case .waiting: return DependencyDisplay.withState(text, "unfulfilled")
    case .never: return DependencyDisplay.withState(text, "failed")
    case .satisfied: return "(null)"
    }
  }

  public var launch: LaunchSpec? { array.flatMap { try? LaunchSpec.decode($0.launch) } }

  public func field(_ letter: Character, now: Double, host: String, user: String) -> String {
    let r = first
    switch letter {
    case "i":
      return collapsed ? "\(r.arrayID)_[\(ArraySpec.compress(indices))]" : r.display
    case "A": return collapsed ? String(r.arrayID) : String(r.id)
    case "F": return String(r.arrayID)
    case "K":
      guard r.isArray else { return "N/A" }
      return collapsed ? ArraySpec.compress(indices) : String(r.arrayIndex ?? 0)
    case "j": return r.name
    case "u": return user
    case "t": return r.state.code
    case "T": return r.state.rawValue
    case "M":
      guard let start = r.startTime, r.state != .pending else { return "0:00" }
      return TimeFormat.squeueTime(TimeFormat.seconds((r.endTime ?? now) - start))
    case "l": return TimeFormat.squeueTimeLimit(minutes: r.timeLimit.map { $0 / 60 })
    case "D": return "1"
    // A job that ended for a reason shows it, as squeue does: `(NonZeroExitCode)`.
    case "R": return r.state == .pending || reason != "None" ? "(\(reason))" : host
    case "r": return reason
    case "N": return r.state == .pending ? "" : host
    case "C": return String(r.cpus)
    case "P": return SbatchSubmit.partition
    case "a": return "(null)"
    case "q": return "normal"
    case "Q": return String(SlurmSchedule.priority(r, schedule))
    case "y": return String(schedule?.nice ?? 0)
    case "E":
      guard r.state == .pending, let text = array?.dependency else { return "(null)" }
      switch reason {
      case "Dependency": return DependencyDisplay.withState(text, "unfulfilled")
      case "DependencyNeverSatisfied": return DependencyDisplay.withState(text, "failed")
      default: return heldDependency == nil ? text : heldDependencyText
      }
    case "m": return Self.memoryText(launch: launch, limit: resources?.memLimit)
    case "c": return String(r.cpus)
    case "L":
      guard let limit = r.timeLimit else { return "UNLIMITED" }
      guard let start = r.startTime, r.state != .pending else { return TimeFormat.squeueTime(limit) }
      return TimeFormat.squeueTime(max(0, limit - TimeFormat.seconds((r.endTime ?? now) - start)))
    case "p": return String(format: "%.14f", Double(SlurmSchedule.priority(r, schedule)) / 4_294_967_295)
    case "g": return SlurmJSON.group.name
    case "G": return String(SlurmJSON.group.id)
    case "U": return String(getuid())
    case "h": return "OK"
    case "B": return r.state == .pending ? "n/a" : host
    case "b": return TRESText.gres(resources).map { "gres:" + $0 } ?? "N/A"
    // What orch has no notion of, as slurmctld prints it for a job that asked for none.
    case "d", "O": return "0"
    case "X": return "N/A"
    case "H", "I", "J": return "*"
    case "z": return "*:*:*"
    case "f", "k", "v", "w", "W", "Y": return "(null)"
    case "V": return SlurmClock.format(r.submitTime)
    case "S":
      if r.state == .pending, let begin = schedule?.beginTime { return SlurmClock.format(begin) }
      return r.startTime.map { SlurmClock.format($0) } ?? "N/A"
    case "e": return r.endTime.map { SlurmClock.format($0) } ?? "N/A"
    case "Z": return array.flatMap { try? LaunchSpec.decode($0.launch) }?.cwd ?? "(null)"
    case "o": return array?.source ?? "(null)"
    default: return ""
    }
  }
}
