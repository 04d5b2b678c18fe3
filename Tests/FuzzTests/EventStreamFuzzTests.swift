import Foundation
import GRDB
import XCTest

@testable import Backends
@testable import Store
@testable import Worker

/// The fd-3 event stream: what a job writes is cut into lines by its worker (`EventStream`) and
/// decoded and stored by the daemon (`EventIngest`). Any bytes, cut anywhere: every byte is
/// forwarded once and in order or counted as dropped, and storing them never fails (a failed
/// ingest would stop the daemon, and meet the same bytes again in the journal after a restart).
final class EventStreamFuzzTests: XCTestCase {
  final class Box: @unchecked Sendable {
    let store: JobStore
    let job: Int64
    init(_ store: JobStore, _ job: Int64) {
      self.store = store
      self.job = job
    }
  }

  struct Rollback: Error {}

  func testEventStream() throws {
    let dir = NSTemporaryDirectory() + "orch-fuzz-events-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let store = try JobStore(path: dir + "/orch.db")
    let job = try store.submit(now: 1) { tx in
      try tx.insert(
        array: NewArray(sweep: "s", name: "s", source: "x", isArray: false, launch: "{}", outputRoot: dir),
        jobs: [NewJob(arrayIndex: 0, key: "k", configHash: "h", config: "{}", resources: JobResources())],
        dependencies: [])
    }
    let box = Box(store, job)
    Fuzz.run(
      "event-stream",
      seeds: [
        #"{"type":"metric","name":"loss","value":0.5,"step":1,"epoch":0}"# + "\n",
        #"{"type":"done","metrics":{"acc":0.9},"seq":2}"#,
      ],
      tokens: [
        #"{"type":"#, #""metric""#, #""seq":"#, #""step":"#, #""epoch":"#, #""bytes":"#, #""value":"#,
        #""metrics":{"#, "1e30", "-9223372036854775809", "1.5", "true", "null", "\n\n",
      ]
    ) { input in
      // The first byte picks the read sizes, the line limit and the budget; the rest is the stream.
      let knobs = input.first ?? 0
      let bytes = input.dropFirst()
      let reads = [1, 3, 64, 4096][Int(knobs & 3)]
      var stream = EventStream(
        maxLine: knobs & 4 == 0 ? EventStream.defaultMaxLine : 48,
        budget: knobs & 8 == 0 ? EventStream.defaultBudget : 700)
      var pieces: [EventStream.Piece] = []
      var i = bytes.startIndex
      while i < bytes.endIndex {
        let end = min(bytes.endIndex, i + reads)
        pieces += stream.feed(bytes[i..<end])
        i = end
      }
      pieces += stream.finish()
      if let problem = Self.coverage(pieces, of: bytes, maxLine: stream.maxLine) {
        fatalError("event stream: \(problem)")
      }
      // As the daemon gets them from a worker, and as it reads a SLURM job's whole events file (at
      // an offset near the end of the range when asked).
      var chunks = pieces.map { piece -> EventChunk in
        switch piece {
        case .lines(let offset, let data): EventChunk(jobID: box.job, attempt: 1, offset: offset, data: data)
        case .dropped(let offset, let lines, let bytes, let reason):
          EventChunk(
            jobID: box.job, attempt: 1, offset: offset, data: [],
            dropped: .init(lines: lines, bytes: bytes, reason: reason.rawValue))
        }
      }
      chunks.append(
        EventChunk(jobID: box.job, attempt: 2, offset: knobs & 16 == 0 ? 0 : Int64.max - 40, data: Array(bytes)))
      do {
        try box.store.write("fuzzing event ingestion") { db in
          try EventIngest.ingest(db, chunks, now: 1)
          throw Rollback()
        }
      } catch let error as StoreError where error.underlying is Rollback {
      } catch {
        fatalError("ingesting events failed: \(error)")
      }
    }
  }

  /// Nil when the pieces are the stream: in order from offset 0, each byte forwarded once or
  /// counted, no forwarded line over the limit.
  static func coverage(_ pieces: [EventStream.Piece], of input: ArraySlice<UInt8>, maxLine: Int) -> String? {
    var at = 0
    for piece in pieces {
      switch piece {
      case .lines(let offset, let data):
        guard offset == at else { return "lines at \(offset), expected \(at)" }
        guard at + data.count <= input.count, input.dropFirst(at).prefix(data.count).elementsEqual(data) else {
          return "lines at \(offset) are not the input"
        }
        for line in data.split(separator: 10, omittingEmptySubsequences: false) where line.count > maxLine {
          return "a forwarded line of \(line.count) bytes"
        }
        at += data.count
      case .dropped(let offset, let lines, let bytes, _):
        guard offset == at, lines > 0, bytes > 0 else { return "drop at \(offset) of \(bytes), expected \(at)" }
        at += Int(bytes)
      }
    }
    return at == input.count ? nil : "pieces cover \(at) of \(input.count) bytes"
  }
}
