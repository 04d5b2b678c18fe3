import Foundation
import OrchCore

/// orch's one node as sinfo sees it: this machine in its one (default) partition.
public struct SinfoNode: Sendable {
  public enum State: String, Sendable {
    case idle, mixed, allocated
    /// `%t`.
    public var compact: String {
      switch self {
      case .idle: "idle"
      case .mixed: "mix"
      case .allocated: "alloc"
      }
    }
  }

  public var name: String
  public var partition: String
  public var cpus: Int
  public var allocatedCPUs: Int
  public var memoryMB: Int
  /// What a live node reports beyond its configuration: `%e`, `%O`, `%v`.
  public var freeMemoryMB: Int
  public var load: Double
  public var version: String

  public init(
    name: String, partition: String, cpus: Int, allocatedCPUs: Int, memoryMB: Int, freeMemoryMB: Int = 0,
    load: Double = 0, version: String = "22.05.8"
  ) {
    self.name = name
    self.partition = partition
    self.cpus = max(1, cpus)
    self.allocatedCPUs = min(max(0, allocatedCPUs), self.cpus)
    self.memoryMB = memoryMB
    self.freeMemoryMB = freeMemoryMB
    self.load = load
    self.version = version
  }

  public var state: State { allocatedCPUs == 0 ? .idle : allocatedCPUs < cpus ? .mixed : .allocated }
}

/// sinfo's output syntax (SLURM 22.05): `-o` letters and `-O` names, the layouts of `-l`, `-N`,
/// `-R` and `-s`, `-t` state names and `-n` node lists, over orch's one node.
public enum SinfoFormat {
  public enum Piece: Equatable, Sendable {
    case text(String)
    /// A field by its `-O` name.
    case field(String, width: Int, right: Bool)
  }

  /// `%` letters → `-O` names.
  static let letters: [Character: String] = [
    "a": "available", "A": "nodeai", "b": "features_act", "B": "maxcpuspernode", "c": "cpus", "C": "cpusstate",
    "d": "disk", "D": "nodes", "e": "freemem", "E": "reason", "f": "features", "F": "nodeaiot", "g": "groups",
    "G": "gres", "h": "oversubscribe", "H": "timestamp", "I": "priorityjobfactor", "l": "time", "L": "defaulttime",
    "m": "memory", "M": "preemptmode", "n": "nodehost", "N": "nodelist", "o": "nodeaddr", "O": "cpusload",
    "p": "prioritytier", "P": "partition", "r": "root", "R": "partitionname", "s": "size", "S": "allocnodes",
    "t": "statecompact", "T": "statelong", "u": "user", "U": "userlong", "v": "version", "V": "cluster",
    "w": "weight", "X": "sockets", "Y": "cores", "Z": "threads", "z": "socketcorethread",
  ]

  static let headers: [String: String] = [
    "allocmem": "ALLOCMEM", "allocnodes": "ALLOCNODES", "available": "AVAIL", "cluster": "CLUSTER",
    "comment": "COMMENT", "cpus": "CPUS", "cpusload": "CPU_LOAD", "freemem": "FREE_MEM", "cpusstate": "CPUS(A/I/O/T)",
    "cores": "CORES", "defaulttime": "DEFAULTTIME", "disk": "TMP_DISK", "extra": "EXTRA",
    "features": "AVAIL_FEATURES", "features_act": "ACTIVE_FEATURES", "groups": "GROUPS", "gres": "GRES",
    "gresused": "GRES_USED", "maxcpuspernode": "MAX_CPUS_PER_NODE", "memory": "MEMORY", "nodes": "NODES",
    "nodeaddr": "NODE_ADDR", "nodeai": "NODES(A/I)", "nodeaiot": "NODES(A/I/O/T)", "nodehost": "HOSTNAMES",
    "nodelist": "NODELIST", "partition": "PARTITION", "partitionname": "PARTITION", "port": "PORT",
    "preemptmode": "PREEMPT_MODE", "priorityjobfactor": "PRIO_JOB_FACTOR", "prioritytier": "PRIO_TIER",
    "reason": "REASON", "root": "ROOT", "oversubscribe": "OVERSUBSCRIBE", "share": "OVERSUBSCRIBE",
    "size": "JOB_SIZE", "statecompact": "STATE", "statelong": "STATE", "statecomplete": "STATECOMPLETE",
    "sockets": "SOCKETS", "socketcorethread": "S:C:T", "time": "TIMELIMIT", "timestamp": "TIMESTAMP",
    "threads": "THREADS", "user": "USER", "userlong": "USER", "version": "VERSION", "weight": "WEIGHT",
  ]

