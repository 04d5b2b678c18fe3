import Foundation
import XCTest

@testable import SlurmSyntax

/// sinfo's layouts over nodes the differential test cannot make (a busy node, a short host name),
/// with the widths and words SLURM 22.05 prints (`SinfoDifferentialTests` compares the idle node).
final class SinfoFormatTests: XCTestCase {
  func node(_ allocated: Int, name: String = "vm") -> SinfoNode {
    SinfoNode(name: name, partition: "local", cpus: 4, allocatedCPUs: allocated, memoryMB: 8000, version: "22.05.8")
  }

  func lines(_ format: String, _ node: SinfoNode, widths: SinfoFormat.Widths = .init(), empty: Bool = false)
    -> [String]
  {
    let pieces = SinfoFormat.parse(format).pieces
    return [
      SinfoFormat.header(pieces, widths: widths),
      SinfoFormat.line(pieces, node: node, empty: empty, widths: widths),
    ]
  }

  func testDefaultAndLongLayoutsOfABusyNode() {
    let widths = SinfoFormat.Widths(partition: 9)
    XCTAssertEqual(
      lines(SinfoFormat.partitionFormat, node(1), widths: widths),
      ["PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST", "local*       up   infinite      1    mix vm"])
    XCTAssertEqual(
      lines(SinfoFormat.partitionLongFormat, node(4), widths: widths),
      [
        "PARTITION AVAIL  TIMELIMIT   JOB_SIZE ROOT OVERSUBS     GROUPS  NODES       STATE NODELIST",
        "local*       up   infinite 1-infinite   no       NO        all      1   allocated vm",
      ])
    XCTAssertEqual(
      lines(SinfoFormat.summaryFormat, node(2), widths: widths),
      ["PARTITION AVAIL  TIMELIMIT   NODES(A/I/O/T) NODELIST", "local*       up   infinite          1/0/0/1 vm"])
  }

  /// -N: the node column at least 9 wide (not 10), the partition right-justified in 9.
  func testNodeLayoutsAlignAsSlurms() {
    let (format, widths) = SinfoFormat.layout(summarize: false, node: true, reasons: false, long: false, of: node(1))
    XCTAssertEqual(format, SinfoFormat.nodeFormat)
    XCTAssertEqual(
      lines(format, node(1), widths: widths),
      ["NODELIST   NODES PARTITION STATE ", "vm             1    local* mix   "])
    XCTAssertEqual(
      lines(SinfoFormat.nodeLongFormat, node(0), widths: widths),
      [
        "NODELIST   NODES PARTITION       STATE CPUS    S:C:T MEMORY TMP_DISK WEIGHT AVAIL_FE REASON              ",
        "vm             1    local*        idle 4       1:4:1   8000        0      1   (null) none                ",
      ])
    let long = SinfoFormat.layout(
      summarize: false, node: true, reasons: false, long: false, of: node(0, name: "a-longer-name1"))
    XCTAssertEqual(
      lines(long.format, node(0, name: "a-longer-name1"), widths: long.widths)[1],
      "a-longer-name1      1    local* idle  ")
  }

  /// -s wins over -N, -N over -R; only -R's layout is not sized by the partition's name.
  func testLayoutChoice() {
    let n = node(0)
    XCTAssertEqual(
      SinfoFormat.layout(summarize: true, node: true, reasons: true, long: true, of: n).format,
      SinfoFormat.summaryFormat)
    XCTAssertEqual(
      SinfoFormat.layout(summarize: false, node: true, reasons: true, long: true, of: n).format,
      SinfoFormat.nodeLongFormat)
    let reasons = SinfoFormat.layout(summarize: false, node: false, reasons: true, long: false, of: n)
    XCTAssertEqual(reasons.format, SinfoFormat.reasonsFormat)
    XCTAssertNil(reasons.widths.partition)
    let wide = SinfoNode(name: "vm", partition: "a-long-partition", cpus: 1, allocatedCPUs: 0, memoryMB: 1)
    let layout = SinfoFormat.layout(summarize: false, node: false, reasons: false, long: false, of: wide)
    XCTAssertEqual(
      lines(layout.format, wide, widths: layout.widths)[1], "a-long-partition*    up   infinite      1   idle vm")
  }

  func testReasonsLayouts() {
    XCTAssertEqual(
      lines(SinfoFormat.reasonsFormat, node(0)),
      [
        "REASON               USER      TIMESTAMP           NODELIST",
        "none                 Unknown   Unknown             vm",
      ])
    XCTAssertEqual(
      lines(SinfoFormat.reasonsLongFormat, node(1))[0],
      "REASON               USER         TIMESTAMP           STATE  NODELIST")
  }

  /// A partition whose node was filtered out: NODES 0, STATE n/a, an empty node list.
  func testEmptyPartitionLine() {
    XCTAssertEqual(
      lines("%P %a %A %c %C %D %E %F %N %t %T %u %U %v %z|", node(2), empty: true)[1],
      "local* up 0/0 0 0/0/0/0 0 none 0/0/0/0  n/a n/a root root(0) N/A 0:0:0|")
  }

