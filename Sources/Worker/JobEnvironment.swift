/// The environment a job process sees: the submitter's (or exported) variables, the thread caps
/// matching its CPU count, `ORCH_*`, and the variables SLURM sets for a batch task so scripts
/// reading `$SLURM_ARRAY_TASK_ID` or `$SLURM_CPUS_PER_TASK` behave the same.
public struct JobIdentity: Sendable {
  public var jobID: Int64
  public var arrayID: Int64
  public var arrayIndex: Int?
  public var isArray: Bool
  public var attempt: Int
  public var name: String
  public var key: String
  public var runDir: String
  public var home: String

  public init(
    jobID: Int64, arrayID: Int64, arrayIndex: Int?, isArray: Bool, attempt: Int, name: String, key: String,
    runDir: String, home: String
  ) {
    self.jobID = jobID
    self.arrayID = arrayID
    self.arrayIndex = arrayIndex
    self.isArray = isArray
    self.attempt = attempt
    self.name = name
    self.key = key
    self.runDir = runDir
    self.home = home
  }

  public var display: String {
    if isArray, let arrayIndex { return "\(arrayID)_\(arrayIndex)" }
    return "\(arrayID)"
  }
}

public enum JobEnvironment {
  /// A launch record's environment as `NAME=value` entries, prepared once per array: the daemon
  /// builds an environment for every job it dispatches. Which of them a job's own variables
  /// override depends only on the config's `env:` names and whether the job is an array element,
  /// so the filtered list is kept per such shape.
  public final class Base {
    struct Shape: Hashable {
      var extraNames: [String]
      var arrayElement: Bool
    }
    let entries: [(name: String, entry: String)]
    var kept: [Shape: [String]] = [:]

    public init(_ env: [String: String]) { entries = env.map { ($0.key, "\($0.key)=\($0.value)") } }

    func entries(overriddenBy own: [String: String], shape: Shape) -> [String] {
      if let hit = kept[shape] { return hit }
      let result = entries.filter { own[$0.name] == nil }.map(\.entry)
      kept[shape] = result
      return result
    }
  }

  public static func build(
    launch: LaunchSpec, extra: [String: String], job: JobIdentity, cpus: [Int], host: String
  ) -> [String] {
    build(base: Base(launch.env), launch: launch, extra: extra, job: job, cpus: cpus, host: host)
  }

  /// The launch environment, overridden by the config's `env:`, overridden by the variables below.
  public static func build(
    base: Base, launch: LaunchSpec, extra: [String: String], job: JobIdentity, cpus: [Int], host: String
  ) -> [String] {
    let own = variables(launch: launch, extra: extra, job: job, cpus: cpus, host: host)
    let shape = Base.Shape(extraNames: extra.keys.sorted(), arrayElement: job.isArray && job.arrayIndex != nil)
    var result = base.entries(overriddenBy: own, shape: shape)
    result.reserveCapacity(result.count + own.count)
    for (name, value) in own { result.append("\(name)=\(value)") }
    return result
  }

  /// The thread caps and `ORCH_*` variables of every job, whether a pool worker or a SLURM element
  /// (`SlurmTask`) starts it.
  public static func setOrchVariables(
    _ env: inout [String: String], threads: Int, jobID: String, key: String, runDir: String, attempt: Int,
    cpus: [Int], home: String
  ) {
    let n = String(threads)
    env["OMP_NUM_THREADS"] = n
    env["OPENBLAS_NUM_THREADS"] = n
    env["MKL_NUM_THREADS"] = n
    env["ORCH_JOB_ID"] = jobID
    env["ORCH_KEY"] = key
    env["ORCH_RUN_DIR"] = runDir
    env["ORCH_ATTEMPT"] = String(attempt)
    env["ORCH_EVENTS_FD"] = "3"
    env["ORCH_CPUS"] = cpus.map(String.init).joined(separator: ",")
    env["ORCH_HOME"] = home
  }

  static func variables(
    launch: LaunchSpec, extra: [String: String], job: JobIdentity, cpus: [Int], host: String
  ) -> [String: String] {
    var env = extra
    let n = String(cpus.count)
    setOrchVariables(
      &env, threads: cpus.count, jobID: job.display, key: job.key, runDir: job.runDir, attempt: job.attempt,
      cpus: cpus, home: job.home)
    env["SLURM_JOB_ID"] = String(job.jobID)
    env["SLURM_JOBID"] = String(job.jobID)
    env["SLURM_JOB_NAME"] = job.name
    env["SLURM_SUBMIT_DIR"] = launch.submitDir ?? launch.cwd
    env["SLURM_SUBMIT_HOST"] = launch.submitHost
    // sbatch(1): set only once the job "has been restarted due to system failure or has been
    // explicitly requeued"; a first run has none (as slurmd gives it).
    if job.attempt > 1 { env["SLURM_RESTART_COUNT"] = String(job.attempt - 1) }
    env["SLURM_CPUS_ON_NODE"] = n
    env["SLURM_JOB_CPUS_PER_NODE"] = n
    env["SLURM_JOB_NODELIST"] = host
    env["SLURM_NODELIST"] = host
    env["SLURMD_NODENAME"] = host
    env["SLURM_JOB_NUM_NODES"] = "1"
    env["SLURM_NNODES"] = "1"
    env["SLURM_NTASKS"] = "1"
    env["SLURM_NPROCS"] = "1"
    env["SLURM_PROCID"] = "0"
    env["SLURM_LOCALID"] = "0"
    env["SLURM_NODEID"] = "0"
    // What slurmd adds for every task: its global task ids, its place in the (flat) topology, and
    // the cluster it belongs to (`name:controller:port:protocol:plugin`, as SLURM 22.05 spells it).
    env["SLURM_GTIDS"] = "0"
    env["SLURM_TOPOLOGY_ADDR"] = host
    env["SLURM_TOPOLOGY_ADDR_PATTERN"] = "node"
    env["SLURM_WORKING_CLUSTER"] = "\(launch.env["SLURM_CLUSTER_NAME"] ?? "orch"):\(host):6817:9728:109"
    if launch.cpusGiven { env["SLURM_CPUS_PER_TASK"] = n }
    if job.isArray, let index = job.arrayIndex {
      env["SLURM_ARRAY_JOB_ID"] = String(job.arrayID)
      env["SLURM_ARRAY_TASK_ID"] = String(index)
      env["SLURM_ARRAY_TASK_COUNT"] = String(launch.arrayTaskCount)
      env["SLURM_ARRAY_TASK_MIN"] = String(launch.arrayTaskMin)
      env["SLURM_ARRAY_TASK_MAX"] = String(launch.arrayTaskMax)
      env["SLURM_ARRAY_TASK_STEP"] = String(launch.arrayTaskStep)
    }
    return env
  }
}
