import Foundation
import Store
import System

/// `ORCH_HOME` (default `~/.local/state/orch`): the store, the daemon's lock and socket, worker
/// journals, and the default output root. Created mode 0700; its files are 0600.
///
/// Whoever can write the home decides what runs: a store planted there queues jobs, a socket
/// answers as the daemon, a journal reports outcomes. So, as ssh does for its files, a home
/// not owned by the caller, or writable by group or others, is refused before anything in it is
/// read or created (not tightened: the write may already have happened, and the directory may be
/// a shared one such as /tmp); so is anything orch keeps at its top (store, socket, lock, log,
/// journals, run and SLURM directories) owned by another user. A home readable by others but
/// writable only by its owner is used as it is.
public struct OrchHome: Sendable {
  public let path: String

  public init(path: String? = nil) throws(OrchError) {
    let env = ProcessInfo.processInfo.environment
    // An empty ORCH_HOME (`ORCH_HOME=$UNSET`) is unset, not the working directory.
    let chosen =
      path ?? env["ORCH_HOME"].flatMap { $0.isEmpty ? nil : $0 }
      ?? ((env["HOME"] ?? NSHomeDirectory()) + "/.local/state/orch")
    self.path = chosen.hasPrefix("/") ? chosen : FileManager.default.currentDirectoryPath + "/" + chosen
    do {
      try Posix.makeDirectories(self.path, mode: 0o700)
    } catch {
      throw OrchError.failure("cannot create ORCH_HOME \(self.path): \(error)")
    }
    try Self.checkPrivate(self.path, what: "ORCH_HOME \(self.path)")
    for entry in [
      "orch.db", "orch.db-wal", "orch.db-shm", "orch.sock", "daemon.lock", "daemon.log", "workers", "runs", "slurm",
      "analysis", "node.json",
    ] {
      try Self.checkOwned(self.path + "/" + entry)
    }
    do {
      try Posix.makeDirectories(workers, mode: 0o700)
    } catch {
      throw OrchError.failure("cannot create ORCH_HOME \(self.path): \(error)")
    }
    try Self.checkPrivate(workers, what: "\(workers)")
  }

  /// `path` (followed if a symlink) is a directory owned by the caller and not writable by
  /// group or others.
  static func checkPrivate(_ path: String, what: String) throws(OrchError) {
    var info = stat()
    guard stat(path, &info) == 0 else { throw OrchError.failure("cannot stat \(what): \(Posix.errorText())") }
    guard info.st_mode & S_IFMT == S_IFDIR else { throw OrchError.badInput("\(what) is not a directory") }
    guard info.st_uid == geteuid() else {
      throw OrchError.badInput(
        "\(what) is owned by \(userName(info.st_uid)), not by you (\(userName(geteuid()))): refusing to use another"
          + " user's store and daemon; set ORCH_HOME to a directory of your own")
    }
    let mode = info.st_mode & 0o7777
    guard mode & 0o022 == 0 else {
      let writers = [(mode_t(0o020), "group"), (0o002, "others")].filter { mode & $0.0 != 0 }.map(\.1)
        .joined(separator: " and ")
      throw OrchError.badInput(
        "\(what) has mode \(String(mode, radix: 8)), writable by \(writers): another user"
          + " could have replaced its store, socket or journals; check what it holds, then `chmod 700 \(path)`")
    }
  }

  /// `path`, if it exists (not followed), belongs to the caller.
  static func checkOwned(_ path: String) throws(OrchError) {
    var info = stat()
    guard lstat(path, &info) == 0 else {
      if errno == ENOENT { return }
      throw OrchError.failure("cannot stat \(path): \(Posix.errorText())")
    }
    guard info.st_uid == geteuid() else {
      throw OrchError.badInput(
        "\(path) is owned by \(userName(info.st_uid)), not by you (\(userName(geteuid()))): refusing to use a store,"
          + " socket or journal another user put in your ORCH_HOME; move it away")
    }
  }

  static func userName(_ uid: uid_t) -> String {
    guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
    return "\(String(cString: name)) (uid \(uid))"
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
public func storeCall<T>(_ body: () throws(StoreError) -> T) throws(OrchError) -> T {
  do { return try body() } catch {
    if let own = error.underlying as? OrchError { throw own }
    throw OrchError.failure(error.message)
  }
}