  func testLettersWidthsAndInvalidLetters() {
    let (pieces, warnings) = SinfoFormat.parse("%.20P|%-5a|%5l")
    XCTAssertEqual(warnings, ["Invalid node format specification: -"])
    XCTAssertEqual(SinfoFormat.header(pieces, widths: .init()), "           PARTITION|%-5a|TIMEL")
    XCTAssertEqual(
      lines("%5N|%.3n|%4o|%3E|%2P|%4R", node(0, name: "localhost")),
      ["NODEL|HOSTNAMES|NODE|REA|PA|PART", "local|loc|loca|non|l*|loca"])
    let all = SinfoFormat.parse("%all")
    XCTAssertEqual(all.warnings, [])
    XCTAssertTrue(
      SinfoFormat.header(all.pieces, widths: .init()).hasPrefix(
        "AVAIL|ACTIVE_FEATURES|CPUS|TMP_DISK|FREE_MEM|AVAIL_FEATURES|GROUPS|OVERSUBSCRIBE|TIMELIMIT|MEMORY|"))
    XCTAssertTrue(SinfoFormat.header(all.pieces, widths: .init()).hasSuffix("|SOCKETS |CORES |THREADS "))
  }

  /// `%99999999999P` (and squeue's `%99999999999i`) padded to the cap, not to 10^11 spaces.
  func testHugeWidthsAreCapped() {
    XCTAssertEqual(PercentFormat.parse("%99999999999i"), [.field("i", width: 1_000_000, right: false)])
    XCTAssertEqual(PercentFormat.parse("%.999999999999999999999i"), [.field("i", width: 1_000_000, right: true)])
    XCTAssertEqual(PercentFormat.parse("%00000000012i"), [.field("i", width: 12, right: false)])
    XCTAssertEqual(SinfoFormat.line(SinfoFormat.parse("%99999999999P").pieces, node: node(0)).count, 1_000_000)
    XCTAssertEqual(
      SinfoFormat.parseLong("partition:99999999999").pieces, [.field("partition", width: 1_000_000, right: false)])
  }

  func testLongNames() {
    let (pieces, warnings) = SinfoFormat.parseLong("partition:.12,bogus,Nodes:3,StateLong")
    XCTAssertEqual(warnings, ["sinfo: error: Invalid job format specification: bogus"])
    XCTAssertEqual(
      [SinfoFormat.header(pieces, widths: .init()), SinfoFormat.line(pieces, node: node(1), widths: .init())],
      ["   PARTITIONNODSTATE               ", "      local*1  mixed               "])
    XCTAssertEqual(SinfoFormat.line(SinfoFormat.parseLong("partition:").pieces, node: node(0)), "local*")
  }

  func testStates() throws {
    XCTAssertEqual(try SinfoFilter.states("i"), [.idle])
    XCTAssertEqual(try SinfoFilter.states("IdLe,"), [.idle])
    XCTAssertEqual(try SinfoFilter.states("al"), [.mixed, .allocated])
    XCTAssertEqual(try SinfoFilter.states("m"), [.mixed])
    XCTAssertEqual(try SinfoFilter.states("ALL"), [.idle, .mixed, .allocated])
    XCTAssertEqual(try SinfoFilter.states("down,drain,fail,resv,maint,?,futr"), [])
    XCTAssertEqual(try SinfoFilter.states(""), [])
    for bad in ["bogus", "idlex", "x", "idle,nope"] {
      XCTAssertThrowsError(try SinfoFilter.states(bad)) { error in
        XCTAssertTrue("\(error)".hasPrefix("sinfo: error: Bad state string: \""), "\(error)")
        XCTAssertTrue("\(error)".contains("\nsinfo: error: valid states: unknown,down,idle,"), "\(error)")
      }
    }
  }

  func testNodeLists() {
    XCTAssertTrue(SinfoFilter.nodeListContains("x,vm", "vm"))
    XCTAssertFalse(SinfoFilter.nodeListContains("VM", "vm"))
    XCTAssertFalse(SinfoFilter.nodeListContains("", "vm"))
    XCTAssertTrue(SinfoFilter.nodeListContains("n[1-3,7]", "n7"))
    XCTAssertTrue(SinfoFilter.nodeListContains("a,n[1-3]x", "n2x"))
    XCTAssertFalse(SinfoFilter.nodeListContains("n[1-3]", "n4"))
    XCTAssertTrue(SinfoFilter.nodeListContains("n[01-10]", "n09"))
    XCTAssertFalse(SinfoFilter.nodeListContains("n[01-10]", "n9"))
    XCTAssertFalse(SinfoFilter.nodeListContains("n[", "n"))
    XCTAssertFalse(SinfoFilter.nodeListContains("n[99999999999999999999999-1]", "n5"))
  }

