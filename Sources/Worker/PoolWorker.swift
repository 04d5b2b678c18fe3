import CSupport
import Foundation

/// A long-lived worker process of the daemon's pool (`orch-worker serve`). It receives job orders
/// on its control socket, pins itself to the order's CPUs and spawns the job (which inherits the
/// pinning), enforces the time and memory limits, and reports how the attempt ended — first to its
/// journal, then to the daemon. If the daemon dies it finishes the job it has, journals the
/// outcome and exits, so a restarted daemon can adopt the result instead of running the job again.
public final class PoolWorker {
  struct Running {
    var order: JobOrder
    var pid: pid_t
    var pidfd: Int32
    var start: Double
    var deadline: Double?
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
  /// How often resident memory is sampled for jobs with a memory limit.
  let memoryInterval = 0.5

  public init(controlFD: Int32, journalPath: String) throws(WorkerError) {
    control = controlFD
    journal = try Journal(path: journalPath)
    _ = fcntl(controlFD, F_SETFD, FD_CLOEXEC)
    signal(SIGPIPE, SIG_IGN)
  }

  public func serve() -> Never {
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      var fds: [pollfd] = []
      if controlOpen { fds.append(pollfd(fd: control, events: Int16(POLLIN), revents: 0)) }
      if let job = running { fds.append(pollfd(fd: job.pidfd, events: Int16(POLLIN), revents: 0)) }
      if fds.isEmpty { exit(0) }
      let rc = poll(&fds, nfds_t(fds.count), timeoutMillis())
      if rc < 0 && errno != EINTR { exit(1) }
      for fd in fds where fd.revents != 0 {
        if fd.fd == control {
          let n = recv(control, &buffer, buffer.count, 0)
          if n <= 0 {
            if n < 0 && errno == EINTR { continue }
            controlOpen = false
            if running == nil { exit(0) }
            continue
          }
          handle(buffer[0..<n])
        } else {
          reap()
        }
      }
      enforceLimits()
    }
  }

  func timeoutMillis() -> Int32 {
    guard let job = running else { return -1 }
    let next = [job.deadline, job.killAt, job.nextMemoryCheck].compactMap { $0 }.min()
    guard let next else { return -1 }
    return Int32(max(0, min(60_000, (next - Posix.now()) * 1000)).rounded(.up))
  }

  func handle(_ bytes: ArraySlice<UInt8>) {
    guard let message = try? WorkerMessage.decode(bytes) else { return }
    switch message {
    case .order(let order):
      guard running == nil else { return }
      launch(order)
    case .cancel(let job, let attempt):
      guard var r = running, r.order.jobID == job, r.order.attempt == attempt, !r.cancelled else { return }
      r.cancelled = true
      terminate(&r)
      running = r
    case .started, .report:
      return
    }
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
      let events = open(order.eventsPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
      if events < 0 { throw WorkerError("cannot open \(order.eventsPath): \(Posix.errorText())") }
      defer { close(events) }
      try Posix.pin(to: order.cpus)
      let pid = try Spawn.start(
        argv: order.argv, env: order.env, cwd: order.cwd, stdout: out, stderr: err, events: events)
      let pidfd = orch_pidfd_open(pid)
      if pidfd < 0 { throw WorkerError("pidfd_open: \(Posix.errorText(-pidfd))") }
      _ = fcntl(pidfd, F_SETFD, FD_CLOEXEC)
      journal.append(.started(jobID: order.jobID, attempt: order.attempt, pid: pid))
      var job = Running(order: order, pid: pid, pidfd: pidfd, start: start)
      if let limit = order.timeLimit { job.deadline = start + Double(limit) }
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
          reason: message, pid: 0, startTime: start, endTime: Posix.now(), eventsBytes: 0))
    }
  }

  func openLog(_ order: JobOrder) throws -> Int32 {
    let fd = open(order.stdoutPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    if fd < 0 { throw WorkerError("log") }
    return fd
  }

  func reap() {
    guard let job = running else { return }
    var status: Int32 = 0
    let rc = waitpid(job.pid, &status, WNOHANG)
    guard rc == job.pid else { return }
    close(job.pidfd)
    // The batch process is gone; whatever it left behind in its group goes with it (as SLURM does).
    kill(-job.pid, SIGKILL)
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
    var st = stat()
    let eventsBytes = stat(job.order.eventsPath, &st) == 0 ? Int64(st.st_size) : 0
    running = nil
    finish(
      JobReport(
        jobID: job.order.jobID, attempt: job.order.attempt, outcome: outcome, exitCode: exitCode, signal: signal,
        reason: reason, pid: job.pid, startTime: job.start, endTime: Posix.now(), eventsBytes: eventsBytes))
  }

  func finish(_ report: JobReport) {
    journal.append(.report(report))
    if controlOpen {
      let bytes = WorkerMessage.report(report).encoded()
      if send(control, bytes, bytes.count, Int32(MSG_NOSIGNAL)) < 0 { controlOpen = false }
    }
    if !controlOpen { exit(0) }
  }

  /// SIGTERM to the whole group now, SIGKILL after the grace period.
  func terminate(_ job: inout Running) {
    kill(-job.pid, SIGCONT)
    kill(-job.pid, SIGTERM)
    if job.killAt == nil { job.killAt = Posix.now() + job.order.killWait }
  }

  func enforceLimits() {
    guard var job = running else { return }
    let now = Posix.now()
    if let deadline = job.deadline, now >= deadline, !job.timedOut {
      job.timedOut = true
      job.deadline = nil
      terminate(&job)
    }
    if let killAt = job.killAt, now >= killAt {
      kill(-job.pid, SIGKILL)
      job.killAt = nil
    }
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
