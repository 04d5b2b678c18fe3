import Foundation
import System

/// A worker's record of the job it runs — its start, its events, how it ended — written before the
/// daemon hears of each: a daemon that restarts after a crash reads it to learn what it missed, so
/// no finished job runs twice. Readers match entries by (job, attempt), so entries the daemon has
/// committed are harmless; the worker drops them (`compact`) once the journal has grown and the
/// daemon has acknowledged every report in it.
/// Frames: 4-byte little-endian length, then a message.
public final class Journal {
  let path: String
  var fd: Int32
  /// Bytes appended since the journal was last emptied or rewritten.
  public private(set) var size = 0

  public init(path: String) throws(WorkerError) {
    self.path = path
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    if fd < 0 { throw WorkerError("cannot open journal \(path): \(Posix.errorText())") }
    size = Int(lseek(fd, 0, SEEK_END))
  }

  public func append(_ message: WorkerMessage) {
    let frame = Self.frame(message)
    _ = Posix.writeAll(fd, frame)  // one write(2): O_APPEND keeps frames whole
    size += frame.count
  }

  /// Keeps only the entries of `keep` (the job still running, if any). Rewritten into a new file
  /// that replaces the old one by `rename`, so a crash leaves one whole journal or the other.
  public func compact(keep: (jobID: Int64, attempt: Int)?) {
    guard let keep else {
      _ = ftruncate(fd, 0)
      size = 0
      return
    }
    let kept = Self.read(path: path).filter { $0.belongs(to: keep.jobID, attempt: keep.attempt) }
    let temporary = path + ".tmp"
    let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard out >= 0 else { return }
    let bytes = kept.flatMap(Self.frame)
    guard Posix.writeAll(out, bytes), rename(temporary, path) == 0 else {
      close(out)
      unlink(temporary)
      return
    }
    close(fd)
    _ = fcntl(out, F_SETFL, O_APPEND)
    fd = out
    size = bytes.count
  }

  static func frame(_ message: WorkerMessage) -> [UInt8] {
    let body = message.encoded()
    let n = UInt32(body.count)
    var frame: [UInt8] = [UInt8(n & 0xff), UInt8((n >> 8) & 0xff), UInt8((n >> 16) & 0xff), UInt8(n >> 24)]
    frame.append(contentsOf: body)
    return frame
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
