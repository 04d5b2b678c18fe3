/// `-M/--clusters` of every client: orch is one cluster, named `orch` (`SLURM_CLUSTER_NAME` in
/// its jobs); `all` and that name select it. Workflow tools pass it even to one cluster
/// (Snakemake's status query is `sacct --clusters all ...`).
public enum SlurmClusters {
  public static let name = "orch"

  /// SLURM's message for a list naming a cluster its database does not know; nil when the list
  /// names only this one (or `all`).
  public static func unreachable(_ list: String) -> String? {
    let names = list.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
    if names.allSatisfy({ $0 == name || $0 == "all" }) { return nil }
    return "'\(list)' can't be reached now, or it is an invalid entry for --cluster."
      + "  Use 'sacctmgr list clusters' to see available clusters."
  }
}
