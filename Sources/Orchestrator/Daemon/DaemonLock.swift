import Foundation
import OrchCore
import System

/// One daemon per ORCH_HOME: an exclusive `flock` on `daemon.lock`, which holds the pid.
/// The kernel drops the lock when the process dies, even by `kill -9`.
public struct DaemonLock {
  let fd: Int32

  static func acquire(home: OrchHome) throws(OrchError) -> DaemonLock {
    let fd = open(home.lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    if fd < 0 { throw OrchError.failure("cannot open \(home.lockPath): \(Posix.errorText())") }
    if flock(fd, LOCK_EX | LOCK_NB) != 0 {
      close(fd)
      let pid = holder(home: home).map { " (pid \($0))" } ?? ""
      throw OrchError.failure("a daemon is already running for \(home.path)\(pid)")
    }
    ftruncate(fd, 0)
    _ = Posix.writeAll(fd, Array("\(getpid())\n".utf8))
    return DaemonLock(fd: fd)
  }

  func release() { close(fd) }

  /// The pid written by the daemon holding the lock, if one holds it.
  public static func holder(home: OrchHome) -> Int32? {
    let fd = open(home.lockPath, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return nil }
    defer { close(fd) }
    if flock(fd, LOCK_SH | LOCK_NB) == 0 {
      flock(fd, LOCK_UN)
      return nil
    }
    guard let text = try? String(contentsOfFile: home.lockPath, encoding: .utf8) else { return nil }
    return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
  }
}
