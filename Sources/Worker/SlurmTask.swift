import Foundation
import System

/// One line of a SLURM submission's manifest (`manifest.jsonl`): everything an array element needs
/// to run config i without the store, which lives on the submitting host.
public struct SlurmManifestEntry: Codable, Sendable, Equatable {
  /// orch's id of the job (`12_3`) and its attempt under this submission.
  public var job: String
  public var attempt: Int
  public var key: String
  public var runDir: String
  /// The stored config (canonical JSON), written to `runDir/config.json`.
  public var config: String
  /// The command; nil for an engine job (`orch-worker engine --run-dir DIR`).
  public var argv: [String]?
  /// The config's own `env:`.
  public var env: [String: String]
  public var cwd: String
  public var cpus: Int
  public var home: String

  public init(
    job: String, attempt: Int, key: String, runDir: String, config: String, argv: [String]?, env: [String: String],
    cwd: String, cpus: Int, home: String
  ) {
    self.job = job
    self.attempt = attempt
    self.key = key
    self.runDir = runDir
    self.config = config
    self.argv = argv
    self.env = env
    self.cwd = cwd
    self.cpus = cpus
    self.home = home
  }

  public func encodedLine() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
  }
}

/// `orch-worker slurm-task --manifest M --offset K`: SLURM array element i runs entry K + i of the
/// manifest as the daemon's pool worker would run it — run directory, `config.json`, log, the
/// engine or the command in its own process group with the ORCH_* environment — except that fd 3
/// is `runs/<key>/events.jsonl` (truncated: one attempt's events; `orch collect` ingests them).
/// Exits with the job's exit code (128 + signal when a signal ended it).
public enum SlurmTask {
  /// The events file of a run directory.
  public static func eventsPath(runDir: String) -> String { runDir + "/events.jsonl" }

  public static func entry(manifest: String, index: Int) throws(WorkerError) -> SlurmManifestEntry {
    guard let data = FileManager.default.contents(atPath: manifest) else {
      throw WorkerError("cannot read manifest \(manifest)")
    }
    var line = 0
    var start = data.startIndex
    while start < data.endIndex {
      let end = data[start...].firstIndex(of: UInt8(ascii: "\n")) ?? data.endIndex
      if line == index {
        do { return try JSONDecoder().decode(SlurmManifestEntry.self, from: data[start..<end]) } catch {
          throw WorkerError("manifest \(manifest) line \(index + 1): \(error)")
        }
      }
      line += 1
      start = end + 1
    }
    throw WorkerError("manifest \(manifest) has no entry \(index) (\(line) entries)")
  }

  public static func run(manifest: String, offset: Int) throws(WorkerError) -> Int32 {
    let environment = ProcessInfo.processInfo.environment
    guard let task = environment["SLURM_ARRAY_TASK_ID"].flatMap(Int.init) else {
      throw WorkerError("SLURM_ARRAY_TASK_ID is not set: slurm-task runs as an element of an sbatch array")
    }
    let e = try entry(manifest: manifest, index: offset + task)
    try Posix.makeDirectories(e.runDir)
    try Posix.writeFile(e.runDir + "/config.json", e.config)
    let logFlags = O_WRONLY | O_CREAT | O_CLOEXEC | (e.attempt > 1 ? O_APPEND : O_TRUNC)
    let log = open(e.runDir + "/log.txt", logFlags, 0o644)
    if log < 0 { throw WorkerError("cannot open \(e.runDir)/log.txt: \(Posix.errorText())") }
    defer { close(log) }
    let eventsPath = eventsPath(runDir: e.runDir)
    let events = open(eventsPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
    if events < 0 { throw WorkerError("cannot open \(eventsPath): \(Posix.errorText())") }
    defer { close(events) }

    let cpus = environment["SLURM_CPUS_PER_TASK"].flatMap(Int.init) ?? e.cpus
    var env = environment
    for (k, v) in e.env { env[k] = v }
    JobEnvironment.setOrchVariables(
      &env, threads: cpus, jobID: e.job, key: e.key, runDir: e.runDir, attempt: e.attempt,
      cpus: Posix.allowedCPUs(), home: e.home)
    let argv = e.argv ?? [selfPath(), "engine", "--run-dir", e.runDir]
    let pid = try Spawn.start(
      argv: argv, env: env.map { "\($0.key)=\($0.value)" }, cwd: e.cwd, stdout: log, stderr: log, events: events)
    // scancel and the time limit signal this process; the job runs in its own process group.
    slurmTaskChild = pid
    for sig in [SIGTERM, SIGINT, SIGUSR1, SIGUSR2] {
      signal(sig) { received in if slurmTaskChild > 0 { kill(-slurmTaskChild, received) } }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    kill(-pid, SIGKILL)
    if (status & 0x7f) == 0 { return (status >> 8) & 0xff }
    return 128 + (status & 0x7f)
  }

  static func selfPath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
  }
}

/// The job's process group, for the signal handlers (set once, before they are installed).
nonisolated(unsafe) private var slurmTaskChild: pid_t = 0
