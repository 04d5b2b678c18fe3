import Backends
import Foundation
import OrchCore
import Orchestrator
import Store

enum Pages {}

/// Counts as the pages and events show them: every failure kind is `failed`.
struct StateCounts {
  var pending = 0, running = 0, done = 0, failed = 0, cancelled = 0

  init(_ counts: [JobState: Int]) {
    for (state, n) in counts {
      switch state {
      case .pending: pending += n
      case .running: running += n
      case .completed: done += n
      case .cancelled: cancelled += n
      case .failed, .timeout, .outOfMemory: failed += n
      }
    }
  }

  var total: Int { pending + running + done + failed + cancelled }
  var ended: Int { done + failed + cancelled }

  func json(sweep: String) -> String {
    "{\"sweep\":\(jsonString(sweep)),\"pending\":\(pending),\"running\":\(running),\"done\":\(done),"
      + "\"failed\":\(failed),\"cancelled\":\(cancelled),\"total\":\(total)}"
  }
}

extension Pages {
  /// Seconds until the rest have run, as `--wait`'s progress line estimates it: the mean run of
  /// the completed ones × the work left / the jobs running at once.
  static func eta(_ s: SweepSummary, now: Double) -> Double? {
    guard let mean = s.meanRun, mean.isFinite, mean >= 0 else { return nil }
    let counts = StateCounts(s.counts)
    guard counts.pending + counts.running > 0 else { return nil }
    let runningLeft = s.runningStarts.map { max(mean - (now - $0), 0) }.reduce(0, +)
    return (runningLeft + Double(counts.pending) * mean) / Double(max(counts.running, 1))
  }

  static func overview(_ store: JobStore, state: UIState) throws -> Response {
    let sweeps = try storeCall { () throws(StoreError) in try store.sweepSummaries() }
    let now = Date().timeIntervalSince1970
    let rows = sweeps.map { s -> String in
      let c = StateCounts(s.counts)
      let name = html(s.name)
      return """
        <tr data-sweep="\(name)"><td><a class="sweep-link" href="/sweeps/\(html(Path.encode(s.name)))">\(name)</a></td>\
        <td class="count-pending">\(c.pending)</td><td class="count-running">\(c.running)</td>\
        <td class="count-done">\(c.done)</td><td class="count-failed">\(c.failed)</td>\
        <td class="count-cancelled">\(c.cancelled)</td>\
        <td><progress class="sweep-progress" value="\(c.ended)" max="\(max(c.total, 1))"></progress> \
        <span class="ended">\(c.ended)</span>/<span class="total">\(c.total)</span></td>\
        <td class="eta">\(html(Page.duration(eta(s, now: now))))</td><td>\(html(Page.time(s.firstStart)))</td>\
        <td>\(c.pending + c.running == 0 ? html(Page.time(s.lastEnd)) : "")</td></tr>
        """
    }
    let body = """
      <h1>Sweeps</h1>
      \(try daemon(store, home: state.home))
      \(Page.table(
        id: "sweeps",
        header: ["sweep", "pending", "running", "done", "failed", "cancelled", "progress", "ETA", "started", "ended"],
        rows: rows))
      \(sweeps.isEmpty ? "<p>No sweeps yet: <code>orch submit SWEEP</code> adds one.</p>" : "")
      <div id="live" data-events="/events"></div>
      """
    return Page.document(title: "Sweeps", csrf: state.csrf, body: body)
  }

  /// Whether a daemon holds the lock, and the cores its running jobs use.
  static func daemon(_ store: JobStore, home: OrchHome) throws -> String {
    let running = try storeCall { () throws(StoreError) in
      try store.read("while reading running jobs") { try JobStore.runningAttempts($0) }
    }
    let cores = running.reduce(0) { $0 + $1.cpus.count }
    let gpus = running.reduce(0) { $0 + $1.gpus.count }
    let total = NodeResources.load(home: home)?.cpus.count
    let status: String
    if let pid = DaemonLock.holder(home: home) {
      status = "<span class=\"daemon-running\">daemon running</span> (pid \(pid))"
    } else {
      status = "<span class=\"daemon-stopped\">daemon not running</span>"
    }
    return """
      <div id="daemon">\(status) · <span class="cores-used">\(cores)</span>\
      \(total.map { "/\($0)" } ?? "") cores in use\(gpus > 0 ? " · \(gpus) GPU(s)" : "") · \
      \(running.count) job(s) running · ORCH_HOME \(html(home.path))</div>
      """
  }

  /// `squeue`/`sacct` for sbatch submissions and SLURM-run jobs: one row per array and state,
  /// the elements collapsed as squeue does (`1234_[0-9]`).
  static func slurm(_ store: JobStore, state: UIState) throws -> Response {
    let groups = try storeCall { () throws(StoreError) in try store.submissionGroups(limit: 500) }
    let now = Date().timeIntervalSince1970
    let rows = groups.map { g -> String in
      var id = String(g.arrayID)
      if g.isArray, let first = g.firstIndex, let last = g.lastIndex {
        id += first == last ? "_\(first)" : "_[\(first)-\(last)]"
      }
      let elapsed: Double? =
        g.state == .pending ? nil : g.startTime.map { (g.state == .running ? now : (g.endTime ?? now)) - $0 }
      return "<tr data-array=\"\(g.arrayID)\"><td>\(html(id))</td><td>\(html(g.name))</td>"
        + "<td class=\"state\">\(html(g.state.rawValue))</td><td>\(g.count)</td>"
        + "<td>\(html(g.backend ?? "local"))</td><td>\(html(g.slurmID ?? ""))</td>"
        + "<td>\(html(Page.time(g.submitTime)))</td><td>\(html(Page.duration(elapsed)))</td>"
        + "<td>\(html(g.reason ?? ""))</td></tr>"
    }
    let body = """
      <h1>Submissions (sbatch and SLURM)</h1>
      \(Page.table(
        id: "slurm", header: ["JOBID", "NAME", "STATE", "JOBS", "BACKEND", "SLURM ID", "SUBMIT", "ELAPSED", "REASON"],
        rows: rows))
      \(groups.isEmpty ? "<p>No sbatch submissions.</p>" : "")
      """
    return Page.document(title: "SLURM", csrf: state.csrf, body: body)
  }
}
