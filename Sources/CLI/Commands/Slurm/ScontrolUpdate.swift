import ArgumentParser
import Foundation
import Operations
import OrchCore
import SlurmSyntax
import SlurmViews
import Store
import System
import Worker

/// `scontrol update job ID KEY=VALUE…` (also `JobId=ID`, `Job=ID`): the fields orch keeps —
/// StartTime, TimeLimit (also `+M`/`-M`), Priority, Nice, ArrayTaskThrottle and `UpdateFields` (Dependency, JobName,
/// NumCPUs, MinMemory*, Partition) — each written to the store, where the daemon reads them; SLURM's words otherwise.
enum ScontrolUpdate {
  static func run(_ words: [String], store: JobStore, home: OrchHome) throws {
    var words = words
    var target: String?
    if let first = words.first {
      let lower = first.lowercased()
      if lower == "job" || lower == "jobid" {
        words.removeFirst()
        target = words.isEmpty ? nil : words.removeFirst()
      } else if let eq = first.firstIndex(of: "="), ["job", "jobid"].contains(lower[..<eq]) {
        target = String(first[first.index(after: eq)...])
        words.removeFirst()
      }
    }
    // SLURM also takes the id among the pairs (`scontrol update TimeLimit=5 JobId=12`).
    if let i = words.firstIndex(where: { word in ["jobid=", "job="].contains { word.lowercased().hasPrefix($0) } }) {
      target = String(words[i].split(separator: "=", maxSplits: 1).last ?? "")
      words.remove(at: i)
    }
    guard let target, !target.isEmpty else {
      throw OrchError.badInput("scontrol: error: update needs a job: scontrol update JobId=ID KEY=VALUE...")
    }
    var pairs: [(key: String, value: String)] = []
    for word in words {
      guard let eq = word.firstIndex(of: "=") else {
        Output.stderr("Update of this parameter is not supported: \(UserText.escaped(word))\nRequest aborted")
        throw ExitCode(1)
      }
      let key = word[..<eq].lowercased()
      let value = String(word[word.index(after: eq)...])
      guard
        ["starttime", "timelimit", "priority", "nice", "arraytaskthrottle"].contains(key)
          || UpdateFields.keys.contains(key)
      else {
        Output.stderr("Update of this parameter is not supported: \(UserText.escaped(word))\nRequest aborted")
        throw ExitCode(1)
      }
      pairs.append((key, value))
    }
    if pairs.isEmpty {
      Output.stderr("No changes specified")
      throw ExitCode(1)
    }
    // Every value is checked before anything is written, as scontrol does before its one RPC.
    var begin: Double??
    var limit: Int??
    // `TimeLimit=+M` / `-M`: minutes added to or taken from each job's own limit.
    var limitChange: Int?
    var priority: Int64?
    var nice: Int?
    var throttle: Int?
    var fields = UpdateFields()
    for (key, value) in pairs {
      if UpdateFields.keys.contains(key), let error = fields.take(key, value) {
        Output.stderr(error)
        throw ExitCode(1)
      }
      switch key {
      case _ where UpdateFields.keys.contains(key): break
      case "starttime":
        if ["now", ""].contains(value.lowercased()) {
          begin = .some(nil)
        } else {
          do { begin = .some(try BeginTime.parse(value, now: Posix.now())) } catch {
            Output.stderr(
              "Invalid time specification (pos=\(error.position)): \(UserText.escaped(value))\nNo changes specified")
            throw ExitCode(1)
          }
        }
      case "timelimit":
        let upper = value.uppercased()
        if ["UNLIMITED", "INFINITE", "-1"].contains(upper) {
          limit = .some(nil)
        } else if let sign = value.first, sign == "+" || sign == "-" {
          // `+0` changes nothing; `+UNLIMITED` is refused (slurmctld wraps it to a short limit).
          let change = String(value.dropFirst())
          let invalid = OrchError.badInput("scontrol: error: Invalid TimeLimit value")
          guard !["UNLIMITED", "INFINITE"].contains(change.uppercased()) else { throw invalid }
          let seconds: Int
          do { seconds = try TimeSpec.parseSeconds(change) ?? 0 } catch { throw invalid }
          guard seconds <= Int(Int32.max) * 60 else { throw invalid }
          limitChange = (sign == "+" ? 1 : -1) * (seconds + 59) / 60
        } else if let seconds = try? TimeSpec.parseSeconds(value), seconds <= Int(Int32.max) * 60 {
          limit = .some((seconds + 59) / 60 * 60)
        } else {
          throw OrchError.badInput("scontrol: error: Invalid TimeLimit value")
        }
      case "priority":
        guard let n = Int64(value), n >= 0, n <= 4_294_967_294 else {
          throw OrchError.badInput("scontrol: error: Invalid Priority value: \(UserText.escaped(value))")
        }
        priority = n
      case "nice":
        guard let n = Int(value), abs(n) <= SbatchSchedule.niceLimit else {
          throw OrchError.badInput("scontrol: error: Invalid Nice value: \(UserText.escaped(value))")
        }
        nice = n
      default:
        // scontrol reads it with atoi: anything unparsable is 0, no throttle.
        throttle = max(0, Int(value.prefix { $0.isASCII && $0.isNumber }) ?? 0)
      }
    }

    let (ids, unknown) = try SlurmTool.resolve([target], store: store)
    if ids.isEmpty {
      for id in unknown { Output.stderr("Invalid job id specified for job \(UserText.escaped(id))") }
      throw ExitCode(1)
    }
    let rows = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(jobs: ids)) }
    let pending = rows.filter { $0.state == .pending }
    let schedules = try storeCall { () throws(StoreError) in try store.schedules(jobIDs: rows.map(\.id)) }
    var failed = false
    func refuse(_ rows: [JobRow], _ why: String) {
      for line in UpdateValues.refusals(rows, why) { Output.stderr(line) }
      failed = failed || !rows.isEmpty
    }
    // A relative change is checked against every job's limit before anything is written; an
    // unlimited job stays unlimited (slurmctld wraps INFINITE + M around to M − 1 minutes).
    var changedLimits: [Int: [Int64]] = [:]
    if let change = limitChange {
      for row in pending {
        guard let current = row.timeLimit else { continue }
        let minutes = current / 60 + change
        if minutes < 0 {
          throw OrchError.badInput(
            "scontrol: error: TimeLimit decrement larger than current time limit (\(-change) > \(current / 60))")
        }
        changedLimits[minutes * 60, default: []].append(row.id)
      }
    }
    let refused = try Operations.update(fields, rows, store: store, home: home)
    for line in refused { Output.stderr(line) }
    failed = !refused.isEmpty
    if let throttle {
      for array in Set(rows.map(\.arrayID)) {
        _ = try storeCall { () throws(StoreError) in try store.setThrottle(array: array, throttle) }
      }
    }
    if let begin {
      _ = try storeCall { () throws(StoreError) in try store.setBeginTime(jobIDs: pending.map(\.id), begin) }
      refuse(rows.filter { $0.state != .pending }, "Job is no longer pending execution")
    }
    if let limit {
      _ = try storeCall { () throws(StoreError) in try store.setTimeLimit(jobIDs: pending.map(\.id), limit) }
      refuse(rows.filter { $0.state != .pending }, "Job is no longer pending execution")
    }
    if limitChange != nil {
      for (seconds, ids) in changedLimits {
        _ = try storeCall { () throws(StoreError) in try store.setTimeLimit(jobIDs: ids, seconds) }
      }
      refuse(rows.filter { $0.state != .pending }, "Job is no longer pending execution")
    }
    if let nice {
      _ = try storeCall { () throws(StoreError) in try store.setNice(jobIDs: pending.map(\.id), nice) }
    }
    if let priority {
      if priority == 0 {
        _ = try storeCall { () throws(StoreError) in try store.holdByAdmin(jobIDs: pending.map(\.id)) }
      } else {
        let held = pending.filter { SlurmSchedule.priority($0, schedules[$0.id]) == 0 }
        refuse(held, "Job is in held state, pending scheduler release")
        let open = pending.filter { SlurmSchedule.priority($0, schedules[$0.id]) != 0 }
        let arrayOf = Dictionary(open.map { ($0.id, $0.arrayID) }) { a, _ in a }
        _ = try storeCall { () throws(StoreError) in
          try store.setPriority(jobIDs: open.map(\.id)) {
            SlurmSchedule.stored(displayed: priority, arrayID: arrayOf[$0] ?? 0)
          }
        }
      }
    }
    // The daemon claims by what was just written: a throttle raised, a begin time moved.
    try DaemonClient.ensureRunning(home)
    if failed { throw ExitCode(1) }
  }

  /// `scontrol requeue`: the jobs may start again only after slurmctld's delay.
  static func delayRequeue(_ ids: [Int64], store: JobStore) throws {
    guard !ids.isEmpty else { return }
    let until = Posix.now() + SlurmSchedule.requeueDelay
    try storeCall { () throws(StoreError) in try store.delayStart(jobIDs: ids, until: until) }
  }

  static func markRequeuedHeld(_ ids: [Int64], store: JobStore) throws {
    guard !ids.isEmpty else { return }
    try storeCall { () throws(StoreError) in try store.setHeldReason(jobIDs: ids, SlurmSchedule.requeuedHeld) }
  }
}
