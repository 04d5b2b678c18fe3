/// Everything `orch sbatch [OPTIONS] SCRIPT [ARGS…]` asks for that means something on one
/// machine, after SLURM's precedence (command line > `SBATCH_*` environment > `#SBATCH`
/// directives) and defaults have been applied. Pure data: nothing here touches the store.
public struct SbatchRequest: Sendable, Hashable {
  public enum OpenMode: String, Sendable, Hashable { case truncate, append }

  /// `--help`, `--usage`, `--version`: sbatch prints and exits 0 before reading any script.
  public enum Info: String, Sendable, Hashable { case help, usage, version }

  /// `--signal=[{R|B}:]SIG[@secs]`.
  public struct Signal: Sendable, Hashable {
    /// `B:`: only the batch shell gets the signal, not its children.
    public var batchOnly: Bool
    public var number: Int32
    /// Seconds before the time limit; SLURM's default is 60.
    public var seconds: Int

    public init(batchOnly: Bool = false, number: Int32, seconds: Int = 60) {
      self.batchOnly = batchOnly
      self.number = number
      self.seconds = seconds
    }
  }

  /// `--export`: ALL (the default), NONE/NIL, or a list such as `ALL,A=1,B` or `A=1,B`.
  /// A job's environment is: the submitter's whole environment when `inheritAll`, then each
  /// variable in order (`value` nil copies the submitter's value), plus the submitter's `SLURM_*`
  /// variables in every case, as SLURM does.
  public struct Export: Sendable, Hashable {
    public struct Variable: Sendable, Hashable {
      public var name: String
      /// Nil for a bare `VAR`: copy it from the submitter's environment (dropped if unset).
      public var value: String?

      public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
      }
    }

    public var inheritAll: Bool
    public var variables: [Variable]

    public init(inheritAll: Bool, variables: [Variable] = []) {
      self.inheritAll = inheritAll
      self.variables = variables
    }

    public static let all = Export(inheritAll: true)
    public static let none = Export(inheritAll: false)
  }

  /// Set when the command line asked for help, usage or the version; every other field is then
  /// at its default and no script was read.
  public var info: Info?

  public var array: ArraySpec?
  /// `-J`; defaults to the script's base name, `wrap` for `--wrap`, `sbatch` for a script read
  /// from standard input.
  public var jobName = "sbatch"
  /// Pattern (`%A %a %j %x %u %N %%`, `%4a`), relative to `workingDirectory`. `none` is stored as
  /// `/dev/null`. Defaults to `slurm-%j.out`, or `slurm-%A_%a.out` for an array.
  public var output = "slurm-%j.out"
  /// Nil: stderr goes to the output file.
  public var error: String?
  public var openMode = OpenMode.truncate

  public var cpusPerTask = 1
  /// `SLURM_CPUS_PER_TASK` is only set in the job when `-c` was given.
  public var cpusPerTaskGiven = false
  /// `-n` was given (only 1 is accepted); SLURM exports `SLURM_NTASKS` to the batch step then.
  public var ntasksGiven = false

  /// `--mem` in bytes; nil when not given or `0` (SLURM: all of the node's memory).
  public var memoryPerNode: Int64?
  /// `--mem-per-cpu` in bytes; nil when not given or `0`. Never set together with `memoryPerNode`.
  public var memoryPerCPU: Int64?

  /// `--gres=gpu…`, `--gpus`, `--gpus-per-node`, `--gpus-per-task`, combined; nil = no GPU.
  public var gpus: GPURequest?

  /// Seconds, a whole number of minutes: SLURM rounds a limit up to the minute. Nil = none.
  public var timeLimit: Int?

  /// Bare ids (`-d 12`, `-d 12:13`) mean `afterany`, as in SLURM.
  public var dependency: DependencySpec?
  /// `--kill-on-invalid-dep`; nil = the cluster default (no).
  public var killOnInvalidDependency: Bool?
  /// `--requeue` true, `--no-requeue` false, nil = the cluster default (requeue allowed).
  public var requeue: Bool?
  public var signal: Signal?

  /// Absolute: `-D` resolved against the submit directory, or the submit directory itself.
  public var workingDirectory = ""
  /// Where sbatch ran (`SLURM_SUBMIT_DIR`).
  public var submitDirectory = ""
  public var export = Export.all

  /// Absolute path of the script file; nil for `--wrap` and for a script read from stdin.
  public var scriptPath: String?
  /// The script as submitted, byte for byte (it need not be UTF-8: a Latin-1 comment is a
  /// script's own business). SLURM runs this copy, not whatever the file holds later.
  public var script: [UInt8] = []
  public var scriptArguments: [String] = []
  /// From the `#!` line, split as the kernel does: the interpreter, then at most one argument
  /// holding the rest of the line (`#!/usr/bin/env python3` → `["/usr/bin/env", "python3"]`).
  public var interpreter: [String] = []
  /// The `--wrap` command, when the script was generated from it.
  public var wrap: String?

  public var parsable = false
  public var wait = false
  public var hold = false
  /// `-Q`: no informational messages (the job id is still printed).
  public var quiet = false

  /// `--begin`: seconds since the epoch; nil = at once.
  public var begin: Double?
  /// `--nice`: subtracted from the job's priority.
  public var nice = 0

  /// Full `sbatch: warning: …` lines to print to stderr, e.g. for a GPU request.
  public var warnings: [String] = []
  /// `--exclude`: hosts the job must not run on.
  public var excludedNodes: [String] = []
  /// `--nodelist`: the hosts the job must run on; nil when not given.
  public var nodeList: [String]?
  /// `-M/--clusters`: the cluster named in sbatch's reply (`Submitted batch job 12 on cluster orch`).
  public var cluster: String?

  public init() {}

  /// What the job may use: `--mem`, or `--mem-per-cpu` × CPUs; nil = no limit. `Sbatch.parse`
  /// refuses a product past `Int64.max`; one built otherwise saturates there rather than trap.
  public var memoryLimit: Int64? {
    if let memoryPerNode { return memoryPerNode }
    return memoryPerCPU.map {
      let (product, overflow) = $0.multipliedReportingOverflow(by: Int64(cpusPerTask))
      return overflow ? Int64.max : product
    }
  }
}
