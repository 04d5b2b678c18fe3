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
    while true {
      let counts = try storeCall { () throws(StoreError) in try store.stateCounts(filter) }
      let pending = counts[.pending] ?? 0
      let running = counts[.running] ?? 0
      let completed = counts[.completed] ?? 0
      let finished = total - pending - running
      let failed = finished - completed
      let elapsed = Posix.now() - start
      let eta = finished > 0 ? elapsed / Double(finished) * Double(total - finished) : nil
      let line =
        "[\(TimeFormat.squeueTime(TimeFormat.seconds(elapsed)))] completed \(completed)/\(total)  running \(running)  "
        + "pending \(pending)  failed \(failed)  ETA \(eta.map { TimeFormat.squeueTime(TimeFormat.seconds($0.rounded(.up))) } ?? "?")"
      if tty {
        FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
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
