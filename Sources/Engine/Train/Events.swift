import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What a training job reports: the worker event protocol of DESIGN.md.
public enum EngineEvent: Sendable, Equatable {
  case metric(name: String, value: Double, epoch: Int, step: Int)
  case checkpoint(epoch: Int, step: Int, path: String, bytes: Int, sha256: String)
  case artifact(name: String, path: String)
  case heartbeat
  /// Final metrics, written once at the end of a completed run.
  case done(metrics: [String: Double])

  public var type: String {
    switch self {
    case .metric: "metric"
    case .checkpoint: "checkpoint"
    case .artifact: "artifact"
    case .heartbeat: "heartbeat"
    case .done: "done"
    }
  }

  /// The event's fields as one JSON object (without `seq`/`time`); non-finite numbers become
  /// null, which JSON cannot otherwise carry.
  public var json: String { jsonObject(prefix: "") }

  func jsonObject(prefix: String) -> String {
    var out = "{" + prefix + "\"type\":\"\(type)\""
    func field(_ key: String, _ value: String) { out += ",\"\(key)\":" + value }
    switch self {
    case .metric(let name, let value, let epoch, let step):
      field("name", ConfigValue.quote(name))
      field("value", Self.number(value))
      field("epoch", String(epoch))
      field("step", String(step))
    case .checkpoint(let epoch, let step, let path, let bytes, let sha256):
      field("epoch", String(epoch))
      field("step", String(step))
      field("path", ConfigValue.quote(path))
      field("bytes", String(bytes))
      field("sha256", ConfigValue.quote(sha256))
    case .artifact(let name, let path):
      field("name", ConfigValue.quote(name))
      field("path", ConfigValue.quote(path))
    case .heartbeat:
      break
    case .done(let metrics):
      let entries = metrics.keys.sorted().map { "\(ConfigValue.quote($0)):\(Self.number(metrics[$0]!))" }
      field("metrics", "{" + entries.joined(separator: ",") + "}")
    }
    return out + "}"
  }

  static func number(_ d: Double) -> String {
    guard d.isFinite else { return "null" }
    if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
    return "\(d)"
  }
}

/// Receives a training job's events.
public protocol EventSink: AnyObject {
  func emit(_ event: EngineEvent)
}

/// Writes events as JSON lines, each with a `seq` increasing from 1 and a Unix `time`, to a file
/// descriptor — the worker protocol's fd 3. Write errors are remembered, not thrown: losing the
/// event channel must not kill a training run (its checkpoints and files still land on disk).
public final class EventStream: EventSink, @unchecked Sendable {
  private let fd: Int32?
  private let lock = NSLock()
  public private(set) var seq = 0
  /// The first write error, if any.
  public private(set) var writeError: String?

  /// `fd` nil: events are counted and dropped.
  public init(fd: Int32?) {
    self.fd = fd
  }

  /// fd `ORCH_EVENTS_FD` when set (the worker sets 3), else a stream that drops events.
  public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
    -> EventStream
  {
    EventStream(fd: environment["ORCH_EVENTS_FD"].flatMap { Int32($0) }.flatMap { $0 >= 0 ? $0 : nil })
  }

  public func emit(_ event: EngineEvent) {
    lock.lock()
    defer { lock.unlock() }
    seq += 1
    guard let fd else { return }
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    let now = Double(time.tv_sec) + Double(time.tv_nsec / 1_000_000) / 1000
    let line = Array((event.jsonObject(prefix: "\"seq\":\(seq),\"time\":\(now),") + "\n").utf8)
    // One write per line: atomic on a pipe up to PIPE_BUF, and readers split on newlines.
    line.withUnsafeBytes { buf in
      var done = 0
      while done < buf.count {
        let n = write(fd, buf.baseAddress! + done, buf.count - done)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 {
          if writeError == nil { writeError = "event write to fd \(fd) failed: \(String(cString: strerror(errno)))" }
          return
        }
        done += n
      }
    }
  }
}
