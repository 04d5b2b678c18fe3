import Foundation
import Store

/// How the SLURM companions show a job's schedule: its priority (0 while held, as SLURM shows a
/// held job; otherwise SLURM's priority/basic value — a base that falls by one with each
/// submission — plus orch's priority, from which `--nice` was already taken), and BeginTime.
public enum SlurmSchedule {
  /// SLURM's reason for a job `scontrol requeuehold` put back.
  public static let requeuedHeld = "job requeued in held state"

  /// priority/basic's first value, 0xFFFF0000; each later submission gets one less.
  public static let base: Int64 = 4_294_901_760

  public static func priority(_ row: JobRow, _ schedule: JobSchedule?) -> Int64 {
    if schedule?.held == true
      || row.state == .pending && ["JobHeldUser", "JobHeldAdmin", requeuedHeld].contains(row.reason ?? "")
    {
      return 0
    }
    let stored = Int64(schedule?.priority ?? 0)
    let value = base.addingReportingOverflow(stored).partialValue - row.arrayID
    return max(1, min(4_294_967_294, value))
  }

  /// The stored priority that shows as `value` (`scontrol update Priority=`).
  public static func stored(displayed value: Int64, arrayID: Int64) -> Int {
    Int(clamping: value - base + arrayID)
  }

  /// A pending job whose begin time is ahead waits for it, unless it waits for something else.
  public static func waitsForBegin(_ row: JobRow, _ schedule: JobSchedule?, now: Double) -> Bool {
    guard row.state == .pending, let begin = schedule?.beginTime else { return false }
    return begin > now
  }

  /// `scontrol requeue`'s delay before the job may start again: slurmctld's begin time of
  /// now + cred_expire (120 s) + 1. `ORCH_REQUEUE_DELAY` (seconds) changes it.
  public static var requeueDelay: Double {
    if let text = ProcessInfo.processInfo.environment["ORCH_REQUEUE_DELAY"], let n = Double(text), n.isFinite,
      n >= 0, n <= 86_400
    {
      return n
    }
    return 121
  }
}
