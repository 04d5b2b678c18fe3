import CSupport
import Foundation
import GRDB
import Store
import Worker

/// The daemon: one per ORCH_HOME. A single-threaded `poll` loop owns all mutable state (worker
/// pool, free cores, active jobs), so there is nothing to lock; it blocks with no timeout while
/// idle and wakes on its socket, a worker's report, or a timer that exists only while jobs run.
public final class Daemon {
  public struct Options: Sendable {
    public var cpus: [Int]
    /// Seconds between SIGTERM and SIGKILL at the time limit or on cancel (SLURM's KillWait).
    public var killWait: Double
    public var workerBinary: String

    public init(cpus: [Int], killWait: Double, workerBinary: String) {
      self.cpus = cpus
      self.killWait = killWait
      self.workerBinary = workerBinary
    }
  }

  struct Active {
    var job: ClaimedJob
    var cpus: [Int]
    var cancelRequested = false
  }

  struct Slot {
    var pid: pid_t
    var fd: Int32
    var journal: String
    var active: Active?
  }

  /// A job still run by a worker of a previous daemon: watched through a pidfd on that worker.
  struct Adopted {
    var workerPID: pid_t
    var pidfd: Int32
    var jobID: Int64
    var attempt: Int
    var cpus: [Int]
    var journal: String?
  }

  let home: OrchHome
  let store: JobStore
  let options: Options
  let host: String
  var freeCPUs: [Int]
  var slots: [Slot] = []
  var adopted: [Adopted] = []
  var launches: [Int64: LaunchSpec] = [:]
  var listenFD: Int32 = -1
  var signalFD: Int32 = -1
  var clients: [Int32: [UInt8]] = [:]
  var reports: [(slot: Int, report: JobReport)] = []
  var events: [EventChunk] = []
  /// Whether anything happened that a `step` could act on (a report, events, a submission).
  var dirty = true
  var checkDependencies = true
  /// Set while a job waits on an `after:id+minutes` delay.
  var nextDependencyCheck: Double?
  var stopping = false
  var workerSerial = 0
  let log: DaemonLog

  public init(home: OrchHome, options: Options) throws(OrchError) {
    self.home = home
    self.options = options
    self.store = try home.openStore()
    self.freeCPUs = options.cpus.sorted()
    self.host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
    self.log = DaemonLog()
  }

  /// Takes the lock, recovers what a previous daemon left RUNNING, starts the pool and serves.
  public func run() throws(OrchError) {
    let lock = try DaemonLock.acquire(home: home)
    defer { lock.release() }
    signalFD = orch_signalfd()
    signal(SIGPIPE, SIG_IGN)
    listenFD = try ControlSocket.listen(path: home.socketPath)
    log.say("daemon \(getpid()) started on CPUs \(options.cpus.map(String.init).joined(separator: ","))")
    try recover()
    for _ in 0..<options.cpus.count { try startWorker() }
    try serve()
    log.say("daemon \(getpid()) stopping")
    unlink(home.socketPath)
  }

  // MARK: - The loop

  func serve() throws(OrchError) {
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while !stopping {
      try step()
      var fds: [pollfd] = [
        pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
        pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0),
      ]
      for fd in clients.keys { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
      for slot in slots { fds.append(pollfd(fd: slot.fd, events: Int16(POLLIN), revents: 0)) }
      for a in adopted { fds.append(pollfd(fd: a.pidfd, events: Int16(POLLIN), revents: 0)) }
      // No timeout unless a dependency delay is pending: an idle daemon sleeps here.
      let rc = poll(&fds, nfds_t(fds.count), timeoutMillis())
      if rc < 0 && errno != EINTR { throw OrchError.failure("poll: \(Posix.errorText())") }
      for pfd in fds where pfd.revents != 0 {
        if pfd.fd == listenFD {
          acceptClient()
        } else if pfd.fd == signalFD {
          let signo = orch_signalfd_read(signalFD)
          if signo > 0 {
            log.say("received signal \(signo)")
            stopping = true
          }
        } else if clients[pfd.fd] != nil {
          readClient(pfd.fd)
        } else if let index = slots.firstIndex(where: { $0.fd == pfd.fd }) {
          readWorker(index, &buffer)
        } else if let index = adopted.firstIndex(where: { $0.pidfd == pfd.fd }) {
          try adoptedWorkerExited(index)
        }
      }
      if let next = nextDependencyCheck, Posix.now() >= next { dirty = true }
    }
  }

