import Foundation
import SlurmSyntax

/// `scontrol show config|node|partition` of orch's one-node cluster in SLURM 22.05's layouts. The
/// node is sinfo's (`SinfoNode`, `SinfoJSON.Machine`); what orch has no such thing for — features,
/// GRES, energy sensors, a slurmd — has the value slurmctld gives a node without it.
public enum ScontrolShow {
  /// The keys of `show config` orch can answer truly, in slurmctld's order. Others (plugins, paths,
  /// timeouts of daemons orch does not have) are left out rather than invented.
  public static func configKeys(minJobAge: Int) -> [(key: String, value: String)] {
    [
      ("ClusterName", SlurmClusters.name),
      // orch numbers jobs from 1 in each store.
      ("FirstJobId", "1"),
      ("MaxArraySize", String(ArraySpec.maxArraySizeLimit)),
      ("MaxNodeCount", "1"),
      ("MinJobAge", "\(minJobAge) sec"),
      // Jobs share the one node by CPUs.
      ("SelectType", "select/cons_tres"),
      ("SLURM_VERSION", release),
    ]
  }

  /// The version orch's --json documents report.
  static var release: String { (SlurmJSON.meta["Slurm"] as? [String: Any])?["release"] as? String ?? "" }

  /// The whole report: the date line, `Key = Value` aligned as slurm_print_ctl_conf aligns them,
  /// then whether the controller (orch's daemon) answers.
  public static func config(minJobAge: Int, now: Double, host: String, up: Bool) -> String {
    var text = "Configuration data as of \(SlurmClock.format(now))\n"
    for (key, value) in configKeys(minJobAge: minJobAge) {
      text += key.padding(toLength: max(key.count, 23), withPad: " ", startingAt: 0) + " = \(value)\n"
    }
    return text + "\nSlurmctld(primary) at \(host) is \(up ? "UP" : "DOWN")\n"
  }

  /// The node's record lines (`scontrol show node`).
  public static func nodeLines(_ n: SinfoNode, machine: SinfoJSON.Machine, now: Double) -> [String] {
    let cpus = n.cpus
    return [
      "NodeName=\(n.name) Arch=\(machine.architecture) CoresPerSocket=\(cpus) ",
      "CPUAlloc=\(n.allocatedCPUs) CPUEfctv=\(cpus) CPUTot=\(cpus) CPULoad=\(String(format: "%.2f", n.load))",
      "AvailableFeatures=(null)", "ActiveFeatures=(null)", "Gres=(null)",
      "NodeAddr=\(n.name) NodeHostName=\(n.name) Version=\(n.version)",
      "OS=\(machine.operatingSystem) ",
      "RealMemory=\(n.memoryMB) AllocMem=0 FreeMem=\(n.freeMemoryMB) Sockets=1 Boards=1",
      "State=\(n.state.rawValue.uppercased()) ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A",
      "Partitions=\(n.partition) ",
      // No slurmd: its start time is unset, as sinfo --json's 0.
      "BootTime=\(SlurmClock.format(Double(machine.bootTime))) SlurmdStartTime=None",
      "LastBusyTime=\(n.allocatedCPUs > 0 ? SlurmClock.format(now) : "None")",
      "CfgTRES=cpu=\(cpus),mem=\(n.memoryMB)M,billing=\(cpus)",
      "AllocTRES=\(n.allocatedCPUs > 0 ? "cpu=\(n.allocatedCPUs)" : "")",
      "CapWatts=n/a", "CurrentWatts=0 AveWatts=0", "ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s",
    ]
  }

  /// The partition's record lines: the node's CPUs and memory, no limits.
  public static func partitionLines(_ n: SinfoNode) -> [String] {
    [
      "PartitionName=\(n.partition)",
      "AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL",
      "AllocNodes=ALL Default=YES QoS=N/A",
      "DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO",
      "MaxNodes=UNLIMITED MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED",
      "Nodes=\(n.name)",
      "PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO",
      "OverTimeLimit=NONE PreemptMode=OFF",
      "State=UP TotalCPUs=\(n.cpus) TotalNodes=1 SelectTypeParameters=NONE",
      "JobDefaults=(null)",
      "DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED",
      "TRES=cpu=\(n.cpus),mem=\(n.memoryMB)M,node=1,billing=\(n.cpus)",
    ]
  }

  /// A record as scontrol prints it: indented lines and a blank line, or (`-o`) one line.
  public static func record(_ lines: [String], oneLine: Bool) -> String {
    oneLine ? lines.joined(separator: " ") + "\n" : lines.joined(separator: "\n   ") + "\n\n"
  }
}
