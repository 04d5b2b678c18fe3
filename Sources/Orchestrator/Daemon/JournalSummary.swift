import Foundation
import Worker

/// What a worker journal says: which attempts started (with their process ids) and how they ended.
struct JournalSummary {
  struct Key: Hashable {
    var job: Int64
    var attempt: Int
  }
  var starts: [Key: Int32] = [:]
  var reports: [Key: JobReport] = [:]
  var chunks: [Key: [EventChunk]] = [:]

  init(path: String) {
    for message in Journal.read(path: path) {
      switch message {
      case .started(let job, let attempt, let pid): starts[Key(job: job, attempt: attempt)] = pid
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
  func report(job: Int64, attempt: Int) -> JobReport? { reports[Key(job: job, attempt: attempt)] }
  func events(job: Int64, attempt: Int) -> [EventChunk] { chunks[Key(job: job, attempt: attempt)] ?? [] }
}
