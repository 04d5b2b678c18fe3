import CSupport
import Foundation
import System

/// A long-lived worker process of the daemon's pool (`orch-worker serve`). It receives job orders
/// on its control socket, pins itself to the order's CPUs and spawns the job (which inherits the
/// pinning), forwards the job's fd-3 event lines, enforces the time and memory limits, and reports
/// how the attempt ended — each first to its journal, then to the daemon. It may hold orders
/// queued behind the running job and start the next the moment the running one ends, without
/// waiting for the daemon's round trip (the daemon sends them when jobs are short). If the daemon
/// dies it finishes the job it has, drops the queued orders, journals the outcome and exits, so a
/// restarted daemon can adopt the result instead of running the job again.
public final class PoolWorker {
  struct Running {
    var order: JobOrder
    var pid: pid_t
    var pidfd: Int32
    /// Read end of the job's fd 3; -1 once it reached end of file.
    var events: Int32
    var stream = EventStream()
    var start: Double
    var deadline: Double?
    /// When `--signal` fires (before the deadline).
    var warnAt: Double?
    var killAt: Double?
    var nextMemoryCheck: Double?
    var cancelled = false
    var timedOut = false
    var outOfMemory = false
  }

  let control: Int32
  let journal: Journal
  var controlOpen = true
  var running: Running?
  /// Orders to start, in turn, as soon as `running` ends; they have journaled nothing yet.
  var queued: [JobOrder] = []
  var reportsSent = 0
  /// Journal size above which entries the daemon has committed are dropped.
  let compactAbove = 256 << 10
  /// How often resident memory is sampled for jobs with a memory limit.
  let memoryInterval = 0.5
  /// Event bytes read per wakeup: a job that writes without pause still leaves the worker time for
  /// its socket and the job's limits.
  static let readLimit = 1 << 20

  public init(controlFD: Int32, journalPath: String) throws(WorkerError) {
    control = controlFD
    journal = try Journal(path: journalPath)
    _ = fcntl(controlFD, F_SETFD, FD_CLOEXEC)
    signal(SIGPIPE, SIG_IGN)
  }

  public func serve() -> Never {
    var buffer = [UInt8](repeating: 0, count: Self.readLimit)
    var packet = WorkerSocket.buffer()
    while true {
      var fds: [pollfd] = []
      if controlOpen { fds.append(pollfd(fd: control, events: Int16(POLLIN), revents: 0)) }
      if let job = running {
        fds.append(pollfd(fd: job.pidfd, events: Int16(POLLIN), revents: 0))
        if job.events >= 0 { fds.append(pollfd(fd: job.events, events: Int16(POLLIN), revents: 0)) }
      }
      if fds.isEmpty { exit(0) }
      let rc = poll(&fds, nfds_t(fds.count), timeoutMillis())
      if rc < 0 && errno != EINTR { exit(1) }
      for fd in fds where fd.revents != 0 {
        if fd.fd == control {
          switch WorkerSocket.receive(control, into: &packet) {
          case .message(let message): handle(message)
          case .damaged(let damage): handle(damage)
          case .retry: continue
          case .closed:
            controlOpen = false
            if running == nil { exit(0) }
          }
        } else if fd.fd == running?.events {
          readEvents(&buffer)
        } else {
          reap(&buffer)
        }
      }
      enforceLimits()
    }
  }

  func timeoutMillis() -> Int32 {
    guard let job = running else { return -1 }
    let next = [job.deadline, job.warnAt, job.killAt, job.nextMemoryCheck].compactMap { $0 }.min()
    guard let next else { return -1 }
    return Int32(max(0, min(60_000, (next - Posix.now()) * 1000)).rounded(.up))
  }

  func handle(_ message: WorkerMessage) {
    switch message {
    case .order(let order):
      if order.acked == reportsSent && journal.size > compactAbove {
        journal.compact(keep: running.map { ($0.order.jobID, $0.order.attempt) })
      }
      if running == nil && queued.isEmpty {
        launch(order)
      } else {
        queued.append(order)
      }
    case .cancel(let job, let attempt):
      if let i = queued.firstIndex(where: { $0.jobID == job && $0.attempt == attempt }) {
        finishUnstarted(queued.remove(at: i), outcome: .cancelled, reason: "Cancelled")
        return
      }
      guard var r = running, r.order.jobID == job, r.order.attempt == attempt, !r.cancelled else { return }
      r.cancelled = true
      terminate(&r)
      running = r
    case .revoke(let job, let attempt):
      guard let i = queued.firstIndex(where: { $0.jobID == job && $0.attempt == attempt }) else { return }
      finishUnstarted(queued.remove(at: i), outcome: .neverStarted, reason: "NeverStarted")
    case .started, .events, .dropped, .report:
      return
    }
  }

