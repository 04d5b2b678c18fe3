import Foundation
import XCTest

/// orch's `sinfo` and a real SLURM 22.05's side by side: each argument list runs on both, and
/// standard output, standard error and the exit code must be equal, byte for byte. orch's side runs
/// in a UTS namespace under the real node's host name, so the columns sinfo sizes by the name line
/// up the same; with no store, its node is idle, and the real node must be idle too (other tests
/// share that SLURM: a busy node waits, then skips). `-l`'s date line is compared as a date.
/// Skipped when no real SLURM answers or no UTS namespace can be made.
final class SinfoDifferentialTests: XCTestCase {
  /// Where orch differs on purpose: the exact output of each side (after masking) and why.
  struct Known {
    var args: [String]
    var orch: String
    var slurm: String
    var why: String
  }

  static let cases: [[String]] = [
    [], ["-h"], ["-l"], ["--long"], ["-l", "-h"], ["-N"], ["-N", "-h"], ["-s"], ["-s", "-l"], ["-s", "-N"],
    ["-R"], ["-R", "-l"], ["-R", "-t", "idle"], ["-R", "-N", "-l"], ["-N", "-R"],
    ["-t", "idle"], ["-t", "alloc"], ["-t", "i"], ["-t", "m"], ["-t", "IDLE,mix"], ["-t", "all"], ["-t", "drain"],
    ["-t", ""], ["--states=down", "-l"], ["-s", "-t", "alloc"], ["-N", "-t", "alloc"], ["-t", "bogus"],
    ["-t", "idlex"], ["-p", "nope"], ["-p", "local,nope"], ["-p", "local", "-N"], ["-n", "nope"],
    ["-n", "NODE"], ["-n", "nope,NODE"], ["-d"], ["-r"], ["-e"], ["-a"], ["-a", "-p", "local"],
    ["-o", "%P", "-l"], ["-O", "partition", "--long"], ["-o", "%10P%.3D"], ["-o", "%.20P|%-5a|%5l"],
    ["-o", "%5N|%.3n|%3E|%2P|%4R"],
    [
      "-o",
      "%a %A %b %B %c %C %d %D %E %f %F %g %G %h %H %I %l %L %M %n %N %p %P %r %R %s %S %t %T %u %U %v %V %w %X %Y %Z %z",
    ],
    ["-t", "down", "-o", "%P %a %A %c %C %d %D %E %F %n %N %t %T %u %U %v %X %Y %Z %z"],
    ["-O", "partition:.12,nodes:3"], ["-O", "Partition:20,Nodes:.5"], ["-O", "partition,bogus,nodes"],
    ["SINFO_FORMAT=%P %D"], ["SINFO_FORMAT=%P %D", "-l"],
    ["SINFO_FORMAT=%P %D", "-N"], ["SINFO_FORMAT=%P %D", "-o", "%a"], ["SINFO_PARTITION=nope"],
    ["SINFO_PARTITION=nope", "-a"], ["SINFO_PARTITION=nope", "-p", "local"], ["SINFO_ALL=1", "SINFO_PARTITION=local"],
    ["SINFO_ALL=1", "-p", "local"], ["-T"], ["-T", "-h"], ["-i", "0"], ["-i", "abc"], ["--iterate=-1"], ["-S", "P"],
    ["-S", "bogus"], ["--noconvert"], ["--hide"],
    ["--local"], ["--federation"],
    ["-O", "NodeList,StateLong,StateCompact,CPUsState,NodeAIOT,Available,Time,Size,Gres,PartitionName"],
    ["-O", "NodeHost,Reason,Root,OverSubscribe,Groups,Disk,Weight,Features,SocketCoreThread,Port,StateComplete"],
    ["-N", "-o", "%N %P %m"], ["-X"], ["--bogus"], ["-p"], ["--json=x"], ["--usage"], ["extra"],
  ]

  /// Where orch differs on purpose; `NODE` stands for the node's name.
  static let known: [Known] = [
    Known(
      args: ["extra"], orch: "exit 1\n--- stdout\n--- stderr\nsinfo: error: Unrecognized option: extra\n",
      slurm: "exit 0\n--- stdout\nPARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST\n"
        + "local*       up   infinite      1   idle NODE\n--- stderr\n",
      why: "22.05 ignores operands; orch refuses them, so `sinfo local` (meaning -p) does not list everything"),
    Known(
      args: ["-O", "partition,bogus,nodes"],
      orch: "exit 1\n--- stdout\n--- stderr\nsinfo: error: Invalid job format specification: bogus\n",
      slurm: "exit 0\n--- stdout\n" + "PARTITION           NODES               \n"
        + "local*              1                   \n--- stderr\nsinfo: error: Invalid job format specification: bogus\n",
      why: "an unknown -O name is an error, as in orch's squeue -O; SLURM drops the field and exits 0"),
  ]

