import Foundation
import System

/// The srun steps of one attempt of a job, as `sacct` lists them (`ID.0`, `ID.1`, …). srun
/// appends a line when a step starts and one when it ends, under `flock`, to a file in the job's
/// run directory: `S <step> <start> <cpus> <name>` and `E <step> <end> <exit code> <signal>`.
public struct StepRecord: Sendable, Equatable {
  public var id: Int
  public var name: String
  public var cpus: Int
  public var start: Double
  public var end: Double?
  public var exitCode: Int32?
  public var signal: Int32?
}

public enum StepLog {
  public static func path(runDir: String, attempt: Int) -> String { runDir + "/.orch-steps.\(attempt)" }

  /// Records a step's start and returns its id: the number of steps started before it.
  public static func begin(path: String, name: String, cpus: Int, now: Double) -> Int {
    locked(path) { fd, text in
      let step = text.split(separator: "\n").filter { $0.hasPrefix("S ") }.count
      let clean = String(name.map { $0 == "\n" ? " " : $0 })
      _ = Posix.writeAll(fd, Array("S \(step) \(now) \(cpus) \(clean)\n".utf8))
      return step
    } ?? 0
  }

  public static func end(path: String, step: Int, now: Double, exitCode: Int32?, signal: Int32?) {
    _ = locked(path) { fd, _ in
      Posix.writeAll(
        fd, Array("E \(step) \(now) \(exitCode.map(String.init) ?? "-") \(signal.map(String.init) ?? "-")\n".utf8))
    }
  }

  public static func read(path: String) -> [StepRecord] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    var steps: [StepRecord] = []
    for line in text.split(separator: "\n") {
      let f = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false)
      guard f.count >= 4, let id = Int(f[1]), let time = Double(f[2]) else { continue }
      if f[0] == "S", let cpus = Int(f[3]) {
        steps.append(StepRecord(id: id, name: f.count > 4 ? String(f[4]) : "", cpus: cpus, start: time))
      } else if f[0] == "E", let i = steps.firstIndex(where: { $0.id == id }) {
        steps[i].end = time
        steps[i].exitCode = Int32(f[3])
        steps[i].signal = f.count > 4 ? Int32(f[4]) : nil
      }
    }
    return steps
  }

  /// Runs `body` with the file open for appending, locked, and its current text.
  private static func locked<R>(_ path: String, _ body: (Int32, String) -> R) -> R? {
    let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    flock(fd, LOCK_EX)
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = pread(fd, &buffer, buffer.count, off_t(data.count))
      if n <= 0 { break }
      data.append(contentsOf: buffer[0..<n])
    }
    return body(fd, String(decoding: data, as: UTF8.self))
  }
}
