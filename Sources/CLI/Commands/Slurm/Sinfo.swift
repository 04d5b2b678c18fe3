import ArgumentParser
import Foundation
import Operations
import OrchCore
import SlurmSyntax
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
    .init("responding", "r"), .init("dead", "d"), .init("sort", "S", .required), .init("json"), .init("hide"),
    .init("noconvert"), .init("verbose", "v"), .init("help"), .init("usage"), .init("version", "V"),
    .init("local"), .init("federation"),
  ]

  func run() throws {
    try SlurmTool.run("sinfo") {
      let args = try SlurmGetopt.parse(arguments, tool: "sinfo", flags: Self.flags)
      if SlurmTool.answeredInfo(args, usage: Self.usage, tool: "sinfo") { return }
      if let extra = args.operands.first {
        throw OrchError.badInput("sinfo: error: Unrecognized option: \(extra)")
      }
      var states = try args.last("states").map { list throws(OrchError) in try SinfoFilter.states(list) }
      let env = ProcessInfo.processInfo.environment
      let conflict =
        env["SINFO_ALL"] != nil && env["SINFO_PARTITION"] != nil
        ? "SINFO_ALL and SINFO_PARTITION" : args.has("all") && args.has("partition") ? "-a and -p" : nil
      if let conflict {
        throw OrchError.badInput("Conflicting options, \(conflict), specified. Please choose one or the other.")
      }
      let long = args.has("long")
      let given = args.options.last { $0.name == "format" || $0.name == "Format" }?.value
      if long, given != nil {
        throw OrchError.badInput(
          "sinfo: fatal: Options -o(--format) and -l(--long) are mutually exclusive. Please remove one and retry.")
      }
      let cpus = max(1, Posix.allowedCPUs().count)
      var allocated = 0
      // A store that does not exist yet means nothing runs: sinfo must not create one.
      if let home = try? OrchHome(), FileManager.default.fileExists(atPath: home.path + "/orch.db") {
        let store = try home.openStore()
        let running = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(states: [.running])) }
        allocated = running.reduce(0) { $0 + $1.cpus }
      }
      let node = SinfoNode(
        name: SlurmTool.host, partition: Partition.name, cpus: cpus, allocatedCPUs: allocated,
        memoryMB: SinfoMachine.memoryMB("MemTotal") ?? 1, freeMemoryMB: SinfoMachine.memoryMB("MemFree") ?? 0,
        load: SinfoMachine.load, version: (SlurmJSON.meta["Slurm"] as? [String: Any])?["release"] as? String ?? "")
      // sinfo --json lists every node whatever the filters.
      if args.has("json") {
        return Output.print(SinfoJSON.document([node], machine: SinfoMachine.current, meta: SlurmJSON.meta))
      }
      // -R lists nodes that are down, failed or drained unless -t says otherwise: never orch's.
      if args.has("list-reasons"), states == nil { states = [] }
      let summarize = args.has("summarize")
      let nodeMode = args.has("Node") && !summarize
      var (format, widths) = SinfoFormat.layout(
        summarize: summarize, node: nodeMode, reasons: args.has("list-reasons"), long: long, of: node)
      let plain = !summarize && !nodeMode && !args.has("list-reasons")
      if let given = given ?? (plain ? env["SINFO_FORMAT"] : nil) { (format, widths) = (given, .init()) }
      let (pieces, warnings) = args.has("Format") ? SinfoFormat.parseLong(format) : SinfoFormat.parse(format)
      // An unknown -O name is an error, as orch's squeue makes it (SLURM drops the field, exits 0).
      if args.has("Format"), let first = warnings.first { throw OrchError.badInput(first) }
      for warning in warnings { Output.stderr(warning) }
      let partitions = args.has("all") ? nil : args.last("partition") ?? env["SINFO_PARTITION"]
      let partitionShown = partitions.map { $0.split(separator: ",").contains { $0 == node.partition } }
      let nodeShown =
        (partitionShown ?? true) && !args.has("dead") && (states?.contains(node.state) ?? true)
        && (args.last("nodes").map { SinfoFilter.nodeListContains($0, node.name) } ?? true)
      var text = ""
      if !args.has("noheader") {
        if long { text += SinfoFormat.dateLine(time(nil)) + "\n" }
        text += SinfoFormat.header(pieces, widths: widths) + "\n"
      }
      if nodeShown {
        text += SinfoFormat.line(pieces, node: node, widths: widths) + "\n"
      } else if partitionShown ?? true, !nodeMode, SinfoFormat.showsPartition(pieces) {
        text += SinfoFormat.line(pieces, node: node, empty: true, widths: widths) + "\n"
      }
      Output.print(text)
    }
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
