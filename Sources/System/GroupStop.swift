import Foundation

/// Ending a job's process group as SLURM does: SIGCONT (a stopped job must see the signal), then
/// the signal (SIGTERM, or SIGINT for a foreground Ctrl-C), then SIGKILL once the grace period
/// (KillWait) has passed. Every path that ends a running job goes through here.
public enum GroupStop {
  /// Signals the group; returns the time at which SIGKILL is due.
  public static func begin(_ group: pid_t, signal: Int32 = SIGTERM, grace: Double) -> Double {
    kill(-group, SIGCONT)
    kill(-group, signal)
    return Posix.now() + grace
  }

  /// SIGKILL to the group when `killAt` has passed (or `now` is nil); returns the pending `killAt`,
  /// nil once SIGKILL is sent.
  public static func killIfDue(_ group: pid_t, killAt: Double?, now: Double? = nil) -> Double? {
    guard let killAt else { return nil }
    if let now, now < killAt { return killAt }
    kill(-group, SIGKILL)
    return nil
  }
}
