import ArgumentParser
import Foundation
import Operations
import OrchCore
import Orchestrator
import SlurmSyntax
import SlurmViews
import Store
import System
import Worker

struct Squeue: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "squeue",
    abstract: "List queued and running jobs in squeue's format (pending array elements collapsed).",
    discussion: """
      Takes squeue's options: -j, -u, -t, -n, -p, -r, -h, -l, -o/--format with the common % fields.
      Examples:
        orch squeue
        orch squeue -j 12 -r -h -o '%i %T %R'
      """)

  @Argument(parsing: .captureForPassthrough, help: "squeue options.") var arguments: [String] = []

  static let flags: [SlurmFlag] = [
    .init("jobs", "j", .required), .init("user", "u", .required), .init("states", "t", .required),
    .init("name", "n", .required), .init("partition", "p", .required), .init("array", "r"),
    .init("noheader", "h"), .init("format", "o", .required), .init("long", "l"), .init("all", "a"),
    .init("me"), .init("verbose", "v"), .init("help"), .init("usage"), .init("version", "V"),
    .init("json"), .init("Format", "O", .required), .init("start"), .init("clusters", "M", .required),
    .init("sort", "S", .required), .init("array-unique"), .init("iterate", "i", .required),
    .init("account", "A", .required), .init("qos", "q", .required), .init("licenses", "L", .required),
    .init("reservation", "R", .required), .init("nodelist", "w", .required), .init("noconvert"),
    .init("priority", "P"), .init("sibling"), .init("federation"), .init("local"), .init("hide"),
  ]

  static let defaultFormat = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
  static let longFormat = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
  /// `--start`: pending jobs with their expected start.
  static let startFormat = "%.18i %.9P %.8j %.8u %.2t %.19S %.6D %20Y %R"
  /// slurmctld forgets finished jobs after MinJobAge (300 s by default); squeue only sees those.
  static let minJobAge = 300.0

  func run() throws {
    try SlurmTool.run("squeue") {
      let args = try SlurmGetopt.parse(arguments, tool: "squeue", flags: Self.flags)
      if SlurmTool.answeredInfo(args, usage: Self.usage, tool: "squeue") { return }
      if let extra = args.operands.first {
        throw OrchError.badInput("squeue: error: Unrecognized option: \(extra)", usage: Self.usageLine)
      }
      if let message = args.last("clusters").flatMap(SlurmClusters.unreachable) {
        throw OrchError.badInput("squeue: error: \(message)")
      }
      let sort: [SqueueSort.Key]
      do { sort = try SqueueSort.parse(args.last("sort") ?? "") } catch let e as SqueueSort.SortError {
        throw OrchError.badInput(e.message)
      }
      var every: Int?
      if let text = args.last("iterate") {
        guard let n = Int(text), n > 0 else {
          throw OrchError.badInput("squeue: error: --iterate=\(text) is not a positive number of seconds")
        }
        every = n
      }
      // -w: this machine is orch's one node; a list naming another is refused, one that does not
      // parse too, with SLURM's messages.
      if let list = args.last("nodelist") {
        let names: [String]
        do { names = try HostList.expand(list) } catch let failure as HostList.Failure {
          if let line = failure.rangeLine("squeue") { Output.stderr(line) }
          throw OrchError.badInput("squeue: error: '\(list)' invalid entry for --nodelist")
        }
        if let wrong = names.first(where: { $0 != SlurmMachine.host }) ?? (names.isEmpty ? list : nil) {
          throw OrchError.badInput("squeue: error: Invalid node name \(wrong)")
        }
      }
      let home = try OrchHome()
      let store = try home.openStore()
      // -i N: the report again every N seconds, each under its date, until interrupted.
      while true {
        let text = try report(args, store: store, sort: sort, dated: every != nil)
        guard let every else { return Output.print(text) }
        Output.print(text + "\n")
        sleep(UInt32(clamping: every))
      }
    }
  }

  /// One report: the jobs the options select, in the order `sort` asks.
  func report(_ args: SlurmArguments, store: JobStore, sort: [SqueueSort.Key], dated: Bool) throws
    -> String
  {
    let environment = ProcessInfo.processInfo.environment
    var format =
      args.has("start")
      ? Self.startFormat : args.has("long") ? Self.longFormat : environment["SQUEUE_FORMAT"] ?? Self.defaultFormat
    if let given = args.last("format") { format = given }
    // `%all`: every letter, a to Z, separated by `|`.
    if format == "%all" { format = Self.allLetters.map { "%\($0)" }.joined(separator: "|") }
    var filter = JobFilter()
    let idLists = args.all("jobs")
    if !idLists.isEmpty {
      let (ids, unknown) = try SlurmTool.resolve(idLists, store: store)
      if ids.isEmpty && !unknown.isEmpty {
        throw OrchError.badInput("slurm_load_jobs error: Invalid job id specified")
      }
      filter.jobs = ids
    }
    let states: [JobState]
    if let list = args.last("states") {
      states = try SlurmTool.states(list, tool: "squeue")
    } else {
      states = idLists.isEmpty ? [.pending, .running] : JobState.allCases
    }
    // --start lists pending jobs only, whatever --states asks.
    filter.states = args.has("start") ? states.filter { $0 == .pending } : states
    var rows = try storeCall { () throws(StoreError) in try store.jobs(filter) }
    let now = Posix.now()
    rows = rows.filter { !$0.state.isTerminal || now - ($0.endTime ?? now) <= Self.minJobAge }
    if let users = args.last("user") {
      // Each unknown user is said (with the blank line squeue's error text ends in), the rest
      // still select.
      for name in users.split(separator: ",").map(String.init) where !SlurmTool.userExists(name) {
        Output.stderr("squeue: error: Invalid user: \(name)\n\n")
      }
      if !SlurmTool.matchesUser(users) { rows = [] }
    }
    rows = SlurmTool.named(rows, args)
    // orch's jobs have no account, license or reservation, all run under QOS normal, and those
    // running are on this machine.
    if args.has("account") || args.has("licenses") || args.has("reservation") { rows = [] }
    if let qos = args.last("qos"), !qos.split(separator: ",").contains(where: { $0.lowercased() == "normal" }) {
      rows = []
    }
    if args.has("nodelist") { rows = rows.filter { $0.state != .pending && $0.startTime != nil } }
    let arrays = try storeCall { () throws(StoreError) in try store.arrayRecords(ids: rows.map(\.arrayID)) }
    let schedules = try storeCall { () throws(StoreError) in try store.schedules(jobIDs: rows.map(\.id)) }
    // --array-unique is accepted and, as in squeue 22.05, leaves pending elements grouped.
    var records = try Self.heldDependencies(
      Self.records(rows, arrays: arrays, expand: args.has("array"), schedules: schedules, now: now), store: store)
    // GPUs and the memory limit are per job in the store: read when printed.
    func readResources() throws {
      let allocations = try storeCall { () throws(StoreError) in
        try store.gpuAllocations(records.map(\.first.id))
      }
      for i in records.indices { records[i].resources = allocations[records[i].first.id] }
    }
    if args.has("json") {
      try readResources()
      return SlurmJSON.jobs(records, now: now)
    }
    if let long = args.last("Format") { format = try SqueueFormat.percent(long) }
    let pieces = PercentFormat.parse(format)
    let printed = Set(
      pieces.compactMap { piece -> Character? in
        if case .field(let letter, _, _) = piece { return letter }
        return nil
      })
    let host = SlurmMachine.host
    let user = SlurmMachine.user
    if !printed.isDisjoint(with: ["b", "m"]) || sort.contains(where: { $0.letter == "m" || $0.letter == "b" }) {
      try readResources()
    }
    records = SqueueSort.sorted(records, by: sort, now: now, host: host, user: user)
    // squeue names the cluster before its jobs whenever -M is given, even with -h.
    var text = args.has("clusters") ? "CLUSTER: \(SlurmClusters.name)\n" : ""
    if !args.has("noheader") {
      if args.has("long") || dated { text += SinfoFormat.dateLine(time(nil)) + "\n" }
      text += PercentFormat.render(pieces) { SqueueFormat.header[$0] ?? "" } + "\n"
    }
    let convert = !args.has("noconvert")
    for record in records {
      text +=
        PercentFormat.render(pieces) { letter in
          letter == "m" && !convert
            ? Record.memoryText(launch: record.launch, limit: record.resources?.memLimit, convert: false)
            : record.field(letter, now: now, host: host, user: user)
        } + "\n"
    }
    return text
  }

  /// Held jobs' dependencies as slurmctld still evaluates them (orch's daemon leaves held jobs alone).
  static func heldDependencies(_ records: [Record], store: JobStore) throws -> [Record] {
    guard records.contains(where: { $0.schedule?.held == true && $0.array?.dependency != nil }) else { return records }
    let now = Posix.now()
    let statuses = try storeCall { () throws(StoreError) in
      try store.read("while reading held jobs' dependencies") { db in try DependencyCheck.held(db, now: now) }
    }
    return records.map { record in
      var record = record
      record.heldDependency = statuses[record.first.id]
      return record
    }
  }

  /// `%all`'s letters, in squeue's order.
  static let allLetters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

  /// SLURM's default sort: job state (pending first), then priority, then id. Pending elements of one array that
  /// never started and wait for the same reason print as one line (`12_[3-9]`) unless `-r`, as
  /// slurmctld keeps them in one record until each starts.
  static func records(
    _ rows: [JobRow], arrays: [Int64: ArrayRecord], expand: Bool, schedules: [Int64: JobSchedule] = [:],
    now: Double = Posix.now()
  ) -> [Record] {
    // squeue's default order, `-S P,t,-p`: by state, then priority, highest first, so held jobs
    // (priority 0) come after the others in their state; orch breaks ties by id.
    let priority = Dictionary(
      rows.map { ($0.id, SlurmSchedule.priority($0, schedules[$0.id])) }, uniquingKeysWith: { first, _ in first })
    let sorted = rows.sorted {
      (SqueueSort.rank($0.state), -(priority[$0.id] ?? 0), $0.id)
        < (SqueueSort.rank($1.state), -(priority[$1.id] ?? 0), $1.id)
    }
    var out: [Record] = []
    for row in sorted {
      var reason = Record.reason(row, array: arrays[row.arrayID])
      if ["Priority", "None", "JobArrayTaskLimit"].contains(reason),
        SlurmSchedule.waitsForBegin(row, schedules[row.id], now: now)
      {
        reason = "BeginTime"
      }
      // Elements cancelled before they ever started stay in the array's one record too.
      func unsplit(_ r: JobRow) -> Bool {
        r.isArray && r.startTime == nil && (r.state == .pending || r.state == .cancelled && r.attempt == 0)
      }
      if !expand, unsplit(row), var last = out.last, unsplit(last.first), last.first.state == row.state,
        last.first.arrayID == row.arrayID, last.reason == reason
      {
        last.indices.append(row.arrayIndex ?? 0)
        out[out.count - 1] = last
        continue
      }
      // The only element of a one-element array, pending and never started, is still slurmctld's
      // array record: `12_[7]` (`12_7` with -r).
      let array = arrays[row.arrayID]
      out.append(
        Record(
          first: row, indices: [row.arrayIndex ?? 0], reason: reason, array: array, schedule: schedules[row.id],
          wholeArray: !expand && array?.size == 1 && row.state == .pending && unsplit(row)))
    }
    return out
  }

  typealias Record = SqueueRecord

  static let usageLine =
    "Usage: squeue [-j jobs] [-n name] [-o format] [-p partitions] [-t states] [-u user_name] [-ahlrv]"

  static let usage = """
    Usage: squeue [OPTIONS]
      -a, --all                 accepted (orch has one partition)
      -h, --noheader            no headers on output
      -j, --jobs=job(s)         comma separated list of jobs IDs to view (12, 12_3, 12_[1-3])
      -l, --long                long report
          --me                  equivalent to --user=$USER
      -n, --name=job_name(s)    comma separated list of job names to view
      -o, --format=format       format specification (%i %j %u %t %T %M %l %D %R %C %P %a %A %F %K ...)
      -p, --partition=partition(s) comma separated list of partitions to view
      -r, --array               display one job array element per line
      -S, --sort=fields         sort by format letters, - for descending (-S -t,i)
      -i, --iterate=seconds     print the report again every so many seconds
      -A, -q, -L, -R, -w        account, QOS, license, reservation and node filters
      -M, --clusters=names      orch is the cluster orch (all selects it too)
          --noconvert           memory in megabytes, unconverted
          --start               print expected start times of pending jobs
      -t, --states=state(s)     comma separated list of states to view (PD,R,CD,... or all)
      -u, --user=user_name(s)   comma separated list of users to view

    Example:
      squeue -u $USER -o "%.18i %.8j %.2t %.10M %R"

    """
}