  /// sinfo's own layouts (src/sinfo/opts.c, as 22.05 prints them).
  public static let partitionFormat = "%9P %.5a %.10l %.6D %.6t %N"
  public static let partitionLongFormat = "%9P %.5a %.10l %.10s %.4r %.8h %.10g %.6D %.11T %N"
  public static let nodeFormat = "%N %.6D %.9P %6t"
  public static let nodeLongFormat = "%N %.6D %.9P %.11T %4c %.8z %.6m %.8d %.6w %.8f %20E"
  public static let reasonsFormat = "%20E %9u %19H %N"
  public static let reasonsLongFormat = "%20E %12U %19H %6t %N"
  public static let summaryFormat = "%9P %.5a %.10l %.16F %N"

  /// The layout sinfo takes without `-o`/`-O` (`-s` before `-N` before `-R`), with the columns it
  /// sizes by the data: the partition in all but `-R`'s, the node in `-N`'s.
  public static func layout(summarize: Bool, node: Bool, reasons: Bool, long: Bool, of n: SinfoNode) -> (
    format: String, widths: Widths
  ) {
    let partition = max(9, n.partition.count + 1)
    if summarize { return (summaryFormat, Widths(partition: partition)) }
    if node { return (long ? nodeLongFormat : nodeFormat, Widths(node: max(9, n.name.count), partition: partition)) }
    if reasons { return (long ? reasonsLongFormat : reasonsFormat, Widths()) }
    return (long ? partitionLongFormat : partitionFormat, Widths(partition: partition))
  }

  /// `-o FORMAT`: fields and text; an unknown letter stays in the output as written, with a warning
  /// for stderr, as sinfo does.
  public static func parse(_ format: String) -> (pieces: [Piece], warnings: [String]) {
    if format.lowercased() == "%all" { return (parse(allFormat).pieces, []) }
    var pieces: [Piece] = []
    var warnings: [String] = []
    for piece in PercentFormat.parse(format) {
      switch piece {
      case .text(let t): pieces.append(.text(t))
      case .field(let letter, let width, let right):
        if let name = letters[letter] {
          pieces.append(.field(name, width: width, right: right))
        } else {
          warnings.append("Invalid node format specification: \(letter)")
          pieces.append(.text("%" + (right ? "." : "") + (width > 0 ? String(width) : "") + String(letter)))
        }
      }
    }
    return (pieces, warnings)
  }

  /// `-o %all`: every letter, `|` after each (` |` after the capitals), as sinfo spells it out;
  /// the letters it does not know are left out with their separator.
  static var allFormat: String {
    let lower = "abcdefghijklmnopqrstuvwxyz".filter { letters[$0] != nil }.map { "%\($0)|" }
    let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ".filter { letters[$0] != nil }.map { "%\($0) |" }
    return String((lower + upper).joined().dropLast())
  }

  /// `-O name[:[.]width][suffix],…`: 20 wide and left-justified unless given; an unknown name is
  /// left out with a warning, as sinfo does.
  public static func parseLong(_ spec: String) -> (pieces: [Piece], warnings: [String]) {
    var pieces: [Piece] = []
    var warnings: [String] = []
    for item in spec.split(separator: ",") {
      let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
      let name = parts[0].lowercased()
      var width = 20
      var right = false
      var suffix = ""
      if parts.count > 1 {
        var rest = parts[1][...]
        if rest.first == "." {
          right = true
          rest = rest.dropFirst()
        }
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        width = PercentFormat.width(digits)
        suffix = String(rest.dropFirst(digits.count))
      }
      guard headers[name] != nil else {
        warnings.append("sinfo: error: Invalid job format specification: \(item)")
        continue
      }
      pieces.append(.field(name, width: width, right: right))
      if !suffix.isEmpty { pieces.append(.text(suffix)) }
    }
    return (pieces, warnings)
  }

  /// True when the layout has a partition column: then a partition whose nodes were all filtered
  /// out still gets its line (NODES 0, STATE n/a), as in sinfo.
  public static func showsPartition(_ pieces: [Piece]) -> Bool {
    pieces.contains {
      if case .field(let name, _, _) = $0 { return name == "partition" || name == "partitionname" }
      return false
    }
  }

