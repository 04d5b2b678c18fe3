import GRDB
import Store

/// Re-evaluates the jobs waiting on dependencies: satisfied → ready to claim; never satisfiable →
/// reason `DependencyNeverSatisfied` (or cancelled when the array asked for `--kill-on-invalid-dep`).
enum DependencyCheck {
  /// Returns whether a job still waits on an `after:id+minutes` delay, which only time can end.
  @discardableResult
  static func run(_ db: Database, now: Double) throws -> Bool {
    var timed = false
    // Held jobs wait for `scontrol release`, whatever their dependencies say.
    let held = try JobStore.heldJobIDs(db)
    for array in try JobStore.waitingArrays(db) {
      var targets: [Int64: [TargetElement]] = [:]
      func elements(_ id: Int64) throws -> [DependencyRule.Element] {
        if targets[id] == nil { targets[id] = try JobStore.targetElements(db, array: id, index: nil) }
        return targets[id]!.map {
          DependencyRule.Element(
            index: $0.index, state: JobStateLite($0.state), secondsSinceStart: $0.since.map { Int(now - $0) })
        }
      }
      let singletonBusy =
        try array.terms.contains { $0.kind == "singleton" }
        ? JobStore.singletonBusy(db, name: array.name, before: array.id) : false
      var ready: [Int64] = []
      var never: [Int64] = []
      for job in array.jobs where !held.contains(job.id) {
        var statuses: [DependencyStatus] = []
        for term in array.terms where term.onlyJob == nil || term.onlyJob == job.id {
          guard let kind = DependencySpec.Kind(rawValue: term.kind) else { continue }
          if kind == .singleton {
            statuses.append(singletonBusy ? .waiting : .satisfied)
            continue
          }
          guard let target = term.targetArray else { continue }
          let spec = DependencySpec.Term(
            kind: kind, jobID: Int(target), arrayIndex: term.targetIndex, delayMinutes: term.delayMinutes)
          statuses.append(DependencyRule.evaluate(spec, target: try elements(target), ownIndex: job.arrayIndex))
        }
        switch DependencyRule.combine(statuses, isOr: array.isOr) {
        case .satisfied: ready.append(job.id)
        case .never: never.append(job.id)
        case .waiting: timed = timed || array.terms.contains { $0.delayMinutes != nil }
        }
      }
      try JobStore.markReady(db, jobIDs: ready)
      try JobStore.markNeverSatisfied(db, jobIDs: never, cancel: array.killOnInvalid, now: now)
    }
    return timed
  }
}