  func testSinfoMatchesRealSlurm() throws {
    let slurm = try RealSlurm.find()
    guard try runProgram("/usr/bin/unshare", ["-u", "/bin/true"], cwd: "/", env: [:]).code == 0 else {
      throw XCTSkip("no UTS namespace (unshare -u) for orch's side")
    }
    let c = try Cluster()
    try c.installShims()
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let orchEnv = ["PATH": c.shimsDir + ":" + path, "ORCH_HOME": c.home]
    for raw in Self.cases {
      // Leading `SINFO_…=value` words are the environment of both sides.
      let settings = raw.prefix { $0.hasPrefix("SINFO_") && $0.contains("=") }
      var env: [String: String] = [:]
      for word in settings {
        let parts = word.split(separator: "=", maxSplits: 1)
        env[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
      }
      let args = raw.dropFirst(settings.count).map { $0 == "NODE" ? slurm.node : $0 }
      let real = try whileIdle(slurm) {
        try runProgram("/usr/bin/sinfo", args, cwd: "/", env: slurm.env.merging(env) { $1 })
      }
      let orch = try runProgram(
        "/usr/bin/unshare", ["-u", "/bin/sh", "-c", "hostname \"$0\" && exec sinfo \"$@\"", slurm.node] + args,
        cwd: "/", env: orchEnv.merging(env) { $1 })
      // MEMORY: orch's is the machine's MemTotal, SLURM's the RealMemory its node was configured
      // with (deploy/slurm-local keeps it under what slurmd finds); both masked as <mem>.
      let o = mask(orch, memory: Self.memTotal)
      let s = mask(real, memory: try realMemory(slurm)).replacingOccurrences(of: slurm.node, with: "NODE")
      if let known = Self.known.first(where: { $0.args == raw }) {
        XCTAssertEqual(
          o.replacingOccurrences(of: slurm.node, with: "NODE"), known.orch, "orch's sinfo \(raw) (known: \(known.why))")
        XCTAssertEqual(s, known.slurm, "SLURM's sinfo \(raw) (known: \(known.why))")
      } else {
        XCTAssertEqual(
          o.replacingOccurrences(of: slurm.node, with: "NODE"), s, "sinfo \(raw): differs (first: orch, second: SLURM)")
      }
    }
  }

  /// `-i N`: the report every N seconds, each under its date line and followed by a blank line
  /// (the first two reports compared, their node state masked; SLURM's output unbuffered by stdbuf).
  func testSinfoIterate() throws {
    let slurm = try RealSlurm.find()
    guard try runProgram("/usr/bin/unshare", ["-u", "/bin/true"], cwd: "/", env: [:]).code == 0 else {
      throw XCTSkip("no UTS namespace (unshare -u) for orch's side")
    }
    let c = try Cluster()
    try c.installShims()
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for args in [["-i", "1"], ["-i", "1", "-h"], ["--iterate=1", "-N", "-l"]] {
      let real = try whileIdle(slurm) {
        try runProgram(
          "/usr/bin/timeout", ["3.5", "/usr/bin/stdbuf", "-o0", "/usr/bin/sinfo"] + args, cwd: "/", env: slurm.env)
      }
      let orch = try runProgram(
        "/usr/bin/timeout",
        ["3.5", "/usr/bin/unshare", "-u", "/bin/sh", "-c", "hostname \"$0\" && exec sinfo \"$@\"", slurm.node] + args,
        cwd: "/", env: ["PATH": c.shimsDir + ":" + path, "ORCH_HOME": c.home])
      func firstTwo(_ r: Cluster.Result, memory: Int) -> String {
        let blocks = mask(Cluster.Result(code: 0, out: r.out, err: r.err), memory: memory)
          .components(separatedBy: "\n\n")
        // What is compared is the reports' shape; the shared SLURM's node may run another test's
        // job for a moment, so the state word is masked here.
        return blocks.prefix(2).joined(separator: "\n\n").replacingOccurrences(
          of: #" +(idle|mix|mixed|alloc|allocated|comp|completing)(?= |$)"#, with: " <state>",
          options: .regularExpression)
      }
      XCTAssertEqual(
        firstTwo(orch, memory: Self.memTotal), firstTwo(real, memory: try realMemory(slurm)),
        "sinfo \(args) (first: orch, second: SLURM)")
    }
  }

  /// orch's node while one of its CPUs runs a job (the shared SLURM cannot be held in that state):
  /// mixed (or allocated on a one-CPU machine) in every layout, `-t alloc` selects it, `-t idle`
  /// leaves its partition's line, and --json counts the CPU.
  func testOrchBusyNode() throws {
    let c = try Cluster()
    try c.startDaemon(cpus: "0")
    let id = try c.submit(["--parsable", "-o", "/dev/null", "--wrap", "sleep 30"])
    try c.waitUntil("it runs") { try c.states()["\(id)"] == "RUNNING" }
    let cpus = SlurmDifferentialTests.allowedCPUs().count
    let (short, long) = cpus > 1 ? ("mix", "mixed") : ("alloc", "allocated")
    XCTAssertEqual(
      try c.run(["sinfo", "-h", "-o", "%t|%T|%C|%A|%F"]).out, "\(short)|\(long)|1/\(cpus - 1)/0/\(cpus)|1/0|1/0/0/1\n")
    XCTAssertEqual(try c.run(["sinfo", "-h", "-t", "alloc", "-o", "%D %t"]).out, "1 \(short)\n")
    XCTAssertEqual(try c.run(["sinfo", "-h", "-t", "idle", "-o", "%P %D %t"]).out, "local* 0 n/a\n")
    XCTAssertEqual(try c.run(["sinfo", "-h", "-N", "-t", "idle"]).out, "")
    let json = try c.run(["sinfo", "--json"])
    let node = try XCTUnwrap(
      ((JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])?["nodes"] as? [[String: Any]])?.first
    )
    XCTAssertEqual(node["state"] as? String, long)
    XCTAssertEqual(node["alloc_cpus"] as? Int, 1)
    XCTAssertEqual(node["idle_cpus"] as? Int, cpus - 1)
    XCTAssertEqual(node["tres_used"] as? String, "cpu=1")
    XCTAssertEqual(try c.run(["scancel", "\(id)"]).code, 0)
  }

