import Backends
import Crypto
import Foundation
import OrchCore
import Registry
import SlurmSyntax
import Store
import System
import Worker

/// The back half of `orch sbatch`: a parsed `SbatchRequest` becomes one submission — an array (or
/// a single job without `--array`) whose elements run the stored copy of the script under its
/// interpreter, with SLURM's environment, working directory and output files.
public struct SbatchSubmit {
  /// orch has one partition; squeue, sacct and the job environment call it this.
  public static var partition: String { Partition.name }

  public let home: OrchHome
  public let store: JobStore
  /// The submitter's environment: `--export` takes from it, `SLURM_*` always comes along.
  public let environment: [String: String]
  public let host: String

  public init(home: OrchHome, store: JobStore, environment: [String: String], host: String) {
    self.home = home
    self.store = store
    self.environment = environment
    self.host = host
  }

  static let submissionFailed = "sbatch: error: Batch job submission failed: "

  /// Queues the request in one transaction; returns the job (array) id.
  public func submit(_ request: SbatchRequest) throws(OrchError) -> Int64 {
    // This machine is the cluster's one node: `--exclude` may not name it, `--nodelist` must.
    if Set(request.nodeList ?? []).count > 1 {
      throw .badInput(Self.submissionFailed + "Node count specification invalid")
    }
    if request.excludedNodes.contains(host) || request.nodeList.map({ !$0.isEmpty && $0[0] != host }) == true {
      throw .badInput(Self.submissionFailed + "Requested node configuration is not available")
    }
    let cpus = Posix.allowedCPUs().count
    if cpus > 0 && request.cpusPerTask > cpus {
      throw .badInput(Self.submissionFailed + "Requested node configuration is not available")
    }
    if request.gpus != nil || request.memoryLimit != nil,
      try NodeResources.current(home: home).unavailable(gpus: request.gpus, memory: request.memoryLimit) != nil
    {
      throw .badInput(Self.submissionFailed + "Requested node configuration is not available")
    }
    let indices: [Int?] = request.array.map { $0.indices.map(Optional.some) } ?? [nil]
    let scripts = home.path + "/scripts"
    do { try Posix.makeDirectories(scripts, mode: 0o700) } catch {
      throw .failure(Self.submissionFailed + "\(error)")
    }
    let name = request.jobName
    let keyName = Self.pathSafe(name)
    let digest = sha256Hex(request.script)
    let env = exportedEnvironment(request)
    let now = Posix.now()
    let resources = JobResources(
      cpus: request.cpusPerTask, timeLimit: request.timeLimit, memLimit: request.memoryLimit,
      gpus: request.gpus?.count ?? 0, gpuType: request.gpus?.type)
    var written: String?
    do {
      return try store.submit(now: now, large: indices.count >= 10_000) { tx -> Int64 in
        let id = try tx.nextJobID()
        guard let deps = try resolve(request.dependency, tx) else {
          throw OrchError.badInput("Job dependency problem")
        }
        let scriptPath = "\(scripts)/\(id).sh"
        // SLURM runs the copy taken at submission, not whatever the file holds later.
        try Posix.writeFile(scriptPath, bytes: request.script, mode: 0o700)
        written = scriptPath
        let numbers = indices.compactMap { $0 }
        let launch = LaunchSpec(
          env: env, cwd: request.workingDirectory, submitDir: request.submitDirectory, submitHost: host,
          argv: Self.withTaskPID(request.interpreter + [scriptPath] + request.scriptArguments), output: request.output,
          error: request.error, appendOutput: request.openMode == .append, cpusGiven: request.cpusPerTaskGiven,
          arrayTaskCount: numbers.count, arrayTaskMin: numbers.min() ?? 0, arrayTaskMax: numbers.max() ?? 0,
          arrayTaskStep: Submitter.step(of: numbers),
          warning: request.signal.map {
            JobOrder.Warning(signal: $0.number, seconds: $0.seconds, batchOnly: $0.batchOnly)
          },
          // SLURM's default (JobRequeue=1): a batch job may be requeued.
          requeue: request.requeue ?? true)
        let template = Self.configTemplate(request, scriptPath: scriptPath, digest: digest)
        let jobs = indices.map { index in
          let config = template(index)
          return NewJob(
            arrayIndex: index, key: "sbatch/\(keyName)/" + (index.map { "\(id)_\($0)" } ?? "\(id)"),
            configHash: sha256Hex(Array(config.utf8)), config: config, resources: resources)
        }
        let array = NewArray(
          sweep: "sbatch/\(keyName)", name: name,
          source: request.scriptPath ?? (request.wrap != nil ? "--wrap" : "stdin"),
          isArray: request.array != nil, throttle: request.array?.throttle,
          dependency: try request.dependency.map { spec in
            try DependencyDisplay.text(spec) { try tx.isArray(Int64($0)) }
          }, dependencyOr: request.dependency?.isOr ?? false,
          killOnInvalidDependency: request.killOnInvalidDependency ?? false, launch: launch.encoded(),
          outputRoot: home.defaultOutputRoot)
        let inserted = try tx.insert(array: array, jobs: jobs, dependencies: deps)
        guard inserted == id else { throw OrchError.failure("job id \(inserted) differs from the script's \(id)") }
        if request.begin != nil || request.nice != 0 {
          try tx.schedule(array: id, begin: request.begin, nice: request.nice)
        }
        if request.hold { try tx.hold(array: id) }
        return id
      }
    } catch {
      if let written { unlink(written) }
      if let own = error.underlying as? OrchError, own.kind == .badInput {
        throw .badInput(Self.submissionFailed + own.message)
      }
      throw .failure(Self.submissionFailed + error.message)
    }
  }

