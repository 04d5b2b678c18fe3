import Foundation
import SlurmSyntax

/// The terminal a progress line is redrawn on: its width, so a line never wraps (a wrapped line
/// is not erased by `\r` and leaves stale lines behind).
enum Terminal {
  static func columns(fd: Int32 = 2) -> Int? {
    var size = winsize()
    guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
  }

  /// `line` cut to one less than the width (the last column would wrap on some terminals).
  static func fit(_ line: String, fd: Int32 = 2) -> String { fit(line, columns: columns(fd: fd)) }

  static func fit(_ line: String, columns: Int?) -> String {
    guard let columns, line.count > columns - 1 else { return line }
    return String(line.prefix(max(columns - 2, 0))) + "…"
  }

  /// Seconds as `1:02:03` / `2:03`, or `?`.
  static func duration(_ seconds: Double?) -> String {
    guard let seconds, seconds.isFinite, seconds >= 0, seconds < 1e9 else { return "?" }
    return TimeFormat.squeueTime(TimeFormat.seconds(seconds.rounded(.up)))
  }
}

/// `--wait`'s Ctrl-C: the jobs belong to the daemon and keep running; say so and how to follow
/// them, then exit 130. The message is built before the handler is installed (a handler may
/// only write and exit).
enum InterruptNotice {
  nonisolated(unsafe) private static var message: UnsafeMutablePointer<CChar>?
  nonisolated(unsafe) private static var length = 0

  static func install(_ text: String) {
    let bytes = Array(text.utf8CString)
    let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
    buffer.initialize(from: bytes, count: bytes.count)
    message = buffer
    length = bytes.count - 1
    signal(SIGINT) { _ in
      if let m = InterruptNotice.message { _ = write(2, m, InterruptNotice.length) }
      _exit(130)
    }
  }

  static func remove() { signal(SIGINT, SIG_DFL) }
}
