import ArgumentParser
import Foundation
import Store
import Worker

struct Queue: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Pending and running jobs (like squeue); pending array elements are collapsed.",
    discussion: "Examples:\n  orch queue\n  orch queue -r --sweep p100_source\n  orch queue --json")

  @Flag(name: [.customShort("r"), .customLong("array")], help: "One line per array element (squeue -r).")
  var expand = false
  @Option(help: "Only this sweep.") var sweep: String?
  @Flag(help: "Print JSON.") var json = false

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    Collect.refresh(store, sweep: sweep)
    if json {
      return try JSONLines.print { (emit: (JobRow) -> Void) in
        try storeCall { () throws(StoreError) in
          try store.eachJob(JobFilter(states: [.running, .pending], sweep: sweep)) { emit($0) }
        }
      }
    }
    if expand { return try Self.printExpanded(store: store, sweep: sweep) }
    try Self.printCollapsed(store: store, sweep: sweep)
  }
}

struct History: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Jobs with their state, exit code:signal, elapsed time and attempts (like sacct).",
    discussion:
      "Examples:\n  orch history --sweep p100_source\n  orch history -j 12 --attempts\n  orch history --state FAILED --json"
  )

  @Option(name: .shortAndLong, parsing: .upToNextOption, help: "Job ids: 12, 12_3, 12_[1-3].") var jobs: [String] = []
  @Option(help: "Only this sweep.") var sweep: String?
  @Option(help: "Only these states, comma-separated (COMPLETED,FAILED,...).") var state: String?
  @Flag(help: "One line per attempt.") var attempts = false
  @Flag(help: "Print JSON.") var json = false

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    var states: [JobState] = []
    for s in (state ?? "").split(separator: ",") {
      guard let st = JobState(rawValue: s.uppercased()) else {
        throw OrchError.badInput(
          "unknown state '\(s)': expected one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      states.append(st)
    }
    let ids = try JobIDs.resolve(jobs, store: store)
    Collect.refresh(store, sweep: sweep)
    let filter = JobFilter(states: state == nil ? nil : states, jobs: jobs.isEmpty ? nil : ids, sweep: sweep)
    if attempts { return try Self.printAttempts(store: store, filter: filter, json: json) }
    try Self.printJobs(store: store, filter: filter, json: json)
  }
}

struct Cancel: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Cancel jobs: pending ones at once, running ones by ending their whole process tree.",
    discussion: "Examples:\n  orch cancel 12\n  orch cancel 12_[1-3] 14_0\n  orch cancel --sweep p100_source")

  @Argument(help: "Job ids: 12, 12_3, 12_[1-3].") var ids: [String] = []
  @Option(help: "Cancel every unfinished job of this sweep.") var sweep: String?

  func validate() throws {
    if ids.isEmpty && sweep == nil { throw ValidationError("give job ids or --sweep NAME") }
  }

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    var targets = try JobIDs.resolve(ids, store: store)
    if let sweep {
      targets += try storeCall { () throws(StoreError) in
        try store.jobs(JobFilter(states: [.pending, .running], sweep: sweep)).map(\.id)
      }
    }
    let outcome = try Operations.cancel(targets, store: store, home: home, wait: 120)
    let running = outcome.running.count
    if outcome.slurmElements.isEmpty || !outcome.pending.isEmpty || running > 0 {
      Output.print("cancelled \(outcome.pending.count) pending and \(running) running job(s)\n")
    }
    if !outcome.slurmElements.isEmpty {
      let shown = outcome.slurmElements.prefix(10).joined(separator: " ")
      Output.print(
        "cancelled \(outcome.slurmElements.count) SLURM job(s): scancel \(shown)\(outcome.slurmElements.count > 10 ? " ..." : "")\n"
      )
    }
    if !outcome.stillRunning.isEmpty {
      Output.print(
        "\(outcome.stillRunning.count) of them still ending; they will be recorded CANCELLED: "
          + outcome.stillRunning.prefix(10).map(String.init).joined(separator: " ") + "\n")
    }
  }
}

struct Retry: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Requeue failed jobs (FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY) under their own ids.",
    discussion: "Examples:\n  orch retry --failed --sweep p100_source\n  orch retry 12_7")

  @Flag(help: "Every failed job (of --sweep, if given).") var failed = false
  @Option(help: "Only this sweep.") var sweep: String?
  @Argument(help: "Job ids to retry.") var ids: [String] = []

  func validate() throws {
    if !failed && ids.isEmpty { throw ValidationError("give job ids or --failed") }
  }

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    let named = try JobIDs.resolve(ids, store: store)
    let rows = try storeCall { () throws(StoreError) in
      try store.jobs(JobFilter(states: JobState.retryable, jobs: ids.isEmpty ? nil : named, sweep: sweep))
    }
    // What SLURM ran is retried through SLURM (a new array of only those elements, same orch ids;
    // it prints its arrays), the rest by the local daemon.
    let local = Set(rows.filter { $0.backend != "slurm" }.map(\.id))
    let requeued = try Operations.retry(rows, store: store, home: home).filter { local.contains($0) }
    if !local.isEmpty || rows.isEmpty {
      let shown = rows.filter { requeued.contains($0.id) }.prefix(10).map(\.display).joined(separator: " ")
      let n = requeued.count
      Output.print("requeued \(n) job(s)\(n > 0 ? ": " + shown + (n > 10 ? " ..." : "") : "")\n")
    }
  }
}

