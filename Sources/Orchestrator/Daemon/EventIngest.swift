import Foundation
import GRDB
import Store
import Worker

/// Reads a job's JSON-lines event file (its fd 3) and stores what is new. Each event carries `seq`;
/// a line without one is numbered by its byte offset, so re-reading a file adds nothing.
extension Daemon {
  /// Ingests complete lines from `offset`; returns the offset after the last complete line.
  @discardableResult
  func ingestEvents(_ db: Database, jobID: Int64, attempt: Int, path: String, from offset: Int64) throws -> Int64 {
    guard let handle = FileHandle(forReadingAtPath: path) else { return offset }
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    guard let data = try handle.readToEnd(), !data.isEmpty else { return offset }
    let bytes = [UInt8](data)
    var records: [EventRecord] = []
    var start = 0
    var consumed = 0
    let now = Posix.now()
    while let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
      let line = bytes[start..<end]
      if let record = EventParser.parse(line, fallbackSeq: Int(offset) + start, now: now) { records.append(record) }
      start = end + 1
      consumed = start
    }
    try JobStore.ingest(db, jobID: jobID, attempt: attempt, events: records)
    return offset + Int64(consumed)
  }

  /// Periodic ingestion for running jobs, so `orch metrics` shows curves while they train.
  func ingestRunning() throws(OrchError) {
    nextIngest = Posix.now() + options.ingestInterval
    var grown: [(Int, Active)] = []
    for (i, slot) in slots.enumerated() {
      guard let active = slot.active else { continue }
      var st = stat()
      if stat(active.eventsPath, &st) == 0, Int64(st.st_size) > active.eventsOffset { grown.append((i, active)) }
    }
    guard !grown.isEmpty else { return }
    var offsets: [Int: Int64] = [:]
    try storeCall { () throws(StoreError) in
      try store.write("while ingesting events of running jobs") { db in
        for (i, active) in grown {
          offsets[i] = try self.ingestEvents(
            db, jobID: active.job.id, attempt: active.job.attempt, path: active.eventsPath, from: active.eventsOffset)
        }
      }
    }
    for (i, offset) in offsets where slots[i].active != nil { slots[i].active?.eventsOffset = offset }
  }
}

/// The event protocol (DESIGN.md): `metric` (name, value, step, epoch), `checkpoint` (epoch, path,
/// bytes, sha256), `artifact` (name, path), `heartbeat`, `done` (final metrics as `metrics: {…}`).
enum EventParser {
  static func parse(_ line: ArraySlice<UInt8>, fallbackSeq: Int, now: Double) -> EventRecord? {
    guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
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
        (metrics[name] as? NSNumber).map { .init(name: name, value: $0.doubleValue, step: step, epoch: epoch, final: true) }
      }
    case "checkpoint":
      if let epoch, let path = object["path"] as? String {
        record.checkpoint = .init(
          epoch: epoch, path: path, bytes: (object["bytes"] as? NSNumber)?.int64Value, sha256: object["sha256"] as? String)
      }
    case "artifact":
      if let name = object["name"] as? String, let path = object["path"] as? String { record.artifact = (name, path) }
    default:
      break
    }
    return record
  }
}
