import GRDB
import SlurmSyntax
import Store

/// Re-evaluates the jobs waiting on dependencies: satisfied → ready to claim; never satisfiable →
/// reason `DependencyNeverSatisfied` (or cancelled when the array asked for `--kill-on-invalid-dep`).
/// Reads stored rows as they are: no value in them, however odd, may stop the daemon.
public enum DependencyCheck {
  /// Returns whether a job still waits on an `after:id+minutes` delay, which only time can end.
  /// With `held`, only reports where each held job stands, changing nothing.
  @discardableResult
  static func run(_ db: Database, now: Double, held report: ((Int64, DependencyStatus) -> Void)? = nil) throws -> Bool {
    var timed = false
    // Held jobs wait for `scontrol release`, whatever their dependencies say.
    let held = try JobStore.heldJobIDs(db)
    for array in try JobStore.waitingArrays(db) {
      var targets: [Int64: [DependencyRule.Element]] = [:]
      func elements(_ id: Int64) throws -> [DependencyRule.Element] {
        if let known = targets[id] { return known }
        let loaded = try JobStore.targetElements(db, array: id, index: nil).map {
          DependencyRule.Element(
            index: $0.index, state: JobStateLite($0.state), secondsSinceStart: $0.since.map { seconds(now - $0) })
        }
        targets[id] = loaded
        return loaded
      }
      let singletonBusy =
        try array.terms.contains { $0.kind == "singleton" }
        ? JobStore.singletonBusy(db, name: array.name, before: array.id) : false
      // Only aftercorr depends on the waiting job; every other term is evaluated once per array.
      var shared: [Int: DependencyStatus] = [:]
      var ready: [Int64] = []
      var never: [Int64] = []
      for job in array.jobs where held.contains(job.id) == (report != nil) {
        var statuses: [DependencyStatus] = []
        for (i, term) in array.terms.enumerated() where term.onlyJob == nil || term.onlyJob == job.id {
          guard let kind = DependencySpec.Kind(rawValue: term.kind) else { continue }
          if kind == .singleton {
            statuses.append(singletonBusy ? .waiting : .satisfied)
            continue
          }
          guard let target = term.targetArray else { continue }
          if let known = shared[i] {
            statuses.append(known)
            continue
          }
          let spec = DependencySpec.Term(
            kind: kind, jobID: Int(target), elements: term.targetElements, delayMinutes: term.delayMinutes)
          let status = DependencyRule.evaluate(
            spec, target: try elements(target), ownIndex: job.arrayIndex, isOr: array.isOr)
          if kind != .aftercorr { shared[i] = status }
          statuses.append(status)
        }
        if let report {
          report(job.id, DependencyRule.combine(statuses, isOr: array.isOr))
          continue
        }
        switch DependencyRule.combine(statuses, isOr: array.isOr) {
        case .satisfied: ready.append(job.id)
        case .never: never.append(job.id)
        case .waiting: timed = timed || array.terms.contains { $0.delayMinutes != nil }
        }
      }
      guard report == nil else { continue }
      try JobStore.markReady(db, jobIDs: ready)
      try JobStore.markNeverSatisfied(db, jobIDs: never, cancel: array.killOnInvalid, now: now)
    }
    return timed
  }

  /// Where each held job that has dependencies stands, which the daemon leaves alone until
  /// `scontrol release` yet slurmctld shows (`afterok:12(unfulfilled)`, `(failed)`, none once met).
  public static func held(_ db: Database, now: Double) throws -> [Int64: DependencyStatus] {
    var out: [Int64: DependencyStatus] = [:]
    try run(db, now: now) { out[$0] = $1 }
    return out
  }

  /// Whole seconds of a stored time difference; `Int(_:)` would trap on one out of range.
  static func seconds(_ interval: Double) -> Int {
    guard interval.isFinite else { return interval > 0 ? Int.max : Int.min }
    if interval >= 0x1p63 { return Int.max }
    if interval < -0x1p63 { return Int.min }
    return Int(interval)
  }
}
