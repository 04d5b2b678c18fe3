import Foundation
import XCTest

/// The harness of `SlurmDifferentialTests`: one case of the sbatch corpus runs on two sides — orch
/// through its shims on PATH, and a real SLURM through `/usr/bin/sbatch` and friends — and each side
/// reduces what it saw to a flat [key: value] record with job ids, paths and node names masked:
///
/// - `sbatch#N` the N-th submission's exit code and standard output, `sbatch#N stderr` its error;
/// - `state LABEL` the final `JobState Reason ExitCode` of each job or element (`scontrol show job -o`);
/// - `file NAME` each file the jobs wrote (names and contents masked), or `file NAME: VAR` for each
///   variable of an environment dump (`KEY=value` lines);
/// - anything a case records itself (`squeue` columns while a job is held, ...).
enum SlurmSide: String {
  case orch, slurm
}

/// A reachable real SLURM: its clients' environment and its node's name.
struct RealSlurm {
  var env: [String: String]
  var node: String

  /// `/usr/bin/scontrol ping` succeeding, with `SLURM_CONF` from the environment or, failing that,
  /// from deploy/slurm-local's default state directory.
  static func find() throws -> RealSlurm {
    var env: [String: String] = [:]
    let process = ProcessInfo.processInfo.environment
    if process["SLURM_CONF"] == nil {
      let dir = process["SLURM_LOCAL_DIR"] ?? "/tmp/orch-slurm-local"
      if FileManager.default.fileExists(atPath: dir + "/slurm.conf") { env["SLURM_CONF"] = dir + "/slurm.conf" }
    }
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/scontrol") else {
      throw XCTSkip("no real SLURM: /usr/bin/scontrol is missing (deploy/slurm-local/install.sh installs it)")
    }
    let ping = try runProgram("/usr/bin/scontrol", ["ping"], cwd: "/", env: env)
    guard ping.code == 0, ping.out.contains("is UP") else {
      throw XCTSkip(
        "no real SLURM reachable: `/usr/bin/scontrol ping` failed ("
          + "\((ping.out + ping.err).trimmingCharacters(in: .whitespacesAndNewlines))); "
          + "start one with deploy/slurm-local/start.sh and export SLURM_CONF")
    }
    let sinfo = try runProgram("/usr/bin/sinfo", ["-h", "-N", "-o", "%N"], cwd: "/", env: env)
    guard let node = sinfo.out.split(separator: "\n").first.map(String.init) else {
      throw XCTSkip("the real SLURM has no node: \(sinfo.err)")
    }
    return RealSlurm(env: env, node: node)
  }
}

/// Runs a program in `cwd` with the test's environment plus `env`, and collects its output.
func runProgram(_ path: String, _ args: [String], cwd: String, env extra: [String: String]) throws -> Cluster.Result {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = args
  p.currentDirectoryURL = URL(fileURLWithPath: cwd)
  var env = ProcessInfo.processInfo.environment
  for (k, v) in extra { env[k] = v }
  p.environment = env
  let out = Pipe()
  let err = Pipe()
  p.standardOutput = out
  p.standardError = err
  try p.run()
  // Read both pipes at once: a full stderr pipe must not block a child writing stdout.
  nonisolated(unsafe) var errData = Data()
  let group = DispatchGroup()
  DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
  let o = out.fileHandleForReading.readDataToEndOfFile()
  group.wait()
  p.waitUntilExit()
  return Cluster.Result(
    code: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: errData, as: UTF8.self))
}

/// One case run on one side: its directory, its submissions and what it recorded.
final class SideRun {
  let side: SlurmSide
  let dir: String
  let toolEnv: [String: String]
  let node: String
  /// Raw ids printed by each successful submission, in order (`<A1>`, `<A2>`, ...).
  var ids: [Int] = []
  var record: [String: String] = [:]
  var inputs: Set<String> = []
  private var submissions = 0

  init(side: SlurmSide, dir: String, toolEnv: [String: String], node: String) {
    self.side = side
    self.dir = dir
    self.toolEnv = toolEnv
    self.node = node
  }

