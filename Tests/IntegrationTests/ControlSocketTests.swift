import Foundation
import XCTest

/// The daemon's control socket under a misbehaving client.
final class ControlSocketTests: XCTestCase {
  func connect(_ path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
      for (i, b) in Array(path.utf8).enumerated() { raw[i] = b }
    }
    let rc = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    XCTAssertEqual(rc, 0)
    // A daemon that never answers fails the test instead of hanging it.
    var limit = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    return fd
  }

  /// A request line that never ends is refused once it passes the limit and its connection closed;
  /// the daemon goes on serving (before, it kept every byte for as long as the client sent them).
  func testEndlessRequestIsRefusedAndTheDaemonServesOn() throws {
    let c = try Cluster()
    try c.startDaemon(cpus: "0")
    let fd = try connect(c.home + "/orch.sock")
    defer { close(fd) }
    let block = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 16)
    var sent = 0
    while sent < 16 << 20 {
      let n = send(fd, block, block.count, Int32(MSG_NOSIGNAL))
      if n <= 0 { break }
      sent += n
    }
    XCTAssertLessThan(sent, 16 << 20, "the daemon stopped reading and closed the connection")
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = recv(fd, &buffer, buffer.count, 0)
      if n <= 0 { break }
      reply += buffer[0..<n]
    }
    XCTAssertTrue(String(decoding: reply, as: UTF8.self).contains("request longer than"), "\(reply.count) bytes")
    XCTAssertEqual(try c.run(["queue"]).code, 0)
    XCTAssertEqual(c.daemon?.isRunning, true)
  }
}
