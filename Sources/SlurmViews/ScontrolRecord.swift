import Backends
import Foundation
import Operations
import SlurmSyntax
import Store
import Worker

/// `scontrol show job`'s record of a job.
public enum ScontrolRecord {
  /// One job in scontrol's layout: `Key=Value` pairs, several per line.
  public static func lines(_ record: SqueueRecord, now: Double, oneLine: Bool = false, gpus: GPUAllocation? = nil)
    -> [String]
  {
    let r = record.first
    let array = record.array
    let launch = array.flatMap { try? LaunchSpec.decode($0.launch) }
    let host = SlurmMachine.host
    let user = SlurmMachine.user
    let group = getgrgid(getgid()).flatMap { $0.pointee.gr_name.map { String(cString: $0) } } ?? String(getgid())
    // A pending element that never started is still part of its array's record: SLURM shows the
    // array's id until the element is split off to run.
    let unsplit = r.isArray && r.state == .pending && r.attempt == 0
    var head = "JobId=\(record.collapsed || unsplit ? r.arrayID : r.id)"
    if r.isArray {
      let task = record.collapsed ? ArraySpec.compress(record.indices) : String(r.arrayIndex ?? 0)
      head += " ArrayJobId=\(r.arrayID) ArrayTaskId=\(task)"
      if let throttle = array?.throttle { head += " ArrayTaskThrottle=\(throttle)" }
    }
    head += " JobName=\(r.name)"
    var dependency = "(null)"
    if r.state == .pending, let text = array?.dependency {
      switch r.reason {
      case "Dependency": dependency = DependencyDisplay.withState(text, "unfulfilled")
      case "DependencyNeverSatisfied": dependency = DependencyDisplay.withState(text, "failed")
      default: dependency = record.heldDependencyText
      }
    }
    let runTime = r.startTime.map { TimeFormat.seconds((r.endTime ?? now) - $0) } ?? 0
    let limit = TimeFormat.sacctTimelimit(minutes: r.timeLimit.map { $0 / 60 })
    let started = r.startTime != nil && r.state != .pending
    let memoryMB = launch?.env["SLURM_MEM_PER_NODE"]
    let memoryPerCPU = launch?.env["SLURM_MEM_PER_CPU"]
    let totalMB = SlurmJSON.requiredMemoryMB(launch, cpus: r.cpus)
    let begin = record.schedule?.beginTime
    var eligible = r.state == .pending && r.reason != nil ? "Unknown" : SlurmClock.format(r.submitTime)
    if let begin, begin > r.submitTime { eligible = SlurmClock.format(begin) }
    // A running job ends by its limit at the latest, which scontrol shows as its end.
    var end = r.state.isTerminal ? SlurmClock.format(r.endTime) : "Unknown"
    if r.state == .running, let start = r.startTime, let limit = r.timeLimit {
      end = SlurmClock.format(start + Double(limit))
    }
    let memoryText =
      memoryPerCPU.map { "MinMemoryCPU=\(TRESText.megabytes(Int64($0) ?? 0))" }
      ?? "MinMemoryNode=\(TRESText.megabytes(memoryMB.flatMap { Int64($0) } ?? 0))"
    var out = [
      head,
      "UserId=\(user)(\(getuid())) GroupId=\(group)(\(getgid())) MCS_label=N/A",
      "Priority=\(SlurmSchedule.priority(r, record.schedule)) Nice=\(record.schedule?.nice ?? 0) Account=(null) QOS=normal",
      // One record per line: scontrol -o joins a reason's words with `_`.
      "JobState=\(r.state.rawValue) Reason=\(oneLine ? record.reason.replacingOccurrences(of: " ", with: "_") : record.reason) Dependency=\(dependency)",
      // A requeued job counts its restart from the requeue on, before it runs again.
      "Requeue=\(launch?.requeue == false ? 0 : 1) Restarts=\(max(0, r.state == .pending ? r.attempt : r.attempt - 1)) BatchFlag=1 Reboot=0 ExitCode=\(r.exitCode ?? 0):\(r.signal ?? 0)",
      "RunTime=\(TimeFormat.sacctElapsed(runTime)) TimeLimit=\(limit) TimeMin=N/A",
      "SubmitTime=\(SlurmClock.format(r.submitTime)) EligibleTime=\(eligible)",
      "AccrueTime=\(eligible)",
      "StartTime=\(started ? SlurmClock.format(r.startTime) : begin.map { SlurmClock.format($0) } ?? "Unknown") EndTime=\(end) Deadline=N/A",
      "SuspendTime=None SecsPreSuspend=0 LastSchedEval=\(SlurmClock.format(started ? r.startTime : r.submitTime)) Scheduler=Main",
      "Partition=\(SbatchSubmit.partition) AllocNode:Sid=\(host):0",
      "ReqNodeList=(null) ExcNodeList=(null)",
      "NodeList=\(started ? host : "")",
      "NumNodes=1 NumCPUs=\(r.cpus) NumTasks=1 CPUs/Task=\(r.cpus) ReqB:S:C:T=0:0:*:*",
      "TRES=" + TRESText.requested(cpus: r.cpus, memoryMB: totalMB, gpus: gpus),
      "Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=*",
      "MinCPUsNode=\(r.cpus) \(memoryText) MinTmpDiskNode=0",
      "Features=(null) DelayBoot=00:00:00",
      "OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null)",
      "Command=\(array.map { $0.source.hasPrefix("/") ? $0.source : "(null)" } ?? "(null)")",
      "WorkDir=\(launch?.cwd ?? "(null)")",
    ]
    if let i = out.firstIndex(where: { $0.hasPrefix("MinCPUsNode=") }) {
      out.insert(contentsOf: TRESText.scontrolGres(gpus, started: started), at: i + 1)
    }
    if let launch {
      let identity = JobIdentity(
        jobID: record.collapsed ? r.arrayID : r.id, arrayID: r.arrayID, arrayIndex: r.arrayIndex,
        isArray: r.isArray, attempt: r.attempt, name: r.name, key: r.key, runDir: r.runDir, home: "")
      let paths = OutputPaths.resolve(launch: launch, job: identity, host: host)
      out += ["StdErr=\(paths.stderr ?? paths.stdout)", "StdIn=/dev/null", "StdOut=\(paths.stdout)"]
    }
    if started, let i = out.firstIndex(where: { $0.hasPrefix("NodeList=") }) {
      out.insert("BatchHost=\(host)", at: i + 1)
    }
    out.append("Power=")
    return out
  }
}