extension Retry {
  /// Resubmits SLURM's failed jobs to SLURM; returns their ids.
  @discardableResult
  static func retryThroughSlurm(_ rows: [JobRow], store: JobStore, home: OrchHome) throws -> [Int64] {
    let commands = try SlurmCommands.locate()
    let maxArraySize = try commands.config()["MaxArraySize"].flatMap(Int.init) ?? ArraySpec.defaultMaxArraySize
    let requeued = try storeCall { () throws(StoreError) in try store.requeueForSlurm(jobIDs: rows.map(\.id)) }
    let jobs = try storeCall { () throws(StoreError) in try store.slurmJobs(ids: requeued) }
    // A fine-tune or an evaluation retried with its source waits for it again: the stored references
    // are the source's checkpoint paths, inside the source's run directory.
    var sources: [Int64: [String]] = [:]
    for job in jobs {
      for path in Self.checkpointPaths(job.config) {
        if let source = jobs.first(where: { $0.id != job.id && (path.hasPrefix($0.runDir + "/") || path == $0.runDir) })
        {
          sources[job.id, default: []].append(source.key)
        }
      }
    }
    let submitter = SlurmSubmitter(
      store: store, home: home, commands: commands, maxArraySize: max(1, maxArraySize),
      workerBinary: DaemonClient.workerPath(), cwd: FileManager.default.currentDirectoryPath)
    var order: [String?] = []
    var byOptions: [String?: [SlurmJob]] = [:]
    for job in jobs {
      if byOptions[job.slurmOptions] == nil { order.append(job.slurmOptions) }
      byOptions[job.slurmOptions, default: []].append(job)
    }
    for options in order {
      let group = byOptions[options]!
      let label = "retry-\(group[0].id)-\(Int(Posix.now() * 1000))"
      let arrays = try submitter.submit(
        jobs: group, options: SlurmOptions.decode(options), sources: sources, label: label)
      for a in arrays {
        Output.print(
          "requeued \(a.jobs.count) job(s) as SLURM job \(a.slurmJobID)\(a.dependency.map { " (--dependency=\($0))" } ?? ""): "
            + group.filter { a.jobs.contains($0.id) }.prefix(10).map(\.display).joined(separator: " ")
            + (a.jobs.count > 10 ? " ..." : "") + "\n")
      }
    }
    DaemonClient.wake(home)
    return requeued
  }

  static func checkpointPaths(_ config: String) -> [String] {
    guard let object = try? JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any],
      let bindings = object["bindings"] as? [String: Any]
    else { return [] }
    return CheckpointReference.bindings.compactMap { bindings[$0] as? String }
      + CheckpointReference.listBindings.flatMap { (bindings[$0] as? [Any])?.compactMap { $0 as? String } ?? [] }
  }
}

struct Logs: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a job's log; -f follows it until the job ends.",
    discussion: "Examples:\n  orch logs 12_3\n  orch logs 12_3 -f")

  @Argument(help: "One job: 12 or 12_3.") var job: String
  @Flag(name: .shortAndLong, help: "Follow the log until the job ends.") var follow = false

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    let row = try JobIDs.single(job, store: store)
    let launch = try LaunchSpec.decode(
      try storeCall { () throws(StoreError) in try store.launch(arrayID: row.arrayID) })
    let identity = JobIdentity(
      jobID: row.id, arrayID: row.arrayID, arrayIndex: row.arrayIndex, isArray: row.isArray, attempt: row.attempt,
      name: row.name, key: row.key, runDir: row.runDir, home: home.path)
    let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
    let path = OutputPaths.resolve(launch: launch, job: identity, host: host).stdout
    var offset: UInt64 = 0
    var following = follow
    while true {
      if let handle = FileHandle(forReadingAtPath: path) {
        try? handle.seek(toOffset: offset)
        if let data = try? handle.readToEnd(), !data.isEmpty {
          FileHandle.standardOutput.write(data)
          offset += UInt64(data.count)
        }
        try? handle.close()
      } else if !following {
        throw OrchError.failure("no log yet for \(row.display) (\(path)); it is \(row.state.rawValue)")
      }
      guard following else { return }
      let state = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(jobs: [row.id])).first?.state }
      if let state, state.isTerminal {
        following = false  // one last read picks up what was written before the end
        continue
      }
      usleep(200_000)
    }
  }
}

struct Metrics: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "A job's metrics as reported on fd 3 (per step/epoch, and the final ones).",
    discussion: "Examples:\n  orch metrics 12_3\n  orch metrics 12_3 --csv > curves.csv")

  @Argument(help: "One job: 12 or 12_3.") var job: String
  @Flag(help: "Print CSV.") var csv = false
  @Flag(help: "Print JSON.") var json = false

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    let row = try JobIDs.single(job, store: store)
    let metrics = try storeCall { () throws(StoreError) in try store.metrics(jobID: row.id) }
    if json { return try Output.json(metrics) }
    let cells = metrics.map { m in
      [
        String(m.attempt), m.epoch.map(String.init) ?? "", m.step.map(String.init) ?? "", m.name, String(m.value),
        m.final ? "1" : "0",
      ]
    }
    let header = ["attempt", "epoch", "step", "name", "value", "final"]
    if csv {
      Output.print(
        ([header] + cells).map { $0.map(Output.csvField).joined(separator: ",") }.joined(separator: "\n") + "\n")
    } else {
      Output.print(Output.table(header.map { $0.uppercased() }, cells))
    }
  }
}
