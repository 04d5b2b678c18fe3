import Foundation
import System

/// The daemon's Unix socket (mode 0600 in ORCH_HOME). A request is one line of JSON; the reply
/// (if the client waits for one) is one line of JSON. Submissions only send `wake`.
public enum ControlRequest: Codable, Sendable, Equatable {
  /// Something was submitted, released or requeued: re-check dependencies and claim.
  case wake
  case ping
  /// End the RUNNING jobs whose cancel the store records. The ids are the caller's; the daemon
  /// acts on what the store says, so a request that is lost or repeated changes nothing.
  case cancel(jobs: [Int64])
  case shutdown
}

public enum ControlReply: Codable, Sendable, Equatable {
  case ok(pid: Int32)
  /// The cancel was applied: `signalled` jobs got SIGTERM now (SIGKILL after `killWait` seconds).
  case cancelling(pid: Int32, signalled: [Int64], killWait: Double)
  case refused(pid: Int32, message: String)

  public var accepted: Bool {
    if case .refused = self { return false }
    return true
  }

  public var pid: Int32 {
    switch self {
    case .ok(let pid), .cancelling(let pid, _, _), .refused(let pid, _): pid
    }
  }

  public var killWait: Double? {
    if case .cancelling(_, _, let killWait) = self { return killWait }
    return nil
  }
}

public enum ControlSocket {
  static func address(_ path: String) throws(OrchError) -> sockaddr_un {
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
      throw OrchError.failure("socket path too long: \(path)")
    }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
      for (i, b) in bytes.enumerated() { raw[i] = b }
    }
    return addr
  }

  /// Binds and listens; the socket file is created 0600.
  public static func listen(path: String) throws(OrchError) -> Int32 {
    unlink(path)
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    if fd < 0 { throw OrchError.failure("socket: \(Posix.errorText())") }
    var addr = try address(path)
    let old = umask(0o177)
    let rc = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    umask(old)
    if rc != 0 { throw OrchError.failure("cannot bind \(path): \(Posix.errorText())") }
    if Glibc.listen(fd, 64) != 0 { throw OrchError.failure("listen: \(Posix.errorText())") }
    return fd
  }

  static func connect(path: String) -> Int32? {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0, var addr = try? address(path) else { return nil }
    let rc = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    if rc != 0 {
      close(fd)
      return nil
    }
    return fd
  }

  /// Sends a request; waits for the reply unless `wait` is false. nil: no daemon is listening.
  public static func send(_ request: ControlRequest, path: String, wait: Bool = true) -> ControlReply? {
    guard let fd = connect(path: path) else { return nil }
    defer { close(fd) }
    guard let data = try? JSONEncoder().encode(request) else { return nil }
    var line = [UInt8](data)
    line.append(UInt8(ascii: "\n"))
    guard Posix.writeAll(fd, line) else { return nil }
    if !wait { return .ok(pid: 0) }
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = read(fd, &buffer, buffer.count)
      if n <= 0 { break }
      reply.append(contentsOf: buffer[0..<n])
      if reply.last == UInt8(ascii: "\n") { break }
    }
    return try? JSONDecoder().decode(ControlReply.self, from: Data(reply))
  }
}
