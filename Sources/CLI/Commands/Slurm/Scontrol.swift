import ArgumentParser
import Foundation
import Operations
import OrchCore
import SlurmSyntax
import SlurmViews
import Store
import System
import Worker

struct Scontrol: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scontrol",
    abstract: "scontrol: show job/node/partition/config in SLURM's layouts, hold, release, requeue, update.",
    discussion: """
      Examples:
        orch scontrol show job 12_3
        orch scontrol hold 12 ; orch scontrol release 12
        orch scontrol requeue 12_[0-3]
      """)

  @Argument(parsing: .captureForPassthrough, help: "scontrol options, a command and its job ids.")
  var arguments: [String] = []

  static let flags: [SlurmFlag] = [
    .init("oneliner", "o"), .init("details", "d"), .init("quiet", "Q"), .init("verbose", "v"),
    .init("help", "h"), .init("usage"), .init("version", "V"), .init("all", "a"), .init("json"),
    .init("cluster", "M", .required), .init("clusters", nil, .required),
  ]

  func run() throws {
    try SlurmTool.run("scontrol") {
      let args = try SlurmGetopt.parse(arguments, tool: "scontrol", flags: Self.flags)
      if let message = (args.last("cluster") ?? args.last("clusters")).flatMap(SlurmClusters.unreachable) {
        throw OrchError.badInput("scontrol: error: \(message)")
      }
      if args.has("help") || args.has("usage") || args.operands.first.map({ Self.command($0) == "help" }) == true {
        Output.print(Self.usage)
        return
      }
      if args.has("version") || args.operands.first.map({ Self.command($0) == "version" }) == true {
        Output.print("slurm 23.02.0 (orch)\n")
        return
      }
      guard let word = args.operands.first else {
        throw OrchError.badInput("scontrol: error: no command given; orch supports show job, hold, release, requeue")
      }
      let command: String
      switch ScontrolKeywords.command(word) {
      case .known(let known): command = known
      case .unsupported(let other):
        throw OrchError.badInput(
          "scontrol: error: orch's scontrol has no \(other); it has show, hold, release, requeue, update")
      case .invalid:
        Output.stderr("invalid keyword: \(UserText.escaped(word))")
        throw ExitCode(1)
      }
      let rest = Array(args.operands.dropFirst())
      // Host lists need no store: job scripts read their node list with them.
      if command == "show", let entity = rest.first, let kind = HostListCommand(entity) {
        try Self.showHosts(kind, Array(rest.dropFirst()))
        return
      }
      if command == "show", try ScontrolShowOther.run(rest, oneLine: args.has("oneliner"), json: args.has("json")) {
        return
      }
      let home = try OrchHome()
      let store = try home.openStore()
      switch command {
      case "show":
        try show(rest, oneLine: args.has("oneliner"), json: args.has("json"), store: store)
      case "update":
        try ScontrolUpdate.run(rest, store: store, home: home)
      default:
        try change(command, rest, store: store, home: home)
      }
    }
  }

  /// Keywords may be abbreviated as far as scontrol allows (`sho`, `rel`; not `sh`).
  static func command(_ word: String) -> String? {
    if case .known(let command) = ScontrolKeywords.command(word) { return command }
    return nil
  }

  enum HostListCommand {
    case names, list, sorted

    /// SLURM's shortest forms: `hostn`, `hostl`, `hostlists`.
    init?(_ word: String) {
      let w = word.lowercased()
      if w.count >= 9 && "hostlistsorted".hasPrefix(w) {
        self = .sorted
      } else if w.count >= 5 && "hostnames".hasPrefix(w) {
        self = .names
      } else if w.count >= 5 && "hostlist".hasPrefix(w) {
        self = .list
      } else {
        return nil
      }
    }
  }

  /// `show hostnames [LIST]` (default `$SLURM_NODELIST`) prints a host a line; `show hostlist LIST`
  /// compresses, reading `LIST` from a file when it starts with `/`. As in scontrol, an invalid
  /// list fails `hostlist` (exit 1) but not `hostnames` (exit 0).
  static func showHosts(_ kind: HostListCommand, _ words: [String]) throws {
    guard words.count <= 1 else {
      Output.stderr("too many arguments for keyword:show")
      throw ExitCode(1)
    }
    var text = words.first ?? ""
    if kind == .names {
      if words.isEmpty { text = ProcessInfo.processInfo.environment["SLURM_NODELIST"] ?? "" }
      if words.isEmpty && text.isEmpty {
        Output.stderr("scontrol: error: host list is empty")
        return
      }
    } else if words.isEmpty {
      Output.print(usage)
      Output.stderr("invalid encode argument")
      throw ExitCode(1)
    } else if text.hasPrefix("/") {
      guard let data = FileManager.default.contents(atPath: text) else {
        Output.stderr("Can not open \(UserText.escaped(text))")
        throw ExitCode(1)
      }
      text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\n", with: ",")
    }
    let out: String
    do {
      out =
        kind == .names
        ? try HostList.expand(text).map { $0 + "\n" }.joined()
        : try HostList.compress(text, sorted: kind == .sorted) + "\n"
    } catch {
      if let line = error.rangeLine("scontrol") { Output.stderr(line) }
      Output.stderr("Invalid hostlist: \(UserText.escaped(text))")
      if kind == .names { return }
      throw ExitCode(1)
    }
    Output.print(out)
  }

  func show(_ words: [String], oneLine: Bool, json: Bool = false, store: JobStore) throws {
    guard let entity = words.first, "jobid".hasPrefix(entity.lowercased()) || entity.lowercased() == "jobs" else {
      throw OrchError.badInput("scontrol: error: orch can show jobs only: scontrol show job [ID]")
    }
    var filter = JobFilter()
    if words.count > 1 {
      let (ids, _) = try SlurmTool.resolve(Array(words.dropFirst()), store: store)
      if ids.isEmpty { throw OrchError.badInput("slurm_load_jobs error: Invalid job id specified") }
      filter.jobs = ids
    }
    var rows = try storeCall { () throws(StoreError) in try store.jobs(filter) }
    rows = try Self.visible(rows, store: store)
    if rows.isEmpty {
      if words.count > 1 {
        // slurmctld drops a pending element cancelled from an array that lives on.
        Output.print(words.dropFirst().map { "Job \(UserText.escaped($0)) not found\n" }.joined())
        throw ExitCode(1)
      }
      Output.print("No jobs in the system\n")
      return
    }
    let arrays = try storeCall { () throws(StoreError) in try store.arrayRecords(ids: rows.map(\.arrayID)) }
    let schedules = try storeCall { () throws(StoreError) in try store.schedules(jobIDs: rows.map(\.id)) }
    let now = Posix.now()
    let records = try Squeue.heldDependencies(
      Squeue.records(rows, arrays: arrays, expand: false, schedules: schedules, now: now), store: store
    ).sorted { $0.first.id < $1.first.id }
    if json {
      Output.print(SlurmJSON.jobs(records, now: now))
      return
    }
    let gpus = try storeCall { () throws(StoreError) in try store.gpuAllocations(records.map(\.first.id)) }
    let text = records.map { record in
      let lines = ScontrolRecord.lines(record, now: now, oneLine: oneLine, gpus: gpus[record.first.id])
      // scontrol ends a record with a blank indented line (a space with -o).
      return oneLine ? lines.joined(separator: " ") + " \n" : lines.joined(separator: "\n   ") + "\n   \n\n"
    }.joined()
    Output.print(text)
  }

  /// What slurmctld still has: an element cancelled before it ever started is dropped from its
  /// array's record, unless the whole array went that way (the array's record then shows them).
  static func visible(_ rows: [JobRow], store: JobStore) throws -> [JobRow] {
    func dropped(_ r: JobRow) -> Bool { r.isArray && r.state == .cancelled && r.attempt == 0 }
    let arrays = Array(Set(rows.filter(dropped).map(\.arrayID)))
    guard !arrays.isEmpty else { return rows }
    let all = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(arrays: arrays)) }
    let living = Set(all.filter { !dropped($0) }.map(\.arrayID))
    return rows.filter { !dropped($0) || !living.contains($0.arrayID) }
  }

  func change(_ command: String, _ words: [String], store: JobStore, home: OrchHome) throws {
    var words = words
    // `requeue incomplete`: only jobs that have not completed — running ones — are requeued.
    let incomplete = command.hasPrefix("requeue") && words.first?.lowercased() == "incomplete"
    if incomplete { words.removeFirst() }
    if words.isEmpty { throw OrchError.badInput("scontrol: error: \(command) needs job ids, such as 12 or 12_[1-3]") }
    let (ids, unknown) = try SlurmTool.resolve(words, store: store)
    var failed = !unknown.isEmpty
    for id in unknown { Output.stderr("Invalid job id specified for job \(id)") }
    var rows = try Self.visible(
      try storeCall { () throws(StoreError) in try store.jobs(JobFilter(jobs: ids)) }, store: store)
    if incomplete { rows = rows.filter { $0.state == .running } }
    func refuse(_ rows: [JobRow], _ why: String) {
      for r in rows { Output.stderr("\(why) for job \(r.display)") }
      failed = failed || !rows.isEmpty
    }
    switch command {
    case "hold", "uhold":
      refuse(rows.filter { $0.state != .pending }, "Job is no longer pending execution")
      _ = try Operations.hold(rows, store: store)
    case "release":
      refuse(rows.filter { $0.state != .pending }, "Job is no longer pending execution")
      _ = try Operations.release(rows, store: store, home: home)
    case "requeue", "requeuehold":
      // SLURM checks the job's own `--no-requeue` first (ESLURM_DISABLED), then its state.
      let arrays = try storeCall { () throws(StoreError) in try store.arrayRecords(ids: rows.map(\.arrayID)) }
      let disabled = Set(rows.filter { Self.requeueDisabled(arrays[$0.arrayID]) }.map(\.id))
      refuse(rows.filter { disabled.contains($0.id) }, "Requested operation is presently disabled")
      let rows = rows.filter { !disabled.contains($0.id) }
      refuse(rows.filter { $0.state == .pending }, "Job is pending execution")
      // From inside a job (submitit requeues its own job on preemption or timeout), leave the
      // job's process group first: the cancel that ends the job must not end this scontrol too.
      if rows.contains(where: { $0.state == .running }), ProcessInfo.processInfo.environment["SLURM_JOB_ID"] != nil {
        setpgid(0, 0)
      }
      // The delay is stored before the jobs are queued again, so no claim can come between.
      try ScontrolUpdate.delayRequeue(rows.filter { $0.state != .pending }.map(\.id), store: store)
      let requeued = try Operations.requeue(rows, hold: command == "requeuehold", store: store, home: home)
      if command == "requeuehold" { try ScontrolUpdate.markRequeuedHeld(requeued, store: store) }
    default:
      break
    }
    if failed { throw ExitCode(1) }
  }

  /// A job submitted with `sbatch --no-requeue`: SLURM never requeues it, not even on request.
  static func requeueDisabled(_ array: ArrayRecord?) -> Bool {
    guard let array, let launch = try? LaunchSpec.decode(array.launch) else { return false }
    return launch.requeue == false
  }

  static let usage = """
    scontrol [<OPTION>] [<COMMAND>]
      -d, --details      show more details (accepted)
      -o, --oneliner     print one record per line
    Commands orch supports:
      show job [ID]      a job (or every job: show jobs) in key=value form
      show node|partition [NAME]  orch's one node (this machine) and partition
      show config        the configuration keys orch can answer (ClusterName, MinJobAge, MaxArraySize...)
      show hostnames|hostlist|hostlistsorted LIST
      update JobId=ID KEY=VALUE...  StartTime, TimeLimit, Priority, Nice, ArrayTaskThrottle, Dependency, JobName,
                                    NumCPUs, MinMemoryNode, MinMemoryCPU, Partition
      hold ID...         keep pending jobs from starting (Reason=JobHeldUser)
      release ID...      let held jobs run
      requeue ID...      run finished (or running) jobs again under the same id
      requeuehold ID...  requeue and hold
    IDs: 12 (a job or a whole array), 12_3, 12_[1-3].

    Example:
      scontrol show job 12_3

    """
}
