import Store

/// The states dependency rules distinguish. Map SLURM's transient states before evaluating:
/// COMPLETING/SUSPENDED → running, REQUEUED → pending, NODE_FAIL/PREEMPTED → failed.
public enum JobStateLite: String, Sendable, Hashable, CaseIterable {
  case pending, running, completed, failed, cancelled, timeout, outOfMemory

  public var isTerminal: Bool { self != .pending && self != .running }

  public init(_ state: JobState) {
    switch state {
    case .pending: self = .pending
    case .running: self = .running
    case .completed: self = .completed
    case .failed: self = .failed
    case .cancelled: self = .cancelled
    case .timeout: self = .timeout
    case .outOfMemory: self = .outOfMemory
    }
  }
}

public enum DependencyStatus: String, Sendable, Hashable {
  case satisfied, waiting
  /// Can never be met: SLURM leaves the job PENDING with reason DependencyNeverSatisfied, or
  /// cancels it under `--kill-on-invalid-dep=yes`.
  case never
}

/// SLURM's dependency semantics (slurmctld `_test_job_dependency_common`), as pure functions.
public enum DependencyRule {
  /// One element of the job a term points at: the job itself, or one element of the array.
  public struct Element: Sendable, Hashable {
    /// Nil for a job that is not an array.
    public var index: Int?
    public var state: JobStateLite
    /// Seconds since the element started, or since it was cancelled if it never started; nil
    /// while pending. Only `after:id+minutes` reads it.
    public var secondsSinceStart: Int?

    public init(index: Int? = nil, state: JobStateLite, secondsSinceStart: Int? = nil) {
      self.index = index
      self.state = state
      self.secondsSinceStart = secondsSinceStart
    }
  }

  /// Someone else's job with this job's user and name, for `singleton`.
  public struct SingletonPeer: Sendable, Hashable {
    public var state: JobStateLite
    /// Submitted before this job (SLURM: lower job id). For elements of one array, the caller
    /// orders by index so elements run one at a time in index order.
    public var submittedBefore: Bool

    public init(state: JobStateLite, submittedBefore: Bool) {
      self.state = state
      self.submittedBefore = submittedBefore
    }
  }

  /// The rule table over the states of every element a term covers.
  ///
  /// - after: no element pending (cancelled before starting counts as started).
  /// - afterany: all terminal.
  /// - afterok, aftercorr: all terminal and all completed; never once all are terminal and one
  ///   is not completed. Like SLURM, the verdict waits for the last element.
  /// - afternotok: all terminal and one not completed; never if all completed.
  /// - singleton: `states` are the blocking peers (see `singleton(peers:)`); satisfied when none
  ///   is pending or running.
  ///
  /// No states means the target is gone; SLURM lifts such a dependency, so it is satisfied.
  /// Callers should reject unknown targets at submit time.
  public static func evaluate(_ kind: DependencySpec.Kind, states: [JobStateLite]) -> DependencyStatus {
    if states.isEmpty { return .satisfied }
    let allTerminal = states.allSatisfy(\.isTerminal)
    switch kind {
    case .after:
      return states.contains(.pending) ? .waiting : .satisfied
    case .afterany:
      return allTerminal ? .satisfied : .waiting
    case .afterok, .aftercorr:
      if !allTerminal { return .waiting }
      return states.allSatisfy { $0 == .completed } ? .satisfied : .never
    case .afternotok:
      if !allTerminal { return .waiting }
      return states.allSatisfy { $0 == .completed } ? .never : .satisfied
    case .singleton:
      return allTerminal ? .satisfied : .waiting
    }
  }

  /// One term against the elements of its target job (`term.jobID`); pass all of them, the term's
  /// `elements` picks its own. `ownIndex` is this job's array index, for `aftercorr`. A range of
  /// elements counts as SLURM's one term per element, joined as the spec joins its terms
  /// (`isOr`); an element that is gone lifts its term, as a gone target does.
  public static func evaluate(
    _ term: DependencySpec.Term, target: [Element], ownIndex: Int?, isOr: Bool = false
  ) -> DependencyStatus {
    if term.kind == .aftercorr {
      // Element i waits for element i. When the target has no element i (or this job is not
      // an array), SLURM falls back to afterok on the whole target, and so does orch.
      if let ownIndex, let match = target.first(where: { $0.index == ownIndex }) {
        return evaluate(.afterok, states: [match.state])
      }
      return evaluate(.afterok, states: target.map(\.state))
    }
    guard let elements = term.elements else {
      return delayed(evaluate(term.kind, states: target.map(\.state)), term: term, covered: target)
    }
    var statuses: [DependencyStatus] = []
    for element in target where element.index.map(elements.contains) ?? false {
      statuses.append(delayed(evaluate(term.kind, states: [element.state]), term: term, covered: [element]))
    }
    if statuses.count < elements.count { statuses.append(.satisfied) }
    return combine(statuses, isOr: isOr)
  }

  /// `after:id+minutes`: every covered element must have started long enough ago; a missing time
  /// keeps waiting rather than silently dropping the delay. Any stored delay is safe: one too long
  /// to count in seconds is never reached.
  private static func delayed(_ status: DependencyStatus, term: DependencySpec.Term, covered: [Element])
    -> DependencyStatus
  {
    guard term.kind == .after, status == .satisfied, let minutes = term.delayMinutes, minutes > 0 else {
      return status
    }
    let (seconds, overflow) = minutes.multipliedReportingOverflow(by: 60)
    if overflow { return .waiting }
    return covered.allSatisfy { ($0.secondsSinceStart ?? -1) >= seconds } ? .satisfied : .waiting
  }

  /// SLURM: blocked while another job of the same user and name runs, or is pending and was
  /// submitted earlier. Terminal peers never block. Never `never`.
  public static func singleton(peers: [SingletonPeer]) -> DependencyStatus {
    let blocking = peers.contains { $0.state == .running || ($0.state == .pending && $0.submittedBefore) }
    return blocking ? .waiting : .satisfied
  }

  /// AND: any never → never, all satisfied → satisfied. OR: any satisfied → satisfied, all
  /// never → never. Otherwise waiting. No terms is satisfied.
  public static func combine(_ statuses: [DependencyStatus], isOr: Bool) -> DependencyStatus {
    if statuses.isEmpty { return .satisfied }
    if isOr {
      if statuses.contains(.satisfied) { return .satisfied }
      return statuses.allSatisfy { $0 == .never } ? .never : .waiting
    }
    if statuses.contains(.never) { return .never }
    return statuses.allSatisfy { $0 == .satisfied } ? .satisfied : .waiting
  }

  /// A whole spec. `target` returns every element of a job id (empty if it is gone);
  /// `singletonPeers` are only read when the spec has a singleton term.
  public static func evaluate(
    _ spec: DependencySpec, ownIndex: Int?,
    target: (Int) -> [Element], singletonPeers: () -> [SingletonPeer] = { [] }
  ) -> DependencyStatus {
    var cache: [Int: [Element]] = [:]
    let statuses = spec.terms.map { term -> DependencyStatus in
      guard let jobID = term.jobID else { return singleton(peers: singletonPeers()) }
      if cache[jobID] == nil { cache[jobID] = target(jobID) }
      return evaluate(term, target: cache[jobID] ?? [], ownIndex: ownIndex, isOr: spec.isOr)
    }
    return combine(statuses, isOr: spec.isOr)
  }
}
