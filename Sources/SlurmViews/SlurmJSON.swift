import Foundation
import Operations
import SlurmSyntax
import Store
import Worker

/// `--json` of squeue, `scontrol show job` and sacct in SLURM 22.05's data_parser shapes
/// (openapi v0.0.38): `meta`, `errors`, `jobs`, each job with the fields orch knows; fields it
/// cannot know are left out rather than made up.
public enum SlurmJSON {
  public static var meta: [String: Any] {
    [
      "plugin": ["type": "openapi/v0.0.38", "name": "Slurm OpenAPI v0.0.38"],
      "Slurm": ["version": ["major": 22, "micro": 8, "minor": 5], "release": "22.05.8"],
    ]
  }

  public static func document(_ jobs: [[String: Any]]) -> String {
    let object: [String: Any] = ["meta": meta, "errors": [Any](), "jobs": jobs]
    guard
      let data = try? JSONSerialization.data(
        withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    else { return "{}\n" }
    return String(decoding: data, as: UTF8.self) + "\n"
  }

  public static func epoch(_ t: Double?) -> Int { t.map { TimeFormat.seconds($0) } ?? 0 }

  public static var group: (id: Int, name: String) {
    let gid = getgid()
    let name = getgrgid(gid).flatMap { $0.pointee.gr_name.map { String(cString: $0) } } ?? String(gid)
    return (Int(gid), name)
  }

  /// squeue's and scontrol's job records.
  public static func jobs(_ records: [SqueueRecord], now: Double) -> String {
    let host = SlurmMachine.host
    let (gid, groupName) = group
    return document(
      records.map { record in
        let r = record.first
        let launch = record.array.flatMap { try? LaunchSpec.decode($0.launch) }
        let started = r.startTime != nil && r.state != .pending
        let unsplit = record.collapsed || r.isArray && r.state == .pending && r.attempt == 0
        var job: [String: Any] = [
          "account": "", "batch_flag": true, "cluster": launch?.env["SLURM_CLUSTER_NAME"] ?? "orch",
          "command": record.array.map { $0.source.hasPrefix("/") ? $0.source : "" } ?? "", "cpus": r.cpus,
          "current_working_directory": launch?.cwd ?? "", "derived_exit_code": 0,
          "end_time": r.state.isTerminal ? epoch(r.endTime) : 0, "exit_code": Int(r.exitCode ?? 0),
          "group_id": gid, "group_name": groupName, "job_id": Int(unsplit ? r.arrayID : r.id),
          "job_state": r.state.rawValue, "name": r.name, "node_count": 1,
          "nodes": started ? host : "", "partition": SbatchSubmit.partition,
          "priority": SlurmSchedule.priority(r, record.schedule), "qos": "", "requeue": launch?.requeue != false,
          "restart_cnt": max(0, r.state == .pending ? r.attempt : r.attempt - 1), "standard_input": "/dev/null",
          "start_time": started ? epoch(r.startTime) : epoch(record.schedule?.beginTime), "state_reason": record.reason,
          "submit_time": epoch(r.submitTime), "tasks": 1,
          "time_limit": r.timeLimit.map { $0 / 60 } ?? 0, "user_id": Int(getuid()), "user_name": SlurmMachine.user,
          "eligible_time": epoch(record.schedule?.beginTime ?? (r.reason == nil ? r.submitTime : nil)),
          "dependency": r.state == .pending ? record.array?.dependency ?? "" : "",
        ]
        // SLURM writes a nice value of 0 as null.
        job["nice"] = (record.schedule?.nice ?? 0) == 0 ? NSNull() : record.schedule?.nice as Any
        job["array_job_id"] = r.isArray ? Int(r.arrayID) : 0
        job["array_task_id"] = r.isArray && !record.collapsed ? (r.arrayIndex.map { $0 as Any } ?? NSNull()) : NSNull()
        job["array_task_string"] = record.collapsed ? ArraySpec.compress(record.indices) : ""
        job["array_max_tasks"] = record.array?.throttle ?? 0
        job.merge(SqueueJSON.absentFeatures) { mine, _ in mine }
        let eligible = job["eligible_time"] ?? 0
        let memoryMB = Self.requiredMemoryMB(launch, cpus: r.cpus)
        let tres = TRESText.requested(cpus: r.cpus, memoryMB: memoryMB, gpus: record.resources)
        job["accrue_time"] = eligible
        job["batch_host"] = started ? host : ""
        job["billable_tres"] = started ? Double(r.cpus) : NSNull()
        job["last_sched_evaluation"] = epoch(started ? r.startTime : r.submitTime)
        job["minimum_cpus_per_node"] = r.cpus
        job["tres_req_str"] = tres
        job["tres_alloc_str"] = started ? tres : ""
        job["tres_per_node"] = TRESText.gres(record.resources).map { "gres:" + $0 } ?? ""
        job["flags"] =
          (started ? ["JOB_WAS_RUNNING"] : []) + (launch?.cpusGiven == true ? ["JOB_CPUS_SET"] : [])
          + (memoryMB > 0 ? ["JOB_MEM_SET"] : [])
        if let launch {
          let identity = JobIdentity(
            jobID: record.collapsed ? r.arrayID : r.id, arrayID: r.arrayID, arrayIndex: r.arrayIndex,
            isArray: r.isArray, attempt: r.attempt, name: r.name, key: r.key, runDir: r.runDir, home: "")
          let paths = OutputPaths.resolve(launch: launch, job: identity, host: host)
          job["standard_output"] = paths.stdout
          job["standard_error"] = paths.stderr ?? paths.stdout
          job["memory_per_node"] = launch.env["SLURM_MEM_PER_NODE"].flatMap { Int($0) } ?? NSNull()
          job["memory_per_cpu"] = launch.env["SLURM_MEM_PER_CPU"].flatMap { Int($0) } ?? NSNull()
        }
        return job
      })
  }

  /// sacct's job records (with their steps left out: orch keeps no step accounting in the store).
  public static func sacct(_ records: [SacctRecord], context: SacctContext) -> String {
    let (_, groupName) = group
    return document(
      records.map { record in
        let r = record.row
        let array = context.arrays[r.arrayID]
        let launch = array.flatMap { try? LaunchSpec.decode($0.launch) }
        let status: String
        if let signal = r.signal, signal != 0 {
          status = "SIGNALED"
        } else if (r.exitCode ?? 0) != 0 {
          status = "FAILED"
        } else {
          status = "SUCCESS"
        }
        let elapsed = r.startTime.map { max(0, TimeFormat.seconds((r.endTime ?? context.now) - $0)) } ?? 0
        var exit: [String: Any] = ["status": status, "return_code": Int(r.exitCode ?? 0)]
        if let signal = r.signal { exit["signal"] = ["signal_id": Int(signal), "name": Self.signalName(signal)] }
        var job: [String: Any] = [
          "account": "", "cluster": launch?.env["SLURM_CLUSTER_NAME"] ?? "orch", "comment": [String: Any](),
          "derived_exit_code": ["status": "SUCCESS", "return_code": 0], "exit_code": exit, "flags": [String](),
          "group": groupName, "job_id": Int(record.collapsed ? r.arrayID : r.id), "name": r.name,
          "nodes": r.startTime == nil ? "None assigned" : context.host, "partition": SbatchSubmit.partition,
          "priority": SlurmSchedule.priority(r, context.schedules[r.id]), "qos": "normal",
          "required": ["CPUs": r.cpus, "memory": Self.requiredMemoryMB(launch, cpus: r.cpus)],
          "state": ["current": r.state.rawValue, "reason": r.reason.flatMap { $0.contains(" ") ? nil : $0 } ?? "None"],
          "steps": [Any](), "user": context.user, "working_directory": launch?.cwd ?? "",
          "time": [
            "elapsed": elapsed, "eligible": epoch(context.schedules[r.id]?.beginTime ?? r.submitTime),
            "end": epoch(r.endTime), "start": epoch(r.startTime), "submission": epoch(r.submitTime), "suspended": 0,
            "limit": r.timeLimit.map { $0 / 60 } ?? 0,
          ] as [String: Any],
          "restart_cnt": max(0, r.attempt - 1),
        ]
        job["array"] =
          [
            "job_id": r.isArray ? Int(r.arrayID) : 0,
            "limits": ["max": ["running": ["tasks": array?.throttle ?? 0]]],
            "task": record.collapsed ? ArraySpec.compress(record.indices) : "",
            "task_id": r.isArray && !record.collapsed ? (r.arrayIndex.map { $0 as Any } ?? NSNull()) : NSNull(),
          ] as [String: Any]
        return job
      })
  }

  /// `--mem` in MB, or `--mem-per-cpu` × CPUs; 0 when none was asked.
  public static func requiredMemoryMB(_ launch: LaunchSpec?, cpus: Int) -> Int {
    if let node = launch?.env["SLURM_MEM_PER_NODE"].flatMap({ Int($0) }) { return node }
    if let perCPU = launch?.env["SLURM_MEM_PER_CPU"].flatMap({ Int($0) }) {
      return perCPU.multipliedReportingOverflow(by: cpus).overflow ? Int.max : perCPU * cpus
    }
    return 0
  }

  public static func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
      1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
      15: "SIGTERM",
    ]
    return names[signal] ?? "SIG\(signal)"
  }
}