  /// A message from the daemon that could not be read: an order fails with the reason (it would
  /// otherwise stay RUNNING, unstarted, for good); anything else is only logged.
  func handle(_ damage: WorkerSocket.Damage) {
    FileHandle.standardError.write(Data("orch-worker \(getpid()): \(damage)\n".utf8))
    guard damage.kind == "O", let job = damage.jobID, let attempt = damage.attempt else { return }
    let now = Posix.now()
    finish(
      JobReport(
        jobID: job, attempt: attempt, outcome: .failed, exitCode: nil, signal: nil,
        reason: "cannot read the order: \(damage.reason)", pid: 0, startTime: now, endTime: now))
  }

  /// Reports a queued order that never ran.
  func finishUnstarted(_ order: JobOrder, outcome: JobReport.Outcome, reason: String) {
    let now = Posix.now()
    finish(
      JobReport(
        jobID: order.jobID, attempt: order.attempt, outcome: outcome, exitCode: nil, signal: nil, reason: reason,
        pid: 0, startTime: now, endTime: now))
  }

  func launch(_ order: JobOrder) {
    let start = Posix.now()
    do {
      try Posix.makeDirectories(order.runDir)
      try Posix.makeDirectories((order.stdoutPath as NSString).deletingLastPathComponent)
      try Posix.writeFile(order.runDir + "/config.json", order.configJSON)
      let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (order.appendOutput ? O_APPEND : O_TRUNC)
      let out = open(order.stdoutPath, flags, 0o644)
      if out < 0 { throw WorkerError("cannot open \(order.stdoutPath): \(Posix.errorText())") }
      defer { close(out) }
      var err = out
      if let path = order.stderrPath {
        try Posix.makeDirectories((path as NSString).deletingLastPathComponent)
        err = open(path, flags, 0o644)
        if err < 0 { throw WorkerError("cannot open \(path): \(Posix.errorText())") }
      }
      defer { if err != out { close(err) } }
      // fd 3 is a pipe, not a file: no inode per job, and events reach the store while the job runs.
      var pipe: [Int32] = [-1, -1]
      guard Glibc.pipe(&pipe) == 0 else { throw WorkerError("pipe: \(Posix.errorText())") }
      for fd in pipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
      defer { close(pipe[1]) }
      try Posix.pin(to: order.cpus)
      // Journaled before the spawn: a worker killed before it journals the pid leaves an attempt
      // that may be running, never one that looks unstarted (and so would be run again).
      journal.append(.started(jobID: order.jobID, attempt: order.attempt, pid: 0))
      let pid: pid_t
      do {
        pid = try Spawn.start(
          argv: order.argv, env: order.env, cwd: order.cwd, stdout: out, stderr: err, events: pipe[1])
      } catch {
        close(pipe[0])
        throw error
      }
      FaultPoint.hit("worker-after-spawn")
      journal.append(.started(jobID: order.jobID, attempt: order.attempt, pid: pid))
      _ = fcntl(pipe[0], F_SETFL, O_NONBLOCK)
      let pidfd = orch_pidfd_open(pid)
      if pidfd < 0 {
        kill(-pid, SIGKILL)
        throw WorkerError("pidfd_open: \(Posix.errorText(-pidfd))")
      }
      _ = fcntl(pidfd, F_SETFD, FD_CLOEXEC)
      var job = Running(order: order, pid: pid, pidfd: pidfd, events: pipe[0], start: start)
      if let limit = order.timeLimit {
        job.deadline = start + Double(limit)
        if let warning = order.warning {
          job.warnAt = start + Double(max(0, limit.subtractingReportingOverflow(warning.seconds).partialValue))
        }
      }
      if order.memLimit != nil { job.nextMemoryCheck = start + memoryInterval }
      running = job
    } catch {
      let message = "\(error)"
      if let out = try? openLog(order) {
        _ = Posix.writeAll(out, Array("orch: \(message)\n".utf8))
        close(out)
      }
      finish(
        JobReport(
          jobID: order.jobID, attempt: order.attempt, outcome: .failed, exitCode: 127, signal: nil,
          reason: message, pid: 0, startTime: start, endTime: Posix.now()))
    }
  }