  /// `sinfo --json`: the same keys in the node record and `meta`; the same values where the node is
  /// the same machine, each other value pinned.
  func testSinfoJSONMatchesRealSlurm() throws {
    let slurm = try RealSlurm.find()
    guard try runProgram("/usr/bin/unshare", ["-u", "/bin/true"], cwd: "/", env: [:]).code == 0 else {
      throw XCTSkip("no UTS namespace (unshare -u) for orch's side")
    }
    let c = try Cluster()
    try c.installShims()
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    // Filters and layouts do not apply to --json, on either side.
    let args = ["--json", "-t", "down", "-l"]
    let real = try whileIdle(slurm) { try runProgram("/usr/bin/sinfo", args, cwd: "/", env: slurm.env) }
    let orch = try runProgram(
      "/usr/bin/unshare", ["-u", "/bin/sh", "-c", "hostname \"$0\" && exec sinfo \"$@\"", slurm.node] + args,
      cwd: "/", env: ["PATH": c.shimsDir + ":" + path, "ORCH_HOME": c.home])
    XCTAssertEqual(orch.code, 0, orch.err)
    func document(_ text: String) throws -> [String: Any] {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }
    let o = try document(orch.out)
    let s = try document(real.out)
    XCTAssertEqual(Set(o.keys), Set(s.keys))
    XCTAssertEqual(o["meta"] as? NSDictionary, s["meta"] as? NSDictionary)
    let on = try XCTUnwrap((o["nodes"] as? [[String: Any]])?.first)
    let sn = try XCTUnwrap((s["nodes"] as? [[String: Any]])?.first)
    XCTAssertEqual(Set(on.keys).sorted(), Set(sn.keys).sorted(), "the keys of a node record")
    let pinned: [String: (orch: String, why: String)] = [
      "address": (slurm.node, "SLURM's NodeAddr (127.0.0.1 here); orch has no address but its name"),
      "real_memory": ("\(Self.memTotal)", "MemTotal; SLURM's configured RealMemory is less"),
      "tres": ("cpu=\(sn["cpus"] ?? 0),mem=\(Self.memTotal)M,billing=\(sn["cpus"] ?? 0)", "its mem= is real_memory"),
      "free_memory": ("", "a live reading on each side: compared as a number only"),
      "cpu_load": ("", "likewise (slurmd reports a cached load)"),
      "last_busy": ("0", "orch keeps no node idle time"), "slurmd_start_time": ("0", "orch has no slurmd"),
      "port": ("6818", "no slurmd: SLURM's default SlurmdPort"),
    ]
    for key in sn.keys.sorted() {
      let ov = on[key].map { "\($0)" } ?? "absent"
      let sv = "\(sn[key] ?? "absent")"
      if let pin = pinned[key] {
        if pin.orch.isEmpty {
          XCTAssertTrue(on[key] is NSNumber, "\(key): \(ov) (\(pin.why))")
        } else {
          XCTAssertEqual(ov, pin.orch, "orch's \(key) (\(pin.why))")
        }
      } else if key == "tres_weighted" {
        // Foundation writes 0.0 as 0: the same number.
        XCTAssertEqual((on[key] as? NSNumber)?.doubleValue, (sn[key] as? NSNumber)?.doubleValue, key)
      } else if key == "boot_time" {
        // slurmd rounds the uptime it subtracts; /proc/stat's btime may be a second off.
        let diff = abs((on[key] as? Int ?? 0) - (sn[key] as? Int ?? 0))
        XCTAssertLessThanOrEqual(diff, 2, "boot_time: orch \(ov), SLURM \(sv)")
      } else {
        XCTAssertEqual(ov, sv, "\(key) differs (first: orch, second: SLURM)")
      }
    }
  }

