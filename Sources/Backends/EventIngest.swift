import Foundation
import GRDB
import Store
import Worker

/// A piece of a job's fd-3 event stream: complete JSON lines starting at byte `offset`, or (with
/// `dropped`, and no data) lines from `offset` on that the worker dropped.
public struct EventChunk {
  public struct Dropped {
    public var lines: Int
    public var bytes: Int64
    public var reason: String

    public init(lines: Int, bytes: Int64, reason: String) {
      self.lines = lines
      self.bytes = bytes
      self.reason = reason
    }
  }

  public var jobID: Int64
  public var attempt: Int
  public var offset: Int64
  public var data: [UInt8]
  public var dropped: Dropped? = nil

  public init(jobID: Int64, attempt: Int, offset: Int64, data: [UInt8], dropped: Dropped? = nil) {
    self.jobID = jobID
    self.attempt = attempt
    self.offset = offset
    self.data = data
    self.dropped = dropped
  }
}

/// Stores what is new in event chunks. Each event carries `seq`; a line without one is numbered by
/// its byte offset in the stream, so a chunk seen twice (socket and journal) adds nothing. A line
/// that breaks the protocol (over the line limit, not a JSON object with a `type`, an integer field
/// that is not an integer of 64 bits) is dropped and counted: a `warning` event stands in its
/// place, numbered `~offset` (negative: a job's own `seq` is never negative), so it too is stored
/// once. Nothing in a line makes this throw: a failed write would stop the daemon, and a restart
/// would meet the same line in the journal.
public enum EventIngest {
  public static func ingest(_ db: Database, _ chunks: [EventChunk], now: Double) throws {
    for chunk in chunks {
      var records: [EventRecord] = []
      if let dropped = chunk.dropped {
        records.append(
          notice(
            at: chunk.offset, lines: dropped.lines, bytes: dropped.bytes, reason: dropped.reason + ": dropped",
            now: now))
      }
      var start = 0
      let bytes = chunk.data
      while start < bytes.count {
        let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
        let (offset, overflow) = chunk.offset.addingReportingOverflow(Int64(start))
        let parsed: EventParser.Parsed =
          overflow
          ? .refused("stream offset out of range") : EventParser.parse(bytes[start..<end], offset: offset, now: now)
        switch parsed {
        case .event(let record): records.append(record)
        case .blank: break
        case .refused(let reason):
          let length = Int64(end - start + (end < bytes.count ? 1 : 0))
          records.append(
            notice(at: overflow ? chunk.offset : offset, lines: 1, bytes: length, reason: reason, now: now))
        }
        start = end + 1
      }
      try JobStore.ingest(db, jobID: chunk.jobID, attempt: chunk.attempt, events: records)
    }
  }

  /// The event that records a drop: a `warning` numbered by the first dropped byte's offset.
  static func notice(at offset: Int64, lines: Int, bytes: Int64, reason: String, now: Double) -> EventRecord {
    let object: [String: Any] = [
      "type": "warning", "message": "event stream: \(reason)", "dropped_lines": lines, "dropped_bytes": bytes,
      "offset": offset,
    ]
    let payload =
      (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map {
        String(decoding: $0, as: UTF8.self)
      } ?? "{\"type\":\"warning\"}"
    return EventRecord(seq: Int(~offset), type: "warning", payload: payload, time: now)
  }
}

/// The event protocol (DESIGN.md): `metric` (name, value, step, epoch), `checkpoint` (epoch, path,
/// bytes, sha256), `artifact` (name, path), `heartbeat`, `done` (final metrics as `metrics: {…}`).
enum EventParser {
  enum Parsed {
    case event(EventRecord)
    /// An empty or all-whitespace line: nothing was said, nothing is dropped.
    case blank
    /// Dropped, for this reason.
    case refused(String)
  }

  static func parse(_ line: ArraySlice<UInt8>, offset: Int64, now: Double) -> Parsed {
    if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { return .blank }
    guard line.count <= EventStream.defaultMaxLine else {
      return .refused("line over \(EventStream.defaultMaxLine) bytes")
    }
    guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
      let type = object["type"] as? String
    else { return .refused("not a JSON object with a \"type\"") }
    var fields: [String: Int64] = [:]
    for name in ["seq", "step", "epoch", "bytes"] {
      switch integer(object[name]) {
      case .absent: break
      case .invalid: return .refused("\"\(name)\" is not an integer of 64 bits")
      case .value(let v): fields[name] = v
      }
    }
    if let seq = fields["seq"], seq < 0 { return .refused("\"seq\" is negative") }
    let seq = fields["seq"] ?? offset
    let time = (object["time"] as? NSNumber)?.doubleValue ?? now
    var record = EventRecord(
      seq: Int(seq), type: type, payload: String(decoding: line, as: UTF8.self), time: time.isFinite ? time : now)
    let step = fields["step"].map { Int($0) }
    let epoch = fields["epoch"].map { Int($0) }
    switch type {
    case "metric":
      if let name = object["name"] as? String, let value = number(object["value"]) {
        record.metrics = [.init(name: name, value: value, step: step, epoch: epoch, final: false)]
      }
    case "done":
      let metrics = object["metrics"] as? [String: Any] ?? [:]
      record.metrics = metrics.keys.sorted().compactMap { name in
        number(metrics[name]).map { .init(name: name, value: $0, step: step, epoch: epoch, final: true) }
      }
    case "checkpoint":
      if let epoch, let path = object["path"] as? String {
        record.checkpoint = .init(epoch: epoch, path: path, bytes: fields["bytes"], sha256: object["sha256"] as? String)
      }
    case "artifact":
      if let name = object["name"] as? String, let path = object["path"] as? String { record.artifact = (name, path) }
    default:
      break
    }
    return .event(record)
  }

  enum Integer: Equatable {
    case absent
    case invalid
    case value(Int64)
  }

  /// A JSON number that is exactly an Int64 (1e3 is 1000; 1.5, 2⁶³ and `true` are not).
  /// `NSNumber.int64Value` would wrap or clamp instead.
  static func integer(_ value: Any?) -> Integer {
    guard let value, !(value is NSNull) else { return .absent }
    guard let number = value as? NSNumber, !isBoolean(number) else { return .invalid }
    if number is NSDecimalNumber { return Int64(number.stringValue).map(Integer.value) ?? .invalid }
    switch String(cString: number.objCType) {
    case "q", "l", "i", "s": return .value(number.int64Value)
    case "Q", "L", "I", "S": return Int64(exactly: number.uint64Value).map(Integer.value) ?? .invalid
    default: return Int64(exactly: number.doubleValue).map(Integer.value) ?? .invalid
    }
  }

  /// A finite JSON number (a digit string too long for a Double is not: JSON output of it fails).
  static func number(_ value: Any?) -> Double? {
    guard let v = (value as? NSNumber)?.doubleValue, v.isFinite else { return nil }
    return v
  }

  /// JSONSerialization gives a boolean as a `char` NSNumber, and never a number as one.
  static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }
}
