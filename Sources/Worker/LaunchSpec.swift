import Foundation

/// How the elements of one submission are launched: stored once per array as JSON, combined with
/// each job's own command when the daemon dispatches it.
public struct LaunchSpec: Codable, Sendable, Hashable {
  /// The submitter's environment (SLURM's `--export=ALL`), or only the exported variables.
  public var env: [String: String]
  /// Working directory of the job processes (the submit directory unless `--chdir`).
  public var cwd: String
  /// Where the submission was made (`SLURM_SUBMIT_DIR`); nil = `cwd`. Differs under `sbatch -D`.
  public var submitDir: String?
  public var submitHost: String
  /// argv shared by every element (sbatch scripts); sweep jobs carry their own in the config.
  public var argv: [String]?
  /// Output/error file patterns (`%A %a %j %x %u %N %%`); nil = `<run dir>/log.txt`.
  public var output: String?
  public var error: String?
  public var appendOutput: Bool
  /// Whether `-c` was given (SLURM sets `SLURM_CPUS_PER_TASK` only then).
  public var cpusGiven: Bool
  public var arrayTaskCount: Int
  public var arrayTaskMin: Int
  public var arrayTaskMax: Int
  public var arrayTaskStep: Int
  /// `sbatch --signal`: sent before the time limit. Nil for sweep jobs and when not asked for.
  public var warning: JobOrder.Warning?
  /// `sbatch --requeue` (true, SLURM's default) or `--no-requeue` (false); nil for sweep jobs,
  /// which follow their max attempts instead.
  public var requeue: Bool?

  public init(
    env: [String: String], cwd: String, submitDir: String? = nil, submitHost: String, argv: [String]? = nil,
    output: String? = nil, error: String? = nil, appendOutput: Bool = false, cpusGiven: Bool = false,
    arrayTaskCount: Int = 1, arrayTaskMin: Int = 0, arrayTaskMax: Int = 0, arrayTaskStep: Int = 1,
    warning: JobOrder.Warning? = nil, requeue: Bool? = nil
  ) {
    self.env = env
    self.cwd = cwd
    self.submitDir = submitDir
    self.submitHost = submitHost
    self.argv = argv
    self.output = output
    self.error = error
    self.appendOutput = appendOutput
    self.cpusGiven = cpusGiven
    self.arrayTaskCount = arrayTaskCount
    self.arrayTaskMin = arrayTaskMin
    self.arrayTaskMax = arrayTaskMax
    self.arrayTaskStep = arrayTaskStep
    self.warning = warning
    self.requeue = requeue
  }

  public func encoded() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    // Plain value types: encoding cannot fail.
    return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
  }

  public static func decode(_ json: String) throws(WorkerError) -> LaunchSpec {
    do { return try JSONDecoder().decode(LaunchSpec.self, from: Data(json.utf8)) } catch {
      throw WorkerError("bad launch record: \(error)")
    }
  }
}
