import Foundation
import XCTest

/// A throwaway ORCH_HOME and a real `orch ui --port 0` process, spoken to over a raw socket (so a
/// path goes to the server exactly as written: no client resolves `..` or re-encodes it).
final class UIHarness {
  let root: URL
  var home: String { root.appendingPathComponent("home").path }
  var runs: String { root.appendingPathComponent("runs").path }
  var ui: Process?
  var daemon: Process?
  var port = 0
  var token = ""
  var printed = ""

  static let binDir: String = {
    if let dir = ProcessInfo.processInfo.environment["ORCH_BIN_DIR"] { return dir }
    let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    return package.appendingPathComponent(".build/debug").path
  }()

  init(_ name: String = #function) throws {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("orch-ui-\(safe)-\(getpid())")
    try? FileManager.default.removeItem(at: root)
    try FileManager.default.createDirectory(atPath: root.path + "/sweeps", withIntermediateDirectories: true)
    guard FileManager.default.isExecutableFile(atPath: Self.binDir + "/orch") else {
      throw XCTSkip("build the binaries first (`swift build`): \(Self.binDir)/orch")
    }
  }

  deinit {
    if let ui, ui.isRunning {
      kill(ui.processIdentifier, SIGTERM)
      ui.waitUntilExit()
    }
    if let daemon, daemon.isRunning {
      kill(daemon.processIdentifier, SIGTERM)
      daemon.waitUntilExit()
    }
    _ = try? run(["daemon", "--stop"])
    try? FileManager.default.removeItem(at: root)
  }

  func write(_ relative: String, _ text: String) throws {
    let url = root.appendingPathComponent(relative)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try text.write(to: url, atomically: true, encoding: .utf8)
  }

  struct Result {
    var code: Int32
    var out: String
    var err: String
  }

  func run(_ args: [String]) throws -> Result {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Self.binDir + "/orch")
    p.arguments = args
    p.currentDirectoryURL = root
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = home
    p.environment = env
    let (out, err) = (Pipe(), Pipe())
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Result(
      code: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
  }

  /// Submits `sweeps/NAME.yaml` with `text`, without starting a daemon.
  func submit(_ name: String, _ text: String, daemon: Bool = false) throws {
    try write("sweeps/\(name).yaml", text)
    var args = ["submit", "sweeps/\(name).yaml", "--output-root", runs]
    if !daemon { args.append("--no-daemon") }
    let r = try run(args)
    XCTAssertEqual(r.code, 0, r.err)
  }