  func timeoutMillis() -> Int32 {
    guard let next = nextDependencyCheck else { return -1 }
    return Int32(max(0, min(60_000, (next - Posix.now()) * 1000)).rounded(.up))
  }

  /// One transaction: record finished attempts, re-evaluate dependencies if needed, claim work for
  /// idle workers. Orders are sent only after the commit, so nothing runs that the store lacks.
  func step() throws(OrchError) {
    guard dirty else { return }
    dirty = false
    let finished = reports
    let chunks = events
    reports = []
    events = []
    var free = freeCPUs
    var ended: [(report: JobReport, active: Active?)] = []
    for (slot, report) in finished {
      let active = slots[slot].active.flatMap { $0.job.id == report.jobID ? $0 : nil }
      if let active { free.append(contentsOf: active.cpus) }
      ended.append((report, active))
    }
    free.sort()
    let idle = slots.indices.filter { i in slots[i].active == nil || finished.contains { $0.slot == i } }
    let now = Posix.now()
    var claimed: [(slot: Int, active: Active)] = []
    do {
      try store.write("while recording finished jobs and claiming new ones") { db in
        try EventIngest.ingest(db, chunks, now: now)
        for (report, active) in ended {
          try self.record(db, report, cancelRequested: active?.cancelRequested ?? false)
        }
        if self.checkDependencies || self.nextDependencyCheck.map({ now >= $0 }) == true {
          self.nextDependencyCheck = try DependencyCheck.run(db, now: now) ? now + 10 : nil
        }
        guard !self.stopping else { return }
        for slot in idle {
          guard !free.isEmpty,
            let job = try JobStore.claim(
              db, freeCPUs: free.count, now: now, workerPID: self.slots[slot].pid, cpus: { Array(free.prefix($0)) })
          else { break }
          let cpus = Array(free.prefix(job.cpus))
          free.removeFirst(job.cpus)
          if self.launches[job.arrayID] == nil {
            self.launches[job.arrayID] = try LaunchSpec.decode(JobStore.launch(db, arrayID: job.arrayID))
          }
          claimed.append((slot, Active(job: job, cpus: cpus)))
        }
      }
    } catch {
      reports = finished + reports
      events = chunks + events
      throw OrchError.failure("\(error)")
    }
    checkDependencies = false
    for (slot, report) in finished where slots[slot].active?.job.id == report.jobID { slots[slot].active = nil }
    freeCPUs = free
    for (slot, active) in claimed {
      slots[slot].active = active
      send(slot, .order(order(for: active)))
    }
  }

  /// Records an attempt's end; a terminal state of a dependency target (or of a job a singleton
  /// waits behind) triggers a re-check.
  func record(_ db: Database, _ report: JobReport, cancelRequested: Bool) throws {
    var state = JobState(rawValue: report.outcome.rawValue) ?? .failed
    var reason = report.reason
    if cancelRequested && state != .completed {
      state = .cancelled
      reason = "Cancelled"
    }
    let outcome = AttemptOutcome(
      jobID: report.jobID, attempt: report.attempt, state: state, exitCode: report.exitCode, signal: report.signal,
      reason: reason, endTime: report.endTime, started: report.reason != JobReport.neverStarted)
    let result = try JobStore.finish(db, outcome)
    // An sbatch job whose worker was lost is requeued unless it was submitted with --no-requeue.
    let lost = result == .terminal(.failed) && report.reason == "WorkerLost"
    if lost, try SbatchRequeue.afterLostWorker(db, report.jobID) { return }
    if case .terminal = result, let arrayID = try arrayOf(db, jobID: report.jobID),
      try JobStore.isDependencyTarget(db, arrayID: arrayID) || JobStore.singletonWaits(db, behind: arrayID)
    {
      checkDependencies = true
    }
  }

