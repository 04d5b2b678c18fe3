import Foundation

/// Test seams for the crash windows the kill campaign found. With `ORCH_FAULT=name[,name…]` in its
/// environment a daemon or worker kills itself with SIGKILL on reaching that point, once: the first
/// process to create `ORCH_FAULT_ONCE` (a path) fires, so a replacement process does not. Without
/// the variable each point is one dictionary lookup.
public enum FaultPoint {
  static let armed: Set<Substring> = Set(
    (ProcessInfo.processInfo.environment["ORCH_FAULT"] ?? "").split(separator: ","))
  static let once = ProcessInfo.processInfo.environment["ORCH_FAULT_ONCE"]

  public static func hit(_ name: String) {
    guard armed.contains(Substring(name)) else { return }
    if let once {
      let fd = open(once + "." + name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
      guard fd >= 0 else { return }
      close(fd)
    }
    kill(getpid(), SIGKILL)
  }
}
