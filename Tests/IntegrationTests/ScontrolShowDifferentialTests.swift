import Foundation
import XCTest

/// `scontrol show config|node|partition` and scontrol's keyword abbreviations, orch against the
/// real SLURM (skipped when none answers). The machine's own numbers — CPUs, memory, load, times —
/// are masked; what orch and the deployed SLURM configure differently is pinned with `Known`.
extension SlurmDifferentialTests {
  /// A record's values that belong to the machine or the moment, masked on both sides. CPUs and
  /// allocations are masked too: other users of the real SLURM may run jobs on its node.
  static func maskNode(_ text: String, node: String) -> String {
    var t = text.replacingOccurrences(of: node, with: "<node>")
    for (pattern, with) in [
      (#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"#, "<time>"), (#"CPULoad=[0-9.]+"#, "CPULoad=<load>"),
      (#"RealMemory=\d+"#, "RealMemory=<mem>"), (#"FreeMem=\d+"#, "FreeMem=<free>"), (#"mem=\d+M"#, "mem=<mem>M"),
      (#"(CoresPerSocket|CPUEfctv|CPUTot|TotalCPUs|cpu|billing|CPUAlloc)=\d+"#, "$1=<n>"),
      (#"State=(IDLE|MIXED|ALLOCATED)"#, "State=<state>"), (#"AllocTRES=\S*"#, "AllocTRES=<alloc>"),
      (#"LastBusyTime=\S+"#, "LastBusyTime=<busy>"),
    ] {
      t = t.replacingOccurrences(of: pattern, with: with, options: .regularExpression)
    }
    return t
  }

  func testScontrolShowMatchesRealSlurm() throws {
    let slurm = try RealSlurm.find()
    let cases: [Case] = [
      Case(name: "scontrol_keywords") { r in
        try r.sbatch(["-H", "--wrap", "true"])
        // Each keyword of orch's cut to every length: accepted, or SLURM's refusal.
        for word in ["show", "hold", "uhold", "release", "requeue", "requeuehold", "update", "version", "help"] {
          for n in 1...word.count {
            let t = try r.tool("scontrol", [String(word.prefix(n)), "999999"])
            r.record["keyword \(word.prefix(n))"] =
              t.err.lowercased().contains("invalid keyword") ? "exit \(t.code): \(t.err)" : "accepted"
          }
        }
        for word in ["SHOW", "Rel", "sh", "re", "requeueh", "bogus"] {
          let t = try r.tool("scontrol", [word, "999999"])
          r.record["keyword \(word)"] =
            t.err.lowercased().contains("invalid keyword") ? "exit \(t.code): \(t.err)" : "accepted"
        }
        for entity in [
          "j", "jo", "jobs", "jobi", "jobid", "jobids", "jobx", "n", "no", "nodes", "nodesx", "p", "pa", "part",
          "partitions", "partitionsx", "c", "co", "config", "configuration", "r", "li", "l", "x", "b", "s", "JOB",
        ] {
          let t = try r.tool("scontrol", ["show", entity])
          r.record["show \(entity)"] = "exit \(t.code): \(t.err.contains("invalid entity") ? t.err : "")"
        }
        let t = try r.tool("scontrol", ["show"])
        r.record["show"] = "exit \(t.code): \(t.err)"
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(r.ids[0])"]).code)"
      },
      Case(
        name: "scontrol_show_node",
        known: [
          Known(
            key: "node line 6", orch: "   NodeAddr=<node> NodeHostName=<node> Version=22.05.8",
            slurm: "   NodeAddr=127.0.0.1 NodeHostName=<node> Version=22.05.8",
            why:
              "deploy/slurm-local gives its node NodeAddr=127.0.0.1; orch's node is addressed by its name, SLURM's default"
          ),
          Known(
            key: "--json node", orch: "exit 0: nodes <node>", slurm: "exit 1: no document",
            why: "orch's --json (as for show job) gives sinfo's node document; 22.05's scontrol has no --json"),
          Known(
            key: "node line 11", orch: "   BootTime=<time> SlurmdStartTime=None",
            slurm: "   BootTime=<time> SlurmdStartTime=<time>", why: "orch has no slurmd: its start time is unset"),
        ]
      ) { r in
        try r.sbatch(["-H", "--wrap", "true"])
        let node = try r.tool("scontrol", ["show", "node"])
        r.record["node exit"] = "\(node.code)|\(node.err)"
        let lines = Self.maskNode(node.out, node: r.node).components(separatedBy: "\n")
        r.record["node lines"] = "\(lines.count)"
        for (n, line) in lines.enumerated() { r.record["node line \(n + 1)"] = line }
        let named = try r.tool("scontrol", ["show", "node", r.node])
        r.record["node NAME same"] =
          "\(named.code) \(Self.maskNode(named.out, node: r.node) == lines.joined(separator: "\n"))"
        let one = try r.tool("scontrol", ["-o", "show", "node"])
        // -o: the same record on one line.
        let joined = lines.joined(separator: "\n").replacingOccurrences(of: "\n   ", with: " ")
        r.record["node -o same"] = "\(one.code) \(Self.maskNode(one.out, node: r.node) + "\n" == joined)"
        for (label, args) in [
          ("node nope", ["show", "node", "nope"]), ("node nope,NODE", ["show", "node", "nope,\(r.node)"]),
          ("node bad list", ["show", "node", "n[x]"]), ("node two", ["show", "node", r.node, "nope"]),
          ("partition nope", ["show", "partition", "nope"]), ("partition two", ["show", "partition", "local", "x"]),
          ("partition -o nope", ["-o", "show", "partition", "nope"]),
        ] {
          let t = try r.tool("scontrol", args)
          let first = t.out.split(separator: "\n").first.map(String.init) ?? ""
          r.record[label] = Self.maskNode("exit \(t.code): \(first)|\(t.err)", node: r.node)
        }
        // --json (22.05's scontrol has none): orch prints sinfo's node document, refuses it for partitions.
        let json = try r.tool("scontrol", ["--json", "show", "node"])
        let document = (try? JSONSerialization.jsonObject(with: Data(json.out.utf8))) as? [String: Any]
        let names = (document?["nodes"] as? [[String: Any]])?.map { "\($0["name"] ?? "")" }
        r.record["--json node"] = Self.maskNode(
          "exit \(json.code): " + (names.map { "nodes " + $0.joined(separator: ",") } ?? "no document"), node: r.node)
        r.record["--json partition"] = "exit \(try r.tool("scontrol", ["--json", "show", "partition"]).code)"
        let partition = try r.tool("scontrol", ["show", "partition"])
        r.record["partition"] = "exit \(partition.code): \(Self.maskNode(partition.out, node: r.node))|\(partition.err)"
        let named2 = try r.tool("scontrol", ["show", "partition", "local"])
        r.record["partition local same"] = "\(named2.code) \(named2.out == partition.out)"
        let one2 = try r.tool("scontrol", ["-o", "show", "partition"])
        r.record["partition -o"] = Self.maskNode(one2.out, node: r.node)
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(r.ids[0])"]).code)"
      },
      Case(
        name: "scontrol_show_config",
        known: [
          Known(
            key: "config ClusterName", orch: "ClusterName             = orch",
            slurm: "ClusterName             = orchlocal", why: "orch's cluster is named orch (SlurmClusters.name)"),
          Known(
            key: "config FirstJobId", orch: "FirstJobId              = 1", slurm: "FirstJobId              = 1000",
            why: "orch numbers jobs from 1 in each store; deploy/slurm-local from 1000"),
          Known(
            key: "config MaxArraySize", orch: "MaxArraySize            = 4000001",
            slurm: "MaxArraySize            = 10001",
            why: "orch accepts array indices up to SLURM's ceiling (ArraySpec.maxArraySizeLimit)"),
          Known(
            key: "config MinJobAge", orch: "MinJobAge               = 300 sec",
            slurm: "MinJobAge               = 3600 sec",
            why: "orch's squeue keeps finished jobs 300 s (Squeue.minJobAge)"),
        ]
      ) { r in
        try r.sbatch(["-H", "--wrap", "true"])
        let config = try r.tool("scontrol", ["show", "config"])
        let lines = config.out.components(separatedBy: "\n")
        r.record["config exit"] = "\(config.code)|\(config.err)"
        r.record["config header"] = Self.maskNode(lines.first ?? "", node: r.node)
        // The tail: a blank line, then whether the controller answers.
        r.record["config tail"] = lines.suffix(3).joined(separator: "|").replacingOccurrences(
          of: #"at \S+ is"#, with: "at <host> is", options: .regularExpression)
        for key in [
          "ClusterName", "FirstJobId", "MaxArraySize", "MaxNodeCount", "MinJobAge", "SelectType", "SLURM_VERSION",
        ] {
          r.record["config \(key)"] = lines.first { $0.hasPrefix(key + " ") } ?? "absent"
        }
        func masked(_ text: String) -> String {
          text.replacingOccurrences(of: #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"#, with: "<time>", options: .regularExpression)
        }
        for (label, args) in [
          ("config KEY", ["show", "config", "MinJobAge"]), ("config -o", ["-o", "show", "config"]),
          ("conf", ["show", "conf"]),
        ] {
          let t = try r.tool("scontrol", args)
          r.record[label] = "\(t.code) \(masked(t.out) == masked(config.out))"
        }
        let two = try r.tool("scontrol", ["show", "config", "a", "b"])
        r.record["config two"] = "exit \(two.code): \(two.out)|\(two.err)"
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(r.ids[0])"]).code)"
      },
      Case(
        name: "held_dependency",
        // SLURM moves a held job whose dependency failed to JobHeldAdmin; orch keeps JobHeldUser.
        only: [
          "sbatch#1", "sbatch#2", "sbatch#3", "sbatch#4", "held before", "held after", "scontrol before",
          "scontrol after",
        ]
      ) { r in
        // A held job's dependency as slurmctld still evaluates it: unfulfilled, met (none), failed.
        let ok = try XCTUnwrap(r.sbatch(["-H", "--wrap", "true"]))
        let waiting = try XCTUnwrap(r.sbatch(["-H", "-d", "afterok:\(ok)", "--wrap", "true"]))
        let bad = try XCTUnwrap(r.sbatch(["-H", "--wrap", "false"]))
        let doomed = try XCTUnwrap(r.sbatch(["-H", "-d", "afterok:\(bad)", "--wrap", "true"]))
        func observe(_ label: String) throws {
          for id in [waiting, doomed] {
            let squeue = try r.tool("squeue", ["-h", "-j", "\(id)", "-o", "%i %E"]).out
            let show = try r.tool("scontrol", ["-o", "show", "job", "\(id)"]).out
            let dependency = show.split(separator: " ").first { $0.hasPrefix("Dependency=") }.map(String.init)
            r.record["held \(label)"] = (r.record["held \(label)"] ?? "") + r.mask(squeue)
            r.record["scontrol \(label)"] = (r.record["scontrol \(label)"] ?? "") + r.mask(dependency ?? "none") + ";"
          }
        }
        try observe("before")
        _ = try r.tool("scontrol", ["release", "\(ok)", "\(bad)"])
        try r.waitEnded(1)
        try r.waitEnded(3)
        // slurmctld re-evaluates dependencies on its own schedule: wait until it has.
        try r.waitUntil("the held dependencies are evaluated", timeout: 90) {
          let out = try r.tool("squeue", ["-h", "-j", "\(waiting),\(doomed)", "-o", "%E"]).out
          return !out.contains("unfulfilled")
        }
        try observe("after")
      },
    ]
    try compare(cases, slurm: slurm)
  }
}
