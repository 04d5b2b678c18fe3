import ArgumentParser
import Foundation
import Operations
import OrchCore
import SlurmSyntax
import Store
import System
import Worker

struct Scontrol: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scontrol",
    abstract: "scontrol's job commands: show job in SLURM's key=value layout, hold, release, requeue.",
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
    .init("help", "h"), .init("usage"), .init("version", "V"), .init("all", "a"),
  ]

  static let commands = ["show", "hold", "uhold", "release", "requeue", "requeuehold", "version", "help"]

  func run() throws {
    try SlurmTool.run("scontrol") {
      let args = try SlurmGetopt.parse(arguments, tool: "scontrol", flags: Self.flags)
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
      guard let command = Self.command(word) else {
        throw OrchError.badInput("scontrol: error: Invalid keyword: \(word)")
      }
      let home = try OrchHome()
      let store = try home.openStore()
      let rest = Array(args.operands.dropFirst())
      switch command {
      case "show":
        try show(rest, oneLine: args.has("oneliner"), store: store)
      default:
        try change(command, rest, store: store, home: home)
      }
    }
  }

  /// Keywords may be abbreviated, as in scontrol (`sh`, `rel`).
  static func command(_ word: String) -> String? {
    let lower = word.lowercased()
    if commands.contains(lower) { return lower }
    let matches = commands.filter { $0.hasPrefix(lower) }
    return matches.count == 1 ? matches[0] : nil
  }

  func show(_ words: [String], oneLine: Bool, store: JobStore) throws {
    guard let entity = words.first, "jobid".hasPrefix(entity.lowercased()), entity.count >= 1 else {
      throw OrchError.badInput("scontrol: error: orch can show jobs only: scontrol show job [ID]")
    }
    var filter = JobFilter()
    if words.count > 1 {
      let (ids, _) = try SlurmTool.resolve(Array(words.dropFirst()), store: store)
      if ids.isEmpty { throw OrchError.badInput("slurm_load_jobs error: Invalid job id specified") }
      filter.jobs = ids
    }
    let rows = try storeCall { () throws(StoreError) in try store.jobs(filter) }
    if rows.isEmpty {
      Output.print("No jobs in the system\n")
      return
    }
    let arrays = try storeCall { () throws(StoreError) in try store.arrayRecords(ids: rows.map(\.arrayID)) }
    let records = Squeue.records(rows, arrays: arrays, expand: false).sorted { $0.first.id < $1.first.id }
    let now = Posix.now()
    let gpus = try storeCall { () throws(StoreError) in try store.gpuAllocations(records.map(\.first.id)) }
    let text = records.map { record in
      let lines = Self.lines(record, now: now, gpus: gpus[record.first.id])
      return oneLine ? lines.joined(separator: " ") + "\n" : lines.joined(separator: "\n   ") + "\n\n"
    }.joined()
    Output.print(text)
  }

  /// One job in scontrol's layout: `Key=Value` pairs, several per line.
  static func lines(_ record: Squeue.Record, now: Double, gpus: GPUAllocation? = nil) -> [String] {
    let r = record.first
    let array = record.array
    let launch = array.flatMap { try? LaunchSpec.decode($0.launch) }
    let host = SlurmTool.host
    let user = SlurmTool.user
    let group = getgrgid(getgid()).flatMap { $0.pointee.gr_name.map { String(cString: $0) } } ?? String(getgid())
    var head = "JobId=\(record.collapsed ? r.arrayID : r.id)"
    if r.isArray {
      let task = record.collapsed ? ArraySpec.compress(record.indices) : String(r.arrayIndex ?? 0)
      head += " ArrayJobId=\(r.arrayID) ArrayTaskId=\(task)"
      if let throttle = array?.throttle { head += " ArrayTaskThrottle=\(throttle)" }
    }
    head += " JobName=\(r.name)"
    var dependency = "(null)"
    if r.state == .pending, let text = array?.dependency {
      switch r.reason {
      case "Dependency": dependency = text + "(unfulfilled)"
      case "DependencyNeverSatisfied": dependency = text + "(failed)"
      default: break
      }
    }
    let runTime = r.startTime.map { TimeFormat.seconds((r.endTime ?? now) - $0) } ?? 0
    let limit = TimeFormat.sacctTimelimit(minutes: r.timeLimit.map { $0 / 60 })
    let started = r.startTime != nil && r.state != .pending
    let memoryMB = launch?.env["SLURM_MEM_PER_NODE"]
    let eligible = r.state == .pending && r.reason != nil ? "Unknown" : Clock.format(r.submitTime)
    let end = r.state.isTerminal ? Clock.format(r.endTime) : "Unknown"
    var out = [
      head,
      "UserId=\(user)(\(getuid())) GroupId=\(group)(\(getgid())) MCS_label=N/A",
      "Priority=1 Nice=0 Account=(null) QOS=normal",
      "JobState=\(r.state.rawValue) Reason=\(record.reason) Dependency=\(dependency)",
      "Requeue=\(launch?.requeue == false ? 0 : 1) Restarts=\(max(0, r.attempt - 1)) BatchFlag=1 Reboot=0 ExitCode=\(r.exitCode ?? 0):\(r.signal ?? 0)",
      "RunTime=\(TimeFormat.sacctElapsed(runTime)) TimeLimit=\(limit) TimeMin=N/A",
      "SubmitTime=\(Clock.format(r.submitTime)) EligibleTime=\(eligible)",
      "StartTime=\(started ? Clock.format(r.startTime) : "Unknown") EndTime=\(end) Deadline=N/A",
      "Partition=\(SbatchSubmit.partition) AllocNode:Sid=\(host):0",
      "ReqNodeList=(null) ExcNodeList=(null)",
      "NodeList=\(started ? host : "(null)")",
      "NumNodes=1 NumCPUs=\(r.cpus) NumTasks=1 CPUs/Task=\(r.cpus) ReqB:S:C:T=0:0:*:*",
      "TRES=cpu=\(r.cpus),node=1\(memoryMB.map { ",mem=\($0)M" } ?? "")" + TRESText.scontrolGPU(gpus),
      "MinCPUsNode=\(r.cpus) MinMemoryNode=\(memoryMB.map { "\($0)M" } ?? "0") MinTmpDiskNode=0",
      "Command=\(array.map { $0.source.hasPrefix("/") ? $0.source : "(null)" } ?? "(null)")",
      "WorkDir=\(launch?.cwd ?? "(null)")",
    ]
    if let i = out.firstIndex(where: { $0.hasPrefix("MinCPUsNode=") }) {
      out.insert(contentsOf: TRESText.scontrolGres(gpus, started: started), at: i + 1)
    }
    if let launch {
      let identity = JobIdentity(
        jobID: record.collapsed ? r.arrayID : r.id, arrayID: r.arrayID, arrayIndex: r.arrayIndex,
        isArray: r.isArray, attempt: r.attempt, name: r.name, key: r.key, runDir: r.runDir, home: "")
      let paths = OutputPaths.resolve(launch: launch, job: identity, host: host)
      out += ["StdErr=\(paths.stderr ?? paths.stdout)", "StdIn=/dev/null", "StdOut=\(paths.stdout)"]
    }
    return out
  }

  func change(_ command: String, _ words: [String], store: JobStore, home: OrchHome) throws {
    if words.isEmpty { throw OrchError.badInput("scontrol: error: \(command) needs job ids, such as 12 or 12_[1-3]") }
    let (ids, unknown) = try SlurmTool.resolve(words, store: store)
    var failed = !unknown.isEmpty
    for id in unknown { SlurmTool.stderr("Invalid job id specified for job \(id)") }
    let rows = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(jobs: ids)) }
    func refuse(_ rows: [JobRow], _ why: String) {
      for r in rows { SlurmTool.stderr("\(why) for job \(r.display)") }
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
      _ = try Operations.requeue(rows, hold: command == "requeuehold", store: store, home: home)
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
    Usage: scontrol [OPTIONS] COMMAND [ID...]
      -o, --oneliner     print one record per line
    Commands orch supports:
      show job [ID]      a job (or every job) in key=value form
      hold ID...         keep pending jobs from starting (Reason=JobHeldUser)
      release ID...      let held jobs run
      requeue ID...      run finished (or running) jobs again under the same id
      requeuehold ID...  requeue and hold
    IDs: 12 (a job or a whole array), 12_3, 12_[1-3].

    Example:
      scontrol show job 12_3

    """
}
