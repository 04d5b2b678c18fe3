import Foundation

/// Durations printed the way SLURM's clients print them.
public enum TimeFormat {
  /// Whole seconds of an interval read from the store: Int(Double) traps on NaN, infinity and
  /// values past Int, which a damaged row may hold; those show as 0 or the nearest bound.
  public static func seconds(_ interval: Double) -> Int {
    guard interval.isFinite else { return 0 }
    return Int(max(-9.0e15, min(9.0e15, interval)))
  }

  /// squeue TIME: `0:05`, `12:34`, `1:02:03`, `1-02:03:04`. Like squeue, `INVALID` below zero or
  /// beyond a year.
  public static func squeueTime(_ seconds: Int) -> String {
    if seconds < 0 || seconds > 365 * 86_400 { return "INVALID" }
    let (d, h, m, s) = split(seconds)
    if d > 0 { return "\(d)-\(two(h)):\(two(m)):\(two(s))" }
    if h > 0 { return "\(h):\(two(m)):\(two(s))" }
    return "\(m):\(two(s))"
  }

  /// sacct Elapsed: `00:00:05`, `01:02:03`, `1-02:03:04`. `INVALID` below zero, as in SLURM.
  public static func sacctElapsed(_ seconds: Int) -> String {
    if seconds < 0 { return "INVALID" }
    let (d, h, m, s) = split(seconds)
    if d > 0 { return "\(d)-\(two(h)):\(two(m)):\(two(s))" }
    return "\(two(h)):\(two(m)):\(two(s))"
  }

  /// squeue TIME_LIMIT: nil (no limit) is `UNLIMITED`, otherwise squeue TIME of the minutes.
  public static func squeueTimeLimit(minutes: Int?) -> String {
    guard let minutes else { return "UNLIMITED" }
    let (seconds, overflow) = minutes.multipliedReportingOverflow(by: 60)
    return overflow ? "INVALID" : squeueTime(seconds)
  }

  /// sacct Timelimit: nil is `UNLIMITED`, otherwise sacct Elapsed of the minutes.
  public static func sacctTimelimit(minutes: Int?) -> String {
    guard let minutes else { return "UNLIMITED" }
    let (seconds, overflow) = minutes.multipliedReportingOverflow(by: 60)
    return overflow ? "INVALID" : sacctElapsed(seconds)
  }

  private static func split(_ t: Int) -> (Int, Int, Int, Int) {
    (t / 86_400, t / 3600 % 24, t / 60 % 60, t % 60)
  }

  private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}

/// SLURM's timestamps (`2026-12-06T09:40:35`, local time; `Unknown` for none).
public enum SlurmClock {
  public static func format(_ t: Double?) -> String {
    guard let t else { return "Unknown" }
    let f = DateFormatter()
    f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
    return f.string(from: Date(timeIntervalSince1970: t))
  }
}
