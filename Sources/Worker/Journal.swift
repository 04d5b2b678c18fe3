import Foundation

/// A worker's record of the job it runs — its start, its events, how it ended — written before the
/// daemon hears of each: a daemon that restarts after a crash reads it to learn what it missed, so
/// no finished job runs twice. When a new order arrives the daemon has committed everything the
/// journal holds, so the worker empties it: it never holds more than one job.
/// Frames: 4-byte little-endian length, then a message.
public struct Journal {
  let fd: Int32

  public init(path: String) throws(WorkerError) {
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    if fd < 0 { throw WorkerError("cannot open journal \(path): \(Posix.errorText())") }
  }

  public func clear() { _ = ftruncate(fd, 0) }

  public func append(_ message: WorkerMessage) {
    let body = message.encoded()
    let n = UInt32(body.count)
    var frame: [UInt8] = [UInt8(n & 0xff), UInt8((n >> 8) & 0xff), UInt8((n >> 16) & 0xff), UInt8(n >> 24)]
    frame.append(contentsOf: body)
    _ = Posix.writeAll(fd, frame)  // one write(2): O_APPEND keeps frames whole
  }

  /// Every whole message in a journal file; a torn last frame is ignored.
  public static func read(path: String) -> [WorkerMessage] {
    guard let data = FileManager.default.contents(atPath: path) else { return [] }
    let bytes = [UInt8](data)
    var messages: [WorkerMessage] = []
    var i = 0
    while i + 4 <= bytes.count {
      let n = Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24
      guard i + 4 + n <= bytes.count else { break }
      if let m = try? WorkerMessage.decode(bytes[(i + 4)..<(i + 4 + n)]) { messages.append(m) }
      i += 4 + n
    }
    return messages
  }
}
