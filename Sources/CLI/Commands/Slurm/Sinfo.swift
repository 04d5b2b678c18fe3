import ArgumentParser
import Foundation
import Operations
import OrchCore
import SlurmSyntax
import SlurmViews
import Store
import System
import Worker

/// `sinfo`: orch's one node (this machine) in its one partition, in sinfo's layouts (SLURM 22.05;
/// the letters, names, layouts and filters are in `SlurmSyntax/Sinfo*.swift`).
struct Sinfo: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sinfo",
    abstract: "Show orch's one partition and node in sinfo's format.",
    discussion: """
      Takes sinfo's -h, -l, -N, -R, -s, -o/--format, -O/--Format, -p, -n, -t/--states, -d, -r and --json.
      Examples:
        orch sinfo
        orch sinfo -h -o '%P %c %m'
      """)

  @Argument(parsing: .captureForPassthrough, help: "sinfo options.") var arguments: [String] = []

  static let flags: [SlurmFlag] = [
    .init("noheader", "h"), .init("format", "o", .required), .init("Format", "O", .required), .init("Node", "N"),
    .init("partition", "p", .required), .init("nodes", "n", .required), .init("states", "t", .required),
    .init("list-reasons", "R"), .init("summarize", "s"), .init("long", "l"), .init("all", "a"), .init("exact", "e"),
    .init("responding", "r"), .init("dead", "d"), .init("sort", "S", .required), .init("json"),
    .init("iterate", "i", .required), .init("reservation", "T"), .init("hide"),
    .init("noconvert"), .init("verbose", "v"), .init("help"), .init("usage"), .init("version", "V"),
    .init("local"), .init("federation"), .init("clusters", "M", .required),
  ]

  func run() throws {
    try SlurmTool.run("sinfo") {
      let args = try SlurmGetopt.parse(arguments, tool: "sinfo", flags: Self.flags)
      if SlurmTool.answeredInfo(args, usage: Self.usage, tool: "sinfo") { return }
      if let extra = args.operands.first {
        throw OrchError.badInput("sinfo: error: Unrecognized option: \(extra)")
      }
      if let message = args.last("clusters").flatMap(SlurmClusters.unreachable) {
        throw OrchError.badInput("sinfo: error: \(message)")
      }
      // As squeue, sinfo names the cluster before its report whenever -M is given.
      let cluster = args.has("clusters") ? "CLUSTER: \(SlurmClusters.name)\n" : ""
      let report = try SinfoReport(args, environment: ProcessInfo.processInfo.environment)
      // orch has no reservations.
      if args.has("reservation") { return Output.print("No reservations in the system\n") }
      var first = true
      // -i N: the report again every N seconds, each under its date, until interrupted.
      while true {
        let node = try Self.node()
        // sinfo --json lists every node whatever the filters.
        if args.has("json") {
          return Output.print(SinfoJSON.document([node], machine: SinfoMachine.current, meta: SlurmJSON.meta))
        }
        let (text, warnings) = report.text(node, now: time(nil))
        for warning in warnings where first { Output.stderr(warning) }
        first = false
        guard let every = report.every else { return Output.print(cluster + text) }
        Output.print(cluster + text + "\n")
        sleep(UInt32(every))
      }
    }
  }

  /// This machine now: the CPUs orch may use, those its running jobs hold, its memory and load.
  static func node() throws -> SinfoNode {
    var allocated = 0
    // A store that does not exist yet means nothing runs: sinfo must not create one.
    if let home = try? OrchHome(), FileManager.default.fileExists(atPath: home.path + "/orch.db") {
      let store = try home.openStore()
      let running = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(states: [.running])) }
      allocated = running.reduce(0) { $0 + $1.cpus }
    }
    return SinfoNode(
      name: SlurmMachine.host, partition: Partition.name, cpus: max(1, Posix.allowedCPUs().count),
      allocatedCPUs: allocated, memoryMB: SinfoMachine.memoryMB("MemTotal") ?? 1,
      freeMemoryMB: SinfoMachine.memoryMB("MemFree") ?? 0, load: SinfoMachine.load,
      version: (SlurmJSON.meta["Slurm"] as? [String: Any])?["release"] as? String ?? "")
  }

  static let usage = """
    Usage: sinfo [OPTIONS]
      -h, --noheader             no headers on output
      -l, --long                 long output - displays more information
      -n, --nodes=NODES          report on specific node(s)
      -N, --Node                 Node-centric format
      -o, --format=format        format specification
      -O, --Format=format        long format specification
      -p, --partition=PARTITION  report on specific partition
      -R, --list-reasons         list reason nodes are down or drained
      -s, --summarize            report state summary only
      -t, --states=node_state    specify the what states of nodes to view
          --json                 the node as SLURM's JSON (openapi v0.0.38)
    orch has one node (this machine) in one partition (local, or ORCH_PARTITION).

    """
}
