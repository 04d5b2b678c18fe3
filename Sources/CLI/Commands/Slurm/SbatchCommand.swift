import ArgumentParser
import Foundation
import Operations
import OrchCore
import SlurmSyntax
import SlurmViews

/// `orch sbatch` (or `sbatch` through `orch shims`). Named apart from `Sbatch/Sbatch.swift`: one
/// module cannot hold two files of the same name.
struct SbatchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sbatch",
    abstract: "Submit a SLURM batch script to run here, with sbatch's options, #SBATCH directives and output.",
    discussion: """
      Options, directives, SBATCH_* variables, job environment, output files and exit codes follow
      sbatch; errors exit 1 as sbatch does. `orch sbatch --help` lists the options.
      Examples:
        orch sbatch --array=0-15%4 -c 2 train.sbatch --lr 0.1
        orch sbatch --parsable --dependency=afterok:12 --wrap 'python eval.py'
      """)

  @Argument(parsing: .captureForPassthrough, help: "sbatch options, then the script and its arguments.")
  var arguments: [String] = []

  func run() throws {
    try SlurmTool.run("sbatch") {
      let environment = ProcessInfo.processInfo.environment
      let request: SbatchRequest
      do {
        request = try Sbatch.parse(
          arguments: arguments, environment: environment, readBytes: Self.read,
          cwd: FileManager.default.currentDirectoryPath)
      } catch let error as OrchError {
        Output.stderr(Sbatch.diagnostic(for: error))
        throw ExitCode(1)
      }
      if let info = request.info {
        switch info {
        case .version: Output.print("slurm 23.02.0 (orch)\n")
        case .usage: Output.print(SlurmUsage.text("sbatch") ?? Self.usage)
        case .help: Output.print(Self.usage)
        }
        return
      }
      for warning in request.warnings { Output.stderr(warning) }
      let home = try OrchHome()
      let store = try home.openStore()
      let submit = SbatchSubmit(home: home, store: store, environment: environment, host: SlurmMachine.host)
      let id = try submit.submit(request)
      let cluster = request.cluster
      Output.print(
        request.parsable
          ? "\(id)\(cluster.map { ";" + $0 } ?? "")\n"
          : "Submitted batch job \(id)\(cluster.map { " on cluster " + $0 } ?? "")\n")
      do { try DaemonClient.ensureRunning(home) } catch {
        // The job is queued either way; the next orch command that needs a daemon starts one.
        if request.wait { throw error }
        Output.stderr("sbatch: warning: job \(id) is queued but no daemon runs: \(error)")
      }
      if request.wait {
        let code = try SbatchSubmit.wait(store: store, arrayID: id, home: home)
        if code != 0 { throw ExitCode(code) }
      }
    }
  }

  /// The script's bytes, undecoded: a script need not be UTF-8, and decoding would drop a leading
  /// byte-order mark that sbatch refuses.
  static func read(_ path: String) throws -> [UInt8] {
    if path == Sbatch.standardInput { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
    return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
  }

  static let usage = """
    Usage: sbatch [OPTIONS(0)...] [ : [OPTIONS(N)...]] script(0) [args(0)...]

    Runs the script on this machine through orch; options may also be #SBATCH lines or SBATCH_* variables.
      -a, --array=indexes         job array index values: 0-15, 1,3,5, 0-15:4, 0-15%4
      -c, --cpus-per-task=ncpus   number of cpus required per task
      -D, --chdir=directory       working directory of the job
      -d, --dependency=type:jobid[:time] defer job until condition on jobid is satisfied
                                  (after, afterany, afterok, afternotok, aftercorr, singleton; ',' and '?')
      -e, --error=err             file for batch script's standard error
          --export[=names]        export ALL, NONE, or a list such as ALL,A=1,B
      -H, --hold                  submit job in held state (scontrol release ID)
      -J, --job-name=jobname      name of job
          --kill-on-invalid-dep=yes|no cancel the job if its dependency can never be met
          --mem=MB                minimum amount of real memory (K, M, G, T suffixes)
          --mem-per-cpu=MB        maximum amount of real memory per allocated cpu
      -n, --ntasks=1              number of tasks (orch runs one)
          --gres=gpu[:type][:n]   GPUs for the job (also -G, --gpus, --gpus-per-node,
                                  --gpus-per-task=[type:]n); refused if this machine lacks them
      -o, --output=out            file for batch script's standard output (%A %a %j %x %u %N %%)
          --open-mode=append|truncate
          --parsable              outputs only the jobid
      -t, --time=minutes          time limit (min, min:sec, h:m:s, d-h, d-h:m, d-h:m:s)
      -W, --wait                  wait for completion; exit with the highest task exit code
          --wrap=command          wrap command string in a sh script and submit
    Accepted and ignored: --partition, --account, --qos, --mail-*, --nodes=1, --ntasks-per-node=1,
    --exclusive, --wckey, --constraint, --comment.

    Example:
      sbatch --array=0-9%2 -c 2 -o 'logs/%x_%A_%a.out' train.sbatch --epochs 5

    """
}
