import Foundation
import SlurmSyntax
import SlurmViews
import Store
import Worker

/// sacct fields beyond the common ones, from `sacct --helpformat`'s list, for what orch keeps:
/// the submission's working directory and memory request, the cluster, group, priority, limits.
extension Sacct {
  static func launch(_ r: Record, _ c: Context) -> LaunchSpec? {
    c.arrays[r.row.arrayID].flatMap { try? LaunchSpec.decode($0.launch) }
  }

  static let extraFields: [Field] = [
    Field(name: "WorkDir", width: -30) { r, line, c in line.isStep ? "" : launch(r, c)?.cwd ?? "" },
    Field(name: "ReqMem", width: 10) { r, line, c in
      guard !line.isStep else { return "" }
      let mb = SlurmJSON.requiredMemoryMB(launch(r, c), cpus: r.row.cpus)
      return mb == 0 ? "0" : "\(mb)M"
    },
    Field(name: "Cluster", width: 10) { r, line, c in
      line.isStep ? "" : launch(r, c)?.env["SLURM_CLUSTER_NAME"] ?? "orch"
    },
    Field(name: "Group", width: 9) { _, line, _ in line.isStep ? "" : SlurmJSON.group.name },
    Field(name: "GID", width: 6) { _, line, _ in line.isStep ? "" : String(SlurmJSON.group.id) },
    Field(name: "QOS", width: 10) { _, line, _ in line.isStep ? "" : "normal" },
    Field(name: "Priority", width: 10) { r, line, c in
      line.isStep ? "" : String(SlurmSchedule.priority(r.row, c.schedules[r.row.id]))
    },
    Field(name: "TimelimitRaw", width: 10) { r, line, _ in
      line.isStep ? "" : r.row.timeLimit.map { String($0 / 60) } ?? "UNLIMITED"
    },
    Field(name: "CPUTime", width: 10) { r, line, c in
      let seconds = elapsed(r.row, line, now: c.now)
      return TimeFormat.sacctElapsed(seconds.multipliedReportingOverflow(by: r.row.cpus).partialValue)
    },
    Field(name: "CPUTimeRAW", width: 10) { r, line, c in
      String(elapsed(r.row, line, now: c.now).multipliedReportingOverflow(by: r.row.cpus).partialValue)
    },
    Field(name: "AllocNodes", width: 10) { r, _, _ in r.row.startTime == nil ? "0" : "1" },
    Field(name: "ReqNodes", width: 8) { _, _, _ in "1" },
    Field(name: "Suspended", width: 10) { _, _, _ in "00:00:00" },
    Field(name: "Reservation", width: 11) { _, _, _ in "" },
    Field(name: "WCKey", width: 10) { _, _, _ in "" },
    Field(name: "Comment", width: 10) { _, _, _ in "" },
    Field(name: "Constraints", width: 19) { _, _, _ in "" },
    Field(name: "SubmitLine", width: -40) { r, line, c in
      guard !line.isStep, let a = c.arrays[r.row.arrayID] else { return "" }
      return a.source.hasPrefix("/") ? "sbatch \(a.source)" : ""
    },
  ]
}
