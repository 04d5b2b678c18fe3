import CSupport
import Foundation
import System

/// The daemon ↔ worker socket (a SOCK_SEQPACKET pair): one message per packet, packets of at most
/// `inlineLimit` bytes. A longer message (an order carrying a large config or environment, an
/// event line over a chunk) is written to an anonymous memory file whose descriptor travels on a
/// small reference packet: the kernel's socket buffer (~208 KiB by default) is no limit of the
/// protocol, and nothing is left on disk whoever dies. Receivers size their buffer from
/// `inlineLimit` and detect a longer packet (MSG_TRUNC) instead of reading a cut one as whole.
public enum WorkerSocket {
  /// The longest packet either side sends.
  public static let inlineLimit = 96 << 10
  /// The longest message either side accepts by reference.
  public static let maxMessage = 1 << 30

  /// A buffer for `receive`.
  public static func buffer() -> [UInt8] { [UInt8](repeating: 0, count: inlineLimit) }

  /// What the daemon sends inline: the few orders it may have in flight to one worker then fit in
  /// the socket buffer together, so the daemon never blocks on a worker that is itself blocked
  /// sending it events.
  public static let orderInlineLimit = 16 << 10

  /// Sends one message whole, inline up to `inline` bytes; returns 0 or the errno of what failed
  /// (EPIPE: the peer is gone).
  public static func send(_ socket: Int32, _ message: WorkerMessage, inline: Int = inlineLimit) -> Int32 {
    let bytes = message.encoded()
    if bytes.count <= min(inline, inlineLimit) {
      let rc = bytes.withUnsafeBytes { orch_send_packet(socket, $0.baseAddress, $0.count, -1) }
      // A socket buffer set smaller than `inlineLimit`: the message goes by reference instead.
      guard rc == EMSGSIZE else { return rc }
    }
    return sendByReference(socket, bytes)
  }

  static func sendByReference(_ socket: Int32, _ bytes: [UInt8]) -> Int32 {
    guard bytes.count <= maxMessage else { return EMSGSIZE }
    let file = orch_memfd("orch-message")
    if file < 0 { return -file }
    defer { close(file) }
    guard Posix.writeAll(file, bytes) else { return errno }
    var packet = Wire()
    packet.add(referenceKind)
    // The message's own header (kind, job, attempt) goes along: a receiver that cannot read the
    // rest still knows which job lost what.
    var header = WireReader(bytes[...])
    for _ in 0..<3 { packet.add((try? header.string()) ?? "") }
    packet.add(bytes.count)
    return packet.bytes.withUnsafeBytes { orch_send_packet(socket, $0.baseAddress, $0.count, file) }
  }

  static let referenceKind = "L"

  public enum Received: Sendable, Equatable {
    case message(WorkerMessage)
    /// A packet arrived but its message could not be read whole: what it was about, if that much
    /// survived.
    case damaged(Damage)
    /// End of file or a socket error: the peer is gone.
    case closed
    /// Interrupted, or nothing to read yet.
    case retry
  }

  public struct Damage: Sendable, Equatable, CustomStringConvertible {
    public var kind: String?
    public var jobID: Int64?
    public var attempt: Int?
    public var reason: String

    public var description: String {
      let subject = jobID.map { " (\(kind ?? "?") for job \($0) attempt \(attempt.map(String.init) ?? "?"))" } ?? ""
      return "damaged message\(subject): \(reason)"
    }
  }

  /// Receives one message; `buffer` comes from `buffer()`.
  public static func receive(_ socket: Int32, into buffer: inout [UInt8]) -> Received {
    var file: Int32 = -1
    var truncated: Int32 = 0
    let n = buffer.withUnsafeMutableBytes {
      orch_recv_packet(socket, $0.baseAddress, $0.count, &file, &truncated)
    }
    defer { if file >= 0 { close(file) } }
    if n < 0 { return n == -EINTR || n == -EAGAIN ? .retry : .closed }
    if n == 0 && truncated == 0 { return .closed }
    let packet = buffer[0..<n]
    if truncated != 0 { return .damaged(damage(packet, "packet longer than \(inlineLimit) bytes, cut")) }
    var reader = WireReader(packet)
    if (try? reader.string()) == referenceKind {
      return readReference(packet, file: file)
    }
    do { return .message(try WorkerMessage.decode(packet)) } catch { return .damaged(damage(packet, "\(error)")) }
  }

  static func readReference(_ packet: ArraySlice<UInt8>, file: Int32) -> Received {
    var reader = WireReader(packet)
    _ = try? reader.string()
    let inner = reader.rest
    for _ in 0..<3 { _ = try? reader.string() }
    guard let length = try? reader.int(), length >= 0, length <= maxMessage else {
      return .damaged(damage(inner, "bad reference packet"))
    }
    guard file >= 0 else { return .damaged(damage(inner, "reference packet without its file")) }
    let size = lseek(file, 0, SEEK_END)
    guard size == off_t(length) else {
      return .damaged(damage(inner, "message file of \(size) bytes, \(length) announced"))
    }
    var bytes = [UInt8](repeating: 0, count: length)
    var done = 0
    while done < length {
      let n = bytes.withUnsafeMutableBytes { pread(file, $0.baseAddress! + done, length - done, off_t(done)) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else {
        return .damaged(damage(inner, "message file: \(n < 0 ? Posix.errorText() : "\(done) of \(length) bytes")"))
      }
      done += n
    }
    do { return .message(try WorkerMessage.decode(bytes[...])) } catch { return .damaged(damage(inner, "\(error)")) }
  }

  /// What a damaged packet's header still says.
  static func damage(_ packet: ArraySlice<UInt8>, _ reason: String) -> Damage {
    var reader = WireReader(packet)
    let kind = try? reader.string()
    let job = try? reader.int64()
    let attempt = job == nil ? nil : try? reader.int()
    return Damage(kind: kind, jobID: job, attempt: attempt, reason: reason)
  }
}
