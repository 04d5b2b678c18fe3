import ArgumentParser
import Foundation
import Operations
import OrchCore
import SlurmSyntax
import SlurmViews
import Store
import System
import Worker

/// `srun` outside a batch job: as SLURM does, it becomes a job of its own — submitted like
/// `sbatch --wrap` with srun's job options (`-J`, `-c`, `--mem`, `-t`, `-p`, `--dependency`,
/// `--begin`, `--nice`, `--export`, `-D`), whose one step (step 0, an `srun` inside the job) runs
/// the command. srun waits, copies the job's output to its own stdout and stderr as it comes, and
/// exits with the command's status.
enum SrunJob {
  /// srun options that describe the job, passed on to sbatch as they are.
  static let jobOptions = SrunOptions.jobOptions

  static func run(_ args: SlurmArguments, environment: [String: String]) throws {
    guard !args.operands.isEmpty else { throw OrchError.badInput("srun: fatal: No command given to execute.") }
    try Partition.check(args.last("partition"), tool: "srun")
    let home = try OrchHome()
    let dir = home.path + "/srun/\(getpid())-\(Int(Posix.now() * 1000))"
    do { try Posix.makeDirectories(dir, mode: 0o700) } catch {
      throw OrchError.failure("srun: error: cannot create \(dir): \(error)")
    }
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let outPath = dir + "/out"
    let errPath = dir + "/err"
    var sbatch: [String] = []
    for (name, value) in args.options where jobOptions.contains(name) {
      sbatch.append(value.map { "--\(name)=\($0)" } ?? "--\(name)")
    }
    if args.last("job-name") == nil {
      sbatch.append("--job-name=" + (args.operands[0] as NSString).lastPathComponent)
    }
    // The step inside the job is this binary's srun, so the command sees a step's variables.
    let orch = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "orch"
    var step = [orch, "srun"]
    for (name, value) in args.options where !jobOptions.contains(name) && name != "dependency" {
      step.append(value.map { "--\(name)=\($0)" } ?? "--\(name)")
    }
    step += ["--"] + args.operands
    sbatch += [
      "--output=" + outPath, "--error=" + errPath, "--wrap", "exec " + step.map(shellQuoted).joined(separator: " "),
    ]
    let request: SbatchRequest
    do {
      request = try Sbatch.parse(
        arguments: sbatch, environment: environment, readFile: { _ in "" },
        cwd: FileManager.default.currentDirectoryPath)
    } catch {
      throw OrchError.badInput(
        error.message.replacingOccurrences(
          of: "sbatch: error: Batch job submission failed: ", with: "srun: error: Unable to allocate resources: "
        ).replacingOccurrences(of: "sbatch: ", with: "srun: "))
    }
    let store = try home.openStore()
    let submit = SbatchSubmit(home: home, store: store, environment: environment, host: SlurmMachine.host)
    let id: Int64
    do { id = try submit.submit(request) } catch {
      throw OrchError.badInput(
        error.message.replacingOccurrences(
          of: "sbatch: error: Batch job submission failed: ", with: "srun: error: Unable to allocate resources: "))
    }
    try DaemonClient.ensureRunning(home)
    var out = Tail(path: outPath, to: FileHandle.standardOutput)
    var err = Tail(path: errPath, to: FileHandle.standardError)
    var announced = false
    let started = Posix.now()
    let filter = JobFilter(arrays: [id])
    var lastPing = started
    while true {
      out.copy()
      err.copy()
      let rows = try storeCall { () throws(StoreError) in try store.jobs(filter) }
      guard let row = rows.first else { break }
      if row.state.isTerminal {
        out.copy()
        err.copy()
        let code = SbatchSubmit.exitStatus(row)
        if row.state == .cancelled { Output.stderr("srun: error: Job \(id) was cancelled") }
        if code != 0 { throw ExitCode(code) }
        return
      }
      if !announced, row.state == .pending, Posix.now() - started > 1 {
        Output.stderr("srun: job \(id) queued and waiting for resources")
        announced = true
      }
      if Posix.now() - lastPing > 5 {
        try DaemonClient.ensureRunning(home)
        lastPing = Posix.now()
      }
      usleep(50_000)
    }
  }

  static func shellQuoted(_ word: String) -> String {
    "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  /// Copies what a file gained since the last call.
  struct Tail {
    let path: String
    let to: FileHandle
    var offset: UInt64 = 0

    init(path: String, to: FileHandle) {
      self.path = path
      self.to = to
    }

    mutating func copy() {
      guard let handle = FileHandle(forReadingAtPath: path) else { return }
      defer { try? handle.close() }
      try? handle.seek(toOffset: offset)
      let data = handle.readDataToEndOfFile()
      offset += UInt64(data.count)
      if !data.isEmpty { to.write(data) }
    }
  }
}
