import Foundation

/// One job attempt handed to a pool worker by the daemon.
public struct JobOrder: Sendable, Equatable {
  /// SLURM's `--signal=[B:]SIG[@SECONDS]`: `signal` goes out `seconds` before the time limit, to
  /// the batch shell alone (`batchOnly`) or to every other process of the job (its steps).
  public struct Warning: Codable, Sendable, Hashable {
    public var signal: Int32
    public var seconds: Int
    public var batchOnly: Bool

    public init(signal: Int32, seconds: Int, batchOnly: Bool) {
      self.signal = signal
      self.seconds = seconds
      self.batchOnly = batchOnly
    }
  }

  public var jobID: Int64
  public var attempt: Int
  public var argv: [String]
  /// The complete environment, `NAME=value`.
  public var env: [String]
  public var cwd: String
  public var runDir: String
  public var stdoutPath: String
  /// nil: stderr shares stdout's file.
  public var stderrPath: String?
  public var appendOutput: Bool
  /// Written to `<runDir>/config.json` before the job starts.
  public var configJSON: String
  public var cpus: [Int]
  public var timeLimit: Int?
  public var memLimit: Int64?
  /// Seconds between SIGTERM and SIGKILL (SLURM's KillWait).
  public var killWait: Double
  /// How many of this worker's reports the daemon had committed when it sent the order: when that
  /// is all of them, the worker may drop finished jobs from its journal.
  public var acked: Int
  /// Only honoured with a time limit.
  public var warning: Warning?

  public init(
    jobID: Int64, attempt: Int, argv: [String], env: [String], cwd: String, runDir: String, stdoutPath: String,
    stderrPath: String?, appendOutput: Bool, configJSON: String, cpus: [Int], timeLimit: Int?,
    memLimit: Int64?, killWait: Double, acked: Int = 0, warning: Warning? = nil
  ) {
    self.jobID = jobID
    self.attempt = attempt
    self.argv = argv
    self.env = env
    self.cwd = cwd
    self.runDir = runDir
    self.stdoutPath = stdoutPath
    self.stderrPath = stderrPath
    self.appendOutput = appendOutput
    self.configJSON = configJSON
    self.cpus = cpus
    self.timeLimit = timeLimit
    self.memLimit = memLimit
    self.killWait = killWait
    self.acked = acked
    self.warning = warning
  }
}

/// How an attempt ended, as the worker saw it.
public struct JobReport: Sendable, Equatable {
  public enum Outcome: String, Sendable {
    case completed = "COMPLETED"
    case failed = "FAILED"
    case cancelled = "CANCELLED"
    case timeout = "TIMEOUT"
    case outOfMemory = "OUT_OF_MEMORY"
    /// The order was taken back, or its worker lost, before its process started: the attempt does
    /// not count against the job's attempts.
    case neverStarted = "NEVER_STARTED"
    /// The worker was lost while the process ran: recorded FAILED (`WorkerLost`).
    case workerLost = "WORKER_LOST"

    /// The state this outcome gives the attempt's job.
    public var jobState: String {
      switch self {
      case .neverStarted, .workerLost: "FAILED"
      default: rawValue
      }
    }

    /// The reason recorded for the outcomes that carry their own.
    public var reason: String? {
      switch self {
      case .neverStarted: "NeverStarted"
      case .workerLost: "WorkerLost"
      default: nil
      }
    }
  }
  public var jobID: Int64
  public var attempt: Int
  public var outcome: Outcome
  public var exitCode: Int32?
  public var signal: Int32?
  public var reason: String?
  public var pid: Int32
  public var startTime: Double
  public var endTime: Double

  /// A report for an attempt that never started a process (its order was taken back, or its
  /// worker lost first).
  public static func notStarted(jobID: Int64, attempt: Int, at time: Double) -> JobReport {
    JobReport(
      jobID: jobID, attempt: attempt, outcome: .neverStarted, exitCode: nil, signal: nil,
      reason: Outcome.neverStarted.reason, pid: 0, startTime: time, endTime: time)
  }

  public init(
    jobID: Int64, attempt: Int, outcome: Outcome, exitCode: Int32?, signal: Int32?, reason: String?, pid: Int32,
    startTime: Double, endTime: Double
  ) {
    self.jobID = jobID
    self.attempt = attempt
    self.outcome = outcome
    self.exitCode = exitCode
    self.signal = signal
    self.reason = reason
    self.pid = pid
    self.startTime = startTime
    self.endTime = endTime
  }
}

