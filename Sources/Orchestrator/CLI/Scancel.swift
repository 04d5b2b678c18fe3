import ArgumentParser
import Foundation
import Store
import Worker

struct Scancel: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scancel",
    abstract: "Cancel or signal jobs as scancel does (ids, ID_[1-3], --state, --name, --signal).",
    discussion: """
      Pending jobs are cancelled at once; running ones end with their whole process tree (SIGTERM,
      KillWait, SIGKILL). With --signal the running jobs' process groups get that signal instead.
      Examples:
        orch scancel 12_[1-3] 14
        orch scancel --state=PENDING --name=train.sbatch
        orch scancel --signal=USR1 12_4
      """)

  @Argument(parsing: .captureForPassthrough, help: "scancel options and job ids.") var arguments: [String] = []

  static let flags: [SlurmFlag] = [
    .init("signal", "s", .required), .init("state", "t", .required), .init("name", "n", .required),
    .init("user", "u", .required), .init("me"), .init("partition", "p", .required), .init("batch", "b"),
    .init("full", "f"), .init("quiet", "Q"), .init("verbose", "v"), .init("interactive", "i"),
    .init("help", "h"), .init("usage"), .init("version", "V"), .init("account", "A", .required),
    .init("qos", "q", .required), .init("wckey", nil, .required),
  ]

  func run() throws {
    try SlurmTool.run("scancel") {
      let args = try SlurmGetopt.parse(arguments, tool: "scancel", flags: Self.flags)
      if SlurmTool.answeredInfo(args, usage: Self.usage) { return }
      if try !Self.act(args) { throw ExitCode(1) }
    }
  }

  /// Cancels or signals what `args` select; false when some ids were invalid (scancel still acts
  /// on the valid ones, then exits 1).
  static func act(_ args: SlurmArguments) throws -> Bool {
    let filtered = ["state", "name", "user", "me", "partition", "account", "qos", "wckey"].contains(where: args.has)
    if args.operands.isEmpty && !filtered {
      throw OrchError.badInput("scancel: error: No job identification provided")
    }
    let signal = try args.last("signal").map { text throws(OrchError) in
      guard let n = SbatchValues.signalNumber(text) else {
        throw OrchError.badInput("scancel: error: Invalid job signal: \(text)")
      }
      return n
    }
    let home = try OrchHome()
    let store = try home.openStore()
    var filter = JobFilter(states: [.pending, .running])
    var unknown: [String] = []
    if !args.operands.isEmpty {
      let resolved = try SlurmTool.resolve(args.operands, store: store)
      unknown = resolved.unknown
      for id in unknown {
        SlurmTool.stderr("scancel: error: Kill job error on job id \(id): Invalid job id specified")
      }
      if resolved.ids.isEmpty { throw ExitCode(1) }
      filter.jobs = resolved.ids
    }
    if let list = args.last("state") {
      let states = try SlurmTool.states(list, tool: "scancel")
      filter.states = states.filter { $0 == .pending || $0 == .running }
      if filter.states.isEmpty { return unknown.isEmpty }
    }
    var rows = try storeCall { () throws(StoreError) in try store.jobs(filter) }
    if let names = args.last("name") {
      let wanted = Set(names.split(separator: ",").map(String.init))
      rows = rows.filter { wanted.contains($0.name) }
    }
    if let users = args.last("user"), !SlurmTool.matchesUser(users) { rows = [] }
    if let partitions = args.last("partition"),
      !partitions.split(separator: ",").contains(Substring(SbatchSubmit.partition))
    {
      rows = []
    }
    // SIGKILL is a cancel in SLURM too; any other signal leaves the job running its course.
    if let signal, signal != SIGKILL {
      let scope: SignalScope = args.has("batch") ? .batch : args.has("full") ? .full : .steps
      try Self.signal(rows.filter { $0.state == .running }.map(\.id), signal, scope: scope, store: store)
    } else {
      try Self.cancel(rows.map(\.id), store: store, home: home)
    }
    return unknown.isEmpty
  }

  /// Pending jobs are cancelled in the store; running ones through the daemon, waiting briefly so a
  /// following squeue or sacct shows them CANCELLED (scancel returns before KillWait ends).
  static func cancel(_ ids: [Int64], store: JobStore, home: OrchHome) throws(OrchError) {
    // Jobs of `orch submit --backend slurm` are the real SLURM's to cancel.
    let slurm = Set(try SlurmCancel.cancel(ids, store: store).map(\.id))
    let ids = ids.filter { !slurm.contains($0) }
    guard !ids.isEmpty else { return }
    let pending = try storeCall { () throws(StoreError) in try store.cancelPending(ids: ids, now: Posix.now()) }
    let rest = Array(Set(ids).subtracting(pending))
    let running = try storeCall { () throws(StoreError) in
      try store.jobs(JobFilter(states: [.running], jobs: rest)).map(\.id)
    }
    if !running.isEmpty {
      guard try DaemonClient.cancelAndWait(home, store: store, jobs: running, timeout: 3) else {
        throw .failure(
          "scancel: error: \(running.count) running job(s) but no orch daemon answers; start one with `orch daemon`")
      }
    }
    if !pending.isEmpty { DaemonClient.wake(home) }
  }

  /// scancel's reach for a signal: `-b` the batch shell only, `-f` the shell and everything it
  /// started, and by default the steps — here the shell's process group without the shell itself,
  /// since srun steps run as its children.
  enum SignalScope { case batch, full, steps }

  /// The job's batch shell is the worker's child that leads its own process group.
  static func signal(_ ids: [Int64], _ signal: Int32, scope: SignalScope, store: JobStore) throws(OrchError) {
    let workers = try storeCall { () throws(StoreError) in try store.workerPIDs(jobIDs: ids) }
    for (_, worker) in workers {
      for shell in JobProcess.list().filter({ $0.parent == worker && $0.group == $0.pid }).map(\.pid) {
        switch scope {
        case .batch: kill(shell, signal)
        case .full: kill(-shell, signal)
        case .steps:
          for p in JobProcess.list() where p.group == shell && p.pid != shell { kill(p.pid, signal) }
        }
      }
    }
  }

  static let usage = """
    Usage: scancel [OPTIONS] [job_id[_array_id][.step_id]...]
      -n, --name=job_name         act only on jobs with this name
      -Q, --quiet                 disable warnings
      -b, --batch                 with -s: signal only the batch shell
      -f, --full                  with -s: signal the batch shell and all its processes
      -s, --signal=name | integer signal the job's steps (the shell's children) instead of cancelling it
      -t, --state=states          act only on jobs in these states (PENDING, RUNNING)
      -u, --user=user_name        act only on jobs of this user
          --me                    act only on your jobs
    Job ids: 12 (the job or the whole array), 12_3, 12_[1-3,5].

    Example:
      scancel 12_[2-4]

    """
}

/// Processes as /proc lists them: enough to find a job's processes from its worker.
enum JobProcess {
  struct Entry {
    var pid: Int32
    var parent: Int32
    var group: Int32
  }

  static func list() -> [Entry] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    var out: [Entry] = []
    for entry in entries {
      guard let pid = Int32(entry),
        let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { continue }
      // After "comm)": state, ppid, pgrp, …
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      if fields.count > 2, let parent = Int32(fields[1]), let group = Int32(fields[2]) {
        out.append(Entry(pid: pid, parent: parent, group: group))
      }
    }
    return out
  }
}
