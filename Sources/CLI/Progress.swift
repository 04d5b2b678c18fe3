import Foundation
import Operations
import OrchCore
import Orchestrator
import SlurmSyntax
import Store
import System

/// `--wait`: live progress (completed, running, pending, failed, ETA) until every job of the
/// submission is finished, then a summary table. Returns how many did not complete.
enum Progress {
  /// Shows progress until every job of the submission's selected configs has ended — the new and
  /// requeued ones and the existing ones it skipped (COMPLETED, or already queued or running), and
  /// no other — and returns how many did not complete. The summary table goes to stdout, or to
  /// stderr when stdout is the caller's (`--json`, `--csv`).
  static func wait(store: JobStore, result: Submitter.Result, home: OrchHome, summaryToStderr: Bool = false)
    throws(OrchError) -> Int
  {
    let others = Array(Set(result.requeuedJobs + result.skippedJobs)).sorted()
    let filter = JobFilter(arrays: result.arrayID.map { [$0] } ?? [], jobs: others)
    let total = result.new + others.count
    let start = Posix.now()
    let tty = isatty(2) != 0
    var lastLine = 0.0
    var lastReap = start
    var slots = 0
    if let array = result.arrayID {
      InterruptNotice.install(
        "\ninterrupted: the jobs keep running under the daemon. Follow them with `orch queue`, "
          + "`orch history -j \(array)` or `orch results SWEEP`; stop them with `orch cancel \(array)`.\n")
    }
    defer { InterruptNotice.remove() }
    while true {
      let counts = try storeCall { () throws(StoreError) in try store.stateCounts(filter) }
      let pending = counts[.pending] ?? 0
      let running = counts[.running] ?? 0
      let completed = counts[.completed] ?? 0
      let finished = total - pending - running
      let failed = finished - completed
      let elapsed = Posix.now() - start
      slots = max(slots, running)
      let eta = try remaining(store: store, filter: filter, pending: pending, slots: slots)
      let line =
        "[\(TimeFormat.squeueTime(TimeFormat.seconds(elapsed)))] completed \(completed)/\(total)  running \(running)  "
        + "pending \(pending)  failed \(failed)  ETA \(Terminal.duration(eta))"
      if tty {
        FileHandle.standardError.write(Data(("\r" + Terminal.fit(line) + "\u{1B}[K").utf8))
      } else if Posix.now() - lastLine >= 5 || finished == total {
        FileHandle.standardError.write(Data((line + "\n").utf8))
        lastLine = Posix.now()
      }
      if finished == total { break }
      // A skipped job may be a foreground `orch run` that was killed: nobody else would end it.
      if running > 0 && Posix.now() - lastReap >= 2 {
        lastReap = Posix.now()
        _ = try? Foreground.reap(store: store, home: home)
      }
      // The daemon's lock says whether one runs, without waking it through its socket.
      if running + pending > 0 && DaemonLock.holder(home: home) == nil,
        try storeCall({ () throws(StoreError) in try store.daemonJobCount(filter) }) > 0
      {
        if tty { FileHandle.standardError.write(Data("\n".utf8)) }
        throw OrchError.failure("no daemon is running for \(home.path); start one with `orch daemon`")
      }
      usleep(200_000)
    }
    if tty { FileHandle.standardError.write(Data("\n".utf8)) }
    let rows = try storeCall { () throws(StoreError) in try store.jobs(filter) }
    let text = summary(rows, elapsed: Posix.now() - start)
    if summaryToStderr { FileHandle.standardError.write(Data(text.utf8)) } else { Output.print(text) }
    return rows.filter { $0.state != .completed }.count
  }

  /// Seconds until the rest have run: the mean run time of the completed ones × the work left
  /// (what the running ones have not run yet, and every pending one) / the slots (the most jobs
  /// seen running at once). nil before one has completed.
  static func remaining(store: JobStore, filter: JobFilter, pending: Int, slots: Int) throws(OrchError) -> Double? {
    let stats = try storeCall { () throws(StoreError) in try store.runStats(filter) }
    return eta(
      meanRun: stats.meanRun, runningStarts: stats.runningStarts, pending: pending, slots: slots, now: Posix.now())
  }

  static func eta(meanRun: Double?, runningStarts: [Double], pending: Int, slots: Int, now: Double) -> Double? {
    guard let mean = meanRun, mean.isFinite, mean >= 0 else { return nil }
    let runningLeft = runningStarts.map { max(mean - (now - $0), 0) }.reduce(0, +)
    return (runningLeft + Double(pending) * mean) / Double(max(slots, 1))
  }

  static func summary(_ rows: [JobRow], elapsed: Double) -> String {
    var byState: [JobState: Int] = [:]
    for r in rows { byState[r.state, default: 0] += 1 }
    var text = Output.table(
      ["STATE", "JOBS"],
      JobState.allCases.compactMap { s in byState[s].map { [s.rawValue, String($0)] } } + [
        ["TOTAL", String(rows.count)]
      ])
    let bad = rows.filter { $0.state != .completed }
    if !bad.isEmpty {
      text +=
        "\n"
        + Output.table(
          ["JOBID", "STATE", "EXITCODE", "REASON", "KEY"],
          bad.prefix(20).map { r in
            [r.display, r.state.rawValue, "\(r.exitCode ?? 0):\(r.signal ?? 0)", r.reason ?? "", r.key]
          })
      if bad.count > 20 { text += "... and \(bad.count - 20) more (orch history --state FAILED)\n" }
    }
    text += "elapsed \(TimeFormat.squeueTime(TimeFormat.seconds(elapsed.rounded())))\n"
    return text
  }
}
