import Foundation
import OrchCore
import SlurmSyntax
import Store
import System
import Worker

/// The sbatch options of a submission to SLURM, kept on the array for `orch retry`.
public struct SlurmOptions: Codable, Hashable {
  public var partition: String?
  /// At most this many elements of one array at once (`--array=…%N`).
  public var parallelism: Int?
  /// Passed to sbatch before the script (they override the script's directives).
  public var sbatchArgs: [String] = []

  public init(partition: String? = nil, parallelism: Int? = nil, sbatchArgs: [String] = []) {
    self.partition = partition
    self.parallelism = parallelism
    self.sbatchArgs = sbatchArgs
  }

  public func encoded() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
  }

  static func decode(_ json: String?) -> SlurmOptions {
    json.flatMap { try? JSONDecoder().decode(SlurmOptions.self, from: Data($0.utf8)) } ?? SlurmOptions()
  }
}

/// Hands stored jobs (PENDING, assigned to SLURM) to the real SLURM: one manifest per submission
/// (`$ORCH_HOME/slurm/<name>/manifest.jsonl`, a line per job) and sbatch array scripts whose element
/// i runs `orch-worker slurm-task` on entry offset + i. Jobs are grouped by resources and by
/// dependency (an array's sbatch options and `--dependency` hold for every element), each group
/// split at `MaxArraySize`. A job fine-tuning from another job's checkpoint is submitted after its
/// source, with `--dependency=afterok:<the source's element>`. SLURM ids are recorded per array as
/// sbatch answers; if sbatch fails, the jobs not yet submitted are FAILED with its message.
public struct SlurmSubmitter {
  public struct Submitted: Codable {
    public var slurmJobID: Int
    public var jobs: [Int64]
    public var dependency: String?
    var script: String
  }

  public let store: JobStore
  public let home: OrchHome
  public let commands: SlurmCommands
  public let maxArraySize: Int
  public let workerBinary: String
  public let cwd: String

  public init(
    store: JobStore, home: OrchHome, commands: SlurmCommands, maxArraySize: Int, workerBinary: String, cwd: String
  ) {
    self.store = store
    self.home = home
    self.commands = commands
    self.maxArraySize = maxArraySize
    self.workerBinary = workerBinary
    self.cwd = cwd
  }

