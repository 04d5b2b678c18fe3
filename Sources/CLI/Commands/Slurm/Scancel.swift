import ArgumentParser
import Foundation
import Operations
import OrchCore
import SlurmSyntax
import SlurmViews
import Store

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
    .init("qos", "q", .required), .init("wckey", nil, .required), .init("clusters", "M", .required),
    .init("reservation", "R", .required), .init("nodelist", "w", .required), .init("hurry", "H"), .init("ctld"),
  ]

  func run() throws {
    try SlurmTool.run("scancel") {
      let args = try SlurmGetopt.parse(arguments, tool: "scancel", flags: Self.flags)
      if let message = (args.last("clusters")).flatMap(SlurmClusters.unreachable) {
        throw OrchError.badInput("scancel: error: \(message)")
      }
      if SlurmTool.answeredInfo(args, usage: Self.usage, tool: "scancel") { return }
      if try !Self.act(args) { throw ExitCode(1) }
    }
  }

  /// Cancels or signals what `args` select; false when some ids were invalid or had already
  /// ended (scancel still acts on the others, then exits 1, as SLURM 23.02 does; 22.05 exits 0 and
  /// says so only with -v — SlurmDifferentialTests pins both).
  static func act(_ args: SlurmArguments) throws -> Bool {
    let filters = ["state", "name", "user", "me", "partition", "account", "qos", "wckey", "reservation", "nodelist"]
    let filtered = filters.contains(where: args.has)
    if args.operands.isEmpty && !filtered {
      throw OrchError.badInput("scancel: error: No job identification provided")
    }
    let signal = try args.last("signal").map { text throws(OrchError) in
      guard let n = SbatchValues.signalNumber(text) else {
        throw OrchError.badInput("scancel: error: Invalid job signal: \(text)")
      }
      return n
    }
    // scancel's -u names one user, refused when the machine has none of that name or uid.
    if let user = args.last("user"), !SlurmTool.userExists(user) {
      throw OrchError.badInput("scancel: error: Invalid user name: \(user)")
    }
    let verbose = args.has("verbose")
    let home = try OrchHome()
    let store = try home.openStore()
    var (rows, ok) = try select(args, store: store)
    if rows.isEmpty && filtered && verbose {
      let given = filters.compactMap { name in args.last(name).map { "\(name)=\($0)" } }
      Output.stderr(
        "scancel: error: No active jobs match ALL job filters, including: \(given.joined(separator: " ")) ")
    }
    if args.has("interactive") { rows = rows.filter(confirm) }
    if let signal, signal != SIGKILL {
      // SIGKILL is a cancel in SLURM too; any other signal leaves the job running its course.
      let running = rows.filter { $0.state == .running }
      if verbose { for r in running { Output.stderr("scancel: Signal \(signal) to job \(r.display)") } }
      let scope: Operations.SignalScope = args.has("batch") ? .batch : args.has("full") ? .full : .steps
      try Operations.signal(running.map(\.id), signal, scope: scope, store: store)
    } else {
      if verbose { for r in rows { Output.stderr("scancel: Terminating job \(r.display)") } }
      // scancel returns before KillWait ends; a short wait lets a following squeue show most
      // cancels recorded.
      _ = try Operations.cancel(rows.map(\.id), store: store, home: home, wait: 3)
    }
    return ok
  }

  /// The unfinished jobs `args` select (ids, `--state`, `--name`, `--user`, `--partition`, and
  /// the filters orch records nothing for); false when an id was invalid or had already ended
  /// (said on stderr). Exactly these are cancelled or signalled.
  static func select(_ args: SlurmArguments, store: JobStore) throws -> (rows: [JobRow], ok: Bool) {
    var ok = true
    // -Q: an id that is invalid or already ended is not reported (the exit code still says so).
    let quiet = args.has("quiet")
    var filter = JobFilter(states: [.pending, .running])
    if !args.operands.isEmpty {
      var selected: [Int64] = []
      for operand in args.operands {
        // An operand naming no id at all ('' or ',') is refused before anything is cancelled.
        if operand.split(separator: ",").allSatisfy({ $0.isEmpty }) {
          throw OrchError.badInput("scancel: error: Invalid job id \(operand)")
        }
        let resolved = try SlurmTool.resolve([operand], store: store)
        for id in resolved.unknown {
          if !quiet { Output.stderr("scancel: error: Kill job error on job id \(id): Invalid job id specified") }
          ok = false
        }
        guard !resolved.ids.isEmpty else { continue }
        let active = try storeCall { () throws(StoreError) in
          try store.jobs(JobFilter(states: [.pending, .running], jobs: resolved.ids))
        }
        if active.isEmpty {
          if !quiet {
            Output.stderr(
              "scancel: error: Kill job error on job id \(operand): Job/step already completing or completed")
          }
          ok = false
        }
        selected += resolved.ids
      }
      filter.jobs = selected
    }
    if let list = args.last("state") {
      let states = try SlurmTool.states(list, tool: "scancel")
      filter.states = states.filter { $0 == .pending || $0 == .running }
    }
    var rows = try storeCall { () throws(StoreError) in try store.jobs(filter) }
    rows = SlurmTool.named(rows, args)
    if let users = args.last("user"), !SlurmTool.matchesUser(users) { rows = [] }
    // orch records no account, QOS or WCKey, so no job has the one asked for (SLURM matches
    // nothing for a value no job carries).
    if ["account", "qos", "wckey", "reservation"].contains(where: args.has) { rows = [] }
    // -w: the jobs running on the nodes named; this machine is orch's one node.
    if let list = args.last("nodelist") {
      let names = (try? HostList.expand(list)) ?? []
      rows = names.contains(SlurmMachine.host) ? rows.filter { $0.state == .running } : []
    }
    return (rows, ok)
  }

  /// `-i`: asks for each job, as scancel does; anything but y/Y keeps the job.
  static func confirm(_ row: JobRow) -> Bool {
    Output.print("Cancel job_id=\(row.display) name=\(row.name) partition=\(SbatchSubmit.partition) [y/n]? ")
    guard let answer = readLine() else { return false }
    return answer.hasPrefix("y") || answer.hasPrefix("Y")
  }

  static let usage = """
    Usage: scancel [OPTIONS] [job_id[_array_id][.step_id]]
      -n, --name=job_name         act only on jobs with this name
      -Q, --quiet                 disable warnings
      -b, --batch                 with -s: signal only the batch shell
      -f, --full                  with -s: signal the batch shell and all its processes
      -s, --signal=name | integer signal the job's steps (the shell's children) instead of cancelling it
      -t, --state=states          act only on jobs in these states (PENDING, RUNNING)
      -u, --user=user_name        act only on jobs of this user
          --me                    act only on your jobs
      -i, --interactive           ask before cancelling each job
      -v, --verbose               say what is done to each job
      -w, --nodelist=hosts        act only on jobs running on these hosts (this machine)
      -A, --account, -q, --qos, --wckey, -R, --reservation
                                  orch records none of them: they match no job
      -H, --hurry, --ctld         accepted
    Job ids: 12 (the job or the whole array), 12_3, 12_[1-3,5].

    Example:
      scancel 12_[2-4]

    """
}