/// Messages on the daemon ↔ worker socket (`WorkerSocket`) and in worker journals.
/// Fields are NUL-separated strings: argv and environment entries cannot contain NUL, and this
/// costs a few microseconds where JSON costs tens, on the path every job takes.
public enum WorkerMessage: Sendable, Equatable {
  case order(JobOrder)
  case cancel(jobID: Int64, attempt: Int)
  /// Take back an order the worker holds queued behind its running job (it reports it never
  /// started); ignored if the job has started.
  case revoke(jobID: Int64, attempt: Int)
  /// The job process started (journaled by the worker before this is sent).
  case started(jobID: Int64, attempt: Int, pid: Int32)
  /// Complete lines the job wrote on fd 3, starting at byte `offset` of its event stream.
  case events(jobID: Int64, attempt: Int, offset: Int64, data: [UInt8])
  /// The worker dropped `lines` lines (`bytes` bytes) of the event stream from byte `offset` on.
  case dropped(jobID: Int64, attempt: Int, offset: Int64, lines: Int, bytes: Int64, reason: String)
  case report(JobReport)

  public func encoded() -> [UInt8] {
    var w = Wire()
    switch self {
    case .order(let o):
      w.add("O")
      w.add(o.jobID)
      w.add(o.attempt)
      w.add(o.cwd)
      w.add(o.runDir)
      w.add(o.stdoutPath)
      w.add(o.stderrPath ?? "")
      w.add(o.appendOutput ? "1" : "0")
      w.add(o.configJSON)
      w.add(o.cpus.map(String.init).joined(separator: ","))
      w.add(o.timeLimit.map(String.init) ?? "")
      w.add(o.memLimit.map(String.init) ?? "")
      w.add(String(o.killWait))
      w.add(o.acked)
      w.add(o.argv.count)
      for a in o.argv { w.add(a) }
      w.add(o.env.count)
      for e in o.env { w.add(e) }
      // Last and optional, so an order without it reads the same as before.
      if let warning = o.warning {
        w.add("\(warning.signal),\(warning.seconds),\(warning.batchOnly ? "B" : "")")
      }
    case .cancel(let job, let attempt):
      w.add("C")
      w.add(job)
      w.add(attempt)
    case .revoke(let job, let attempt):
      w.add("V")
      w.add(job)
      w.add(attempt)
    case .started(let job, let attempt, let pid):
      w.add("S")
      w.add(job)
      w.add(attempt)
      w.add(Int(pid))
    case .events(let job, let attempt, let offset, let data):
      w.add("E")
      w.add(job)
      w.add(attempt)
      w.add(offset)
      w.bytes.append(contentsOf: data)  // the rest of the message, unterminated
    case .dropped(let job, let attempt, let offset, let lines, let bytes, let reason):
      w.add("D")
      w.add(job)
      w.add(attempt)
      w.add(offset)
      w.add(lines)
      w.add(bytes)
      w.add(reason)
    case .report(let r):
      w.add("R")
      w.add(r.jobID)
      w.add(r.attempt)
      w.add(r.outcome.rawValue)
      w.add(r.exitCode.map { String($0) } ?? "")
      w.add(r.signal.map { String($0) } ?? "")
      w.add(r.reason ?? "")
      w.add(Int(r.pid))
      w.add(String(r.startTime))
      w.add(String(r.endTime))
    }
    return w.bytes
  }

