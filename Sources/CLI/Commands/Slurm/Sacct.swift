import ArgumentParser
import Foundation
import Operations
import OrchCore
import SlurmSyntax
import SlurmViews
import Store
import System

struct Sacct: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sacct",
    abstract: "Job accounting in sacct's format: state, ExitCode code:signal, elapsed, times.",
    discussion: """
      Takes sacct's options: -j, -X, -P/--parsable2, -p, --delimiter, -n, -u, -s, -S/-E, -o/--format.
      Examples:
        orch sacct -j 12 -X
        orch sacct -j 12 -P -n -o JobID,State,ExitCode,Elapsed
      """)

  @Argument(parsing: .captureForPassthrough, help: "sacct options.") var arguments: [String] = []

  static let flags: [SlurmFlag] = [
    .init("jobs", "j", .required), .init("allocations", "X"), .init("parsable", "p"),
    .init("parsable2", "P"), .init("delimiter", nil, .required), .init("noheader", "n"),
    .init("user", "u", .required), .init("uid", nil, .required), .init("state", "s", .required),
    .init("starttime", "S", .required), .init("endtime", "E", .required), .init("format", "o", .required),
    .init("allusers", "a"), .init("brief", "b"), .init("long", "l"), .init("duplicates", "D"),
    .init("noconvert"), .init("truncate", "T"), .init("name", nil, .required), .init("partition", "r", .required),
    .init("verbose", "v"), .init("help", "h"), .init("usage"), .init("version", "V"), .init("helpformat", "e"),
    .init("json"),
    .init("local", "L"), .init("allclusters"), .init("clusters", "M", .required),
  ]

  static let defaultFields = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"
  static let longFields =
    "JobID,JobIDRaw,JobName,Partition,User,Account,AllocCPUS,State,ExitCode,Elapsed,Submit,Start,End,NodeList,Restarts"

  func run() throws {
    try SlurmTool.run("sacct") {
      let args = try SlurmGetopt.parse(arguments, tool: "sacct", flags: Self.flags)
      if let message = (args.last("clusters")).flatMap(SlurmClusters.unreachable) {
        throw OrchError.badInput("sacct: error: \(message)")
      }
      if SlurmTool.answeredInfo(args, usage: Self.usage) { return }
      if args.has("helpformat") {
        Output.print(Self.fields.map(\.name).joined(separator: " ") + "\n")
        return
      }
      var spec = args.has("brief") ? "JobID,State,ExitCode" : args.has("long") ? Self.longFields : Self.defaultFields
      let formats = args.all("format")
      if !formats.isEmpty { spec = formats.joined(separator: ",") }
      if let env = ProcessInfo.processInfo.environment["SACCT_FORMAT"], formats.isEmpty, !args.has("brief") {
        spec = env
      }
      let columns = try Self.columns(spec)

      let home = try OrchHome()
      let store = try home.openStore()
      var filter = JobFilter()
      let idLists = args.all("jobs")
      let now = Posix.now()
      if !idLists.isEmpty { filter.jobs = try SlurmTool.resolve(idLists, store: store).ids }
      if let list = args.last("state") { filter.states = try SlurmTool.states(list, tool: "sacct") }
      // SLURM: without -j, only jobs since midnight unless -S says otherwise.
      let start =
        try args.last("starttime").map { text throws(OrchError) in try Self.time(text, now: now, what: "start") }
        ?? (idLists.isEmpty ? Self.midnight(now) : nil)
      let end = try args.last("endtime").map { text throws(OrchError) in try Self.time(text, now: now, what: "end") }
      var rows = try storeCall { () throws(StoreError) in try store.jobs(filter) }
      if let states = args.last("state"), filter.states?.isEmpty == true, !states.isEmpty { rows = [] }
      rows = rows.filter { r in
        if let start, (r.endTime ?? now) < start && r.state.isTerminal { return false }
        if let end, r.submitTime > end { return false }
        return true
      }
      if !args.has("allusers"), let users = args.last("user") ?? args.last("uid"), !SlurmTool.matchesUser(users) {
        rows = []
      }
      rows = SlurmTool.named(rows, args)

      var context = Context(now: now, host: SlurmMachine.host, user: SlurmMachine.user, uid: String(getuid()))
      if columns.contains(where: { $0.field.name.hasSuffix("TRES") }) {
        context.gpus = try storeCall { () throws(StoreError) in try store.gpuAllocations(rows.map(\.id)) }
      }
      if columns.contains(where: { Self.extraFields.map(\.name).contains($0.field.name) }) || args.has("json") {
        context.arrays = try storeCall { () throws(StoreError) in try store.arrayRecords(ids: rows.map(\.arrayID)) }
        context.schedules = try storeCall { () throws(StoreError) in try store.schedules(jobIDs: rows.map(\.id)) }
      }
      if args.has("json") {
        Output.print(SlurmJSON.sacct(Self.records(rows), context: context))
        return
      }
      var lines: [[String]] = []
      for record in Self.records(rows) {
        for line in args.has("allocations") ? [.job] : Self.lines(record) {
          lines.append(columns.map { $0.field.value(record, line, context) })
        }
      }

      let parsable = args.has("parsable") || args.has("parsable2")
      var text = ""
      if parsable {
        let delimiter = args.last("delimiter") ?? "|"
        let trailing = args.has("parsable2") ? "" : delimiter
        if !args.has("noheader") { text += columns.map(\.field.name).joined(separator: delimiter) + trailing + "\n" }
        for line in lines { text += line.joined(separator: delimiter) + trailing + "\n" }
      } else {
        if !args.has("noheader") {
          text += columns.map { Self.cell($0.field.name, $0.width) }.joined() + "\n"
          text += columns.map { String(repeating: "-", count: abs($0.width)) + " " }.joined() + "\n"
        }
        for line in lines {
          text += zip(columns, line).map { Self.cell($1, $0.width) }.joined() + "\n"
        }
      }
      Output.print(text)
    }
  }

  /// sacct's fixed-width cell: right-justified (negative width: left), cut with a trailing `+`,
  /// then one blank.
  static func cell(_ value: String, _ width: Int) -> String {
    let w = abs(width)
    var v = value
    if v.count > w { v = String(v.prefix(max(w - 1, 0))) + "+" }
    let pad = String(repeating: " ", count: w - v.count)
    return (width < 0 ? v + pad : pad + v) + " "
  }

  typealias Record = SacctRecord

  static func records(_ rows: [JobRow]) -> [Record] {
    var out: [Record] = []
    for row in rows {
      if row.state == .pending, row.isArray, row.startTime == nil, var last = out.last,
        last.row.arrayID == row.arrayID, last.row.state == .pending, last.row.startTime == nil
      {
        last.indices.append(row.arrayIndex ?? 0)
        out[out.count - 1] = last
        continue
      }
      out.append(Record(row: row, indices: [row.arrayIndex ?? 0]))
    }
    return out
  }

  /// What one output line describes: the job (its allocation), or one of its steps — the batch
  /// shell (`ID.batch`), the job's extern step (`ID.extern`, which SLURM creates with
  /// PrologFlags=contain and orch always lists), and each srun step (`ID.0`, `ID.1`, …).
  enum Line: Sendable {
    case job, batch, extern
    case step(StepRecord)

    var suffix: String {
      switch self {
      case .job: ""
      case .batch: ".batch"
      case .extern: ".extern"
      case .step(let step): ".\(step.id)"
      }
    }

    var isStep: Bool {
      if case .job = self { return false }
      return true
    }
  }

  /// A record's lines without -X: the job, then (once it started) its batch and extern steps and
  /// its srun steps of the current attempt, in SLURM's order.
  static func lines(_ record: Record) -> [Line] {
    let r = record.row
    guard r.startTime != nil, r.state != .pending, !record.collapsed else { return [.job] }
    let steps = StepLog.read(path: StepLog.path(runDir: r.runDir, attempt: r.attempt))
    return [.job, .batch, .extern] + steps.map { .step($0) }
  }

  /// A step's state: from how it ended, or from the job's when it never recorded an end.
  static func stepState(_ line: Line, _ r: JobRow) -> String {
    let killed = r.state == .cancelled || r.state == .timeout
    switch line {
    case .job: return r.state.rawValue
    case .batch:
      // The batch shell of a job that was cancelled or timed out was killed by a signal.
      return killed ? JobState.cancelled.rawValue : r.state.rawValue
    case .extern:
      return r.state == .running ? JobState.running.rawValue : JobState.completed.rawValue
    case .step(let step):
      guard step.end != nil else {
        if r.state == .running { return JobState.running.rawValue }
        return r.state == .outOfMemory ? r.state.rawValue : JobState.cancelled.rawValue
      }
      if step.signal != nil { return killed ? JobState.cancelled.rawValue : JobState.failed.rawValue }
      return step.exitCode == 0 ? JobState.completed.rawValue : JobState.failed.rawValue
    }
  }

  static func exitCode(_ line: Line, _ r: JobRow) -> String {
    switch line {
    case .job, .batch: "\(r.exitCode ?? 0):\(r.signal ?? 0)"
    case .extern: "0:0"
    case .step(let step):
      // A step with no recorded end in a job that ended went with the job's SIGKILL.
      step.end == nil && r.state.isTerminal ? "0:\(SIGKILL)" : "\(step.exitCode ?? 0):\(step.signal ?? 0)"
    }
  }

  /// Start and end of a line's run (end nil while it runs).
  static func span(_ line: Line, _ r: JobRow) -> (start: Double?, end: Double?) {
    let jobEnd = r.state.isTerminal ? r.endTime : nil
    guard case .step(let step) = line else { return (r.startTime, jobEnd) }
    return (step.start, step.end ?? jobEnd)
  }

  typealias Context = SacctContext

  struct Field: Sendable {
    let name: String
    let width: Int
    /// (record, which of its lines, context) → text.
    let value: @Sendable (Record, Line, Context) -> String
  }

  static func elapsed(_ r: JobRow, _ line: Line, now: Double) -> Int {
    guard r.state != .pending, case let (start?, end) = span(line, r) else { return 0 }
    return max(0, TimeFormat.seconds((end ?? now) - start))
  }

  static func state(_ r: JobRow, _ line: Line, uid: String) -> String {
    // A cancel by the user reads "CANCELLED by UID" on the job line, as sacct prints it.
    if r.state == .cancelled && !line.isStep && r.reason == "Cancelled" { return "CANCELLED by \(uid)" }
    return stepState(line, r)
  }

  static func cpus(_ r: JobRow, _ line: Line) -> String {
    if case .step(let step) = line { return String(step.cpus) }
    return r.startTime == nil ? "0" : String(r.cpus)
  }

  static let fields: [Field] =
    [
      Field(name: "JobID", width: -12) { r, line, _ in r.jobID + line.suffix },
      Field(name: "JobIDRaw", width: -12) { r, line, _ in r.rawID + line.suffix },
      Field(name: "JobName", width: 10) { r, line, _ in
        switch line {
        case .job: r.row.name
        case .batch: "batch"
        case .extern: "extern"
        case .step(let step): step.name
        }
      },
      Field(name: "Partition", width: 10) { _, line, _ in line.isStep ? "" : SbatchSubmit.partition },
      Field(name: "Account", width: 10) { _, _, _ in "" },
      Field(name: "User", width: 9) { _, line, c in line.isStep ? "" : c.user },
      Field(name: "UID", width: 6) { _, line, c in line.isStep ? "" : c.uid },
      Field(name: "AllocCPUS", width: 10) { r, line, _ in cpus(r.row, line) },
      Field(name: "NCPUS", width: 10) { r, line, _ in cpus(r.row, line) },
      Field(name: "ReqCPUS", width: 8) { r, line, _ in
        if case .step(let step) = line { return String(step.cpus) }
        return String(r.row.cpus)
      },
      Field(name: "NNodes", width: 8) { _, _, _ in "1" },
      Field(name: "AllocTRES", width: 10) { r, line, c in
        line.isStep || r.row.startTime == nil ? "" : TRESText.sacct(r.row, c.gpus[r.row.id], allocated: true)
      },
      Field(name: "ReqTRES", width: 10) { r, line, c in
        line.isStep ? "" : TRESText.sacct(r.row, c.gpus[r.row.id], allocated: false)
      },
      Field(name: "State", width: 10) { r, line, c in state(r.row, line, uid: c.uid) },
      Field(name: "ExitCode", width: 8) { r, line, _ in exitCode(line, r.row) },
      Field(name: "DerivedExitCode", width: 15) { r, line, _ in
        line.isStep ? "" : "\(r.row.exitCode ?? 0):\(r.row.signal ?? 0)"
      },
      Field(name: "Elapsed", width: 10) { r, line, c in TimeFormat.sacctElapsed(elapsed(r.row, line, now: c.now)) },
      Field(name: "ElapsedRaw", width: 10) { r, line, c in String(elapsed(r.row, line, now: c.now)) },
      Field(name: "Timelimit", width: 10) { r, line, _ in
        line.isStep ? "" : TimeFormat.sacctTimelimit(minutes: r.row.timeLimit.map { $0 / 60 })
      },
      Field(name: "Submit", width: 19) { r, line, _ in
        if case .step(let step) = line { return SlurmClock.format(step.start) }
        return SlurmClock.format(r.row.submitTime)
      },
      Field(name: "Eligible", width: 19) { r, line, _ in
        if case .step(let step) = line { return SlurmClock.format(step.start) }
        return SlurmClock.format(r.row.submitTime)
      },
      Field(name: "Start", width: 19) { r, line, _ in SlurmClock.format(span(line, r.row).start) },
      Field(name: "End", width: 19) { r, line, _ in span(line, r.row).end.map { SlurmClock.format($0) } ?? "Unknown" },
      Field(name: "NodeList", width: 15) { r, _, c in r.row.startTime == nil ? "None assigned" : c.host },
      Field(name: "Restarts", width: 8) { r, _, _ in String(max(0, r.row.attempt - 1)) },
      Field(name: "Reason", width: 20) { r, _, _ in
        guard let reason = r.row.reason, !reason.contains(" ") else { return "None" }
        return reason
      },
    ] + extraFields

  /// `-o JobID,State%20,jobname%-30`: names case-insensitive (unique prefixes too), `%N` a width.
  static func columns(_ spec: String) throws(OrchError) -> [(field: Field, width: Int)] {
    var out: [(Field, Int)] = []
    for item in spec.split(whereSeparator: { $0 == "," || $0 == " " }) {
      let (name, widthText) = SlurmText.splitOnce(String(item), "%")
      let lower = name.lowercased()
      let field =
        fields.first { $0.name.lowercased() == lower }
        ?? {
          let matches = fields.filter { $0.name.lowercased().hasPrefix(lower) }
          return matches.count == 1 ? matches[0] : nil
        }()
      guard let field else { throw .badInput("sacct: error: Invalid field requested: \"\(name)\"") }
      var width = field.width
      if let widthText, let n = Int(widthText), n != 0 { width = field.width < 0 && n > 0 ? -n : n }
      out.append((field, width))
    }
    return out
  }

  static func midnight(_ now: Double) -> Double {
    Calendar.current.startOfDay(for: Date(timeIntervalSince1970: now)).timeIntervalSince1970
  }

  /// sacct's time forms: `YYYY-MM-DD[THH:MM[:SS]]`, `MMDD[YY]`, `MM/DD[/YY]`, `HH:MM[:SS]` (today),
  /// `now[{+|-}N[seconds|minutes|hours|days|weeks]]`, `today`, `midnight`, `noon`, `tomorrow`.
  static func time(_ text: String, now: Double, what: String) throws(OrchError) -> Double {
    let lower = text.lowercased()
    let calendar = Calendar.current
    let today = midnight(now)
    switch lower {
    case "now": return now
    case "today", "midnight": return today
    case "noon": return today + 12 * 3600
    case "tomorrow": return today + 86_400
    default: break
    }
    if lower.hasPrefix("now") {
      let rest = lower.dropFirst(3)
      let sign: Double = rest.first == "-" ? -1 : 1
      let body = rest.dropFirst()
      let digits = body.prefix { $0.isNumber }
      let unit = body.dropFirst(digits.count)
      let scale: Double? =
        switch unit {
        case "", "s", "sec", "second", "seconds": 1
        case "m", "min", "minute", "minutes": 60
        case "h", "hour", "hours": 3600
        case "d", "day", "days": 86_400
        case "w", "week", "weeks": 604_800
        default: nil
        }
      if (rest.first == "-" || rest.first == "+"), let n = Double(digits), let scale { return now + sign * n * scale }
    }
    let formats = [
      "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd", "MM/dd/yy", "MM/dd", "MMddyy", "MMdd",
    ]
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = calendar.timeZone
    for format in formats {
      f.dateFormat = format
      if let date = f.date(from: text), f.string(from: date) == text {
        if !format.contains("yy") {
          // No year: this year, as SLURM assumes.
          var parts = calendar.dateComponents([.month, .day], from: date)
          parts.year = calendar.component(.year, from: Date(timeIntervalSince1970: now))
          if let d = calendar.date(from: parts) { return d.timeIntervalSince1970 }
        }
        return date.timeIntervalSince1970
      }
    }
    let clock = text.split(separator: ":")
    if (2...3).contains(clock.count), let h = Int(clock[0]), let m = Int(clock[1]), h < 24, m < 60 {
      let s = clock.count == 3 ? Int(clock[2]) ?? -1 : 0
      if (0..<60).contains(s) { return today + Double(h * 3600 + m * 60 + s) }
    }
    throw .badInput("sacct: error: Invalid time specification (\(what) time): \(text)")
  }

  static let usage = """
    Usage: sacct [OPTIONS]
      -a, --allusers              accepted (orch keeps one user's jobs)
      -b, --brief                 JobID,State,ExitCode
          --delimiter=chars       delimiter for --parsable/--parsable2 (default '|')
      -E, --endtime=time          jobs submitted before this time
      -e, --helpformat            list the fields -o accepts
      -j, --jobs=job(.step)       comma separated list of jobs (12, 12_3, 12_[1-3])
      -l, --long                  many fields
      -n, --noheader              no header
      -o, --format=fields         comma separated list of fields, each with an optional %WIDTH
      -p, --parsable              '|' delimited with a trailing '|'
      -P, --parsable2             '|' delimited without a trailing '|'
      -s, --state=state(s)        CD, F, CA, TO, OOM, PD, R (or full names)
      -S, --starttime=time        jobs in any state after this time (default: midnight without -j)
      -u, --user=user(s)          jobs of these users
      -X, --allocations           only the job lines, not their steps (.batch, .extern, srun's .0 .1 …)

    Example:
      sacct -j 12 -X -P -o JobID,State,ExitCode,Elapsed

    """
}