  /// Every key of SLURM 22.05's node record (`sinfo --json`, openapi v0.0.38).
  func testJSONRecordKeys() throws {
    let machine = SinfoJSON.Machine(architecture: "x86_64", operatingSystem: "Linux 6", bootTime: 7)
    let record = SinfoJSON.record(node(1), machine: machine)
    XCTAssertEqual(
      Set(record.keys),
      [
        "architecture", "burstbuffer_network_address", "boards", "boot_time", "comment", "cores", "cpu_binding",
        "cpu_load", "extra", "free_memory", "cpus", "last_busy", "features", "active_features", "gres",
        "gres_drained", "gres_used", "mcs_label", "name", "next_state_after_reboot", "address", "hostname", "state",
        "state_flags", "next_state_after_reboot_flags", "operating_system", "owner", "partitions", "port",
        "real_memory", "reason", "reason_changed_at", "reason_set_by_user", "slurmd_start_time", "sockets",
        "threads", "temporary_disk", "weight", "tres", "slurmd_version", "alloc_memory", "alloc_cpus", "idle_cpus",
        "tres_used", "tres_weighted",
      ])
    XCTAssertEqual(record["state"] as? String, "mixed")
    XCTAssertEqual(record["tres_used"] as? String, "cpu=1")
    XCTAssertEqual(record["idle_cpus"] as? Int, 3)
    XCTAssertTrue(SinfoJSON.record(node(0), machine: machine)["tres_used"] is NSNull)
    let document = SinfoJSON.document([node(4)], machine: machine, meta: ["plugin": ["type": "openapi/v0.0.38"]])
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any])
    XCTAssertEqual(Set(object.keys), ["meta", "errors", "nodes"])
    XCTAssertEqual(((object["nodes"] as? [[String: Any]])?.first?["state"]) as? String, "allocated")
  }

  func report(_ argv: [String], env: [String: String] = [:]) throws -> SinfoReport {
    let flags: [SlurmFlag] = [
      .init("noheader", "h"), .init("format", "o", .required), .init("Format", "O", .required), .init("Node", "N"),
      .init("partition", "p", .required), .init("nodes", "n", .required), .init("states", "t", .required),
      .init("list-reasons", "R"), .init("summarize", "s"), .init("long", "l"), .init("all", "a"), .init("dead", "d"),
      .init("iterate", "i", .required),
    ]
    return try SinfoReport(SlurmGetopt.parse(argv, tool: "sinfo", flags: flags), environment: env)
  }

  /// Filters on a busy node: `-t alloc` takes a mixed node, `-t idle` leaves its partition's line.
  func testFiltersOnABusyNode() throws {
    let mixed = node(2)
    XCTAssertEqual(
      try report(["-h", "-t", "alloc"]).text(mixed, now: 0).text, "local*       up   infinite      1    mix vm\n")
    XCTAssertEqual(
      try report(["-h", "-t", "idle"]).text(mixed, now: 0).text, "local*       up   infinite      0    n/a \n")
    XCTAssertEqual(try report(["-h", "-N", "-t", "idle"]).text(mixed, now: 0).text, "")
    XCTAssertEqual(try report(["-h", "-s", "-n", "other"]).text(mixed, now: 0).text.suffix(9), "0/0/0/0 \n")
    XCTAssertEqual(try report(["-h", "-p", "other"]).text(mixed, now: 0).text, "")
    XCTAssertEqual(try report(["-h", "-R"]).text(mixed, now: 0).text, "")
    XCTAssertEqual(
      try report(["-h", "-R", "-t", "mix"]).text(mixed, now: 0).text,
      "none                 Unknown   Unknown             vm\n")
    XCTAssertEqual(try report(["-h", "-o", "%D"]).text(mixed, now: 0).text, "1\n")
    XCTAssertEqual(try report(["-h", "-d", "-o", "%D"]).text(mixed, now: 0).text, "")
  }

  func testOptionChecks() throws {
    XCTAssertThrowsError(try report(["-a", "-p", "local"]))
    XCTAssertThrowsError(try report([], env: ["SINFO_ALL": "", "SINFO_PARTITION": "local"]))
    XCTAssertThrowsError(try report(["-l", "-o", "%P"]))
    XCTAssertThrowsError(try report(["-O", "partition,bogus"]))
    for bad in ["0", "-1", "abc"] { XCTAssertThrowsError(try report(["-i", bad])) }
    XCTAssertEqual(try report(["-i", "5x"]).every, 5)
    XCTAssertEqual(try report(["-h"], env: ["SINFO_FORMAT": "%D|%R"]).text(node(0), now: 0).text, "1|local\n")
    XCTAssertEqual(try report(["-h", "-N"], env: ["SINFO_FORMAT": "%D|%R"]).text(node(0), now: 0).text.prefix(2), "vm")
    XCTAssertEqual(try report(["-h"], env: ["SINFO_PARTITION": "other"]).text(node(0), now: 0).text, "")
    XCTAssertEqual(
      try report(["-h", "-a"], env: ["SINFO_PARTITION": "other"]).text(node(0), now: 0).text.isEmpty, false)
  }

  func testDateLine() {
    XCTAssertNotNil(
      SinfoFormat.dateLine(1_796_585_000).range(
        of: #"^[A-Z][a-z]{2} [A-Z][a-z]{2} [0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} 2026$"#, options: .regularExpression))
  }
}
