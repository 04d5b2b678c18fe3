import Foundation
import XCTest

/// What tools and test suites written against SLURM rely on beyond sbatch and squeue (issue 18),
/// run once through orch's shims and once on a real SLURM, through a small harness in the style of
/// SLURM's own test library: `submit`, `waitForJobState` polling `scontrol -d -o show jobs`,
/// `jobParameter`, `cancel`. Each scenario records what it saw (job ids masked as `<A1>`, …); the
/// two records must be equal except for the deliberate differences each scenario names with both
/// sides' exact values (deploy/README.md lists them). Skipped when no real SLURM answers.
final class SlurmFidelityDifferentialTests: XCTestCase {
  struct Known {
    var key: String
    var orch: String?
    var slurm: String?
  }

  struct Scenario {
    var name: String
    var known: [Known] = []
    var steps: (SlurmLib) throws -> Void
  }

  func testHarnessScenariosMatchRealSlurm() throws {
    let slurm = try RealSlurm.find()
    let scenarios: [Scenario] = [
      Scenario(name: "show_jobs_plural") { t in
        let id = try t.submit(["-H", "--wrap", "true"])
        let plural = try t.tool("scontrol", ["show", "jobs"])
        t.record["show jobs exit"] = "\(plural.code)"
        t.record["show jobs lists it"] = "\(plural.out.contains("JobId=\(id) "))"
        t.record["-d -o show jobs lists it"] = "\(try t.jobs().contains { $0["JobId"] == "\(id)" })"
        try t.cancel([id])
      },
      Scenario(name: "priority") { t in
        let held = try t.submit(["-H", "--wrap", "true"])
        t.record["held Priority"] = try t.jobParameter(held, "Priority")
        let first = try t.submit(["--begin=now+600", "--wrap", "true"])
        let second = try t.submit(["--begin=now+600", "--wrap", "true"])
        let nice = try t.submit(["--begin=now+600", "--nice=100", "--wrap", "true"])
        let p1 = Int64(try t.jobParameter(first, "Priority")) ?? -1
        let p2 = Int64(try t.jobParameter(second, "Priority")) ?? -1
        let p3 = Int64(try t.jobParameter(nice, "Priority")) ?? -1
        t.record["first > 0"] = "\(p1 > 0)"
        t.record["earlier first"] = "\(p1 > p2)"
        t.record["nice 100 lower by 100 or more"] = "\(p2 - p3 >= 99)"
        t.record["Nice"] = try t.jobParameter(nice, "Nice")
        t.record["squeue %y"] = try t.tool("squeue", ["-h", "-j", "\(nice)", "-o", "%y"]).out
        t.record["update Priority exit"] =
          "\(try t.tool("scontrol", ["update", "job", "\(second)", "Priority=5000"]).code)"
        t.record["updated Priority"] = try t.jobParameter(second, "Priority")
        let release = try t.tool("scontrol", ["release", "\(held)"])
        t.record["release exit"] = "\(release.code)"
        try t.waitForJobState(held, "COMPLETED")
        t.record["update Priority=0 exit"] =
          "\(try t.tool("scontrol", ["update", "job", "\(first)", "Priority=0"]).code)"
        t.record["Priority=0 reason"] = try t.jobParameter(first, "Reason")
        try t.cancel([first, second, nice])
      },
      Scenario(name: "array_pending_element_and_cancel") { t in
        let id = try t.submit(["-H", "--array=0-3", "--wrap", "true"])
        let element = try t.tool("scontrol", ["show", "job", "-o", "\(id)_2"])
        let fields = SlurmLib.fields(element.out)
        t.record["element JobId"] = t.mask(fields["JobId"] ?? "?")
        t.record["element ArrayTaskId"] = fields["ArrayTaskId"] ?? "?"
        t.record["scancel element"] = "\(try t.tool("scancel", ["\(id)_3"]).code)"
        let gone = try t.tool("scontrol", ["show", "job", "\(id)_3"])
        t.record["cancelled element: exit"] = "\(gone.code)"
        t.record["cancelled element: out"] = t.mask(gone.out)
        t.record["cancelled element: err"] = t.mask(gone.err)
        t.record["array TaskIds"] = try t.jobs().filter { $0["ArrayJobId"] == "\(id)" }.map { $0["ArrayTaskId"] ?? "" }
          .joined(separator: " ")
        try t.cancel([id])
        t.record["whole array cancelled: state"] = try t.jobParameter(id, "JobState")
      },
      Scenario(name: "requeue_failed_waits_for_begin_time") { t in
        let id = try t.submit(["--wrap", "exit 3"])
        try t.waitForJobState(id, "FAILED")
        t.record["requeue exit"] = "\(try t.tool("scontrol", ["requeue", "\(id)"]).code)"
        try t.waitForJobState(id, "PENDING", reason: "BeginTime")
        t.record["Restarts"] = try t.jobParameter(id, "Restarts")
        t.record["squeue %r"] = try t.tool("squeue", ["-h", "-j", "\(id)", "-o", "%r"]).out
        let update = try t.tool("scontrol", ["update", "job", "\(id)", "StartTime=now"])
        t.record["update StartTime=now exit"] = "\(update.code)"
        try t.waitForJobState(id, "FAILED")
        t.record["after rerun ExitCode"] = try t.jobParameter(id, "ExitCode")
      },
      Scenario(name: "requeue_running_waits_for_begin_time") { t in
        let id = try t.submit(["--wrap", "sleep 60"])
        try t.waitForJobState(id, "RUNNING")
        t.record["requeue exit"] = "\(try t.tool("scontrol", ["requeue", "\(id)"]).code)"
        try t.waitForJobState(id, "PENDING", reason: "BeginTime")
        t.record["Restarts"] = try t.jobParameter(id, "Restarts")
        try t.cancel([id])
      },
      Scenario(
        name: "json_format_and_sacct_fields",
        known: [
          Known(
            key: "squeue -O bogus", orch: "1 squeue: error: Invalid job format specification: bogus\n",
            slurm: "0 squeue: error: Invalid job format specification: bogus\n"),
          Known(key: "scontrol --json show job", orch: "0 jobs 1", slurm: "1 unrecognized option"),
          Known(key: "sacct --helpformat has the fields", orch: "true", slurm: "false"),
          Known(key: "sacct -o WorkDir,ReqMem,Cluster", orch: "<dir>|100M|orch\n", slurm: ""),
          Known(key: "sacct --json", orch: "0 jobs 1 array task 0-2", slurm: "1 no jobs"),
        ]
      ) { t in
        let id = try t.submit(["-H", "--array=0-2", "-J", "jsonjob", "--mem=100M", "--wrap", "true"])
        // SLURM 22.05's squeue --json lists every job whatever -j says: the test picks its own.
        let q = try t.tool("squeue", ["--json"])
        let document = try JSONSerialization.jsonObject(with: Data(q.out.utf8)) as? [String: Any] ?? [:]
        t.record["squeue --json keys"] = document.keys.sorted().joined(separator: " ")
        let meta = document["meta"] as? [String: Any]
        t.record["squeue --json plugin"] = "\((meta?["plugin"] as? [String: Any])?["type"] ?? "?")"
        let mine = (document["jobs"] as? [[String: Any]] ?? []).filter { ($0["job_id"] as? Int) == id }
        t.record["squeue --json records"] = "\(mine.count)"
        for key in [
          "array_task_string", "array_task_id", "array_max_tasks", "job_state", "state_reason", "priority",
          "partition", "name", "batch_flag", "cpus", "node_count", "tasks", "user_name", "nice", "requeue",
          "restart_cnt", "memory_per_node", "current_working_directory",
        ] {
          t.record["squeue --json \(key)"] = t.mask(mine.first.map { "\($0[key] ?? "absent")" } ?? "no record")
        }
        t.record["squeue --json array_job_id"] = t.mask("\(mine.first?["array_job_id"] ?? "absent")")
        let format = try t.tool(
          "squeue",
          [
            "-h", "-j", "\(id)", "-O",
            "JobArrayID:20,Name:10,StateCompact:.4,ReasonList,PriorityLong,Nice:.5,Partition",
          ])
        t.record["squeue -O"] = t.mask(format.out)
        t.record["squeue --Format header"] =
          try t.tool("squeue", ["-j", "\(id)", "--Format=JobID,UserName,State"]).out
          .split(separator: "\n").first.map(String.init) ?? ""
        let bogus = try t.tool("squeue", ["-j", "\(id)", "-O", "bogus"])
        t.record["squeue -O bogus"] = "\(bogus.code) \(bogus.err)"
        let json = try t.tool("scontrol", ["--json", "show", "job", "\(id)"])
        let parsed = (try? JSONSerialization.jsonObject(with: Data(json.out.utf8))) as? [String: Any]
        t.record["scontrol --json show job"] =
          json.code == 0 ? "0 jobs \((parsed?["jobs"] as? [Any])?.count ?? -1)" : "\(json.code) unrecognized option"
        let help = try t.tool("sacct", ["--helpformat"]).out
        t.record["sacct --helpformat has the fields"] =
          "\(["WorkDir", "ReqMem", "Cluster", "Group", "Priority", "TimelimitRaw", "CPUTime"].allSatisfy(help.contains))"
        t.record["sacct -o WorkDir,ReqMem,Cluster"] = t.mask(
          try t.tool("sacct", ["-j", "\(id)", "-X", "-n", "-P", "-o", "WorkDir,ReqMem,Cluster"]).out)
        let sacct = try t.tool("sacct", ["--json", "-j", "\(id)"])
        let sacctDoc = (try? JSONSerialization.jsonObject(with: Data(sacct.out.utf8))) as? [String: Any]
        if let jobs = sacctDoc?["jobs"] as? [[String: Any]], sacct.code == 0 {
          let task = (jobs.first?["array"] as? [String: Any])?["task"] ?? "?"
          t.record["sacct --json"] = "0 jobs \(jobs.count) array task \(task)"
        } else {
          t.record["sacct --json"] = "\(sacct.code) no jobs"
        }
        try t.cancel([id])
      },
      Scenario(name: "requeue_incomplete_and_requeuehold") { t in
        let failed = try t.submit(["--wrap", "exit 2"])
        let done = try t.submit(["--wrap", "true"])
        try t.waitForJobState(failed, "FAILED")
        try t.waitForJobState(done, "COMPLETED")
        let incomplete = try t.tool("scontrol", ["requeue", "incomplete", "\(failed),\(done)"])
        t.record["requeue incomplete"] = "\(incomplete.code) \(t.mask(incomplete.err))"
        t.record["finished stay"] =
          "\(try t.jobParameter(failed, "JobState")) \(try t.jobParameter(done, "JobState"))"
        t.record["requeuehold exit"] = "\(try t.tool("scontrol", ["requeuehold", "\(done)"]).code)"
        try t.waitForJobState(done, "PENDING")
        t.record["requeuehold Reason"] = try t.jobParameter(done, "Reason")
        t.record["requeuehold Priority"] = try t.jobParameter(done, "Priority")
        try t.cancel([done])
      },
      Scenario(name: "scontrol_update") { t in
        let id = try t.submit(["-H", "--array=0-5%2", "--wrap", "true"])
        for (label, args) in [
          ("throttle", ["job", "\(id)", "ArrayTaskThrottle=1"]),
          ("time limit", ["JobId=\(id)", "TimeLimit=5"]),
          ("start time", ["job=\(id)", "StartTime=2030-01-02T03:04:05"]),
          ("unsupported", ["job", "\(id)", "Bogus=1"]),
          ("bad time limit", ["job", "\(id)", "TimeLimit=abc"]),
          ("bad priority", ["job", "\(id)", "Priority=abc"]),
          ("no change", ["job", "\(id)"]),
          ("held priority", ["job", "\(id)", "Priority=50"]),
        ] {
          let r = try t.tool("scontrol", ["update"] + args)
          t.record[label] = "\(r.code) \(t.mask(r.out))\(t.mask(r.err))"
        }
        let unknown = try t.tool("scontrol", ["update", "job", "999999", "TimeLimit=5"])
        t.record["unknown job"] = "\(unknown.code) \(unknown.err)"
        t.record["ArrayTaskThrottle"] = try t.jobParameter(id, "ArrayTaskThrottle")
        t.record["TimeLimit"] = try t.jobParameter(id, "TimeLimit")
        t.record["EligibleTime"] = try t.jobParameter(id, "EligibleTime")
        try t.cancel([id])
      },
      Scenario(name: "throttle_update_on_running_array") { t in
        let id = try t.submit(["--array=0-3%2", "--wrap", "sleep 2"])
        try t.waitUntil("two elements run") { try t.running(id) == 2 }
        t.record["update"] = "\(try t.tool("scontrol", ["update", "job", "\(id)", "ArrayTaskThrottle=1"]).code)"
        try t.waitUntil("the first two end") {
          try t.jobs().filter { $0["ArrayJobId"] == "\(id)" && $0["JobState"] == "COMPLETED" }.count >= 2
        }
        var most = 0
        try t.waitUntil("the array ends", timeout: 90) {
          let jobs = try t.jobs().filter { $0["ArrayJobId"] == "\(id)" }
          most = max(most, jobs.filter { $0["JobState"] == "RUNNING" }.count)
          return jobs.allSatisfy { $0["JobState"] == "COMPLETED" }
        }
        t.record["most running after the update"] = "\(most)"
      },
      Scenario(name: "begin_and_nice") { t in
        let soon = try t.submit(["--begin=now+2", "--wrap", "true"])
        t.record["now+2 at first"] = "\(try t.jobParameter(soon, "JobState")) \(try t.jobParameter(soon, "Reason"))"
        try t.waitForJobState(soon, "COMPLETED")
        for spec in ["16:00", "midnight", "noon-tomorrow", "2030-01-02T03:04:05", "now+1hour", "teatime", "tomorrow"] {
          let r = try t.tool("sbatch", ["--parsable", "-H", "--begin=\(spec)", "--wrap", "true"])
          guard let id = Int(r.out.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            t.record["--begin=\(spec)"] = "exit \(r.code): \(r.err)"
            continue
          }
          t.ids.append(id)
          let eligible = try t.jobParameter(id, "EligibleTime")
          t.record["--begin=\(spec)"] = spec.hasPrefix("now") ? "accepted" : eligible
          try t.cancel([id])
        }
        let bad = try t.tool("sbatch", ["--begin=bogus", "--wrap", "true"])
        t.record["--begin=bogus"] = "\(bad.code == 0 ? "accepted" : "refused") \(bad.err)"
        let nice = try t.submit(["-H", "--nice=7", "--wrap", "true"])
        t.record["--nice=7"] = try t.jobParameter(nice, "Nice")
        try t.cancel([nice])
      },
      Scenario(name: "srun_outside_a_job") { t in
        let out = try t.tool("srun", ["bash", "-c", "echo $SLURM_JOB_NAME step $SLURM_STEP_ID; echo to-err >&2"])
        t.record["srun out"] = out.out
        t.record["srun err"] = out.err
        t.record["srun exit"] = "\(out.code)"
        let fail = try t.tool("srun", ["-J", "failing", "bash", "-c", "exit 3"])
        t.record["failing exit"] = "\(fail.code)"
        let done = try t.submit(["--wrap", "true"])
        try t.waitForJobState(done, "COMPLETED")
        let after = try t.tool("srun", ["--dependency=afterok:\(done)", "echo", "after"])
        t.record["srun --dependency"] = "\(after.code) \(after.out)"
        let partition = try t.tool("srun", ["-p", "nope", "true"])
        t.record["srun -p nope"] = "\(partition.code) \(partition.err)"
      },
      Scenario(name: "partitions") { t in
        let bad = try t.tool("sbatch", ["-p", "nope", "--wrap", "true"])
        t.record["sbatch -p nope"] = "\(bad.code) \(bad.err)"
        let good = try t.tool("sbatch", ["--parsable", "-H", "-p", "local", "--wrap", "true"])
        t.record["sbatch -p local"] = "\(good.code)"
        if let id = Int(good.out.trimmingCharacters(in: .whitespacesAndNewlines)) {
          t.ids.append(id)
          t.record["Partition"] = try t.jobParameter(id, "Partition")
          try t.cancel([id])
        }
        t.record["sinfo"] = try t.tool("sinfo", ["-h", "-o", "%P %R %a %l %D %s %G"]).out
        t.record["sinfo -p other"] = try t.tool("sinfo", ["-h", "-p", "other"]).out
      },
      Scenario(name: "array_dependencies_display") { t in
        let array = try t.submit(["-H", "--array=0-2", "--wrap", "true"])
        let single = try t.submit(["-H", "--wrap", "true"])
        for spec in [
          "afterany:\(array)", "afterok:\(array):\(single)", "afterok:\(array)_1", "after:\(single)+5",
          "afterok:\(array)?afternotok:\(single)", "\(array)", "aftercorr:\(array)",
        ] {
          let id = try t.submit(["-d", spec, "--wrap", "true"])
          t.record["\(t.mask(spec)) scontrol"] = t.mask(try t.jobParameter(id, "Dependency"))
          t.record["\(t.mask(spec)) squeue"] = t.mask(try t.tool("squeue", ["-h", "-j", "\(id)", "-o", "%E"]).out)
          try t.cancel([id])
        }
        try t.cancel([array, single])
      },
      Scenario(name: "usage_and_help_first_lines") { t in
        for tool in ["sbatch", "squeue", "scancel", "srun", "sinfo", "scontrol"] {
          for flag in ["--usage", "--help"] {
            let r = try t.tool(tool, [flag])
            let first = (r.out.split(separator: "\n").first.map(String.init) ?? "")
            t.record["\(tool) \(flag)"] = first.trimmingCharacters(in: .whitespaces)
          }
        }
        let usage = try t.tool("sbatch", ["--usage"]).out
        t.record["sbatch --usage lists --begin and --nice"] =
          "\(usage.contains("[--begin=") || usage.contains("--begin")) \(usage.contains("--nice"))"
      },
      Scenario(name: "job_environment") { t in
        let script = """
          #!/bin/bash
          echo "SLURM_GTIDS=$SLURM_GTIDS"
          echo "SLURM_TOPOLOGY_ADDR_PATTERN=$SLURM_TOPOLOGY_ADDR_PATTERN"
          [ "$SLURM_TOPOLOGY_ADDR" = "$SLURMD_NODENAME" ] && echo "TOPOLOGY_ADDR=node" || echo "TOPOLOGY_ADDR=other"
          echo "SLURM_PRIO_PROCESS=$SLURM_PRIO_PROCESS"
          echo "SLURM_CONF=${SLURM_CONF-unset}"
          [ "$SLURM_TASK_PID" = "$$" ] && echo "TASK_PID=yes" || echo "TASK_PID=no"
          echo "WORKING_CLUSTER_FIELDS=$(echo "$SLURM_WORKING_CLUSTER" | awk -F: '{print NF}')"
          echo "WORKING_CLUSTER_HEAD=$(echo "$SLURM_WORKING_CLUSTER" | cut -d: -f1)"
          echo "SLURM_CLUSTER_NAME=$SLURM_CLUSTER_NAME"

          """
        try t.run.write("env.sbatch", script)
        let id = try t.submit(["-o", "env.out", "env.sbatch"])
        try t.waitForJobState(id, "COMPLETED")
        let text = try String(contentsOfFile: t.run.dir + "/env.out", encoding: .utf8)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
          let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
          if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        for key in [
          "SLURM_GTIDS", "SLURM_TOPOLOGY_ADDR_PATTERN", "TOPOLOGY_ADDR", "SLURM_PRIO_PROCESS", "SLURM_CONF",
          "WORKING_CLUSTER_FIELDS",
        ] {
          t.record[key] = values[key] ?? "missing"
        }
        t.record["cluster name matches"] = "\(values["WORKING_CLUSTER_HEAD"] == values["SLURM_CLUSTER_NAME"])"
        t.record["SLURM_TASK_PID is the batch shell"] = values["TASK_PID"] ?? "missing"
      },
    ]
    try compare(scenarios, slurm: slurm)
  }

  func compare(_ scenarios: [Scenario], slurm: RealSlurm) throws {
    let c = try Cluster("SlurmFidelity")
    try c.installShims()
    try c.startDaemon(cpus: SlurmDifferentialTests.allowedCPUs().map(String.init).joined(separator: ","))
    // From job 1000 on, as deploy/slurm-local's FirstJobId: no masked id looks like a count.
    let (burn, burnID) = try c.sbatch(["-H", "--parsable", "--array=0-998", "--wrap", "true"])
    XCTAssertEqual(burn.code, 0, burn.err)
    if let burnID { try c.run(["scancel", "\(burnID)"]) }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let conf = slurm.env["SLURM_CONF"] ?? ProcessInfo.processInfo.environment["SLURM_CONF"]
    let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
    var libs: [SlurmLib] = []
    defer {
      for lib in libs where lib.run.side == .slurm && !lib.ids.isEmpty {
        _ = try? lib.run.tool("scancel", lib.ids.map(String.init))
      }
    }
    for scenario in scenarios {
      // Both sides see the same SLURM_CONF, so a job's copy of it can be compared.
      let s = SideRun(
        side: .slurm, dir: c.root.path + "/slurm/" + scenario.name,
        toolEnv: slurm.env.merging(["PATH": path]) { $1 }, node: slurm.node)
      let o = SideRun(
        side: .orch, dir: c.root.path + "/orch/" + scenario.name,
        toolEnv: ["PATH": c.shimsDir + ":" + path, "ORCH_HOME": c.home].merging(conf.map { ["SLURM_CONF": $0] } ?? [:])
        {
          $1
        }, node: host)
      var records: [SlurmSide: [String: String]] = [:]
      for run in [s, o] {
        try run.mkdir("")
        let lib = SlurmLib(run)
        libs.append(lib)
        do {
          try scenario.steps(lib)
        } catch let error as XCTSkip {
          throw error
        } catch {
          XCTFail("\(scenario.name) on \(run.side): \(error)")
        }
        records[run.side] = lib.record
      }
      let orch = records[.orch] ?? [:]
      let real = records[.slurm] ?? [:]
      for key in Set(orch.keys).union(real.keys).sorted() {
        if let known = scenario.known.first(where: { $0.key == key }) {
          XCTAssertEqual(orch[key], known.orch, "\(scenario.name): orch's \(key) (a listed difference)")
          XCTAssertEqual(real[key], known.slurm, "\(scenario.name): SLURM's \(key) (a listed difference)")
        } else {
          XCTAssertEqual(orch[key], real[key], "\(scenario.name): \(key) differs (first: orch, second: SLURM)")
        }
      }
    }
  }
}

/// A harness after SLURM's own test library: submit, wait for a job's state by polling
/// `scontrol -d -o show jobs`, read one parameter of a job, cancel. Written from SLURM's
/// documented behaviour; it drives either side through `SideRun`.
final class SlurmLib {
  let run: SideRun
  var record: [String: String] = [:]
  var ids: [Int] {
    get { run.ids }
    set { run.ids = newValue }
  }