  /// Writes an input file of the case (not compared as output).
  func write(_ relative: String, _ text: String) throws {
    let url = URL(fileURLWithPath: dir).appendingPathComponent(relative)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try text.write(to: url, atomically: true, encoding: .utf8)
    inputs.insert(relative)
  }

  /// Writes an input file of the case byte for byte (a script that is not UTF-8).
  func write(_ relative: String, bytes: [UInt8]) throws {
    let url = URL(fileURLWithPath: dir).appendingPathComponent(relative)
    try Data(bytes).write(to: url)
    inputs.insert(relative)
  }

  func mkdir(_ relative: String) throws {
    try FileManager.default.createDirectory(atPath: dir + "/" + relative, withIntermediateDirectories: true)
  }

  /// A SLURM client: orch's through the shims on PATH, the real one by absolute path.
  func tool(_ name: String, _ args: [String], env: [String: String] = [:], cwd: String? = nil) throws
    -> Cluster.Result
  {
    var all = toolEnv
    for (k, v) in env { all[k] = v }
    switch side {
    case .orch: return try runProgram("/usr/bin/env", [name] + args, cwd: cwd ?? dir, env: all)
    case .slurm: return try runProgram("/usr/bin/" + name, args, cwd: cwd ?? dir, env: all)
    }
  }

  /// `sbatch ARGS`, recorded as `sbatch#N` (exit code and stdout) and `sbatch#N stderr`; returns
  /// the id it printed, if any.
  @discardableResult
  func sbatch(_ args: [String], env: [String: String] = [:]) throws -> Int? {
    let r = try tool("sbatch", args, env: env)
    return note(r)
  }

  @discardableResult
  func note(_ r: Cluster.Result) -> Int? {
    submissions += 1
    let first = r.out.split(separator: "\n").first.map(String.init) ?? ""
    let id = Int(first.hasPrefix("Submitted batch job ") ? String(first.dropFirst(20)) : first)
    if let id, !ids.contains(id) { ids.append(id) }
    record["sbatch#\(submissions)"] = "exit \(r.code): \(mask(r.out))"
    record["sbatch#\(submissions) stderr"] = mask(r.err)
    return id
  }

  /// `sbatch ARGS` that blocks (`--wait` with `--hold`): returns once it printed the id, with a
  /// function that waits for its exit and records it.
  func sbatchInBackground(_ args: [String]) throws -> (id: Int, finish: () -> Void) {
    let p = Process()
    var env = ProcessInfo.processInfo.environment
    for (k, v) in toolEnv { env[k] = v }
    switch side {
    case .orch:
      p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      p.arguments = ["sbatch"] + args
    case .slurm:
      p.executableURL = URL(fileURLWithPath: "/usr/bin/sbatch")
      p.arguments = args
    }
    p.environment = env
    p.currentDirectoryURL = URL(fileURLWithPath: dir)
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    var text = Data()
    while !text.contains(UInt8(ascii: "\n")) {
      let chunk = out.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      text.append(chunk)
    }
    let first = String(decoding: text, as: UTF8.self)
    guard let id = Int(first.trimmingCharacters(in: .whitespacesAndNewlines)) else {
      p.terminate()
      throw XCTSkip("\(side) sbatch printed no id: \(first)")
    }
    ids.append(id)
    return (
      id,
      {
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        self.note(
          Cluster.Result(
            code: p.terminationStatus, out: first + String(decoding: rest, as: UTF8.self),
            err: String(decoding: e, as: UTF8.self)))
      }
    )
  }

  /// The records of `scontrol show job -o ID`, expanded to one per element: label → (state,
  /// reason, exit code).
  func jobs(_ id: Int, label: String) throws -> [String: (state: String, reason: String, exit: String)] {
    let r = try tool("scontrol", ["show", "job", "-o", String(id)])
    var out: [String: (String, String, String)] = [:]
    for line in r.out.split(separator: "\n") {
      var fields: [String: String] = [:]
      for token in line.split(separator: " ") {
        guard let eq = token.firstIndex(of: "=") else { continue }
        let key = String(token[..<eq])
        if fields[key] == nil { fields[key] = String(token[token.index(after: eq)...]) }
      }
      let value = (fields["JobState"] ?? "?", fields["Reason"] ?? "?", fields["ExitCode"] ?? "?")
      if let tasks = fields["ArrayTaskId"] {
        for index in expand(tasks) { out["\(label)_\(index)"] = value }
      } else {
        out[label] = value
      }
    }
    return out
  }