  func arrayOf(_ db: Database, jobID: Int64) throws -> Int64? {
    try Int64.fetchOne(db.cachedStatement(sql: "SELECT array_id FROM jobs WHERE id = ?"), arguments: [jobID])
  }

  func order(for active: Active) -> JobOrder {
    let job = active.job
    let launch = launches[job.arrayID] ?? LaunchSpec(env: [:], cwd: "/", submitHost: host)
    let config = JobConfig.parse(job.config)
    let identity = JobIdentity(
      jobID: job.id, arrayID: job.arrayID, arrayIndex: job.arrayIndex, isArray: job.isArray, attempt: job.attempt,
      name: job.name, key: job.key, runDir: job.runDir, home: home.path)
    let env = JobEnvironment.build(launch: launch, extra: config.env, job: identity, cpus: active.cpus, host: host)
    let paths = OutputPaths.resolve(launch: launch, job: identity, host: host)
    // An engine job is the worker binary in engine mode; a command job is its own argv.
    let argv =
      config.engine != nil ? [options.workerBinary, "engine", "--run-dir", job.runDir] : config.argv ?? launch.argv
    return JobOrder(
      jobID: job.id, attempt: job.attempt, argv: argv ?? ["/bin/false"], env: env,
      cwd: launch.cwd, runDir: job.runDir, stdoutPath: paths.stdout, stderrPath: paths.stderr,
      appendOutput: launch.appendOutput || job.attempt > 1, configJSON: job.config, cpus: active.cpus,
      timeLimit: job.timeLimit, memLimit: job.memLimit,
      killWait: options.killWait, warning: launch.warning)
  }

  // MARK: - Workers

  func startWorker() throws(OrchError) { slots.append(try makeWorker()) }

  /// Spawns a pool worker connected by a SOCK_SEQPACKET pair (its end becomes the worker's fd 3).
  func makeWorker() throws(OrchError) -> Slot {
    var pair: [Int32] = [0, 0]
    guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
      throw OrchError.failure("socketpair: \(Posix.errorText())")
    }
    defer { close(pair[1]) }
    workerSerial += 1
    let journal = home.workers + "/\(getpid())-\(workerSerial).journal"
    let logFD = open(home.daemonLog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    defer { if logFD >= 0 { close(logFD) } }
    let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
    do {
      let pid = try Spawn.start(
        argv: [options.workerBinary, "serve", "--control-fd", "3", "--journal", journal], env: env, cwd: nil,
        stdout: logFD, stderr: logFD, events: pair[1])
      return Slot(pid: pid, fd: pair[0], journal: journal, active: nil)
    } catch {
      close(pair[0])
      throw OrchError.failure("cannot start worker \(options.workerBinary): \(error)")
    }
  }

  func send(_ slot: Int, _ message: WorkerMessage) {
    let bytes = message.encoded()
    if Glibc.send(slots[slot].fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) < 0 {
      log.say("cannot reach worker \(slots[slot].pid): \(Posix.errorText())")
    }
  }

  func readWorker(_ index: Int, _ buffer: inout [UInt8]) {
    let n = recv(slots[index].fd, &buffer, buffer.count, 0)
    if n > 0 {
      switch try? WorkerMessage.decode(buffer[0..<n]) {
      case .report(let report):
        reports.append((index, report))
        dirty = true
      case .events(let job, let attempt, let offset, let data):
        events.append(EventChunk(jobID: job, attempt: attempt, offset: offset, data: data))
        dirty = true
      default:
        break
      }
      return
    }
    if n < 0 && errno == EINTR { return }
    workerLost(index)
  }