  /// slurmd sets `SLURM_TASK_PID` to the batch shell's own pid, known only once it runs: a shell
  /// sets it and execs the script's interpreter in its place (same pid, same process group). An
  /// interpreter that cannot run is left to fail as it would without the shell.
  static func withTaskPID(_ argv: [String]) -> [String] {
    guard let first = argv.first, first.hasPrefix("/"), FileManager.default.isExecutableFile(atPath: first),
      FileManager.default.isExecutableFile(atPath: "/bin/sh")
    else { return argv }
    return ["/bin/sh", "-c", "SLURM_TASK_PID=$$; export SLURM_TASK_PID; exec \"$@\"", "sh"] + argv
  }

  /// Dependency terms resolved and checked against the store as `orch submit` does; nil when a
  /// term names a job or element that does not exist (SLURM's "Job dependency problem").
  func resolve(_ spec: DependencySpec?, _ tx: Submission) throws -> [DependencyRow]? {
    do { return try spec?.rows(in: tx) ?? [] } catch is OrchError { return nil }
  }

  /// `--export`: ALL = the submitter's environment; NONE = only its `SLURM_*`; a list adds or
  /// copies variables. A quoted value keeps its quotes (`A='1,2'` sets `'1,2'`), as in SLURM:
  /// quotes only keep commas from splitting the list. Variables describing the submitter's own job (when sbatch runs inside one)
  /// are dropped so they cannot contradict this job's.
  func exportedEnvironment(_ request: SbatchRequest) -> [String: String] {
    let export = request.export
    var env = export.inheritAll ? environment : environment.filter { $0.key.hasPrefix("SLURM_") }
    for variable in export.variables {
      if let value = variable.value {
        env[variable.name] = value
      } else if let value = environment[variable.name] {
        env[variable.name] = value
      }
    }
    for name in env.keys where name.hasPrefix("SLURM_ARRAY_") || name == "SLURM_CPUS_PER_TASK" {
      env[name] = nil
    }
    let user = Self.userName()
    env["SLURM_JOB_PARTITION"] = Self.partition
    env["SLURM_CLUSTER_NAME"] = SlurmClusters.name
    env["SLURM_JOB_USER"] = user
    env["SLURM_JOB_UID"] = String(getuid())
    env["SLURM_JOB_GID"] = String(getgid())
    env["SLURM_TASKS_PER_NODE"] = "1"
    // The submitting process's scheduling priority (its nice value), as sbatch records it.
    errno = 0
    let niceness = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
    env["SLURM_PRIO_PROCESS"] = String(errno == 0 ? niceness : 0)
    env["SLURM_MEM_PER_NODE"] = request.memoryPerNode.map { String($0 >> 20) }
    env["SLURM_MEM_PER_CPU"] = request.memoryPerCPU.map { String($0 >> 20) }
    return env
  }

