import ArgumentParser
import Foundation
import Operations
import OrchCore
import SlurmSyntax
import SlurmViews
import Store

/// What the SLURM client commands share: glibc-style option scanning with SLURM's messages, job id
/// lists, the user and host, and SLURM's way of failing (one `tool: error: …` line, exit 1).
public enum SlurmTool {
  /// The names `orch shims` installs and `OrchMain` dispatches on (argv[0]).
  static let names = ["sbatch", "srun", "squeue", "scancel", "sacct", "scontrol", "sinfo"]

  /// Runs `body`, turning its errors into SLURM's style: the message as is when it already names
  /// the tool, else `tool: error: message`; always exit 1 (orch's own commands use 2 for bad input).
  static func run(_ tool: String, _ body: () throws -> Void) throws {
    do {
      try body()
    } catch let error as OrchError {
      let text = error.description
      Output.stderr(text.hasPrefix("\(tool): ") || text.hasPrefix("slurm_") ? text : "\(tool): error: \(text)")
      throw ExitCode(1)
    }
  }

  /// `--help`/`--usage` print the usage, `--version` the version; true when one of them was asked.
  static func answeredInfo(_ args: SlurmArguments, usage: String, tool: String? = nil) -> Bool {
    // `--usage` is SLURM's own synopsis (tools read the option list from it), `--help` orch's.
    if args.has("usage"), !args.has("help"), let text = tool.flatMap(SlurmUsage.text) {
      Output.print(text)
      return true
    }
    if args.has("help") || args.has("usage") {
      Output.print(usage)
      return true
    }
    if args.has("version") {
      Output.print("slurm 23.02.0 (orch)\n")
      return true
    }
    return false
  }

  /// A user name or numeric uid this machine knows (SLURM refuses others by name); the current user
  /// always, even in a container whose uid has no passwd entry.
  static func userExists(_ text: String) -> Bool {
    if text == SlurmMachine.user || text == String(getuid()) || getpwnam(text) != nil { return true }
    guard let uid = uid_t(text) else { return false }
    return getpwuid(uid) != nil
  }

  /// `-n/--name` and `-p/--partition`, as squeue, sacct and scancel apply them: the jobs with one
  /// of the names; none unless orch's one partition is among those named.
  static func named(_ rows: [JobRow], _ args: SlurmArguments) -> [JobRow] {
    if let partitions = args.last("partition"),
      !partitions.split(separator: ",").contains(Substring(SbatchSubmit.partition))
    {
      return []
    }
    guard let names = args.last("name") else { return rows }
    let wanted = Set(names.split(separator: ",").map(String.init))
    return rows.filter { wanted.contains($0.name) }
  }

  /// `-u alice,1000`: orch's jobs are all the current user's.
  static func matchesUser(_ list: String) -> Bool {
    list.split(separator: ",").contains { $0 == SlurmMachine.user || $0 == String(getuid()) }
  }

  /// A comma list of ids (`12,13_2,14_[1-3]`) resolved to job ids. An id may also be an element's
  /// own job id, as in SLURM. Unknown ids are left out; `unknown` counts them.
  static func resolve(_ list: [String], store: JobStore) throws(OrchError) -> (ids: [Int64], unknown: [String]) {
    var ids: [Int64] = []
    var unknown: [String] = []
    for text in list {
      guard let parts = SlurmText.splitTopLevel(text, on: [","]) else {
        throw .badInput("Invalid job id: \(text)")
      }
      for part in parts.map(\.part) where !part.isEmpty {
        // `12.batch`, `12.0`: a step is its job here.
        let id = part.split(separator: ".", maxSplits: 1).first.map(String.init) ?? part
        let selector: JobSelector
        do { selector = try JobSelector.parse(id) } catch { throw .badInput("Invalid job id: \(part)") }
        var found: [Int64]
        switch selector {
        case .job(let n):
          found = try storeCall { () throws(StoreError) in try store.resolve(array: Int64(n), indices: nil) }
          if found.isEmpty, try storeCall({ () throws(StoreError) in try store.jobExists(Int64(n)) }) {
            found = [Int64(n)]
          }
        case .elements(let n, let indices):
          found = try storeCall { () throws(StoreError) in try store.resolve(array: Int64(n), indices: indices) }
        }
        if found.isEmpty { unknown.append(part) }
        ids += found
      }
    }
    var seen = Set<Int64>()
    return (ids.filter { seen.insert($0).inserted }, unknown)
  }

  /// State names and squeue codes (`PD`, `pending`, `CA`…), case-insensitive; `all` is every state.
  static func states(_ list: String, tool: String) throws(OrchError) -> [JobState] {
    var out: [JobState] = []
    for item in list.split(separator: ",") {
      let upper = item.uppercased()
      if upper == "ALL" { return JobState.allCases }
      guard let state = JobState.allCases.first(where: { $0.rawValue == upper || $0.code == upper }) else {
        // SLURM states that cannot happen here select nothing rather than fail.
        if slurmOnlyStates.contains(upper) { continue }
        throw .badInput("\(tool): error: Invalid job state specified: \(item)")
      }
      out.append(state)
    }
    return out
  }

  static let slurmOnlyStates: Set<String> = [
    "BF", "BOOT_FAIL", "CF", "CONFIGURING", "CG", "COMPLETING", "DL", "DEADLINE", "NF", "NODE_FAIL", "PR",
    "PREEMPTED", "RD", "RESV_DEL_HOLD", "RF", "REQUEUE_FED", "RH", "REQUEUE_HOLD", "RQ", "REQUEUED", "RS",
    "RESIZING", "RV", "REVOKED", "SI", "SIGNALING", "SE", "SPECIAL_EXIT", "SO", "STAGE_OUT", "ST", "STOPPED",
    "S", "SUSPENDED",
  ]
}