  /// A pool worker died under us: its job is lost unless its journal says how it ended; any
  /// process the job left is killed. The slot gets a fresh worker.
  func workerLost(_ index: Int) {
    let slot = slots[index]
    log.say("worker \(slot.pid) exited")
    var status: Int32 = 0
    waitpid(slot.pid, &status, 0)
    close(slot.fd)
    dirty = true
    if let active = slot.active {
      let journal = JournalSummary(path: slot.journal)
      let job = active.job
      events += journal.events(job: job.id, attempt: job.attempt)
      if let report = journal.report(job: job.id, attempt: job.attempt) {
        reports.append((index, report))
      } else {
        let pid = journal.started(job: job.id, attempt: job.attempt)
        if let pid { kill(-pid, SIGKILL) }
        let now = Posix.now()
        reports.append(
          (
            index,
            JobReport(
              jobID: job.id, attempt: job.attempt, outcome: .failed, exitCode: nil, signal: nil,
              reason: pid == nil ? JobReport.neverStarted : "WorkerLost", pid: pid ?? 0, startTime: now,
              endTime: now)
          ))
      }
    }
    unlink(slot.journal)
    guard !stopping else { return }
    do {
      let fresh = try makeWorker()
      slots[index].pid = fresh.pid
      slots[index].fd = fresh.fd
      slots[index].journal = fresh.journal
    } catch {
      log.say("cannot replace worker: \(error)")
      stopping = true
    }
  }

  // MARK: - Clients

  func acceptClient() {
    let fd = accept(listenFD, nil, nil)
    guard fd >= 0 else { return }
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    clients[fd] = []
  }

  func readClient(_ fd: Int32) {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = read(fd, &buffer, buffer.count)
    if n <= 0 {
      clients[fd] = nil
      close(fd)
      return
    }
    clients[fd, default: []].append(contentsOf: buffer[0..<n])
    guard let line = clients[fd], line.last == UInt8(ascii: "\n") else { return }
    let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line))
    let reply = handle(request)
    if let data = try? JSONEncoder().encode(reply) {
      _ = Posix.writeAll(fd, [UInt8](data) + [UInt8(ascii: "\n")])
    }
    clients[fd] = nil
    close(fd)
  }

  func handle(_ request: ControlRequest?) -> ControlReply {
    guard let request else { return ControlReply(ok: false, message: "malformed request", pid: getpid()) }
    switch request.op {
    case "wake":
      checkDependencies = true
      dirty = true
      return ControlReply(ok: true, message: nil, pid: getpid())
    case "ping":
      return ControlReply(ok: true, message: nil, pid: getpid())
    case "cancel":
      var signalled = 0
      for id in request.jobs ?? [] {
        if let i = slots.firstIndex(where: { $0.active?.job.id == id }), let active = slots[i].active {
          slots[i].active?.cancelRequested = true
          send(i, .cancel(jobID: id, attempt: active.job.attempt))
          signalled += 1
        } else if let a = adopted.first(where: { $0.jobID == id }) {
          if let pid = a.journal.flatMap({ JournalSummary(path: $0).started(job: id, attempt: a.attempt) }) {
            kill(-pid, SIGKILL)
          }
          signalled += 1
        }
      }
      checkDependencies = true
      dirty = true
      return ControlReply(ok: true, message: "\(signalled) running job(s) signalled", pid: getpid())
    case "shutdown":
      stopping = true
      return ControlReply(ok: true, message: nil, pid: getpid())
    default:
      return ControlReply(ok: false, message: "unknown request '\(request.op)'", pid: getpid())
    }
  }
}

/// The daemon's log (`ORCH_HOME/daemon.log` when detached, stderr in the foreground).
struct DaemonLog {
  func say(_ text: String) {
    let stamp = ISO8601DateFormatter().string(from: Date())
    FileHandle.standardError.write(Data("\(stamp) \(text)\n".utf8))
  }
}