  /// One element's config.json: unique per element (index) and per script content and arguments.
  static func config(_ request: SbatchRequest, index: Int?, scriptPath: String, digest: String) -> String {
    let object: [String: Any] = [
      "sbatch": [
        "args": request.scriptArguments, "index": index.map { $0 as Any } ?? NSNull(),
        "interpreter": request.interpreter, "job_name": request.jobName, "script": scriptPath,
        "script_sha256": digest, "submitted_script": request.scriptPath ?? NSNull(),
        "workdir": request.workingDirectory,
      ] as [String: Any]
    ]
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    return data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
  }

  /// `config` for every element of a submission, serialized once with a placeholder index that is
  /// then filled in: JSONSerialization costs ~0.3 ms a call here, most of a 1,000-element submission.
  static func configTemplate(_ request: SbatchRequest, scriptPath: String, digest: String) -> (Int?) -> String {
    let marker = 987_654_321_987
    let text = config(request, index: marker, scriptPath: scriptPath, digest: digest)
    let parts = text.components(separatedBy: #""index":\#(marker)"#)
    guard parts.count == 2 else { return { config(request, index: $0, scriptPath: scriptPath, digest: digest) } }
    let prefix = parts[0] + #""index":"#
    let suffix = parts[1]
    return { prefix + ($0.map(String.init) ?? "null") + suffix }
  }

  /// `--wait`: blocks until every task ended; SLURM's exit status is the highest task exit code
  /// (128 + signal for a task killed by one).
  public static func wait(store: JobStore, arrayID: Int64, home: OrchHome) throws(OrchError) -> Int32 {
    let filter = JobFilter(arrays: [arrayID])
    var lastPing = Posix.now()
    while true {
      let counts = try storeCall { () throws(StoreError) in try store.stateCounts(filter) }
      if (counts[.pending] ?? 0) + (counts[.running] ?? 0) == 0 { break }
      if Posix.now() - lastPing > 5 {
        // A daemon that died meanwhile is restarted, as slurmctld would be.
        try DaemonClient.ensureRunning(home)
        lastPing = Posix.now()
      }
      usleep(100_000)
    }
    let rows = try storeCall { () throws(StoreError) in try store.jobs(filter) }
    return rows.map(exitStatus).max() ?? 0
  }

  /// A task's part in `sbatch --wait`'s exit code. sbatch(1): "If the job terminated due to a
  /// signal rather than a normal exit, the exit code will be set to 1."
  public static func exitStatus(_ row: JobRow) -> Int32 {
    if let code = row.exitCode { return code }
    if row.signal != nil { return 1 }
    return row.state == .completed || row.state == .cancelled ? 0 : 1
  }

  /// A job name as one path component of its key (the run directory).
  /// The job name as it enters a key and a run directory: SLURM takes any name (`-J $'a\nb'`), and
  /// so does orch, but keys never hold `/`, control, line or bidi characters (`UserText`).
  static func pathSafe(_ name: String) -> String {
    var scalars = String.UnicodeScalarView()
    for s in name.unicodeScalars { scalars.append(s == "/" || UserText.problem(s) != nil ? "_" : s) }
    let cleaned = String(scalars)
    return cleaned.isEmpty || cleaned == "." || cleaned == ".." ? "_" : cleaned
  }

  public static func userName() -> String {
    if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
    return ProcessInfo.processInfo.environment["USER"] ?? String(getuid())
  }
}