  init(_ run: SideRun) { self.run = run }

  func tool(_ name: String, _ args: [String]) throws -> Cluster.Result { try run.tool(name, args) }

  func mask(_ text: String) -> String { run.mask(text) }

  /// `sbatch --parsable ARGS`; fails the scenario when nothing was submitted.
  func submit(_ args: [String]) throws -> Int {
    let r = try tool("sbatch", ["--parsable"] + args)
    guard r.code == 0, let id = Int(r.out.trimmingCharacters(in: .whitespacesAndNewlines)) else {
      throw Failure("\(run.side): sbatch \(args) failed: \(r.code) \(r.out) \(r.err)")
    }
    ids.append(id)
    return id
  }

  struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ text: String) { description = text }
  }

  /// `scontrol -o` fields: `Key=value` pairs; a value may hold blanks (`Reason=job requeued in
  /// held state`), so words without `=` belong to the value before them.
  static func fields(_ line: String) -> [String: String] {
    var out: [String: String] = [:]
    var last: String?
    for word in line.split(separator: " ") {
      if let eq = word.firstIndex(of: "="),
        word[..<eq].allSatisfy({ $0.isLetter || $0.isNumber || "/:_".contains($0) }),
        eq != word.startIndex
      {
        let key = String(word[..<eq])
        if out[key] == nil {
          out[key] = String(word[word.index(after: eq)...])
          last = key
        } else {
          last = nil
        }
      } else if let key = last {
        out[key, default: ""] += " " + word
      }
    }
    return out
  }

  /// Every job slurmctld knows, one record per `scontrol -d -o show jobs` line.
  func jobs() throws -> [[String: String]] {
    let r = try tool("scontrol", ["-d", "-o", "show", "jobs"])
    return r.out.split(separator: "\n").map { Self.fields(String($0)) }
  }

  /// The record of job `id`: the job itself, or the array record holding element `id_task`.
  func job(_ id: Int) throws -> [String: String]? {
    let all = try jobs()
    return all.first { $0["JobId"] == "\(id)" && ($0["ArrayTaskId"] == nil || $0["ArrayJobId"] == "\(id)") }
      ?? all.first { $0["JobId"] == "\(id)" }
  }

  func jobParameter(_ id: Int, _ name: String) throws -> String {
    try job(id)?[name] ?? "missing"
  }

  func running(_ array: Int) throws -> Int {
    try jobs().filter { $0["ArrayJobId"] == "\(array)" && $0["JobState"] == "RUNNING" }.count
  }

  func waitUntil(_ what: String, timeout: Double = 60, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if try condition() { return }
      usleep(100_000)
    }
    throw Failure("\(run.side): timed out waiting until \(what)")
  }

  /// Polls until job `id` is in `state` (and, if given, waits for `reason`).
  func waitForJobState(_ id: Int, _ state: String, reason: String? = nil, timeout: Double = 60) throws {
    try waitUntil("job \(id) is \(state)\(reason.map { " (\($0))" } ?? "")", timeout: timeout) {
      guard let job = try self.job(id) else { return false }
      return job["JobState"] == state && (reason == nil || job["Reason"] == reason)
    }
  }

  func cancel(_ ids: [Int]) throws {
    _ = try tool("scancel", ids.map(String.init))
  }
}
