import Foundation
import OrchCore
import Store

/// `GET /events?sweep=NAME` (or `?job=ID`, or neither: every sweep's counts): Server-Sent Events.
/// Each stream has its own read-only connection and asks SQLite every 200 ms whether anyone
/// committed (`PRAGMA data_version`, one integer); only then it reads the unfinished jobs'
/// states, the counts, and the metrics after the last sequence number it sent (primary-key
/// ranges). Events: `job` {id, state, sweep}, `counts` {sweep, pending, …}, `metric` {job, name,
/// epoch, step, value}.
enum Events {
  static func stream(_ q: Query, state: UIState) throws -> Response {
    let sweep = q["sweep"]
    let job = q.int("job").map(Int64.init)
    let store = try state.openReadOnly()
    var headers = Headers()
    headers["Content-Type"] = "text/event-stream"
    headers["Cache-Control"] = "no-store"
    return Response(status: .ok, headers: headers, body: .events(Watcher(store: store, sweep: sweep, job: job)))
  }

  static func event(_ name: String, _ data: String) -> String { "event: \(name)\ndata: \(data)\n\n" }
}

/// One stream's view of the store: what it last sent.
final class Watcher: @unchecked Sendable {
  let store: JobStore
  let sweep: String?
  let job: Int64?
  var version: Int64 = -1
  var states: [Int64: JobStateChange] = [:]
  var endedAfter = Date().timeIntervalSince1970
  var lastSeq: [Int64: (attempt: Int, seq: Int)] = [:]
  var counts: [String: String] = [:]
  var sweepOf: [Int64: String] = [:]

  init(store: JobStore, sweep: String?, job: Int64?) {
    self.store = store
    self.sweep = sweep
    self.job = job
    // A job's own stream starts from its current state, ended or not.
    if job != nil { endedAfter = 0 }
  }

  func poll() throws -> String {
    let now = try storeCall { () throws(StoreError) in try store.dataVersion() }
    guard now != version else { return "" }
    let first = version == -1
    version = now
    var out = ""
    // Counts: per sweep (all of them on the overview).
    if job == nil {
      let summaries = try storeCall { () throws(StoreError) in try store.sweepSummaries(sweep: sweep) }
      for s in summaries {
        let json = StateCounts(s.counts).json(sweep: s.name)
        if counts[s.name] != json {
          counts[s.name] = json
          out += Events.event("counts", json)
        }
      }
      if sweep == nil { return out }
    }
    // Job states: the unfinished ones and those that ended since the last look.
    let (changes, lastEnd) = try storeCall { () throws(StoreError) in
      try store.changedStates(sweep: sweep, jobs: job.map { [$0] }, endedAfter: endedAfter - 1)
    }
    endedAfter = max(endedAfter, lastEnd)
    var followed: [JobStateChange] = []
    for change in changes {
      let before = states[change.id]
      states[change.id] = change
      if (!first || job != nil) && before != change {
        out += Events.event(
          "job",
          "{\"id\":\(change.id),\"state\":\(jsonString(change.state.rawValue)),\"sweep\":\(jsonString(sweep ?? ""))"
            + ",\"attempt\":\(change.attempt)}")
      }
      if change.state == .running || (before?.state == .running) || (job != nil) { followed.append(change) }
    }
    // Metrics reported since the last look, for the running jobs (and those just ended).
    for change in followed {
      var (attempt, seq) = lastSeq[change.id] ?? (change.attempt, first ? Int.max : -1)
      if attempt != change.attempt { (attempt, seq) = (change.attempt, -1) }
      if first {
        // The page already shows what is there: start after the newest row.
        let rows = try storeCall { () throws(StoreError) in
          try store.metrics(jobID: change.id, attempt: change.attempt, afterSeq: -1)
        }
        lastSeq[change.id] = (change.attempt, rows.last?.seq ?? -1)
        continue
      }
      let rows = try storeCall { () throws(StoreError) in
        try store.metrics(jobID: change.id, attempt: attempt, afterSeq: seq)
      }
      for m in rows {
        out += Events.event(
          "metric",
          "{\"job\":\(change.id),\"name\":\(jsonString(m.name)),\"epoch\":\(m.epoch.map(String.init) ?? "null"),"
            + "\"step\":\(m.step.map(String.init) ?? "null"),\"final\":\(m.final),\"value\":\(jsonNumber(m.value))}")
      }
      lastSeq[change.id] = (attempt, rows.last?.seq ?? seq)
    }
    return out
  }
}
