import Foundation
import OrchCore

/// The real SLURM's client commands (`sbatch`, `scontrol`, `scancel`), run as child processes.
/// Everything orch knows about a SLURM job comes from their output. They come from `--slurm-bin
/// DIR`, else `ORCH_SLURM_BIN`, else `PATH` — where orch's own shims (`orch shims DIR`) may come
/// first and are skipped: asking orch what SLURM did would loop back into the store.
public struct SlurmCommands {
  public var sbatch: String
  var scontrol: String
  var scancel: String
  /// orch's own executables met on `PATH` before the real ones, for the submission's summary.
  public var skipped: [String] = []

  static let binEnvironment = "ORCH_SLURM_BIN"

  /// Finds the commands, or fails with one line naming the first one missing (nothing else has
  /// been done yet: callers locate before they open the store).
  public static func locate(
    binDir: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(OrchError) -> SlurmCommands {
    var skipped: [String] = []
    let named: (origin: String, dir: String)?
    if let binDir {
      named = ("--slurm-bin", binDir)
    } else if let dir = environment[binEnvironment], !dir.isEmpty {
      named = (binEnvironment, dir)
    } else {
      named = nil
    }
    func find(_ name: String) throws(OrchError) -> String {
      if let (origin, dir) = named {
        let base = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        let candidate = (base.hasSuffix("/") ? base : base + "/") + name
        guard access(candidate, X_OK) == 0 else {
          throw OrchError.failure("the SLURM backend needs `\(name)`, which is not in \(origin) \(dir)")
        }
        if isOrch(candidate) {
          throw OrchError.failure("\(candidate) (\(origin)) is orch itself, not SLURM's `\(name)`")
        }
        return candidate
      }
      var shims: [String] = []
      for dir in (environment["PATH"] ?? "").split(separator: ":") where !dir.isEmpty {
        let candidate = "\(dir)/\(name)"
        guard access(candidate, X_OK) == 0 else { continue }
        if isOrch(candidate) {
          shims.append(candidate)
          continue
        }
        skipped += shims
        return candidate
      }
      if !shims.isEmpty {
        throw OrchError.failure(
          "the SLURM backend needs SLURM's `\(name)`, but PATH has only orch's own (\(shims.joined(separator: ", "))); "
            + "name SLURM's directory with --slurm-bin DIR or \(binEnvironment)=DIR")
      }
      throw OrchError.failure("the SLURM backend needs `\(name)`, which is not on PATH (is SLURM installed?)")
    }
    return SlurmCommands(
      sbatch: try find("sbatch"), scontrol: try find("scontrol"), scancel: try find("scancel"), skipped: skipped)
  }

  /// Bytes found in every orch executable (this string, stored once in its read-only data), so a
  /// copy or another build of orch is recognised without running it.
  static let marker = "orch: this executable is orch, not SLURM (SlurmCommands.marker 6f1c9a2e)"

  /// Whether `path` runs orch: this very executable (a symlink or hard link to it, as `orch shims`
  /// makes), or any file holding `marker` (a copy, another version).
  static func isOrch(_ path: String) -> Bool {
    var candidate = stat()
    var own = stat()
    guard stat(path, &candidate) == 0 else { return false }
    if stat("/proc/self/exe", &own) == 0, candidate.st_dev == own.st_dev, candidate.st_ino == own.st_ino {
      return true
    }
    guard (candidate.st_mode & S_IFMT) == S_IFREG, candidate.st_size > 0 else { return false }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let size = Int(candidate.st_size)
    guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else { return false }
    defer { munmap(map, size) }
    return contains(UnsafeRawBufferPointer(start: map, count: size), Array(marker.utf8))
  }

  /// Whether `needle` (non-empty) occurs in `haystack`: memchr for its first byte, then memcmp
  /// (Glibc's memmem is not visible to Swift).
  private static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
    guard let base = haystack.baseAddress, haystack.count >= needle.count else { return false }
    return needle.withUnsafeBytes { n in
      var offset = 0
      let last = haystack.count - needle.count
      while offset <= last {
        guard let hit = memchr(base + offset, Int32(needle[0]), last - offset + 1) else { return false }
        let at = base.distance(to: UnsafeRawPointer(hit))
        if memcmp(base + at, n.baseAddress!, needle.count) == 0 { return true }
        offset = at + 1
      }
      return false
    }
  }

  public struct Output {
    public var code: Int32
    var out: String
    var err: String
    /// stderr (or stdout) on one line, for error messages.
    var message: String {
      let text = err.isEmpty ? out : err
      return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "; ")
    }
  }

  public static func run(_ path: String, _ args: [String], cwd: String? = nil) throws(OrchError) -> Output {
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
  public func config() throws(OrchError) -> [String: String] {
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
    // -d adds the allocation's details: `GRES=gpu:2(IDX:0-1)` names the GPUs SLURM gave.
    let r = try Self.run(scontrol, ["-d", "show", "job", "-o", id])
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