  /// `sources`: job id → keys of the configs whose checkpoints it reads (a fine-tune's source, an
  /// evaluation's one or two).
  public func submit(jobs: [SlurmJob], options: SlurmOptions, sources: [Int64: [String]], label: String)
    throws(OrchError)
    -> [Submitted]
  {
    guard !jobs.isEmpty else { return [] }
    // Stored before names were checked at submit (a retry): refused here, before any file is written.
    do throws(OrchError) {
      try Self.checkScriptInput(
        names: Set(jobs.map(\.name)).sorted(), options: options, home: home.path, worker: workerBinary)
    } catch {
      try recordFailures(jobs.map { ($0.id, error.message) })
      throw error
    }
    let dir = home.path + "/slurm/" + label
    do { try Posix.makeDirectories(dir) } catch { throw OrchError.failure("cannot create \(dir): \(error)") }
    let manifest = dir + "/manifest.jsonl"
    guard FileManager.default.createFile(atPath: manifest, contents: nil) else {
      throw OrchError.failure("cannot write \(manifest)")
    }
    var offset = 0
    var arrays: [Submitted] = []
    let byKey = Dictionary(jobs.map { ($0.key, $0.id) }, uniquingKeysWith: { a, _ in a })
    var elementOf: [Int64: String] = [:]
    var remaining = jobs
    var failed: [(Int64, String)] = []

    // Dependencies outside this batch are known now; inside it, once the source is submitted.
    var outside: [Int64: [String]] = [:]
    for job in jobs {
      for source in sources[job.id] ?? [] where byKey[source] == nil {
        guard let newest = try storeCall({ () throws(StoreError) in try store.newest(key: source) }) else { continue }
        if newest.state == .completed { continue }
        if newest.slurm, !newest.state.isTerminal, let id = newest.slurmID {
          outside[job.id, default: []].append(id)
        } else {
          failed.append((job.id, "DependencyNeverSatisfied: \(source) is \(newest.state.rawValue)"))
          break
        }
      }
    }
    let never = Set(failed.map(\.0))
    remaining.removeAll { never.contains($0.id) }

    do throws(OrchError) {
      while !remaining.isEmpty {
        var ready: [(job: SlurmJob, dependency: String?)] = []
        var waiting: [SlurmJob] = []
        for job in remaining {
          let inside = (sources[job.id] ?? []).compactMap { byKey[$0] }.filter { $0 != job.id }
          let elements = inside.compactMap { elementOf[$0] }
          guard elements.count == inside.count else {
            waiting.append(job)
            continue
          }
          let after = (outside[job.id] ?? []) + elements
          ready.append((job, after.isEmpty ? nil : "afterok:" + after.joined(separator: ":")))
        }
        if ready.isEmpty {
          failed += waiting.map { ($0.id, "DependencyNeverSatisfied: a cycle of checkpoint references") }
          break
        }
        struct Group: Hashable {
          var dependency: String?
          var cpus: Int
          var timeLimit: Int?
          var memLimit: Int64?
          var gres: String?
        }
        var order: [Group] = []
        var groups: [Group: [SlurmJob]] = [:]
        for (job, dependency) in ready {
          let gres = job.gpus > 0 ? GPURequest(count: job.gpus, type: job.gpuType).gresText : nil
          let g = Group(
            dependency: dependency, cpus: job.cpus, timeLimit: job.timeLimit, memLimit: job.memLimit, gres: gres)
          if groups[g] == nil { order.append(g) }
          groups[g, default: []].append(job)
        }
        for g in order {
          let members = groups[g]!
          var start = 0
          while start < members.count {
            let chunk = Array(members[start..<min(members.count, start + maxArraySize)])
            let script = dir + "/array-\(arrays.count).sbatch"
            try append(chunk, to: manifest)
            try write(
              script: script, name: chunk[0].name, count: chunk.count, offset: offset, manifest: manifest, dir: dir,
              cpus: g.cpus, timeLimit: g.timeLimit, memLimit: g.memLimit, gres: g.gres, options: options)
            for job in chunk { moveEventsAside(job) }
            var args = options.sbatchArgs
            if let dependency = g.dependency { args.insert("--dependency=\(dependency)", at: 0) }
            let id: Int
            do throws(OrchError) { id = try commands.submit(script: script, args: args, cwd: cwd) } catch {
              failed += remaining.filter { job in elementOf[job.id] == nil }.map { ($0.id, "\(error.message)") }
              throw error
            }
            var recorded: [(jobID: Int64, attempt: Int, slurmID: String)] = []
            for (i, job) in chunk.enumerated() {
              let element = "\(id)_\(i)"
              elementOf[job.id] = element
              recorded.append((job.id, job.attempt + 1, element))
            }
            try storeCall { () throws(StoreError) in try store.recordSlurmSubmission(recorded) }
            arrays.append(Submitted(slurmJobID: id, jobs: chunk.map(\.id), dependency: g.dependency, script: script))
            offset += chunk.count
            start += chunk.count
          }
        }
        let done = Set(ready.map(\.job.id))
        remaining.removeAll { done.contains($0.id) }
      }
    } catch {
      try recordFailures(failed)
      throw error
    }
    try recordFailures(failed)
    return arrays
  }

  func recordFailures(_ failed: [(Int64, String)]) throws(OrchError) {
    let now = Posix.now()
    for (id, reason) in failed {
      try storeCall { () throws(StoreError) in try store.failSlurmSubmission(jobIDs: [id], reason: reason, now: now) }
    }
  }

  func append(_ jobs: [SlurmJob], to manifest: String) throws(OrchError) {
    var text = ""
    for job in jobs {
      let config = JobConfig.parse(job.config)
      let entry = SlurmManifestEntry(
        job: job.display, attempt: job.attempt + 1, key: job.key, runDir: job.runDir, config: job.config,
        argv: config.engine != nil ? nil : (config.argv ?? ["/bin/false"]), env: config.env, cwd: cwd,
        cpus: job.cpus, home: home.path)
      text += entry.encodedLine() + "\n"
    }
    guard let handle = FileHandle(forWritingAtPath: manifest) else {
      throw OrchError.failure("cannot write \(manifest)")
    }
    defer { try? handle.close() }
    do {
      try handle.seekToEnd()
      try handle.write(contentsOf: Data(text.utf8))
      try handle.synchronize()
    } catch { throw OrchError.failure("cannot write \(manifest): \(error)") }
  }

  func write(
    script: String, name: String, count: Int, offset: Int, manifest: String, dir: String, cpus: Int,
    timeLimit: Int?, memLimit: Int64?, gres: String? = nil, options: SlurmOptions
  ) throws(OrchError) {
    let text = Self.scriptText(
      name: name, count: count, offset: offset, manifest: manifest, dir: dir, cpus: cpus, timeLimit: timeLimit,
      memLimit: memLimit, gres: gres, options: options, worker: workerBinary)
    do { try Posix.writeFile(script, text, mode: 0o755) } catch {
      throw OrchError.failure("cannot write \(script): \(error)")
    }
  }

