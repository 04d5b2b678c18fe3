import ArgumentParser
import Foundation
import Operations
import OrchCore
import SlurmSyntax
import SlurmViews
import Store
import System
import Worker

/// A minimal `sinfo`: orch's one node (this machine) in its one partition, in sinfo's layouts, for
/// scripts that read the partition name, the CPU count or the node's state from it.
struct Sinfo: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sinfo",
    abstract: "Show orch's one partition and node in sinfo's format.",
    discussion: """
      Takes sinfo's -h, -o/--format (%P %R %a %l %D %t %T %N %n %c %m %C %s %G), -N, -p, -s and -l.
      Examples:
        orch sinfo
        orch sinfo -h -o '%P %c %m'
      """)

  @Argument(parsing: .captureForPassthrough, help: "sinfo options.") var arguments: [String] = []

  static let flags: [SlurmFlag] = [
    .init("noheader", "h"), .init("format", "o", .required), .init("Node", "N"), .init("partition", "p", .required),
    .init("summarize", "s"), .init("long", "l"), .init("all", "a"), .init("exact", "e"), .init("responding", "r"),
    .init("dead", "d"), .init("verbose", "v"), .init("help"), .init("usage"), .init("version", "V"),
    .init("local"), .init("federation"),
  ]

  static let defaultFormat = "%9P %.5a %.10l %.6D %.6t %N"
  static let nodeFormat = "%#N %.6D %#P %6t"
  static let summaryFormat = "%9P %.5a %.10l %.16F  %N"

  static let header: [Character: String] = [
    "P": "PARTITION", "R": "PARTITION", "a": "AVAIL", "l": "TIMELIMIT", "D": "NODES", "t": "STATE", "T": "STATE",
    "N": "NODELIST", "n": "HOSTNAMES", "c": "CPUS", "m": "MEMORY", "C": "CPUS(A/I/O/T)", "s": "JOB_SIZE",
    "G": "GRES", "F": "NODES(A/I/O/T)",
  ]

  func run() throws {
    try SlurmTool.run("sinfo") {
      let args = try SlurmGetopt.parse(arguments, tool: "sinfo", flags: Self.flags)
      if SlurmTool.answeredInfo(args, usage: Self.usage, tool: "sinfo") { return }
      if let extra = args.operands.first {
        throw OrchError.badInput("sinfo: error: Unrecognized option: \(extra)")
      }
      let partition = Partition.name
      var format = Self.defaultFormat
      if args.has("Node") { format = Self.nodeFormat }
      if args.has("summarize") { format = Self.summaryFormat }
      if let given = args.last("format") { format = given }
      let host = SlurmMachine.host
      let cpus = max(1, Posix.allowedCPUs().count)
      var allocated = 0
      // A store that does not exist yet means nothing runs: sinfo must not create one.
      if let home = try? OrchHome(), FileManager.default.fileExists(atPath: home.path + "/orch.db") {
        let store = try home.openStore()
        let running = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(states: [.running])) }
        allocated = min(cpus, running.reduce(0) { $0 + $1.cpus })
      }
      let (short, long) =
        allocated == 0 ? ("idle", "idle") : allocated < cpus ? ("mix", "mixed") : ("alloc", "allocated")
      // `#` widths are the longest value's, as sinfo sizes them.
      format = format.replacingOccurrences(of: "%#P", with: "%\(max(9, partition.count + 1))P")
        .replacingOccurrences(of: "%#N", with: "%\(max(10, host.count))N")
      let pieces = PercentFormat.parse(format)
      var text = ""
      if !args.has("noheader") { text += PercentFormat.render(pieces) { Self.header[$0] ?? "" } + "\n" }
      let shown = args.last("partition").map { $0.split(separator: ",").contains(Substring(partition)) } ?? true
      if shown {
        text +=
          PercentFormat.render(pieces) { letter in
            switch letter {
            case "P": return partition + "*"
            case "R": return partition
            case "a": return "up"
            case "l": return "infinite"
            case "D": return "1"
            case "t": return short
            case "T": return long
            case "N", "n": return host
            case "c": return String(cpus)
            case "m": return String(Self.memoryMB())
            case "C": return "\(allocated)/\(cpus - allocated)/0/\(cpus)"
            case "F": return allocated > 0 ? "1/0/0/1" : "0/1/0/1"
            case "s": return "1-infinite"
            case "G": return "(null)"
            default: return ""
            }
          } + "\n"
      }
      Output.print(text)
    }
  }

  /// The node's memory in MB, from /proc/meminfo (sinfo's RealMemory).
  static func memoryMB() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
      let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return 1 }
    return kb / 1024
  }

  static let usage = """
    Usage: sinfo [OPTIONS]
      -h, --noheader             no headers on output
      -N, --Node                 node-centric format
      -o, --format=format        format specification (%P %R %a %l %D %t %T %N %n %c %m %C %s %G)
      -p, --partition=PARTITION  report on specific partition
      -s, --summarize            report state summary only
    orch has one node (this machine) in one partition (local, or ORCH_PARTITION).

    """
}
