import Backends
import Foundation
import Worker

/// What a worker journal says: which attempts were launched, which started (with their process
/// ids) and how they ended.
struct JournalSummary {
  struct Key: Hashable {
    var job: Int64
    var attempt: Int
  }
  /// Attempts whose spawn began (journaled with pid 0 just before it).
  var launched: Set<Key> = []
  var starts: [Key: Int32] = [:]
  var reports: [Key: JobReport] = [:]
  var chunks: [Key: [EventChunk]] = [:]

  init(path: String) {
    for message in Journal.read(path: path) {
      switch message {
      case .started(let job, let attempt, let pid):
        launched.insert(Key(job: job, attempt: attempt))
        if pid > 0 { starts[Key(job: job, attempt: attempt)] = pid }
      case .report(let r): reports[Key(job: r.jobID, attempt: r.attempt)] = r
      case .events(let job, let attempt, let offset, let data):
        chunks[Key(job: job, attempt: attempt), default: []].append(
          EventChunk(jobID: job, attempt: attempt, offset: offset, data: data))
      case .dropped(let job, let attempt, let offset, let lines, let bytes, let reason):
        chunks[Key(job: job, attempt: attempt), default: []].append(
          EventChunk(
            jobID: job, attempt: attempt, offset: offset, data: [],
            dropped: EventChunk.Dropped(lines: lines, bytes: bytes, reason: reason)))
      default: break
      }
    }
  }

  func started(job: Int64, attempt: Int) -> Int32? { starts[Key(job: job, attempt: attempt)] }
  /// Whether the worker began spawning the attempt (its process may exist without a journaled pid).
  func wasLaunched(job: Int64, attempt: Int) -> Bool { launched.contains(Key(job: job, attempt: attempt)) }
  /// Whether the journal mentions the attempt at all.
  func mentions(job: Int64, attempt: Int) -> Bool {
    wasLaunched(job: job, attempt: attempt) || report(job: job, attempt: attempt) != nil
  }
  func report(job: Int64, attempt: Int) -> JobReport? { reports[Key(job: job, attempt: attempt)] }
  func events(job: Int64, attempt: Int) -> [EventChunk] { chunks[Key(job: job, attempt: attempt)] ?? [] }
}
