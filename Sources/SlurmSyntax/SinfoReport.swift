import Foundation
import OrchCore

/// One sinfo command: its options checked once, before anything is read (SLURM's errors and
/// their order), then its report of the node as often as `-i` asks.
public struct SinfoReport: Sendable {
  let args: SlurmArguments
  let environment: [String: String]
  let states: Set<SinfoNode.State>?
  /// `-i N`: report every N seconds.
  public let every: Int?

  public init(_ args: SlurmArguments, environment: [String: String]) throws(OrchError) {
    self.args = args
    self.environment = environment
    var states = try args.last("states").map { list throws(OrchError) in try SinfoFilter.states(list) }
    // -R lists nodes that are down, failed or drained unless -t says otherwise: never orch's.
    if args.has("list-reasons"), states == nil { states = [] }
    self.states = states
    let conflict =
      environment["SINFO_ALL"] != nil && environment["SINFO_PARTITION"] != nil
      ? "SINFO_ALL and SINFO_PARTITION" : args.has("all") && args.has("partition") ? "-a and -p" : nil
    if let conflict {
      throw .badInput("Conflicting options, \(conflict), specified. Please choose one or the other.")
    }
    let given = args.options.last { $0.name == "format" || $0.name == "Format" }?.value
    if args.has("long"), given != nil {
      throw .badInput(
        "sinfo: fatal: Options -o(--format) and -l(--long) are mutually exclusive. Please remove one and retry.")
    }
    every = try args.last("iterate").map { text throws(OrchError) in
      guard let n = Int(text.prefix { $0.isASCII && $0.isNumber }.prefix(9)), n > 0 else {
        throw .badInput("Error: invalid entry for --iterate=\(text)")
      }
      return n
    }
    // An unknown -O name is an error, as orch's squeue makes it (SLURM drops the field, exits 0).
    if args.has("Format"), let given, let first = SinfoFormat.parseLong(given).warnings.first {
      throw .badInput(first)
    }
  }

  /// The last `-o` or `-O`.
  var given: String? { args.options.last { $0.name == "format" || $0.name == "Format" }?.value }

  /// The report on `node` at `now`, and the format's warnings for stderr.
  public func text(_ node: SinfoNode, now: time_t) -> (text: String, warnings: [String]) {
    let summarize = args.has("summarize")
    let nodeMode = args.has("Node") && !summarize
    let long = args.has("long")
    var (format, widths) = SinfoFormat.layout(
      summarize: summarize, node: nodeMode, reasons: args.has("list-reasons"), long: long, of: node)
    let plain = !summarize && !nodeMode && !args.has("list-reasons")
    if let given = given ?? (plain ? environment["SINFO_FORMAT"] : nil) { (format, widths) = (given, .init()) }
    let (pieces, warnings) = args.has("Format") ? SinfoFormat.parseLong(format) : SinfoFormat.parse(format)
    let partitions = args.has("all") ? nil : args.last("partition") ?? environment["SINFO_PARTITION"]
    let partitionShown = partitions.map { $0.split(separator: ",").contains { $0 == node.partition } } ?? true
    let nodeShown =
      partitionShown && !args.has("dead") && (states?.contains(node.state) ?? true)
      && (args.last("nodes").map { SinfoFilter.nodeListContains($0, node.name) } ?? true)
    var text = ""
    if !args.has("noheader") {
      if long || every != nil { text += SinfoFormat.dateLine(now) + "\n" }
      text += SinfoFormat.header(pieces, widths: widths) + "\n"
    }
    if nodeShown {
      text += SinfoFormat.line(pieces, node: node, widths: widths) + "\n"
    } else if partitionShown, !nodeMode, SinfoFormat.showsPartition(pieces) {
      text += SinfoFormat.line(pieces, node: node, empty: true, widths: widths) + "\n"
    }
    return (text, warnings)
  }
}
