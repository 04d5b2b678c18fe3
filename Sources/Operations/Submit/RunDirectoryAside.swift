import Foundation
import OrchCore
import Store
import System

/// `--force` reruns a COMPLETED config from scratch. The new job's run directory is the same path
/// (output root + key) and the engine resumes from any checkpoint it finds there, so what the
/// previous job left is moved aside first, to `<run dir>.replaced-<old job id>`: nothing is deleted,
/// and the new attempt starts in an empty directory. The moves happen inside the submission's
/// transaction, so no daemon can claim the new job before they are done; the store's checkpoint and
/// artifact paths of the old job follow them. Run directories of nested keys (`a/b` inside `a`,
/// recognised by their `config.json`) stay where they are.
public final class RunDirectoryAside {
  public struct Move: Codable {
    public var from: String
    public var to: String
  }

  public private(set) var moves: [Move] = []
  private var created: [String] = []
  private var renamed: [(from: String, to: String)] = []

  public init() {}

  /// Moves the contents of `runDir` aside (nothing when it is empty or missing).
  public func moveAside(runDir: String, replacing old: ExistingJob, configHash: String, tx: Submission) throws {
    let fm = FileManager.default
    guard let entries = try? fm.contentsOfDirectory(atPath: runDir) else { return }
    let moving = entries.sorted().filter { !Self.holdsRun(runDir + "/" + $0) }
    guard !moving.isEmpty else { return }
    var aside = "\(runDir).replaced-\(old.display)"
    var n = 1
    while fm.fileExists(atPath: aside) || (try? fm.destinationOfSymbolicLink(atPath: aside)) != nil {
      n += 1
      aside = "\(runDir).replaced-\(old.display).\(n)"
    }
    guard mkdir(aside, 0o755) == 0 else {
      throw OrchError.failure("cannot create \(aside) to move the old run aside: \(Posix.errorText())")
    }
    created.append(aside)
    for entry in moving {
      let from = runDir + "/" + entry
      let to = aside + "/" + entry
      guard rename(from, to) == 0 else {
        throw OrchError.failure("cannot move \(from) aside to \(to): \(Posix.errorText())")
      }
      renamed.append((from, to))
    }
    try tx.moveRunPaths(from: runDir, to: aside, configHash: configHash)
    moves.append(Move(from: runDir, to: aside))
  }

  /// Puts everything back (the submission did not commit).
  public func undo() {
    for (from, to) in renamed.reversed() { rename(to, from) }
    for dir in created.reversed() { rmdir(dir) }
    renamed = []
    created = []
    moves = []
  }

  /// Whether `path` is a directory holding another job's run directory (a `config.json` at or
  /// below it); symbolic links are not followed.
  static func holdsRun(_ path: String) -> Bool {
    var st = stat()
    guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return false }
    if FileManager.default.fileExists(atPath: path + "/config.json") { return true }
    guard let below = FileManager.default.enumerator(atPath: path) else { return false }
    while let item = below.nextObject() as? String {
      if (item as NSString).lastPathComponent == "config.json" { return true }
    }
    return false
  }
}
