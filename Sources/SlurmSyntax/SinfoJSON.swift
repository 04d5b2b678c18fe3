import Foundation

/// `sinfo --json` (openapi v0.0.38, SLURM 22.05): one record with every key of slurmctld's node
/// record. What orch knows of its node is computed (CPUs, memory, state, load, the machine's
/// name, OS and boot time); what it has no such thing for — a slurmd, features, GRES, reasons,
/// reboots — has the value slurmctld gives a node without it.
public enum SinfoJSON {
  /// What the machine says of itself, read by the caller (`uname`, /proc).
  public struct Machine: Sendable {
    public var architecture: String
    public var operatingSystem: String
    public var bootTime: Int
    public init(architecture: String, operatingSystem: String, bootTime: Int) {
      self.architecture = architecture
      self.operatingSystem = operatingSystem
      self.bootTime = bootTime
    }
  }

  public static func record(_ n: SinfoNode, machine: Machine) -> [String: Any] {
    let used = n.allocatedCPUs > 0 ? "cpu=\(n.allocatedCPUs)" : nil
    return [
      "architecture": machine.architecture, "burstbuffer_network_address": "", "boards": 1,
      "boot_time": machine.bootTime, "comment": "", "cores": n.cpus, "cpu_binding": 0,
      "cpu_load": Int((n.load * 100).rounded()), "extra": "", "free_memory": n.freeMemoryMB, "cpus": n.cpus,
      "last_busy": 0, "features": "", "active_features": "", "gres": "", "gres_drained": "N/A", "gres_used": "",
      "mcs_label": "", "name": n.name, "next_state_after_reboot": "invalid", "address": n.name, "hostname": n.name,
      "state": n.state.rawValue, "state_flags": [String](), "next_state_after_reboot_flags": [String](),
      "operating_system": machine.operatingSystem, "owner": NSNull(), "partitions": [n.partition], "port": 6818,
      "real_memory": n.memoryMB, "reason": "", "reason_changed_at": 0, "reason_set_by_user": NSNull(),
      "slurmd_start_time": 0, "sockets": 1, "threads": 1, "temporary_disk": 0, "weight": 1,
      "tres": "cpu=\(n.cpus),mem=\(n.memoryMB)M,billing=\(n.cpus)", "slurmd_version": n.version, "alloc_memory": 0,
      "alloc_cpus": n.allocatedCPUs, "idle_cpus": n.cpus - n.allocatedCPUs, "tres_used": used ?? NSNull(),
      "tres_weighted": Double(n.allocatedCPUs),
    ]
  }

  /// The whole document: `meta` (the caller's, shared with squeue's), `errors`, `nodes`.
  public static func document(_ nodes: [SinfoNode], machine: Machine, meta: [String: Any]) -> String {
    let object: [String: Any] = [
      "meta": meta, "errors": [Any](), "nodes": nodes.map { record($0, machine: machine) },
    ]
    guard
      let data = try? JSONSerialization.data(
        withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    else { return "{}\n" }
    return String(decoding: data, as: UTF8.self) + "\n"
  }
}