  /// Every job of this case, by label.
  func allJobs() throws -> [String: (state: String, reason: String, exit: String)] {
    var out: [String: (String, String, String)] = [:]
    for (k, id) in ids.enumerated() {
      for (label, value) in try jobs(id, label: "<A\(k + 1)>") { out[label] = value }
    }
    return out
  }

  /// Nothing runs and nothing pending can still start by itself.
  func settled() throws -> Bool {
    try allJobs().values.allSatisfy { job in
      switch job.state {
      case "PENDING": return ["DependencyNeverSatisfied", "JobHeldUser", "JobHeldAdmin"].contains(job.reason)
      case "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "REQUEUED", "RESIZING", "?": return false
      default: return true
      }
    }
  }

  func state(_ label: String) throws -> String {
    let all = try allJobs()
    guard let j = all[label] else { return "missing" }
    return "\(j.state) \(j.reason)"
  }

  func waitUntil(_ what: String, timeout: Double = 60, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if try condition() { return }
      usleep(100_000)
    }
    XCTFail("\(side): timed out waiting until \(what) in \(dir)")
    throw CancellationError()
  }

  /// Waits until every job of submission `k` (1-based) has ended.
  func waitEnded(_ k: Int) throws {
    try waitUntil("submission \(k) ends") {
      let jobs = try self.jobs(self.ids[k - 1], label: "x")
      return !jobs.isEmpty
        && jobs.values.allSatisfy { !["PENDING", "RUNNING", "COMPLETING", "CONFIGURING"].contains($0.state) }
    }
  }

  /// Adds the final states and the files the jobs wrote to the record.
  func collect() throws {
    rawIDs = readRawIDs()
    for (label, job) in try allJobs() {
      var state = job.state
      // orch's sacct spells a user's cancel `CANCELLED by UID`; scontrol says CANCELLED on both.
      if state.hasPrefix("CANCELLED") { state = "CANCELLED" }
      record["state \(label)"] = "\(state) \(job.reason) \(job.exit)"
    }
    var names: [String: [String]] = [:]
    let walker = FileManager.default.enumerator(atPath: dir)
    while let relative = walker?.nextObject() as? String {
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: dir + "/" + relative, isDirectory: &isDir), !isDir.boolValue,
        !inputs.contains(relative)
      else { continue }
      let text = (try? String(contentsOfFile: dir + "/" + relative, encoding: .utf8)) ?? "<unreadable>"
      names[mask(relative, labels: false), default: []].append(text)
    }
    for (name, texts) in names {
      for (n, text) in texts.map({ maskFile($0) }).sorted().enumerated() {
        let key = "file \(name)" + (n == 0 ? "" : " #\(n + 1)")
        if text.contains("SLURM_JOB_ID=") {
          for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            guard let eq = line.firstIndex(of: "=") else {
              if !line.isEmpty { record[key + ": (line)", default: ""] += line + "\n" }
              continue
            }
            record[key + ": " + line[..<eq]] = String(line[line.index(after: eq)...])
          }
        } else {
          record[key] = text
        }
      }
    }
  }

  /// An environment dump's identity lines masked by role, SLURM's srun retry notices dropped, then
  /// everything else masked by `mask`.
  func maskFile(_ text: String) -> String {
    let vars = variables(text)
    var own: Int?
    if let task = vars["SLURM_ARRAY_TASK_ID"].flatMap(Int.init),
      let array = vars["SLURM_ARRAY_JOB_ID"].flatMap(Int.init)
    {
      own = rawIDs[array]?[task]
    } else if let id = vars["SLURM_JOB_ID"].flatMap(Int.init), ids.contains(id) {
      own = id
    }
    var lines: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      var l = String(line)
      // Timing, not semantics: SLURM's srun retries while slurmctld still counts the previous
      // step's CPUs as busy.
      if l.hasPrefix("srun: Job ") && l.contains(" step creation temporarily disabled, retrying")
        || l.hasPrefix("srun: Step created for job ")
      {
        continue
      }
      for key in ["SLURM_JOB_ID", "SLURM_JOBID"] where l.hasPrefix(key + "=") {
        if let own, l == "\(key)=\(own)" { l = "\(key)=<own job id>" }
      }
      if l.hasPrefix("SLURM_ARRAY_JOB_ID="), let a = Int(l.dropFirst(19)), let k = ids.firstIndex(of: a) {
        l = "SLURM_ARRAY_JOB_ID=<A\(k + 1)>"
      }
      for key in ["SLURMD_NODENAME", "SLURM_JOB_NODELIST", "SLURM_NODELIST"] where l == "\(key)=\(node)" {
        l = "\(key)=<node>"
      }
      // srun's report of a failed step names the node.
      if l.hasPrefix("srun: error: \(node): ") { l = "srun: error: <node>: " + l.dropFirst(14 + node.count) }
      lines.append(l)
    }
    return mask(lines.joined(separator: "\n"), labels: false)
  }

  /// Raw job ids of the elements of each submitted array: [array id: [index: job id]]; read by
  /// `collect`.
  var rawIDs: [Int: [Int: Int]] = [:]

  func readRawIDs() -> [Int: [Int: Int]] {
    var out: [Int: [Int: Int]] = [:]
    for id in ids {
      guard let r = try? tool("scontrol", ["show", "job", "-o", String(id)]) else { continue }
      for line in r.out.split(separator: "\n") {
        var fields: [String: String] = [:]
        for token in line.split(separator: " ") {
          guard let eq = token.firstIndex(of: "=") else { continue }
          let key = String(token[..<eq])
          if fields[key] == nil { fields[key] = String(token[token.index(after: eq)...]) }
        }
        if let job = fields["JobId"].flatMap(Int.init), let task = fields["ArrayTaskId"].flatMap(Int.init) {
          out[id, default: [:]][task] = job
        }
      }
    }
    return out
  }

  /// Every id of this case's jobs, as digits standing alone.
  var allRawIDs: Set<Int> {
    Set(ids).union(rawIDs.values.flatMap(\.values))
  }

  /// The case directory → `<dir>`; the stored script (orch: `ORCH_HOME/scripts/ID.sh`, SLURM:
  /// `SlurmdSpoolDir/jobNNNNN/slurm_script`) → `<script>`; with `labels` a submission's id → `<A1>`,
  /// `<A2>`, ..., and any job id of the case → `<job id>`. Files get no labels: which element's job
  /// id equals the array's id differs (orch: the first element's; SLURM: the last one started).
  func mask(_ text: String, labels: Bool = true) -> String {
    var t = text.replacingOccurrences(of: dir, with: "<dir>")
    for pattern in [#"/[^\s'":]*/scripts/[0-9]+\.sh"#, #"/[^\s'":]*/job[0-9]+/slurm_script"#] {
      t = t.replacingOccurrences(of: pattern, with: "<script>", options: .regularExpression)
    }
    let known = allRawIDs
    var out = ""
    var digits = ""
    func flush() {
      if let n = Int(digits), known.contains(n) {
        out += labels ? ids.firstIndex(of: n).map { "<A\($0 + 1)>" } ?? "<job id>" : "<job id>"
      } else {
        out += digits
      }
      digits = ""
    }
    for ch in t {
      if ch.isASCII && ch.isNumber {
        digits.append(ch)
      } else {
        flush()
        out.append(ch)
      }
    }
    flush()
    return out
  }
}

/// "0-3,5,8-12:2%4" → the indices.
func expand(_ spec: String) -> [Int] {
  let body = spec.split(separator: "%").first.map(String.init) ?? spec
  var out: [Int] = []
  for part in body.split(separator: ",") {
    let stepParts = part.split(separator: ":")
    let step = stepParts.count > 1 ? Int(stepParts[1]) ?? 1 : 1
    let bounds = stepParts[0].split(separator: "-").compactMap { Int($0) }
    if bounds.count == 2 {
      out += Array(stride(from: bounds[0], through: bounds[1], by: max(1, step)))
    } else if let one = bounds.first {
      out.append(one)
    }
  }
  return out
}
