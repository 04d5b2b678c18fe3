import Analysis
import Engine
import Foundation
import NIOCore
import OrchCore
import Store

/// `orch ui`: the store in a browser. It runs as its own process, reading the store through
/// read-only SQLite connections (a WAL reader never blocks the daemon's writes, and a crash here
/// cannot take the daemon down); only an action opens a writable handle, for that action.
public enum UIServer {
  public struct Options: Sendable {
    public var host: String
    public var port: Int
    public var token: String?
    public var open: Bool

    public init(host: String, port: Int, token: String?, open: Bool) {
      self.host = host
      self.port = port
      self.token = token
      self.open = open
    }
  }

  public static func isLoopback(_ host: String) -> Bool {
    ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased())
  }

  /// Serves until interrupted; prints `orch ui: URL` (with the token) on stdout once listening.
  public static func run(_ options: Options, home: OrchHome) throws(OrchError) {
    guard (0...65535).contains(options.port) else {
      throw OrchError.badInput("--port \(options.port): expected 0 to 65535")
    }
    if let token = options.token {
      guard token.count >= 16, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ";") }) else {
        throw OrchError.badInput("--token: expected at least 16 printable characters without spaces or ';'")
      }
    }
    // Applies any pending migration once, with a normal handle; every page then reads read-only.
    _ = try home.openStore()
    let state = UIState(
      home: home, token: options.token ?? Secrets.random(), csrf: Secrets.random())
    if !isLoopback(options.host) && options.token == nil {
      FileHandle.standardError.write(
        Data("orch ui: listening on \(options.host), not loopback: every request needs the token below\n".utf8))
    }
    let channel: any Channel
    do {
      channel = try HTTPServer.bind(
        host: options.host.trimmingCharacters(in: ["[", "]"]), port: options.port,
        respond: { UIResponder(state: state).respond(to: $0) })
    } catch {
      throw OrchError.failure("orch ui: cannot listen on \(options.host):\(options.port): \(error)")
    }
    let port = channel.localAddress?.port ?? options.port
    let host = options.host
    let shown = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    let url = "http://\(shown):\(port)/?token=\(state.token)"
    // Unbuffered (a write(2)): whoever started us reads the line at once.
    Output.print("orch ui: \(url)\n")
    if options.open { Browser.open(url) }
    do { try channel.closeFuture.wait() } catch { throw OrchError.failure("orch ui: \(error)") }
  }
}

enum Browser {
  /// `--open`: the first of xdg-open, sensible-browser, open that exists; nothing when none does.
  static func open(_ url: String) {
    for tool in ["xdg-open", "sensible-browser", "open"] {
      for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(tool)"
        guard FileManager.default.isExecutableFile(atPath: path) else { continue }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [url]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        if (try? process.run()) != nil { return }
      }
    }
    FileHandle.standardError.write(Data("orch ui: no browser found; open the URL above\n".utf8))
  }
}

/// What every request shares: the home, the tokens, read-only store connections.
final class UIState: @unchecked Sendable {
  let home: OrchHome
  let token: String
  let csrf: String
  private let lock = NSLock()
  private var idle: [JobStore] = []
  private var bindings: [Int64: [String: ConfigValue]] = [:]

  init(home: OrchHome, token: String, csrf: String) {
    self.home = home
    self.token = token
    self.csrf = csrf
  }

  /// Runs `body` on a read-only connection from a small pool (one per concurrent request).
  func read<T>(_ body: (JobStore) throws -> T) throws -> T {
    let store = try lock.withLock { idle.popLast() } ?? openReadOnly()
    defer { lock.withLock { if idle.count < 4 { idle.append(store) } } }
    return try body(store)
  }

  /// A job's bindings, parsed once: its config never changes under its id.
  func bindings(_ job: ResultJob) -> [String: ConfigValue] {
    if let known = lock.withLock({ bindings[job.row.id] }) { return known }
    let parsed = ResultsTable.bindings(job.config)
    lock.withLock { bindings[job.row.id] = parsed }
    return parsed
  }

  func openReadOnly() throws -> JobStore {
    do { return try JobStore(readOnly: home.storePath) } catch { throw OrchError.failure("\(error)") }
  }
}

enum Secrets {
  /// 32 random bytes as hex (SystemRandomNumberGenerator reads the kernel's getrandom).
  static func random() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
  }

  /// Equal strings, in time that depends only on their lengths.
  static func equal(_ a: String, _ b: String) -> Bool {
    let (x, y) = (Array(a.utf8), Array(b.utf8))
    var diff = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) {
      diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return diff == 0
  }
}