  func startDaemon() throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Self.binDir + "/orch")
    p.arguments = ["daemon", "--foreground", "--cpus", "0", "--kill-wait", "1"]
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = home
    env["ORCH_INGEST_INTERVAL"] = "0.2"
    p.environment = env
    p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    daemon = p
    try waitUntil("the daemon answers", timeout: 30) {
      FileManager.default.fileExists(atPath: self.home + "/orch.sock") && (try? self.run(["queue"]).code) == 0
    }
  }

  /// Starts `orch ui --port 0 ARGS` and reads the URL it prints (port and token).
  func startUI(_ extra: [String] = []) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Self.binDir + "/orch")
    p.arguments = ["ui", "--port", "0"] + extra
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = home
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    ui = p
    let handle = out.fileHandleForReading
    let deadline = Date().addingTimeInterval(60)
    var text = ""
    while Date() < deadline, !text.contains("\n") {
      let data = handle.availableData
      if data.isEmpty { break }
      text += String(decoding: data, as: UTF8.self)
    }
    printed = text
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("orch ui: http://") }),
      let portMatch = line.range(of: #":(\d+)/"#, options: .regularExpression),
      let tokenStart = line.range(of: "?token=")
    else {
      XCTFail("orch ui printed no URL: \(text)")
      throw CancellationError()
    }
    port = Int(line[portMatch].dropFirst().dropLast()) ?? 0
    token = String(line[tokenStart.upperBound...])
  }

  struct Reply {
    var status: Int
    var headers: [String: String]
    var body: String
  }

  /// One HTTP/1.1 request, the path sent byte for byte.
  func request(_ method: String = "GET", _ path: String, headers: [String: String] = [:], body: String? = nil)
    throws -> Reply
  {
    let fd = try connect()
    defer { close(fd) }
    var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    for (k, v) in headers { text += "\(k): \(v)\r\n" }
    if let body {
      text += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n"
    }
    text += "\r\n" + (body ?? "")
    try send(fd, text)
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    // A reply that never ends (an event stream where a page was expected) is cut after 20 s.
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
      var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&p, 1, 100) >= 0 else { break }
      if p.revents == 0 { continue }
      let n = recv(fd, &buffer, buffer.count, 0)
      if n <= 0 { break }
      data.append(contentsOf: buffer[0..<n])
    }
    return try parse(data)
  }

  func parse(_ data: Data) throws -> Reply {
    let bytes = [UInt8](data)
    let separator: [UInt8] = [13, 10, 13, 10]
    guard let split = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<($0 + 4)]) == separator }) else {
      XCTFail("no HTTP reply: \(String(decoding: bytes, as: UTF8.self))")
      throw CancellationError()
    }
    let head = String(decoding: bytes[..<split], as: UTF8.self).components(separatedBy: "\r\n")
    let statusParts = head.first?.split(separator: " ") ?? []
    let status = statusParts.count > 1 ? Int(statusParts[1]) ?? 0 : 0
    var headers: [String: String] = [:]
    for line in head.dropFirst() {
      guard let colon = line.firstIndex(of: ":") else { continue }
      headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    var body = Array(bytes[(split + 4)...])
    if headers["transfer-encoding"] == "chunked" { body = Self.unchunk(body) }
    return Reply(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
  }

  static func unchunk(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while i < bytes.count {
      var j = i
      while j + 1 < bytes.count && !(bytes[j] == 13 && bytes[j + 1] == 10) { j += 1 }
      guard j + 1 < bytes.count, let size = Int(String(decoding: bytes[i..<j], as: UTF8.self), radix: 16), size > 0
      else { break }
      let start = j + 2
      out += bytes[start..<min(start + size, bytes.count)]
      i = start + size + 2
    }
    return out
  }

  /// A page with the token cookie.
  func get(_ path: String) throws -> Reply {
    try request("GET", path, headers: ["Cookie": "orch_token=\(token)"])
  }

  /// Opens `path` as an event stream and reads until `done` holds for what came, or `timeout`.
  func events(_ path: String, timeout: Double, during: () throws -> Void, until done: (String) -> Bool) throws
    -> String
  {
    let fd = try connect()
    defer { close(fd) }
    try send(
      fd,
      "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: orch_token=\(token)\r\nAccept: text/event-stream\r\n\r\n")
    var text = ""
    var buffer = [UInt8](repeating: 0, count: 65536)
    func readSome(_ ms: Int32) {
      var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      if poll(&p, 1, ms) > 0 {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n > 0 { text += String(decoding: buffer[0..<n], as: UTF8.self) }
      }
    }
    // The stream is open (its first bytes came) before anything happens.
    let opened = Date().addingTimeInterval(10)
    while !text.contains("retry:") && Date() < opened { readSome(100) }
    try during()
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline && !done(text) { readSome(100) }
    return text
  }

  func connect() throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard rc == 0 else {
      close(fd)
      XCTFail("cannot connect to 127.0.0.1:\(port)")
      throw CancellationError()
    }
    return fd
  }

  func send(_ fd: Int32, _ text: String) throws {
    let bytes = Array(text.utf8)
    var sent = 0
    while sent < bytes.count {
      let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      guard n > 0 else { throw CancellationError() }
      sent += n
    }
  }

  func waitUntil(_ what: String, timeout: Double = 60, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if try condition() { return }
      usleep(50_000)
    }
    XCTFail("timed out waiting until \(what)")
    throw CancellationError()
  }

  /// The CSRF token a page carries in `<meta name="csrf">`.
  func csrf() throws -> String {
    let page = try get("/").body
    guard let r = page.range(of: #"<meta name="csrf" content="([0-9a-f]+)">"#, options: .regularExpression) else {
      XCTFail("no csrf meta in the page")
      throw CancellationError()
    }
    return String(page[r].dropFirst(#"<meta name="csrf" content=""#.count).dropLast(2))
  }
}
