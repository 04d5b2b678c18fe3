import Foundation
import Store
import Worker

/// `ORCH_HOME` (default `~/.local/state/orch`): the store, the daemon's lock and socket, worker
/// journals, and the default output root. Created mode 0700; its files are 0600.
public struct OrchHome: Sendable {
  public let path: String

  public init(path: String? = nil) throws(OrchError) {
    let env = ProcessInfo.processInfo.environment
    let chosen =
      path ?? env["ORCH_HOME"]
      ?? ((env["HOME"] ?? NSHomeDirectory()) + "/.local/state/orch")
    self.path = chosen.hasPrefix("/") ? chosen : FileManager.default.currentDirectoryPath + "/" + chosen
    do {
      try Posix.makeDirectories(self.path, mode: 0o700)
      try Posix.makeDirectories(workers, mode: 0o700)
    } catch {
      throw OrchError.failure("cannot create ORCH_HOME \(self.path): \(error)")
    }
  }

  public var storePath: String { path + "/orch.db" }
  public var lockPath: String { path + "/daemon.lock" }
  public var socketPath: String { path + "/orch.sock" }
  public var workers: String { path + "/workers" }
  public var daemonLog: String { path + "/daemon.log" }
  public var defaultOutputRoot: String { path + "/runs" }

  public func openStore() throws(OrchError) -> JobStore {
    do { return try JobStore(path: storePath) } catch { throw OrchError.failure("\(error)") }
  }
}

/// Store errors become Orchestrator failures with their context.
/// An OrchError thrown inside a transaction comes back out as itself.
func storeCall<T>(_ body: () throws(StoreError) -> T) throws(OrchError) -> T {
  do { return try body() } catch {
    if let own = error.underlying as? OrchError { throw own }
    throw OrchError.failure(error.message)
  }
}
