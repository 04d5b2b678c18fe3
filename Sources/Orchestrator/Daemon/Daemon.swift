import Backends
import CSupport
import Foundation
import GRDB
import Operations
import OrchCore
import SlurmSyntax
import Store
import System
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
    /// GPUs to hand out and the memory jobs' `--mem` may add up to (nil: not counted).
    public var gpus: [GPUDevice] = []
    public var memory: Int64? = nil
    /// Written to `ORCH_HOME/node.json` once the daemon holds its lock.
    public var node: NodeResources? = nil

    public init(cpus: [Int], killWait: Double, workerBinary: String) {
      self.cpus = cpus
      self.killWait = killWait
      self.workerBinary = workerBinary
    }
  }

  struct Active {
    var job: ClaimedJob
    var cpus: [Int]
    var gpus: [Int] = []
    /// False while queued behind the slot's running job: its cores are that job's, not its own.
    var ownsCPUs = true
    var cancelRequested = false
    var revoked = false
  }

  struct Slot {
    var pid: pid_t
    var fd: Int32
    var journal: String
    /// The job the worker runs, then up to `queueDepth` queued behind it.
    var jobs: [Active] = []
    /// When the running job was handed over or promoted (daemon's clock).
    var since = 0.0
    /// How long the slot's last job ran; a queued order is sent only behind short jobs.
    var lastDuration = Double.infinity
    /// Reports received from this worker (all committed once a step ends).
    var reportsReceived = 0
  }

  /// Jobs shorter than this get the next orders queued behind them on their worker, so the worker
  /// starts each without waiting for a round trip through the daemon; queued orders still waiting
  /// after this long behind a running job are taken back (their claims undone).
  static let shortJob = 0.25
  /// Orders queued per worker: two let the daemon record finished jobs and refill queues in one
  /// transaction per two jobs, instead of one per job.
  static let queueDepth = 2
  /// The longest control request read (a cancel lists its job ids: 4 MiB is ~400,000 of them).
  static let maxRequest = 4 << 20

  /// A job still run by a worker of a previous daemon: watched through a pidfd on that worker.
  struct Adopted {
    var workerPID: pid_t
    var pidfd: Int32
    var jobID: Int64
    var attempt: Int
    var cpus: [Int]
    var gpus: [Int] = []
    var gpusShared = false
    var memLimit: Int64? = nil
    var journal: String?
    /// Set once its cancel was applied: SIGTERM sent, SIGKILL due at this time.
    var killAt: Double?
  }

  let home: OrchHome
  let store: JobStore
  let options: Options
  let host: String
  var freeCPUs: [Int]
  var pool: GPUPool
  /// Devices of lost attempts, held until no process of the attempt is left.
  var draining: [DrainingGPUs] = []
  var slots: [Slot] = []
  var adopted: [Adopted] = []
  var launches: [Int64: (spec: LaunchSpec, env: JobEnvironment.Base)] = [:]
  var listenFD: Int32 = -1
  var signalFD: Int32 = -1
  var clients: [Int32: [UInt8]] = [:]
  var reports: [(slot: Int, report: JobReport)] = []
  var events: [EventChunk] = []
  /// Whether anything happened that a `step` could act on (a report, events, a submission).
  var dirty = true
  var checkDependencies = true
  /// Whether an array's terminal jobs can satisfy a dependency or release a singleton. Only a
  /// submission can add either, and every submission wakes the daemon, which empties this.
  var watchedArrays: [Int64: Bool] = [:]
  /// Set while a job waits on an `after:id+minutes` delay.
  var nextDependencyCheck: Double?
  /// The earliest begin time (`sbatch --begin`, a requeue's delay) of a pending job still ahead.
  var nextBegin: Double?
  var stopping = false
  /// Journals of lost workers, removed only once the step that records their reports commits: a
  /// daemon killed before that must find them again.
  var spentJournals: [String] = []
  var workerSerial = 0
  var slurmCollect = SlurmCollectTimer()
  let log: DaemonLog

  public init(home: OrchHome, options: Options) throws(OrchError) {
    self.home = home
    self.options = options
    self.store = try home.openStore()
    self.freeCPUs = options.cpus.sorted()
    self.pool = GPUPool(devices: options.gpus, memory: options.memory)
    self.host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
    self.log = DaemonLog()
  }

  /// Takes the lock, recovers what a previous daemon left RUNNING, starts the pool and serves.
  public func run() throws(OrchError) {
    let lock = try DaemonLock.acquire(home: home)
    defer { lock.release() }
    try options.node?.save(home: home)
    if !options.gpus.isEmpty || options.memory != nil {
      log.say(
        "GPUs: \(options.gpus.map { "\($0.index)" }.joined(separator: ",")); memory for jobs: "
          + (options.memory.map { "\($0 >> 20)M" } ?? "not counted"))
    }
    signalFD = orch_signalfd()
    signal(SIGPIPE, SIG_IGN)
    listenFD = try ControlSocket.listen(path: home.socketPath)
    log.say("daemon \(getpid()) started on CPUs \(options.cpus.map(String.init).joined(separator: ","))")
    try recover()
    // A cancel recorded while no daemon ran (or before the last one stopped) still holds.
    try applyCancelIntents()
    for _ in 0..<options.cpus.count { try startWorker() }
    scheduleSlurmCollect()
    try serve()
    log.say("daemon \(getpid()) stopping")
    unlink(home.socketPath)
  }

  // MARK: - The loop

  func serve() throws(OrchError) {
    var buffer = WorkerSocket.buffer()
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
      if let next = nextBegin, Posix.now() >= next { dirty = true }
      revokeStaleQueued()
      killOverdueAdopted()
      checkDraining()
      tickSlurmCollect()
    }
  }

  func timeoutMillis() -> Int32 {
    // A step left work for the next (an order it could not send): no sleeping on it.
    if dirty { return 0 }
    let revokes = slots.filter { $0.jobs.dropFirst().contains { !$0.revoked } }.map { $0.since + Self.shortJob }
    let kills = adopted.compactMap(\.killAt).filter(\.isFinite)
    let drain = draining.isEmpty ? nil : Posix.now() + DrainingGPUs.interval
    guard
      let next = (revokes + kills + [nextDependencyCheck, nextBegin, slurmCollect.next, drain].compactMap { $0 }).min()
    else {
      return -1
    }
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
    var pool = self.pool
    var drained: [DrainingGPUs] = []
    var ended: [(report: JobReport, active: Active?)] = []
    var slotJobs = slots.map(\.jobs)
    var promoted = Set<Int>()
    for (slot, report) in finished {
      guard
        let i = slotJobs[slot].firstIndex(where: { $0.job.id == report.jobID && $0.job.attempt == report.attempt })
      else {
        ended.append((report, nil))
        continue
      }
      let active = slotJobs[slot].remove(at: i)
      ended.append((report, active))
      if report.outcome == .workerLost && !active.gpus.isEmpty {
        // Its processes may outlive the worker: the devices wait until they are gone.
        drained.append(
          DrainingGPUs(
            jobID: active.job.id, attempt: active.job.attempt, gpus: active.gpus, shared: active.job.gpusShared))
        pool.release(gpus: [], shared: false, memory: active.job.memLimit)
      } else {
        pool.release(gpus: active.gpus, shared: active.job.gpusShared, memory: active.job.memLimit)
      }
      guard active.ownsCPUs else { continue }
      free.append(contentsOf: active.cpus)
      if let next = slotJobs[slot].first, !next.ownsCPUs {
        // The worker started its queued order the moment this job ended.
        slotJobs[slot][0].ownsCPUs = true
        free.removeAll { next.cpus.contains($0) }
        promoted.insert(slot)
      }
    }
    free.sort()
    let now = Posix.now()
    let idle = slots.indices.filter { slotJobs[$0].isEmpty }
    var claimed: [(slot: Int, active: Active)] = []
    do {
      try store.write("while recording finished jobs and claiming new ones") { db in
        try EventIngest.ingest(db, chunks, now: now)
        for (report, active) in ended {
          if let active, active.revoked, report.outcome == .neverStarted {
            _ = try JobStore.unclaim(db, jobID: report.jobID, attempt: report.attempt, now: now)
            continue
          }
          try self.record(db, report, arrayID: active?.job.arrayID)
        }
        if self.checkDependencies || self.nextDependencyCheck.map({ now >= $0 }) == true {
          self.nextDependencyCheck = try DependencyCheck.run(db, now: now) ? now + 10 : nil
        }
        guard !self.stopping else { return }
        self.nextBegin = try JobStore.nextBeginTime(db, after: now)
        for slot in idle {
          var chosen: (cpus: [Int], gpus: [Int]) = ([], [])
          guard !free.isEmpty,
            let job = try JobStore.claim(
              db, capacity: pool.capacity(cpus: free.count), now: now, workerPID: self.slots[slot].pid,
              assign: { job in
                let gpus = pool.choose(for: job)
                chosen = (pool.cores(job.cpus, near: gpus, free: free), gpus)
                return chosen
              })
          else { break }
          free.removeAll { chosen.cpus.contains($0) }
          pool.hold(gpus: chosen.gpus, shared: job.gpusShared, memory: job.memLimit)
          try self.loadLaunch(db, arrayID: job.arrayID)
          claimed.append((slot, Active(job: job, cpus: chosen.cpus, gpus: chosen.gpus)))
        }
        // Queue orders behind each running job that looks short, each on (a prefix of) the cores of
        // the job before it, so every one finds its cores free when its turn comes.
        for slot in self.slots.indices {
          var jobs = slotJobs[slot] + claimed.filter { $0.slot == slot }.map(\.active)
          let duration = finished.last(where: { $0.slot == slot && $0.report.pid != 0 }).map {
            $0.report.endTime - $0.report.startTime
          }
          guard let first = jobs.first, !first.cancelRequested, !jobs.contains(where: \.revoked),
            (duration ?? self.slots[slot].lastDuration) < Self.shortJob
          else { continue }
          // Only jobs without GPUs queue behind another; their memory is held from the claim on.
          while jobs.count <= Self.queueDepth, let last = jobs.last,
            let job = try JobStore.claim(
              db, capacity: ClaimCapacity(cpus: last.cpus.count, memory: pool.capacity(cpus: 0).memory), now: now,
              workerPID: self.slots[slot].pid, assign: { (Array(last.cpus.prefix($0.cpus)), []) })
          {
            pool.hold(gpus: [], shared: false, memory: job.memLimit)
            try self.loadLaunch(db, arrayID: job.arrayID)
            let queued = Active(job: job, cpus: Array(last.cpus.prefix(job.cpus)), ownsCPUs: false)
            jobs.append(queued)
            claimed.append((slot, queued))
          }
        }
      }
    } catch {
      reports = finished + reports
      events = chunks + events
      throw OrchError.failure("\(error)")
    }
    checkDependencies = false
    for path in spentJournals { unlink(path) }
    spentJournals = []
    for (slot, report) in finished where report.pid != 0 {
      slots[slot].lastDuration = report.endTime - report.startTime
    }
    for slot in slots.indices {
      slots[slot].jobs = slotJobs[slot]
      if promoted.contains(slot) { slots[slot].since = now }
    }
    freeCPUs = free
    self.pool = pool
    draining += drained
    for (slot, active) in claimed {
      if active.ownsCPUs { slots[slot].since = now }
      slots[slot].jobs.append(active)
      var order = order(for: active)
      order.acked = slots[slot].reportsReceived
      send(slot, .order(order))
    }
  }

  /// Takes back queued orders that have waited too long behind a running job.
  func revokeStaleQueued() {
    let now = Posix.now()
    for i in slots.indices where slots[i].jobs.count > 1 && now - slots[i].since >= Self.shortJob {
      for j in slots[i].jobs.indices.dropFirst() where !slots[i].jobs[j].revoked {
        slots[i].jobs[j].revoked = true
        slots[i].lastDuration = .infinity
        send(i, .revoke(jobID: slots[i].jobs[j].job.id, attempt: slots[i].jobs[j].job.attempt))
      }
    }
  }

  /// Records an attempt's end (a cancel the store records makes it CANCELLED, in `finish`); a
  /// terminal state of a dependency target (or of a job a singleton waits behind) triggers a
  /// re-check.
  func record(_ db: Database, _ report: JobReport, arrayID: Int64? = nil) throws {
    let result = try JobStore.finish(db, Self.outcome(of: report))
    // An sbatch job whose worker was lost is requeued unless it was submitted with --no-requeue.
    let lost = result == .terminal(.failed) && report.outcome == .workerLost
    if lost, try SbatchRequeue.afterLostWorker(db, report.jobID) { return }
    guard case .terminal = result, let arrayID = try arrayID ?? arrayOf(db, jobID: report.jobID) else { return }
    if let watched = watchedArrays[arrayID] {
      if watched { checkDependencies = true }
      return
    }
    let watched = try JobStore.isDependencyTarget(db, arrayID: arrayID) || JobStore.singletonWaits(db, behind: arrayID)
    watchedArrays[arrayID] = watched
    if watched { checkDependencies = true }
  }

  /// What a worker's (or recovery's) report means for the store.
  static func outcome(of report: JobReport) -> AttemptOutcome {
    let state = JobState(rawValue: report.outcome.jobState) ?? .failed
    // A lost worker's report knows no start: the claim's start time stays.
    let knowsStart = report.pid != 0 && report.outcome != .workerLost
    return AttemptOutcome(
      jobID: report.jobID, attempt: report.attempt, state: state, exitCode: report.exitCode, signal: report.signal,
      reason: report.reason ?? report.outcome.reason, endTime: report.endTime,
      started: report.outcome != .neverStarted, startTime: knowsStart ? report.startTime : nil)
  }

  func loadLaunch(_ db: Database, arrayID: Int64) throws {
    guard launches[arrayID] == nil else { return }
    let spec = try LaunchSpec.decode(JobStore.launch(db, arrayID: arrayID))
    launches[arrayID] = (spec, JobEnvironment.Base(spec.env))
  }

  func arrayOf(_ db: Database, jobID: Int64) throws -> Int64? {
    try Int64.fetchOne(db.cachedStatement(sql: "SELECT array_id FROM jobs WHERE id = ?"), arguments: [jobID])
  }

  func order(for active: Active) -> JobOrder {
    let job = active.job
    let launch = launches[job.arrayID]?.spec ?? LaunchSpec(env: [:], cwd: "/", submitHost: host)
    let config = JobConfig.parse(job.config)
    let identity = JobIdentity(
      jobID: job.id, arrayID: job.arrayID, arrayIndex: job.arrayIndex, isArray: job.isArray, attempt: job.attempt,
      name: job.name, key: job.key, runDir: job.runDir, home: home.path)
    var env = JobEnvironment.build(
      base: launches[job.arrayID]?.env ?? JobEnvironment.Base([:]), launch: launch, extra: config.env, job: identity,
      cpus: active.cpus, host: host)
    GPUEnvironment.apply(&env, gpus: active.gpus, machineHasGPUs: !options.gpus.isEmpty)
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
      return Slot(pid: pid, fd: pair[0], journal: journal)
    } catch {
      close(pair[0])
      throw OrchError.failure("cannot start worker \(options.workerBinary): \(error)")
    }
  }

  /// An order that cannot be sent fails with the reason, rather than stay RUNNING unstarted (a
  /// worker that is gone is handled when its socket reports the end).
  func send(_ slot: Int, _ message: WorkerMessage) {
    let rc = WorkerSocket.send(slots[slot].fd, message, inline: WorkerSocket.orderInlineLimit)
    guard rc != 0 else { return }
    log.say("cannot send to worker \(slots[slot].pid): \(Posix.errorText(rc))")
    guard case .order(let order) = message, rc != EPIPE, rc != ECONNRESET else { return }
    let now = Posix.now()
    reports.append(
      (
        slot,
        JobReport(
          jobID: order.jobID, attempt: order.attempt, outcome: .failed, exitCode: nil, signal: nil,
          reason: "cannot send the order to its worker: \(Posix.errorText(rc))", pid: 0, startTime: now, endTime: now)
      ))
    dirty = true
  }

  func readWorker(_ index: Int, _ buffer: inout [UInt8]) {
    switch WorkerSocket.receive(slots[index].fd, into: &buffer) {
    case .message(.report(let report)):
      received(report, from: index)
    case .message(.events(let job, let attempt, let offset, let data)):
      events.append(EventChunk(jobID: job, attempt: attempt, offset: offset, data: data))
      dirty = true
    case .message(.dropped(let job, let attempt, let offset, let lines, let bytes, let reason)):
      events.append(
        EventChunk(
          jobID: job, attempt: attempt, offset: offset, data: [],
          dropped: EventChunk.Dropped(lines: lines, bytes: bytes, reason: reason)))
      dirty = true
    case .message:
      break
    case .damaged(let damage):
      log.say("worker \(slots[index].pid): \(damage); reading its journal instead")
      recoverFromJournal(index)
    case .retry:
      break
    case .closed:
      workerLost(index)
    }
  }

  func received(_ report: JobReport, from index: Int) {
    // Once read back from the journal (after a damaged message), a report may arrive again.
    let key = (report.jobID, report.attempt)
    guard slots[index].jobs.contains(where: { ($0.job.id, $0.job.attempt) == key }),
      !reports.contains(where: { $0.slot == index && ($0.report.jobID, $0.report.attempt) == key })
    else { return }
    reports.append((index, report))
    slots[index].reportsReceived += 1
    // While this worker still has a queued order to go on with, its report can wait for the
    // next one: a step then records both and refills the queue in one transaction.
    let pending = reports.reduce(0) { $0 + ($1.slot == index ? 1 : 0) }
    if slots[index].jobs.count - pending <= 1 || report.pid == 0 { dirty = true }
  }

  /// A worker's message was lost in transit: the worker journaled it before sending, so its
  /// journal says what it was — every event (ingestion is idempotent) and report of its jobs.
  func recoverFromJournal(_ index: Int) {
    let journal = JournalSummary(path: slots[index].journal)
    for active in slots[index].jobs {
      events += journal.events(job: active.job.id, attempt: active.job.attempt)
      if let report = journal.report(job: active.job.id, attempt: active.job.attempt) { received(report, from: index) }
    }
    dirty = true
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
    let journal = JournalSummary(path: slot.journal)
    for active in slot.jobs {
      let job = active.job
      events += journal.events(job: job.id, attempt: job.attempt)
      reports.append((index, endOfLostAttempt(jobID: job.id, attempt: job.attempt, journal: journal)))
    }
    spentJournals.append(slot.journal)
    FaultPoint.hit("daemon-after-worker-lost")
    guard !stopping else { return }
    do {
      let fresh = try makeWorker()
      slots[index].pid = fresh.pid
      slots[index].fd = fresh.fd
      slots[index].journal = fresh.journal
      slots[index].reportsReceived = 0
      slots[index].lastDuration = .infinity
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
    guard let line = clients[fd] else { return }
    let reply: ControlReply
    if line.last == UInt8(ascii: "\n") {
      reply = handle(try? JSONDecoder().decode(ControlRequest.self, from: Data(line)))
    } else if line.count > Self.maxRequest {
      // Requests are a line of JSON; a client that never ends its line must not grow the daemon.
      reply = .refused(pid: getpid(), message: "request longer than \(Self.maxRequest) bytes")
    } else {
      return
    }
    if let data = try? JSONEncoder().encode(reply) {
      _ = Posix.writeAll(fd, [UInt8](data) + [UInt8(ascii: "\n")])
    }
    clients[fd] = nil
    close(fd)
  }

  func handle(_ request: ControlRequest?) -> ControlReply {
    guard let request else { return .refused(pid: getpid(), message: "malformed request") }
    switch request {
    case .wake:
      // A cancel whose own request never arrived (its CLI died after recording it) still holds.
      _ = try? applyCancelIntents()
      checkDependencies = true
      watchedArrays = [:]
      dirty = true
      scheduleSlurmCollect()
      return .ok(pid: getpid())
    case .ping:
      return .ok(pid: getpid())
    case .cancel:
      do {
        let signalled = try applyCancelIntents()
        checkDependencies = true
        dirty = true
        return .cancelling(pid: getpid(), signalled: signalled, killWait: options.killWait)
      } catch {
        return .refused(pid: getpid(), message: "\(error)")
      }
    case .shutdown:
      stopping = true
      return .ok(pid: getpid())
    }
  }

  /// Ends every RUNNING job whose cancel the store records and that this daemon has not signalled
  /// yet: a pool worker's job through its worker (SIGTERM, KillWait, SIGKILL of the process
  /// group), an adopted one directly. Returns the jobs signalled now.
  @discardableResult
  func applyCancelIntents() throws(OrchError) -> [Int64] {
    let wanted = try storeCall { () throws(StoreError) in
      try store.read("while reading cancel requests") { try JobStore.cancelRequested($0) }
    }
    var signalled: [Int64] = []
    for id in wanted {
      if let i = slots.firstIndex(where: { $0.jobs.contains { $0.job.id == id } }),
        let j = slots[i].jobs.firstIndex(where: { $0.job.id == id })
      {
        guard !slots[i].jobs[j].cancelRequested else { continue }
        slots[i].jobs[j].cancelRequested = true
        send(i, .cancel(jobID: id, attempt: slots[i].jobs[j].job.attempt))
        signalled.append(id)
      } else if let a = adopted.firstIndex(where: { $0.jobID == id }), adopted[a].killAt == nil {
        if let pid = adoptedJobPID(adopted[a]) { kill(-pid, SIGTERM) }
        adopted[a].killAt = Posix.now() + options.killWait
        signalled.append(id)
      }
    }
    return signalled
  }

  func adoptedJobPID(_ a: Adopted) -> Int32? {
    a.journal.flatMap { JournalSummary(path: $0).started(job: a.jobID, attempt: a.attempt) }
  }

  /// KillWait has passed for a cancelled adopted job: SIGKILL what is left of it.
  func killOverdueAdopted() {
    let now = Posix.now()
    for i in adopted.indices {
      guard let at = adopted[i].killAt, now >= at else { continue }
      if let pid = adoptedJobPID(adopted[i]) { kill(-pid, SIGKILL) }
      adopted[i].killAt = .infinity
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