  func openLog(_ order: JobOrder) throws -> Int32 {
    let fd = open(order.stdoutPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    if fd < 0 { throw WorkerError("log") }
    return fd
  }

  /// Forwards complete event lines (journal first), and notices of dropped ones. At end of file,
  /// or when the job has ended (`final`: what is buffered is all there is), a last unterminated
  /// line too.
  func readEvents(_ buffer: inout [UInt8], final: Bool = false) {
    guard var job = running, job.events >= 0 else { return }
    var atEnd = final
    var total = 0
    // After the job ended, a process that escaped its group may still hold fd 3: read what is
    // there, not forever.
    let limit = final ? 64 * Self.readLimit : Self.readLimit
    while total < limit {
      let n = read(job.events, &buffer, buffer.count)
      if n > 0 {
        total += n
        forward(job.stream.feed(buffer[0..<n]), of: job.order)
        continue
      }
      if n < 0 && errno == EINTR { continue }
      atEnd = atEnd || n == 0
      break
    }
    if atEnd {
      forward(job.stream.finish(), of: job.order)
      close(job.events)
      job.events = -1
    }
    running = job
  }

  func forward(_ pieces: [EventStream.Piece], of order: JobOrder) {
    for piece in pieces {
      let message: WorkerMessage
      switch piece {
      case .lines(let offset, let data):
        message = .events(jobID: order.jobID, attempt: order.attempt, offset: offset, data: data)
      case .dropped(let offset, let lines, let bytes, let reason):
        message = .dropped(
          jobID: order.jobID, attempt: order.attempt, offset: offset, lines: lines, bytes: bytes,
          reason: reason.rawValue)
      }
      journal.append(message)
      send(message)
    }
  }

  /// Says in the job's log what the worker dropped of its event stream (each drop is also a
  /// `warning` event in the store).
  func noteDropped(_ job: Running) {
    guard job.stream.droppedLines > 0, let out = try? openLog(job.order) else { return }
    let text =
      "orch: \(job.stream.droppedLines) event line(s) (\(job.stream.droppedBytes) bytes) dropped from fd 3: "
      + "over \(job.stream.maxLine) bytes, or past the attempt's \(job.stream.budget)-byte event budget\n"
    _ = Posix.writeAll(out, Array(text.utf8))
    close(out)
  }

  func reap(_ buffer: inout [UInt8]) {
    guard let current = running else { return }
    var status: Int32 = 0
    let rc = waitpid(current.pid, &status, WNOHANG)
    guard rc == current.pid else { return }
    close(current.pidfd)
    // The batch process is gone; whatever it left behind in its group goes with it (as SLURM does).
    kill(-current.pid, SIGKILL)
    // What the group wrote before it ended is still buffered in the pipe.
    readEvents(&buffer, final: true)
    guard let job = running else { return }
    noteDropped(job)
    let exited = (status & 0x7f) == 0
    let exitCode: Int32? = exited ? (status >> 8) & 0xff : nil
    let signal: Int32? = exited ? nil : status & 0x7f
    var outcome: JobReport.Outcome
    var reason: String?
    if job.cancelled {
      outcome = .cancelled
      reason = "Cancelled"
    } else if job.outOfMemory {
      outcome = .outOfMemory
      reason = "OutOfMemory"
    } else if job.timedOut {
      outcome = .timeout
      reason = "TimeLimit"
    } else if exitCode == 0 {
      outcome = .completed
    } else {
      outcome = .failed
      reason = exitCode != nil ? "NonZeroExitCode" : "Signal \(signal ?? 0)"
    }
    running = nil
    finish(
      JobReport(
        jobID: job.order.jobID, attempt: job.order.attempt, outcome: outcome, exitCode: exitCode, signal: signal,
        reason: reason, pid: job.pid, startTime: job.start, endTime: Posix.now()))
    // A launch that fails reports at once and leaves `running` empty: go on to the next.
    while running == nil && !queued.isEmpty { launch(queued.removeFirst()) }
  }

  /// Journals and sends a report. Without a daemon listening, the worker's work is over: queued
  /// orders are dropped (they journaled nothing, so a new daemon undoes their claims).
  func finish(_ report: JobReport) {
    journal.append(.report(report))
    FaultPoint.hit("worker-after-journaling-report")
    send(.report(report))
    reportsSent += 1
    if !controlOpen { exit(0) }
  }

  /// A message that cannot be sent leaves the worker on its own: its journal, which already holds
  /// the message, is how the daemon learns the rest.
  func send(_ message: WorkerMessage) {
    guard controlOpen else { return }
    let rc = WorkerSocket.send(control, message)
    if rc != 0 {
      if rc != EPIPE && rc != ECONNRESET {
        FileHandle.standardError.write(Data("orch-worker \(getpid()): cannot send: \(Posix.errorText(rc))\n".utf8))
      }
      controlOpen = false
    }
  }

  /// SIGTERM to the whole group now, SIGKILL after the grace period.
  func terminate(_ job: inout Running) {
    let due = GroupStop.begin(job.pid, grace: job.order.killWait)
    if job.killAt == nil { job.killAt = due }
  }

  func enforceLimits() {
    guard var job = running else { return }
    let now = Posix.now()
    if let warnAt = job.warnAt, now >= warnAt {
      job.warnAt = nil
      if !job.cancelled && !job.timedOut, let warning = job.order.warning {
        JobSignals.warn(shell: job.pid, warning)
      }
    }
    if let deadline = job.deadline, now >= deadline, !job.timedOut {
      job.timedOut = true
      job.deadline = nil
      terminate(&job)
    }
    job.killAt = GroupStop.killIfDue(job.pid, killAt: job.killAt, now: now)
    if let check = job.nextMemoryCheck, now >= check, let limit = job.order.memLimit {
      if Posix.residentBytes(processGroup: job.pid) > limit {
        job.outOfMemory = true
        job.nextMemoryCheck = nil
        kill(-job.pid, SIGKILL)
      } else {
        job.nextMemoryCheck = now + memoryInterval
      }
    }
    running = job
  }
}