  /// `-N`'s node column and every default layout's partition column are as wide as their longest
  /// value (at least 9), whatever the format says.
  public struct Widths: Sendable {
    public var node: Int?
    public var partition: Int?
    public init(node: Int? = nil, partition: Int? = nil) {
      self.node = node
      self.partition = partition
    }
  }

  public static func header(_ pieces: [Piece], widths: Widths = .init()) -> String {
    render(pieces, widths: widths, header: true) { name in headers[name] ?? "" }
  }

  /// One line for `node`, or for its partition without a node when `node` is nil.
  public static func line(_ pieces: [Piece], node: SinfoNode, empty: Bool = false, widths: Widths = .init())
    -> String
  {
    render(pieces, widths: widths, header: false) { value($0, node: node, empty: empty) }
  }

  static func render(_ pieces: [Piece], widths: Widths, header: Bool, _ value: (String) -> String)
    -> String
  {
    pieces.map { piece in
      switch piece {
      case .text(let t): return t
      case .field(let name, var width, let right):
        if name == "nodelist" || name == "nodehost", let w = widths.node { width = w }
        if name == "partition" || name == "partitionname", let w = widths.partition { width = w }
        var text = value(name)
        // The default partition's star takes the last place of a narrow column.
        if name == "partition", !header, width > 0, text.count > width { text = text.prefix(width - 1) + "*" }
        // sinfo never cuts HOSTNAMES, the title.
        return cell(text, width: width, right: right, cut: !(header && name == "nodehost"))
      }
    }.joined()
  }

  static func cell(_ value: String, width: Int, right: Bool, cut: Bool) -> String {
    guard width > 0 else { return value }
    let shown = cut ? String(value.prefix(width)) : value
    let pad = String(repeating: " ", count: max(0, width - shown.count))
    return right ? pad + shown : shown + pad
  }

  static func value(_ name: String, node n: SinfoNode, empty: Bool) -> String {
    let busy = n.state != .idle
    switch name {
    case "available": return "up"
    case "allocmem": return "0"
    case "allocnodes", "groups": return "all"
    case "cluster": return "N/A"
    case "comment", "extra", "features", "features_act", "gres", "gresused": return "(null)"
    case "oversubscribe", "share": return "NO"
    case "time": return "infinite"
    case "defaulttime": return "n/a"
    case "size": return "1-infinite"
    case "root": return "no"
    case "maxcpuspernode": return "UNLIMITED"
    case "preemptmode": return "OFF"
    case "priorityjobfactor", "prioritytier": return "1"
    case "port": return "6818"
    case "reason": return "none"
    case "timestamp": return "Unknown"
    case "user": return empty ? "root" : "Unknown"
    case "userlong": return empty ? "root(0)" : "Unknown"
    case "partition": return n.partition + "*"
    case "partitionname": return n.partition
    default: break
    }
    if empty {
      switch name {
      case "statecompact", "statelong", "statecomplete": return "n/a"
      case "nodeai": return "0/0"
      case "cpusstate", "nodeaiot": return "0/0/0/0"
      case "socketcorethread": return "0:0:0"
      case "cpusload": return "0.00"
      case "version": return "N/A"
      case "nodelist", "nodehost", "nodeaddr": return ""
      default: return "0"
      }
    }
    switch name {
    case "cpus": return String(n.cpus)
    case "cpusstate": return "\(n.allocatedCPUs)/\(n.cpus - n.allocatedCPUs)/0/\(n.cpus)"
    case "cpusload": return String(format: "%.2f", n.load)
    case "freemem": return String(n.freeMemoryMB)
    case "cores": return String(n.cpus)
    case "disk": return "0"
    case "memory": return String(n.memoryMB)
    case "nodes", "sockets", "threads", "weight": return "1"
    case "nodeai": return busy ? "1/0" : "0/1"
    case "nodeaiot": return busy ? "1/0/0/1" : "0/1/0/1"
    case "nodelist", "nodehost", "nodeaddr": return n.name
    case "statecompact": return n.state.compact
    case "statelong", "statecomplete": return n.state.rawValue
    case "socketcorethread": return "1:\(n.cpus):1"
    case "version": return n.version
    default: return ""
    }
  }

  /// `-l`'s first line: the time as ctime prints it, without the newline.
  public static func dateLine(_ time: time_t) -> String {
    var t = time
    var parts = tm()
    localtime_r(&t, &parts)
    var buffer = [CChar](repeating: 0, count: 64)
    let n = strftime(&buffer, buffer.count, "%a %b %d %H:%M:%S %Y", &parts)
    return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