  public static func decode(_ bytes: ArraySlice<UInt8>) throws(WorkerError) -> WorkerMessage {
    var r = WireReader(bytes)
    switch try r.string() {
    case "O":
      let job = try r.int64(), attempt = try r.int(), cwd = try r.string(), runDir = try r.string()
      let out = try r.string(), err = try r.string(), append = try r.string() == "1"
      let config = try r.string()
      let cpus = try r.string().split(separator: ",").compactMap { Int($0) }
      let time = Int(try r.string()), mem = Int64(try r.string())
      let killWait = Double(try r.string()) ?? 30
      let acked = try r.int()
      var argv: [String] = []
      for _ in 0..<(try r.count()) { argv.append(try r.string()) }
      var env: [String] = []
      for _ in 0..<(try r.count()) { env.append(try r.string()) }
      var warning: JobOrder.Warning?
      if !r.rest.isEmpty {
        let parts = try r.string().split(separator: ",", omittingEmptySubsequences: false)
        if parts.count == 3, let signal = Int32(parts[0]), let seconds = Int(parts[1]) {
          warning = JobOrder.Warning(signal: signal, seconds: seconds, batchOnly: parts[2] == "B")
        }
      }
      return .order(
        JobOrder(
          jobID: job, attempt: attempt, argv: argv, env: env, cwd: cwd, runDir: runDir, stdoutPath: out,
          stderrPath: err.isEmpty ? nil : err, appendOutput: append, configJSON: config,
          cpus: cpus, timeLimit: time, memLimit: mem, killWait: killWait, acked: acked, warning: warning))
    case "C":
      return .cancel(jobID: try r.int64(), attempt: try r.int())
    case "V":
      return .revoke(jobID: try r.int64(), attempt: try r.int())
    case "S":
      return .started(jobID: try r.int64(), attempt: try r.int(), pid: try r.int32())
    case "E":
      let job = try r.int64(), attempt = try r.int(), offset = try r.int64()
      return .events(jobID: job, attempt: attempt, offset: offset, data: Array(r.rest))
    case "D":
      let job = try r.int64(), attempt = try r.int(), offset = try r.int64()
      let lines = try r.int(), bytes = try r.int64(), reason = try r.string()
      return .dropped(jobID: job, attempt: attempt, offset: offset, lines: lines, bytes: bytes, reason: reason)
    case "R":
      let job = try r.int64(), attempt = try r.int()
      guard var outcome = JobReport.Outcome(rawValue: try r.string()) else { throw WorkerError("bad outcome") }
      let exit = Int32(try r.string()), signal = Int32(try r.string()), reason = try r.string()
      // Journals written before the outcome was typed said FAILED with the reason.
      if outcome == .failed, reason == "NeverStarted" { outcome = .neverStarted }
      if outcome == .failed, reason == "WorkerLost" { outcome = .workerLost }
      let pid = try r.int32()
      let start = Double(try r.string()) ?? 0, end = Double(try r.string()) ?? 0
      return .report(
        JobReport(
          jobID: job, attempt: attempt, outcome: outcome, exitCode: exit, signal: signal,
          reason: reason.isEmpty ? nil : reason, pid: pid, startTime: start, endTime: end))
    case let other:
      throw WorkerError("unknown worker message '\(other)'")
    }
  }
}

extension WorkerMessage {
  func belongs(to jobID: Int64, attempt: Int) -> Bool {
    switch self {
    case .order(let o): o.jobID == jobID && o.attempt == attempt
    case .cancel(let j, let a), .revoke(let j, let a), .started(let j, let a, _), .events(let j, let a, _, _),
      .dropped(let j, let a, _, _, _, _):
      j == jobID && a == attempt
    case .report(let r): r.jobID == jobID && r.attempt == attempt
    }
  }
}

struct Wire {
  var bytes: [UInt8] = []
  mutating func add(_ s: String) {
    bytes.append(contentsOf: s.utf8)
    bytes.append(0)
  }
  mutating func add(_ i: Int) { add(String(i)) }
  mutating func add(_ i: Int64) { add(String(i)) }
}

struct WireReader {
  var rest: ArraySlice<UInt8>
  init(_ bytes: ArraySlice<UInt8>) { rest = bytes }
  mutating func string() throws(WorkerError) -> String {
    guard let end = rest.firstIndex(of: 0) else { throw WorkerError("truncated worker message") }
    let s = String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
    rest = rest[(end + 1)...]
    return s
  }
  mutating func int() throws(WorkerError) -> Int {
    let s = try string()
    guard let i = Int(s) else { throw WorkerError("bad number '\(s)' in worker message") }
    return i
  }
  mutating func count() throws(WorkerError) -> Int {
    let n = try int()
    guard n >= 0 else { throw WorkerError("bad count \(n) in worker message") }
    return n
  }
  mutating func int32() throws(WorkerError) -> Int32 {
    let s = try string()
    guard let i = Int32(s) else { throw WorkerError("bad number '\(s)' in worker message") }
    return i
  }
  mutating func int64() throws(WorkerError) -> Int64 {
    let s = try string()
    guard let i = Int64(s) else { throw WorkerError("bad number '\(s)' in worker message") }
    return i
  }
}