  static var memTotal: Int {
    let text = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
    let line = text.split(separator: "\n").first { $0.hasPrefix("MemTotal:") } ?? ""
    return (line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) / 1024
  }

  func realMemory(_ slurm: RealSlurm) throws -> Int {
    let r = try runProgram("/usr/bin/scontrol", ["show", "node", "-o", slurm.node], cwd: "/", env: slurm.env)
    let field = r.out.split(separator: " ").first { $0.hasPrefix("RealMemory=") }
    return field.flatMap { Int($0.dropFirst(11)) } ?? -1
  }

  /// Exit code, stdout and stderr in one text; a date line as `<date>`, and the program name
  /// getopt prints (`/usr/bin/sinfo` on SLURM's side) as `sinfo`.
  func mask(_ r: Cluster.Result, memory: Int) -> String {
    let out = r.out.split(separator: "\n", omittingEmptySubsequences: false).map { line in
      line.range(
        of: #"^[A-Z][a-z]{2} [A-Z][a-z]{2} [0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$"#, options: .regularExpression)
        == nil ? String(line) : "<date>"
    }.joined(separator: "\n").replacingOccurrences(of: #"\b\#(memory)\b"#, with: "<mem>", options: .regularExpression)
    return "exit \(r.code)\n--- stdout\n\(out)--- stderr\n"
      + r.err.replacingOccurrences(of: "/usr/bin/sinfo:", with: "sinfo:")
  }

  /// `body`'s result on SLURM's side from a run during which its node stayed idle (idle before
  /// and after), retried a few times before the test is skipped.
  func whileIdle(_ slurm: RealSlurm, _ body: () throws -> Cluster.Result) throws -> Cluster.Result {
    for _ in 0..<5 {
      try waitUntilIdle(slurm)
      let result = try body()
      if try idle(slurm) { return result }
    }
    throw XCTSkip("the real SLURM's node kept getting busy (other tests' jobs): its state would differ from orch's")
  }

  func idle(_ slurm: RealSlurm) throws -> Bool {
    let state = try runProgram("/usr/bin/sinfo", ["-h", "-N", "-o", "%T"], cwd: "/", env: slurm.env)
    return state.out.trimmingCharacters(in: .whitespacesAndNewlines) == "idle"
  }

  func waitUntilIdle(_ slurm: RealSlurm) throws {
    let deadline = Date().addingTimeInterval(90)
    while Date() < deadline {
      if try idle(slurm) { return }
      usleep(500_000)
    }
    throw XCTSkip(
      "the real SLURM's node stayed busy (other tests' jobs): its states would differ from orch's idle node")
  }
}
