import Foundation

/// The real SLURM's client commands (`sbatch`, `scontrol`, `scancel`), found on `PATH` and run as
/// child processes. Everything orch knows about a SLURM job comes from their output.
struct SlurmCommands {
  var sbatch: String
  var scontrol: String
  var scancel: String

  /// Finds the commands, or fails with one line naming the first one missing (nothing else has
  /// been done yet: callers locate before they open the store).
  static func locate(path: String? = ProcessInfo.processInfo.environment["PATH"]) throws(OrchError) -> SlurmCommands {
    func find(_ name: String) throws(OrchError) -> String {
      for dir in (path ?? "").split(separator: ":") where !dir.isEmpty {
        let candidate = "\(dir)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
      }
      throw OrchError.failure("the SLURM backend needs `\(name)`, which is not on PATH (is SLURM installed?)")
    }
    return SlurmCommands(sbatch: try find("sbatch"), scontrol: try find("scontrol"), scancel: try find("scancel"))
  }

  struct Output {
    var code: Int32
    var out: String
    var err: String
    /// stderr (or stdout) on one line, for error messages.
    var message: String {
      let text = err.isEmpty ? out : err
      return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "; ")
    }
  }

  static func run(_ path: String, _ args: [String], cwd: String? = nil) throws(OrchError) -> Output {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch { throw OrchError.failure("cannot run \(path): \(error)") }
    // stdout may be large (an array's records); stderr is a line or two and fits the pipe.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Output(
      code: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
  }

  /// `scontrol show config` as `Name → value`.
  func config() throws(OrchError) -> [String: String] {
    let r = try Self.run(scontrol, ["show", "config"])
    guard r.code == 0 else { throw OrchError.failure("scontrol show config failed: \(r.message)") }
    var values: [String: String] = [:]
    for line in r.out.split(separator: "\n") {
      guard let eq = line.range(of: " = ") else { continue }
      values[line[..<eq.lowerBound].trimmingCharacters(in: .whitespaces)] =
        line[eq.upperBound...].trimmingCharacters(in: .whitespaces)
    }
    return values
  }

  /// `sbatch --parsable ARGS SCRIPT`: the array's job id.
  func submit(script: String, args: [String], cwd: String) throws(OrchError) -> Int {
    let r = try Self.run(sbatch, ["--parsable"] + args + [script], cwd: cwd)
    let first = r.out.split(separator: "\n").first.map { $0.split(separator: ";")[0] } ?? ""
    guard r.code == 0, let id = Int(first.trimmingCharacters(in: .whitespaces)) else {
      throw OrchError.failure("sbatch failed (exit \(r.code)): \(r.message)")
    }
    return id
  }

  /// `scontrol show job -o ID`: one record per element (pending elements collapsed into one);
  /// nil when SLURM no longer knows the job (after MinJobAge, or cancelled while pending).
  func showJob(_ id: String) throws(OrchError) -> [SlurmRecord]? {
    let r = try Self.run(scontrol, ["show", "job", "-o", id])
    if r.code != 0 {
      if r.err.contains("Invalid job id") { return nil }
      throw OrchError.failure("scontrol show job \(id) failed: \(r.message)")
    }
    return r.out.split(separator: "\n").map { SlurmRecord(line: $0) }
  }

  /// `scancel ID…` (elements `12_3`), in batches.
  func cancel(_ ids: [String]) throws(OrchError) {
    var start = 0
    while start < ids.count {
      let batch = Array(ids[start..<min(ids.count, start + 500)])
      let r = try Self.run(scancel, batch)
      guard r.code == 0 else { throw OrchError.failure("scancel failed: \(r.message)") }
      start += batch.count
    }
  }
}
