import CSupport
import Foundation

/// Small POSIX helpers shared by the worker and the daemon.
public enum Posix {
  public static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
  }

  public static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

  /// `mkdir -p`.
  public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
    if mkdir(path, mode) == 0 || errno == EEXIST { return }
    guard errno == ENOENT else { throw SystemError("cannot create directory \(path): \(errorText())") }
    let parent = (path as NSString).deletingLastPathComponent
    if parent.isEmpty || parent == path { throw SystemError("cannot create directory \(path)") }
    try makeDirectories(parent, mode: mode)
    if mkdir(path, mode) != 0 && errno != EEXIST {
      throw SystemError("cannot create directory \(path): \(errorText())")
    }
  }

  public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
      if n < 0 {
        if errno == EINTR { continue }
        return false
      }
      offset += n
    }
    return true
  }

  /// Writes a small file atomically enough for our use: truncate and write in one go.
  public static func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) throws(SystemError) {
    try writeFile(path, bytes: Array(text.utf8), mode: mode)
  }

  public static func writeFile(_ path: String, bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    if fd < 0 { throw SystemError("cannot write \(path): \(errorText())") }
    defer { close(fd) }
    if !writeAll(fd, bytes) { throw SystemError("cannot write \(path): \(errorText())") }
  }

  /// The CPUs this process may run on.
  public static func allowedCPUs(pid: pid_t = 0) -> [Int] {
    var buffer = [Int32](repeating: 0, count: 1024)
    let n = orch_get_affinity(pid, &buffer, Int32(buffer.count))
    return n > 0 ? buffer[0..<Int(n)].map(Int.init) : []
  }

  public static func pin(to cpus: [Int], pid: pid_t = 0) throws(SystemError) {
    let list = cpus.map(Int32.init)
    let rc = orch_set_affinity(pid, list, Int32(list.count))
    if rc != 0 { throw SystemError("cannot pin to CPUs \(cpus): \(errorText(-rc))") }
  }

  /// Whether a process exists (and is not a zombie we could reap).
  public static func alive(_ pid: pid_t) -> Bool { pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) }

  /// The processes of process group `pgid` (from /proc).
  public static func processGroup(_ pgid: pid_t) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    var out: [pid_t] = []
    for entry in entries where entry.first?.isNumber == true {
      guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { continue }
      // After "comm)": state, ppid, pgrp, …
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      if fields.count > 2, pid_t(fields[2]) == pgid { out.append(pid) }
    }
    return out
  }

  /// Resident memory of every process in process group `pgid`, in bytes (from /proc).
  public static func residentBytes(processGroup pgid: pid_t) -> Int64 {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
    let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
    var total: Int64 = 0
    for entry in entries where entry.first?.isNumber == true {
      guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { continue }
      // Fields after "comm)": state ppid pgrp ... rss is field 24 overall, 22 after the comm.
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      guard fields.count > 21, Int32(fields[2]) == pgid, let rss = Int64(fields[21]) else { continue }
      total += rss * page
    }
    return total
  }
}
