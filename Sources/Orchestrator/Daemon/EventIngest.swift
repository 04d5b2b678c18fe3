import Foundation
import GRDB
import Store
import Worker

/// A piece of a job's fd-3 event stream: complete JSON lines starting at byte `offset`.
struct EventChunk {
  var jobID: Int64
  var attempt: Int
  var offset: Int64
  var data: [UInt8]
}

/// Stores what is new in event chunks. Each event carries `seq`; a line without one is numbered by
/// its byte offset in the stream, so a chunk seen twice (socket and journal) adds nothing.
enum EventIngest {
  static func ingest(_ db: Database, _ chunks: [EventChunk], now: Double) throws {
    for chunk in chunks {
      var records: [EventRecord] = []
      var start = 0
      let bytes = chunk.data
      while start < bytes.count {
        let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
        if let record = EventParser.parse(bytes[start..<end], fallbackSeq: Int(chunk.offset) + start, now: now) {
          records.append(record)
        }
        start = end + 1
      }
      try JobStore.ingest(db, jobID: chunk.jobID, attempt: chunk.attempt, events: records)
    }
  }
}

/// The event protocol (DESIGN.md): `metric` (name, value, step, epoch), `checkpoint` (epoch, path,
/// bytes, sha256), `artifact` (name, path), `heartbeat`, `done` (final metrics as `metrics: {…}`).
/// A line that is not a JSON object with a `type` is skipped.
enum EventParser {
  static func parse(_ line: ArraySlice<UInt8>, fallbackSeq: Int, now: Double) -> EventRecord? {
    guard !line.isEmpty, let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
      let type = object["type"] as? String
    else { return nil }
    let seq = (object["seq"] as? NSNumber)?.intValue ?? fallbackSeq
    let time = (object["time"] as? NSNumber)?.doubleValue ?? now
    var record = EventRecord(seq: seq, type: type, payload: String(decoding: line, as: UTF8.self), time: time)
    let step = (object["step"] as? NSNumber)?.intValue
    let epoch = (object["epoch"] as? NSNumber)?.intValue
    switch type {
    case "metric":
      if let name = object["name"] as? String, let value = (object["value"] as? NSNumber)?.doubleValue {
        record.metrics = [.init(name: name, value: value, step: step, epoch: epoch, final: false)]
      }
    case "done":
      let metrics = object["metrics"] as? [String: Any] ?? [:]
      record.metrics = metrics.keys.sorted().compactMap { name in
        (metrics[name] as? NSNumber).map {
          .init(name: name, value: $0.doubleValue, step: step, epoch: epoch, final: true)
        }
      }
    case "checkpoint":
      if let epoch, let path = object["path"] as? String {
        record.checkpoint = .init(
          epoch: epoch, path: path, bytes: (object["bytes"] as? NSNumber)?.int64Value,
          sha256: object["sha256"] as? String)
      }
    case "artifact":
      if let name = object["name"] as? String, let path = object["path"] as? String { record.artifact = (name, path) }
    default:
      break
    }
    return record
  }
}