  /// An array's script. Its input has passed `checkScriptInput`.
  static func scriptText(
    name: String, count: Int, offset: Int, manifest: String, dir: String, cpus: Int, timeLimit: Int?,
    memLimit: Int64?, gres: String? = nil, options: SlurmOptions, worker: String
  ) -> String {
    var lines = [
      "#!/bin/bash",
      "# Written by orch (the SLURM backend): element i runs entry \(offset) + i of manifest.jsonl.",
      "#SBATCH --job-name=\(directiveQuote(name))",
      "#SBATCH --array=0-\(count - 1)" + (options.parallelism.map { "%\($0)" } ?? ""),
      "#SBATCH --cpus-per-task=\(cpus)",
      "#SBATCH --output=\(directiveQuote(literalPattern(dir) + "/slurm-%A_%a.out"))",
    ]
    if let timeLimit { lines.append("#SBATCH --time=\(slurmTime(timeLimit))") }
    if let memLimit { lines.append("#SBATCH --mem=\((memLimit + (1 << 20) - 1) >> 20)M") }
    // SLURM assigns the devices and sets CUDA_VISIBLE_DEVICES itself.
    if let gres { lines.append("#SBATCH --gres=\(gres)") }
    if let partition = options.partition { lines.append("#SBATCH --partition=\(directiveQuote(partition))") }
    lines.append("exec \(shellQuote(worker)) slurm-task --manifest \(shellQuote(manifest)) --offset \(offset)")
    return lines.joined(separator: "\n") + "\n"
  }

  /// The previous attempt's events (already collected) stay beside the new ones, never mixed in.
  func moveEventsAside(_ job: SlurmJob) {
    let events = SlurmTask.eventsPath(runDir: job.runDir)
    guard FileManager.default.fileExists(atPath: events) else { return }
    _ = rename(events, job.runDir + "/events.attempt\(max(job.attempt, 0)).jsonl")
  }

  /// Seconds as sbatch's `days-hours:minutes:seconds`.
  static func slurmTime(_ seconds: Int) -> String {
    let d = seconds / 86_400
    let h = seconds / 3600 % 24
    let m = seconds / 60 % 60
    let s = seconds % 60
    return String(format: "%d-%02d:%02d:%02d", d, h, m, s)
  }

  /// Everything a submission writes into a script (the job names, the partition, ORCH_HOME, which
  /// holds the output directory and the manifest, and the worker's path) is printable: a newline
  /// would end an `#SBATCH` line and start a command. ORCH_HOME has no backslash either: sbatch then
  /// takes the `--output` pattern literally and the job fails to launch.
  public static func checkScriptInput(names: [String], options: SlurmOptions, home: String, worker: String)
    throws(OrchError)
  {
    for name in names {
      if name.isEmpty { throw .badInput("the sweep name is empty; SLURM needs a job name") }
      try UserText.check(name, "sweep name")
    }
    if let partition = options.partition { try UserText.check(partition, "--partition") }
    try UserText.check(home, "ORCH_HOME")
    if home.unicodeScalars.contains("\\") {
      throw .badInput("ORCH_HOME '\(home)' contains a backslash, which SLURM's --output cannot hold")
    }
    try UserText.check(worker, "the orch-worker path")
  }

  /// Single-quoted for bash: every character but `'` is literal inside single quotes. Works on
  /// Unicode scalars, not characters: a quote followed by a combining mark is still a quote.
  static func shellQuote(_ s: String) -> String {
    if isPlain(s) { return s }
    var out = String.UnicodeScalarView(["'"])
    for c in s.unicodeScalars {
      if c == "'" { out.append(contentsOf: "'\\''".unicodeScalars) } else { out.append(c) }
    }
    out.append("'")
    return String(out)
  }

  /// A value on an `#SBATCH` line as sbatch's directive parser reads it back: bare when plain, else
  /// double-quoted with `\\` and `"` escaped. That parser honours a backslash inside quotes too, so
  /// bash's single quoting would lose one; an unquoted `#` would start a comment.
  static func directiveQuote(_ s: String) -> String {
    if isPlain(s) { return s }
    var out = String.UnicodeScalarView(["\""])
    for c in s.unicodeScalars {
      if c == "\\" || c == "\"" { out.append("\\") }
      out.append(c)
    }
    out.append("\"")
    return String(out)
  }

  /// `%%` is a literal `%` in sbatch's filename patterns.
  static func literalPattern(_ path: String) -> String {
    var out = String.UnicodeScalarView()
    for c in path.unicodeScalars {
      if c == "%" { out.append("%") }
      out.append(c)
    }
    return String(out)
  }

  private static func isPlain(_ s: String) -> Bool {
    !s.isEmpty
      && s.unicodeScalars.allSatisfy {
        $0.isASCII
          && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "/._-%+=:@,".unicodeScalars.contains($0))
      }
  }
}
