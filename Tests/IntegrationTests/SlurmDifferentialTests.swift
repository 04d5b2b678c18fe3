import Foundation
import XCTest

/// The sbatch corpus — the cases of `SbatchCorpusTests` and the scripts of
/// `Tests/OperationsTests/Fixtures/sbatch` — run once through orch's shims and once on a real
/// SLURM (deploy/slurm-local in CI), then compared: output files, environment values, sbatch exit
/// codes and final states, with job ids, paths and node names masked (`SlurmDifferentialSupport`).
/// Where the two differ on purpose or by a known gap, the case names the exact value of each side,
/// so a change on either side fails the test too. Skipped when no real SLURM answers.
final class SlurmDifferentialTests: XCTestCase {
  /// Where orch and SLURM are known to differ: the exact value each gives (nil: absent) for `key`
  /// (or, for `: VAR`, that variable in every environment dump), and why.
  struct Known {
    var key: String
    var orch: String?
    var slurm: String?
    var why: String
  }

  struct Case {
    var name: String
    /// Compare only these keys (a case whose submission already differs).
    var only: Set<String>? = nil
    var known: [Known] = []
    /// Compare only these variables of environment dumps (a script printing its whole `env`).
    var variables: Set<String>?
    var steps: (SideRun) throws -> Void
  }

  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("OperationsTests/Fixtures/sbatch").path

  /// The variables SLURM documents for a batch task (REFERENCE.md, sbatch(1) OUTPUT ENVIRONMENT
  /// VARIABLES) and the step variables, printed `NAME=value` (`unset` when absent).
  static let dump = """
    for v in SLURM_JOB_ID SLURM_JOBID SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT \\
      SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_MAX SLURM_ARRAY_TASK_STEP SLURM_JOB_NAME SLURM_CPUS_PER_TASK \\
      SLURM_CPUS_ON_NODE SLURM_JOB_CPUS_PER_NODE SLURM_SUBMIT_DIR SLURM_SUBMIT_HOST SLURM_JOB_NODELIST \\
      SLURMD_NODENAME SLURM_NODELIST SLURM_JOB_NUM_NODES SLURM_NNODES SLURM_NTASKS SLURM_NPROCS SLURM_PROCID \\
      SLURM_LOCALID SLURM_NODEID SLURM_RESTART_COUNT SLURM_JOB_PARTITION SLURM_MEM_PER_NODE SLURM_MEM_PER_CPU \\
      FOO A B SLURM_CUSTOM HOME; do echo "$v=${!v-unset}"; done
    echo "PWD=$PWD"
    """

  /// Differences in every environment dump.
  static let environmentKnown = [
    Known(
      key: ": SLURM_NTASKS", orch: "1", slurm: "unset",
      why: "SLURM sets SLURM_NTASKS in a batch job only with -n; orch always sets 1 (issue 4 lists it)"),
    Known(
      key: ": SLURM_NPROCS", orch: "1", slurm: "unset", why: "the alias of SLURM_NTASKS, likewise"),
  ]

  // MARK: - The cases of SbatchCorpusTests

  func testIntegrationCorpusMatchesRealSlurm() throws {
    let slurm = try RealSlurm.find()
    let cpus = Self.allowedCPUs().count
    let home = String(cString: getpwuid(getuid())!.pointee.pw_dir)
    let heldCancel = "SLURM keeps a held job's reason when it is cancelled; orch's store overwrites it"
    var cases: [Case] = [
      Case(name: "array_step") { r in
        try r.write(
          "stepper.sbatch", "#!/bin/bash\n#SBATCH --array=0-15:4\n#SBATCH -J stepper\n\(Self.dump)\necho \"ARGS=$*\"\n")
        try r.sbatch(["stepper.sbatch", "one", "two words"])
      },
      Case(name: "list_throttle") { r in
        try r.write("list.sbatch", "#!/bin/bash\n#SBATCH --array=1,3,5-7%1\necho $SLURM_ARRAY_TASK_ID\n")
        try r.sbatch(["list.sbatch"])
      },
      Case(name: "output_patterns") { r in
        try r.mkdir("logs")
        try r.write(
          "pat.sbatch",
          """
          #!/bin/bash
          #SBATCH -J pat --array=2-3
          #SBATCH -o logs/%x-%A-%4a.out
          #SBATCH -e logs/%x-%j-%u.err
          echo "to stdout $SLURM_ARRAY_TASK_ID"
          echo "to stderr" >&2

          """)
        try r.sbatch(["pat.sbatch"])
        try r.sbatch(["-o", "cli-%a-%%.out", "pat.sbatch"])
      },
      Case(name: "wrap") { r in
        try r.sbatch(["--wrap", "echo wrapped $SLURM_JOB_NAME; echo more"])
      },
      Case(
        name: "export_none",
        known: [
          Known(
            key: "file slurm-<job id>.out: HOME", orch: "unset", slurm: home,
            why:
              "sbatch(1): --export=NONE defines only SLURM_* variables; slurmd 22.05 still loads the user's login environment"
          )
        ]
      ) { r in
        try r.write("none.sbatch", "#!/bin/bash\n#SBATCH --export=NONE\n\(Self.dump)\n")
        try r.sbatch(["none.sbatch"], env: ["FOO": "bar", "SLURM_CUSTOM": "kept"])
      },
      Case(
        name: "export_lists",
        known: [
          Known(
            key: "file only.out: HOME", orch: "unset", slurm: home,
            why: "a list without ALL exports only its names (and SLURM_*); slurmd 22.05 adds the login environment")
        ]
      ) { r in
        try r.write("list.sbatch", "#!/bin/bash\n\(Self.dump)\n")
        try r.sbatch(["--export=ALL,A=1,B", "-o", "all.out", "list.sbatch"], env: ["FOO": "bar", "B": "two"])
        try r.sbatch(["--export=A=1,B", "-o", "only.out", "list.sbatch"], env: ["FOO": "bar", "B": "two"])
      },
      Case(name: "afterok_array") { r in
        try r.write("a.sbatch", "#!/bin/bash\n#SBATCH --array=0-2\nsleep 0.3\necho a$SLURM_ARRAY_TASK_ID\n")
        try r.write("b.sbatch", "#!/bin/bash\necho after\n")
        let a = try XCTUnwrap(r.sbatch(["a.sbatch"]))
        try r.sbatch(["--dependency=afterok:\(a)", "b.sbatch"])
      },
      Case(name: "afternotok") { r in
        try r.write("fail.sbatch", "#!/bin/bash\nexit 3\n")
        try r.write("echo.sbatch", "#!/bin/bash\necho ran\n")
        let a = try XCTUnwrap(r.sbatch(["fail.sbatch"]))
        try r.sbatch(["-d", "afternotok:\(a)", "echo.sbatch"])
        try r.sbatch(["-d", "afterok:\(a)", "echo.sbatch"])
        try r.sbatch(["-d", "afterok:\(a)", "--kill-on-invalid-dep=yes", "echo.sbatch"])
      },
      Case(name: "aftercorr") { r in
        try r.write("a.sbatch", "#!/bin/bash\n#SBATCH --array=0-2\nexit $(( SLURM_ARRAY_TASK_ID == 1 ))\n")
        try r.write("b.sbatch", "#!/bin/bash\n#SBATCH --array=0-2\necho b$SLURM_ARRAY_TASK_ID\n")
        let a = try XCTUnwrap(r.sbatch(["a.sbatch"]))
        try r.sbatch(["--dependency", "aftercorr:\(a)", "b.sbatch"])
      },
      Case(name: "afterany_after_bare") { r in
        try r.write("fail.sbatch", "#!/bin/bash\nexit 1\n")
        try r.write("echo.sbatch", "#!/bin/bash\necho ran\n")
        let a = try XCTUnwrap(r.sbatch(["fail.sbatch"]))
        try r.sbatch(["-d", "afterany:\(a)", "echo.sbatch"])
        try r.sbatch(["-d", "after:\(a)", "echo.sbatch"])
        try r.sbatch(["-d", "\(a)", "echo.sbatch"])
      },
      Case(name: "singleton") { r in
        try r.write(
          "solo.sbatch", "#!/bin/bash\n#SBATCH -J solo --dependency=singleton\nsleep 0.4\necho $SLURM_JOB_NAME\n")
        try r.sbatch(["solo.sbatch"])
        try r.sbatch(["solo.sbatch"])
      },
      Case(name: "or_dependency") { r in
        try r.write("fail.sbatch", "#!/bin/bash\nexit 1\n")
        try r.write("ok.sbatch", "#!/bin/bash\necho ok\n")
        let bad = try XCTUnwrap(r.sbatch(["fail.sbatch"]))
        let good = try XCTUnwrap(r.sbatch(["ok.sbatch"]))
        try r.sbatch(["-d", "afterok:\(bad)?afterok:\(good)", "ok.sbatch"])
      },
      Case(name: "wait_exit_codes") { r in
        try r.write("codes.sbatch", "#!/bin/bash\n#SBATCH --array=0-3\nexit $SLURM_ARRAY_TASK_ID\n")
        try r.write("killed.sbatch", "#!/bin/bash\nkill -9 $$\n")
        try r.sbatch(["--wait", "codes.sbatch"])
        try r.sbatch(["-W", "killed.sbatch"])
        try r.sbatch(["--wait", "--wrap", "true"])
      },
      Case(name: "held_then_released") { r in
        try r.write("held.sbatch", "#!/bin/bash\n#SBATCH --hold\necho released\n")
        let held = try XCTUnwrap(r.sbatch(["held.sbatch"]))
        try r.sbatch(["--wrap", "true"])
        try r.waitEnded(2)
        r.record["held: squeue"] = r.mask(try r.tool("squeue", ["-h", "-j", "\(held)", "-o", "%i|%t|%T|%r|%l|%j"]).out)
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(held)"]).code)"
      },
      Case(name: "chdir") { r in
        try r.mkdir("work")
        try r.write("cd.sbatch", "#!/bin/bash\n#SBATCH -D work\n\(Self.dump)\n")
        try r.sbatch(["cd.sbatch"])
      },
      Case(name: "open_mode") { r in
        try r.write("log.sbatch", "#!/bin/bash\n#SBATCH -o same.out\necho run $SLURM_JOB_ID\n")
        try r.sbatch(["--wait", "log.sbatch"])
        try r.sbatch(["--wait", "--open-mode=append", "log.sbatch"])
        r.record["after append"] = r.mask(try String(contentsOfFile: r.dir + "/same.out", encoding: .utf8))
        try r.sbatch(["--wait", "log.sbatch"])
      },
      Case(name: "script_as_submitted") { r in
        try r.write("edit.sbatch", "#!/bin/bash\necho original \"$0\"\n")
        let id = try XCTUnwrap(r.sbatch(["-H", "edit.sbatch"]))
        try r.write("edit.sbatch", "#!/bin/bash\necho edited\n")
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(id)"]).code)"
      },
      Case(
        name: "time_limit_in_minutes",
        known: [
          Known(key: "state <A1>", orch: "CANCELLED None 0:0", slurm: "CANCELLED JobHeldUser 0:0", why: heldCancel)
        ]
      ) { r in
        try r.write("limit.sbatch", "#!/bin/bash\n#SBATCH --time=1:30\n#SBATCH -H\ntrue\n")
        let id = try XCTUnwrap(r.sbatch(["limit.sbatch"]))
        r.record["squeue %l"] = try r.tool("squeue", ["-h", "-o", "%l", "-j", "\(id)"]).out
        let show = try r.tool("scontrol", ["show", "job", "\(id)"]).out
        r.record["TimeLimit"] = show.split(separator: " ").first { $0.hasPrefix("TimeLimit=") }.map(String.init)
        r.record["scancel"] = "\(try r.tool("scancel", ["\(id)"]).code)"
      },
      Case(name: "srun_steps") { r in
        try r.write(
          "steps.sbatch",
          """
          #!/bin/bash
          srun --unbuffered -n 1 --output=step-%j-%s-%t.out --error=step-%J.err bash -c 'echo out $SLURM_STEP_ID $SLURM_PROCID; echo err >&2'
          srun bash -c 'echo second step $SLURM_STEP_ID'
          srun bash -c 'exit 4'; echo "status $?"

          """)
        try r.sbatch(["--wait", "steps.sbatch"])
      },
      Case(
        name: "bad_input",
        known: [
          Known(
            key: "sbatch#1", orch: "exit 1: ", slurm: "exit 255: ",
            why: "sbatch exits 255 (-1) when an option or directive does not parse, orch exits 1"),
          Known(
            key: "sbatch#1 stderr",
            orch:
              "bogus.sbatch:2:9: sbatch: unrecognized option '--bogus'\nTry \"sbatch --help\" for more information\n",
            slurm: "sbatch: unrecognized option '--bogus'\nTry \"sbatch --help\" for more information\n",
            why: "orch names the directive's file:line:column"),
          Known(
            key: "sbatch#2 stderr",
            orch:
              "array.sbatch:2:9: sbatch: error: Invalid --array specification: --array '5-1' has descending range '5-1'; expected A-B with A ≤ B\n",
            slurm: "sbatch: error: Batch job submission failed: Invalid job array specification\n",
            why: "SLURM rejects a range backwards in slurmctld, orch while parsing, with the reason"),
          Known(
            key: "sbatch#3 stderr",
            orch:
              "sbatch: error: This does not look like a batch script. The first line must start with #! followed by the path to an interpreter.\n",
            slurm:
              "sbatch: error: This does not look like a batch script.  The first\nsbatch: error: line must start with #! followed by the path to an interpreter.\nsbatch: error: For instance: #!/bin/sh\n",
            why: "orch's errors are one line"),
          Known(
            key: "sbatch#4", orch: "exit 1: ", slurm: "exit 255: ", why: "as sbatch#1"),
          Known(
            key: "sbatch#4 stderr",
            orch: "sbatch: unrecognized option '--no-such-option'\nTry \"sbatch --help\" for more information\n",
            slurm:
              "/usr/bin/sbatch: unrecognized option '--no-such-option'\nTry \"sbatch --help\" for more information\n",
            why: "getopt names the program by argv[0]: the real one is called by its path here"),
        ]
      ) { r in
        try r.write("bogus.sbatch", "#!/bin/bash\n#SBATCH --bogus\ntrue\n")
        try r.write("array.sbatch", "#!/bin/bash\n#SBATCH --array=5-1\ntrue\n")
        try r.write("nobang.sh", "echo no interpreter\n")
        try r.sbatch(["bogus.sbatch"])
        try r.sbatch(["array.sbatch"])
        try r.sbatch(["nobang.sh"])
        try r.sbatch(["--no-such-option", "bogus.sbatch"])
      },
      Case(
        name: "script_bytes",
        known: [
          Known(
            key: "sbatch#2 stderr",
            orch:
              "sbatch: error: This does not look like a batch script. The first line must start with #! followed by the path to an interpreter.\n",
            slurm:
              "sbatch: error: This does not look like a batch script.  The first\nsbatch: error: line must start with #! followed by the path to an interpreter.\nsbatch: error: For instance: #!/bin/sh\n",
            why: "orch's errors are one line")
        ]
      ) { r in
        // A Latin-1 comment (café: E9) runs, and the copy the job runs holds the byte; a UTF-8
        // byte-order mark before #! is refused.
        try r.write(
          "latin.sbatch",
          bytes: Array("#!/bin/bash\n# caf".utf8) + [0xE9] + Array("\nsed -n 2p \"$0\" | od -An -tx1\n".utf8))
        try r.write("bom.sbatch", "\u{FEFF}#!/bin/bash\ntrue\n")
        try r.sbatch(["--wait", "latin.sbatch"])
        try r.sbatch(["bom.sbatch"])
      },
      Case(name: "export_quoted_values") { r in
        // Quotes keep a comma inside a value from splitting the list, and stay in the value.
        try r.write(
          "quoted.sbatch", "#!/bin/bash\necho \"A=[$A] B=[$B] C=[$C]\"\nsrun bash -c 'echo \"step A=[$A]\"'\n")
        try r.sbatch(["--wait", "--export=ALL,A='1,2',B=\"x y\",C=plain", "quoted.sbatch"])
        let step = try r.tool("srun", ["--export=ALL,A='3,4'", "bash", "-c", "echo \"A=[$A]\""])
        r.record["srun"] = "exit \(step.code): \(step.out)"
      },
      Case(name: "squeue_fields") { r in
        // Every squeue field a held job prints the same way on both (orch's one partition, no
        // reservations or features); memory per node and per CPU in SLURM's units.
        let node = try XCTUnwrap(r.sbatch(["-H", "-t", "10", "--mem=100M", "-c", "2", "--wrap", "true"]))
        let perCPU = try XCTUnwrap(r.sbatch(["-H", "--mem-per-cpu=1024M", "-c", "2", "--wrap", "true"]))
        let fields = "%b|%B|%c|%d|%f|%g|%G|%h|%H|%I|%J|%k|%L|%m|%n|%O|%p|%U|%v|%w|%W|%x|%X|%Y|%z"
        for (label, id) in [("node", node), ("per cpu", perCPU)] {
          r.record["squeue \(label)"] = try r.tool("squeue", ["-j", "\(id)", "-o", fields]).out
          r.record["squeue -O \(label)"] =
            try r.tool(
              "squeue",
              [
                "-j", "\(id)", "-O",
                "mincpus,timeleft,minmemory,groupname,oversubscribe,batchhost,tres-per-node,mintmpdisk,sockets",
              ]
            ).out
        }
        for (label, id) in [("node", node), ("per cpu", perCPU)] {
          // scontrol's fields in order, and the resource ones whole; the record's end as printed.
          let show = try r.tool("scontrol", ["show", "job", "\(id)"]).out
          let pairs = show.split(whereSeparator: { $0 == " " || $0 == "\n" }).filter { $0.contains("=") }
          r.record["show \(label): keys"] = pairs.map { $0.split(separator: "=")[0] }.joined(separator: " ")
          r.record["show \(label): resources"] = pairs.filter {
            ["TRES", "MinCPUsNode", "MinMemoryNode", "MinMemoryCPU", "NodeList", "AccrueTime", "EligibleTime"]
              .contains(String($0.split(separator: "=")[0]))
          }.joined(separator: " ")
          r.record["show \(label): end"] = String(show.suffix(12))
          r.record["show -o \(label): end"] = String(
            try r.tool("scontrol", ["show", "job", "-o", "\(id)"]).out.suffix(8))
        }
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(node),\(perCPU)"]).code)"
      },
      Case(name: "squeue_json_record") { r in
        // Every key of slurmctld's job record, and the values that describe the job's request.
        // (SLURM 22.05's --json lists every job whatever -j says; the record is picked by id.)
        let id = try XCTUnwrap(r.sbatch(["-H", "-t", "10", "--mem=100M", "-c", "2", "--wrap", "true"]))
        let text = try r.tool("squeue", ["--json", "-j", "\(id)"]).out
        let document = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        let jobs = document?["jobs"] as? [[String: Any]] ?? []
        let job = try XCTUnwrap(jobs.first { ($0["job_id"] as? Int) == id })
        r.record["keys"] = job.keys.sorted().joined(separator: " ")
        for key in [
          "accrue_time", "batch_host", "billable_tres", "flags", "minimum_cpus_per_node", "tres_req_str",
          "tres_alloc_str", "tres_per_node", "memory_per_node", "memory_per_cpu", "cpus", "time_limit", "show_flags",
          "contiguous", "features", "shared",
        ] {
          r.record["value \(key)"] = job[key].map { "\($0)" } ?? "absent"
        }
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(id)"]).code)"
      },
      Case(name: "squeue_start") { r in
        let id = try XCTUnwrap(r.sbatch(["-H", "--wrap", "true"]))
        r.record["start"] = r.mask(try r.tool("squeue", ["--start", "-j", "\(id)"]).out)
        r.record["start -t R"] = r.mask(try r.tool("squeue", ["--start", "-t", "R", "-j", "\(id)"]).out)
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(id)"]).code)"
      },
      Case(name: "time_limit_relative") { r in
        // TimeLimit=+T / -T change each job's own limit by T rounded up to minutes.
        let id = try XCTUnwrap(r.sbatch(["-H", "-t", "10", "--array=0-1", "--wrap", "true"]))
        for (n, change) in ["+1:30:00", "+0:30", "-10", "-200", "+x", "+0", "-0"].enumerated() {
          let t = try r.tool("scontrol", ["update", "JobId=\(id)", "TimeLimit=\(change)"])
          let limit = try r.tool("squeue", ["-h", "-j", "\(id)", "-o", "%l"]).out
          r.record["update \(n) \(change)"] = "exit \(t.code): \(t.err)|\(limit)"
        }
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(id)"]).code)"
      },
      Case(name: "selections_naming_nothing") { r in
        // An id list with no id, or a user the machine lacks: scancel refuses it (and cancels
        // nothing), squeue says so and selects nothing for that user.
        let held = try XCTUnwrap(r.sbatch(["-H", "--wrap", "true"]))
        for (label, args) in [
          ("scancel ''", ["scancel", ""]), ("scancel ,", ["scancel", ","]),
          ("scancel id ''", ["scancel", "\(held)", ""]),
          ("scancel -u", ["scancel", "-u", "orch-no-such-user"]),
          ("squeue -u", ["squeue", "-h", "-u", "orch-no-such-user"]),
        ] {
          let t = try r.tool(args[0], Array(args.dropFirst()))
          r.record[label] = "exit \(t.code): \(r.mask(t.out))|\(r.mask(t.err))"
        }
        r.record["held"] = r.mask(try r.tool("squeue", ["-h", "-j", "\(held)", "-o", "%i %t %r"]).out)
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(held)"]).code)"
      },
      Case(name: "host_lists") { r in
        // `scontrol show hostnames|hostlist|hostlistsorted`: job scripts take MASTER_ADDR from
        // the first. Lists SLURM reads oddly are left out: `n[1-3` (SLURM prints `n]`), `n[[1-3]`,
        // `n]1[`, `n[3-]`, `n[ 1-3]`, `n[+1-3]` and 20-digit numbers are invalid hostlists in orch.
        try r.write("hosts.txt", "n1\nn2,n3\n\nm5\n")
        let expressions = [
          "node[01-03,05]", "a,b,c", "n[1-3],m[8-10]", "gpu-[1-2]-[3-4]", "n[3-1]", "", "x[001-003]y", "n[1-2],n[1-2]",
          "n[0-100000000]", "n[1-3]-ib", "n[a-c]", " n1 , n2 ", "n[1-65536]", "n[1-65537]", "n[1-2][3-4]", "n[01-3]",
          "n[1-03]", "n[9-11]", "n[1,,2]", "n[]", "[1-3]", "[1-3]n", "n[-3]", "n[1-2-3]", "n[1-3],,m1", ",n1",
          "n[00-02]",
          "n[0-02]", "n[007]", "n[4294967295-4294967296]", "b,a,n2,m1,n1", "n1,n1,n2", "n01,n1,n2", "n9,n10,n09",
          "a1b2,a1b3", "123,124", "n1-ib,n2-ib", "n1,n3,n5", "n001,n002,n0003", "n10,n9", "x,x", "n[1-3],n2",
          "n[5-9],n[1-6]", "a10b1,a9b1,a9b2", "n[1-3]]", "n1 n2", "n[1-4],n[3-6],n[2-8]", "n[01-3],n4",
          "n[1-2][3-4],n2[5-6]", "c[10-12],c[1-9]", r.dir + "/hosts.txt", r.dir + "/absent.txt",
        ]
        for kind in ["hostnames", "hostlist", "hostlistsorted"] {
          for e in expressions {
            let t = try r.tool("scontrol", ["show", kind, e])
            let out = t.out.count > 300 ? "\(t.out.prefix(40))…\(t.out.suffix(40))" : t.out
            r.record["\(kind) \(e.replacingOccurrences(of: r.dir, with: "<dir>"))"] =
              "exit \(t.code): \(out)|\(t.err)".replacingOccurrences(of: r.dir, with: "<dir>")
          }
        }
        for (label, args, env) in [
          ("no list", ["show", "hostnames"], ["SLURM_NODELIST": "c[1-2]"]),
          ("no list, none set", ["show", "hostn"], [:]),
          ("two lists", ["show", "hostnames", "n1", "n2"], [:]), ("hostlist, no list", ["show", "hostl"], [:]),
        ] {
          let t = try r.tool("scontrol", args, env: env)
          r.record[label] = "exit \(t.code): \(t.err)"
        }
        // Inside a job, with no argument: the job's own node.
        try r.write(
          "first.sbatch",
          "#!/bin/bash\nfirst=$(scontrol show hostnames | head -n 1)\n[ -n \"$first\" ] && [ \"$first\" = \"$SLURM_NODELIST\" ] && echo same\n"
        )
        try r.sbatch(["-o", "first.out", "first.sbatch"])
      },
      Case(
        name: "single_node_options",
      ) { r in
        // Options about nodes, task layout, sharing and accounting: single-node SLURM accepts what
        // one machine honours by running the job as it would anyway, checks the node lists
        // against its one node, and refuses reservations, licenses and preferred features it has
        // none of.
        let accepted = [
          "--nodelist=\(r.node)", "-w", r.node, "--hint=nomultithread", "--hint=compute_bound", "--distribution=block",
          "--ntasks-per-core=1", "--gres-flags=enforce-binding", "--network=x", "--spread-job", "--use-min-nodes",
          "--switches=1", "--delay-boot=1", "--time-min=1", "--profile=none", "--acctg-freq=10", "--ignore-pbs",
          "--mem-bind=local", "--cpu-freq=high", "--no-kill", "--oversubscribe", "--overcommit", "--contiguous",
          "--mcs-label=x", "--gpu-bind=closest", "--gpu-freq=high",
        ]
        try r.sbatch(["--parsable"] + accepted + ["--wrap", "true"])
        for option in accepted where option.hasPrefix("--") {
          try r.sbatch(["--parsable", option, "--wrap", "true"])
        }
        for option in [
          "--exclude=\(r.node)", "--exclude=n1,\(r.node)", "--nodelist=\(r.node),orch-other-node", "--hint=bogus",
          "--reservation=r1", "--licenses=a", "--prefer=x",
        ] {
          try r.sbatch(["--parsable", option, "--wrap", "true"])
        }
        // --mincpus: the job gets at least that many CPUs.
        try r.sbatch([
          "--parsable", "--mincpus=2", "--wrap", "echo cpus=$SLURM_CPUS_ON_NODE per_task=${SLURM_CPUS_PER_TASK-unset}",
        ])
      },
      Case(
        name: "exclude_unknown_node",
        known: [
          Known(
            key: "sbatch#1", orch: "exit 0: <A1>\n", slurm: "exit 1: ",
            why: "orch accepts excluding a node it does not have: a script written for a cluster that has it runs here"),
          Known(
            key: "sbatch#1 stderr", orch: "",
            slurm: "sbatch: error: Batch job submission failed: Requested node configuration is not available\n",
            why: "as sbatch#1"),
          Known(key: "state <A1>", orch: "COMPLETED None 0:0", slurm: nil, why: "as sbatch#1"),
          Known(key: "file slurm-<job id>.out", orch: "", slurm: nil, why: "as sbatch#1"),
        ]
      ) { r in
        try r.sbatch(["--parsable", "--exclude=gpu13,orch-no-such-node", "--wrap", "true"])
      },
      Case(name: "squeue_sort_and_filters") { r in
        // -S/--sort, the filters orch's jobs never match (-A, -L, -R), the options one partition
        // and one cluster make no-ops, --array-unique, --noconvert, -l's date line and %all's
        // header.
        let b = try XCTUnwrap(r.sbatch(["-H", "-J", "b", "--mem=2048", "--wrap", "true"]))
        let a = try XCTUnwrap(r.sbatch(["-H", "-J", "a", "--array=1-3", "--wrap", "true"]))
        let c = try XCTUnwrap(r.sbatch(["-H", "-J", "b", "--wrap", "true"]))
        let ids = "\(b),\(a),\(c)"
        // (Specs that leave jobs tied are left out: squeue's order for ties is slurmctld's.)
        for spec in ["i", "-i", "j,i", "-j,i", "j-i", "+-i", "-+i", "t,-i", "i,", "x", " ", "iK"] {
          let t = try r.tool("squeue", ["-h", "-j", ids, "-S", spec, "-o", "%i %j"])
          r.record["sort '\(spec)'"] = "exit \(t.code): \(r.mask(t.out))|\(t.err)"
        }
        for (label, options) in [
          ("account", ["-A", "acct"]), ("licenses", ["-L", "a"]), ("reservation", ["-R", "r1"]),
          ("array-unique", ["--array-unique"]), ("sibling", ["--sibling"]), ("federation", ["--federation"]),
          ("local", ["--local"]), ("hide", ["--hide"]), ("priority", ["-P"]),
        ] {
          let t = try r.tool("squeue", ["-h", "-j", ids, "-S", "i"] + options + ["-o", "%i %j %t"])
          r.record[label] = "exit \(t.code): \(r.mask(t.out))|\(t.err)"
        }
        let badNodes = try r.tool("squeue", ["-h", "-w", "n[3-1]"])
        r.record["nodelist that does not parse"] = "exit \(badNodes.code): \(badNodes.out)|\(badNodes.err)"
        r.record["noconvert"] = try r.tool("squeue", ["-h", "-j", "\(b)", "--noconvert", "-o", "%m"]).out
        r.record["convert"] = try r.tool("squeue", ["-h", "-j", "\(b)", "-o", "%m"]).out
        let long = try r.tool("squeue", ["-l", "-j", "\(b)"]).out.split(
          separator: "\n", omittingEmptySubsequences: false)
        r.record["-l date line"] =
          "\(long.first.map { $0.range(of: #"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} \d{4}$"#, options: .regularExpression) != nil } ?? false)"
        r.record["-l"] = r.mask(long.dropFirst().joined(separator: "\n"))
        r.record["-l -h"] = r.mask(try r.tool("squeue", ["-l", "-h", "-j", "\(b)"]).out)
        r.record["%all header"] = String(
          try r.tool("squeue", ["-o", "%all", "-j", "\(b)"]).out.split(separator: "\n").first ?? "")
        for id in [b, a, c] {
          r.record["release \(id == b ? "b" : id == a ? "a" : "c")"] =
            "\(try r.tool("scontrol", ["release", "\(id)"]).code)"
        }
      },
      Case(
        name: "scancel_options",
        known: [
          Known(key: "state <A3>", orch: "CANCELLED None 0:0", slurm: "CANCELLED JobHeldUser 0:0", why: heldCancel),
          Known(key: "state <A4>", orch: "CANCELLED None 0:0", slurm: "CANCELLED JobHeldUser 0:0", why: heldCancel),
        ]
      ) { r in
        // -Q says nothing of an id that is unknown or already ended; -R (no reservations here)
        // cancels nothing; -H and --ctld are accepted.
        let ended = try XCTUnwrap(r.sbatch(["--parsable", "--wrap", "true"]))
        let kept = try XCTUnwrap(r.sbatch(["--parsable", "-H", "--wrap", "true"]))
        let hurried = try XCTUnwrap(r.sbatch(["--parsable", "-H", "--wrap", "true"]))
        let direct = try XCTUnwrap(r.sbatch(["--parsable", "-H", "--wrap", "true"]))
        try r.waitUntil("the first job ends") {
          try r.tool("squeue", ["-h", "-j", "\(ended)", "-t", "all", "-o", "%T"]).out == "COMPLETED\n"
        }
        r.record["quiet, unknown id"] = try r.tool("scancel", ["-Q", "99999999"]).err
        r.record["quiet, ended job"] = try r.tool("scancel", ["-Q", "\(ended)"]).err
        r.record["reservation"] = "\(try r.tool("scancel", ["-R", "r1", "\(kept)"]).err)"
        r.record["hurry"] = "\(try r.tool("scancel", ["-H", "\(hurried)"]).code)"
        r.record["ctld"] = "\(try r.tool("scancel", ["--ctld", "\(direct)"]).code)"
        r.record["after"] = r.mask(
          try r.tool("squeue", ["-h", "-t", "all", "-j", "\(kept),\(hurried),\(direct)", "-S", "i", "-o", "%i %T"]).out)
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(kept)"]).code)"
      },
      Case(name: "default_order_held_last") { r in
        // squeue's default order is by state, then priority, highest first: a held job (priority
        // 0) comes after pending jobs submitted later. (One held job: ties are slurmctld's.)
        let held = try XCTUnwrap(r.sbatch(["--parsable", "-H", "--wrap", "true"]))
        let later = try XCTUnwrap(r.sbatch(["--parsable", "--begin=now+1hour", "--wrap", "true"]))
        let last = try XCTUnwrap(r.sbatch(["--parsable", "--begin=now+1hour", "--wrap", "true"]))
        r.record["squeue"] = r.mask(try r.tool("squeue", ["-h", "-j", "\(held),\(later),\(last)", "-o", "%i %r"]).out)
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(held)"]).code)"
        for id in [later, last] {
          r.record["start \(id == later ? "later" : "last")"] =
            "\(try r.tool("scontrol", ["update", "JobId=\(id)", "StartTime=now"]).code)"
        }
      },
      Case(name: "one_element_array") { r in
        // Still the array's record while pending: 12_[7]; -r (and each element once split) 12_7.
        let id = try XCTUnwrap(r.sbatch(["-H", "--array=7", "--wrap", "true"]))
        r.record["squeue"] = r.mask(try r.tool("squeue", ["-h", "-j", "\(id)", "-o", "%i|%A|%F|%K|%t|%r"]).out)
        r.record["squeue -r"] = r.mask(try r.tool("squeue", ["-h", "-r", "-j", "\(id)", "-o", "%i|%A|%K"]).out)
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(id)"]).code)"
      },
      Case(
        name: "unknown_dependency",
        known: [
          Known(
            key: "sbatch#2", orch: "exit 1: ", slurm: "exit 0: Submitted batch job <A2>\n",
            why: "SLURM 22.05 takes a dependency on a job it does not know as met (purged, it assumes); orch rejects it"
          ),
          Known(
            key: "sbatch#2 stderr", orch: "sbatch: error: Batch job submission failed: Job dependency problem\n",
            slurm: "", why: "as sbatch#2"),
          Known(key: "sbatch#3", orch: "exit 1: ", slurm: "exit 0: Submitted batch job <A3>\n", why: "as sbatch#2"),
          Known(
            key: "sbatch#3 stderr", orch: "sbatch: error: Batch job submission failed: Job dependency problem\n",
            slurm: "", why: "as sbatch#2"),
          Known(key: "state <A2>", orch: nil, slurm: "COMPLETED None 0:0", why: "as sbatch#2"),
          Known(key: "state <A3>", orch: nil, slurm: "COMPLETED None 0:0", why: "as sbatch#2"),
          Known(key: "file slurm-<job id>.out", orch: nil, slurm: "ran\n", why: "as sbatch#2"),
          Known(key: "file slurm-<job id>.out #2", orch: nil, slurm: "ran\n", why: "as sbatch#2"),
          Known(key: "state <A1>_0", orch: "CANCELLED None 0:0", slurm: "CANCELLED JobHeldUser 0:0", why: heldCancel),
          Known(key: "state <A1>_1", orch: "CANCELLED None 0:0", slurm: "CANCELLED JobHeldUser 0:0", why: heldCancel),
        ]
      ) { r in
        try r.write("ok.sbatch", "#!/bin/bash\necho ran\n")
        let a = try XCTUnwrap(r.sbatch(["-H", "--array=0-1", "ok.sbatch"]))
        try r.sbatch(["-d", "afterok:999999", "ok.sbatch"])
        try r.sbatch(["-d", "afterok:\(a)_7", "ok.sbatch"])
        r.record["scancel"] = "\(try r.tool("scancel", ["\(a)"]).code)"
      },
    ]
    cases += [
      Case(name: "memory") { r in
        try r.write("mem.sbatch", "#!/bin/bash\n\(Self.dump)\n")
        try r.sbatch(["--mem=512M", "-o", "node.out", "mem.sbatch"])
        try r.sbatch(["--mem-per-cpu=100M", "-o", "cpu.out", "mem.sbatch"])
      },
      Case(
        name: "scancel_range",
        known: [
          Known(
            key: "squeue", orch: "<A1>_[0-1,5] PD JobHeldUser\n<A1>_[2-4] CA None\n",
            slurm: "<A1>_[0-1,5] PD JobHeldUser\n",
            why:
              "SLURM 22.05 drops cancelled elements of a pending array without a trace; squeue -j lists recently ended jobs"
          )
        ]
      ) { r in
        let id = try XCTUnwrap(r.sbatch(["-H", "--array=0-5", "--wrap", "echo $SLURM_ARRAY_TASK_ID"]))
        r.record["scancel"] = "\(try r.tool("scancel", ["\(id)_[2-4]"]).code)"
        r.record["squeue"] = r.mask(try r.tool("squeue", ["-h", "-j", "\(id)", "-o", "%i %t %r"]).out)
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(id)"]).code)"
      },
      Case(name: "parsable_and_names") { r in
        try r.write("named.sbatch", "#!/bin/bash\n#SBATCH -J directive\necho $SLURM_JOB_NAME\n")
        try r.sbatch(["--parsable", "-o", "plain.out", "named.sbatch"])
        try r.sbatch(["-o", "env.out", "named.sbatch"], env: ["SBATCH_JOB_NAME": "environment"])
        try r.sbatch(["-J", "line", "-o", "line.out", "named.sbatch"], env: ["SBATCH_JOB_NAME": "environment"])
        try r.sbatch(["-o", "%x-%a.out", "named.sbatch"], env: ["SBATCH_ARRAY_INX": "0-1"])
      },
      Case(
        name: "missing_output_directory",
        known: [
          Known(
            key: "state <A1>", orch: "COMPLETED None 0:0", slurm: "FAILED JobLaunchFailure 0:53",
            why: "slurmstepd cannot open an output file in a missing directory; orch's worker creates the directory"),
          Known(key: "file nowhere/<job id>.out", orch: "written\n", slurm: nil, why: "as state <A1>"),
        ]
      ) { r in
        try r.sbatch(["-o", "nowhere/%j.out", "--wrap", "echo written"])
      },
    ]
    if cpus >= 2 {
      cases.append(
        Case(name: "cpus_per_task") { r in
          try r.write("two.sbatch", "#!/bin/bash\n#SBATCH --cpus-per-task=2\n\(Self.dump)\n")
          try r.sbatch(["two.sbatch"])
        })
    }
    try compare(cases, slurm: slurm)
  }

  // MARK: - Tests/OperationsTests/Fixtures/sbatch, unchanged

  func testFixtureScriptsMatchRealSlurm() throws {
    let slurm = try RealSlurm.find()
    let cpus = Self.allowedCPUs().count
    func fixture(_ name: String) throws -> String {
      try String(contentsOfFile: Self.fixtures + "/" + name, encoding: .utf8)
    }
    func run(_ name: String, dirs: [String] = [], env: [String: String] = [:]) -> (SideRun) throws -> Void {
      { r in
        for d in dirs { try r.mkdir(d) }
        try r.write(name, try fixture(name))
        try r.sbatch([name], env: env)
      }
    }
    let parseError = "sbatch exits 255 (-1) when an option or directive does not parse, orch exits 1"
    let tooManyCPUs = "sbatch: error: Batch job submission failed: More processors requested than permitted\n"
    var cases: [Case] = [
      Case(name: "array_list_throttle", steps: run("array_list_throttle.sbatch", dirs: ["out", "err"])),
      Case(name: "array_steps", steps: run("array_steps.sbatch", dirs: ["logs"])),
      Case(name: "directives_after_command", steps: run("directives_after_command.sbatch")),
      Case(
        name: "export_list", known: [],
        variables: ["OMP_PROC_BIND", "DATA_DIR", "SLURM_JOB_NAME", "FOO", "SLURM_CUSTOM"],
        steps: run("export_list.sbatch", env: ["DATA_DIR": "/data", "FOO": "bar", "SLURM_CUSTOM": "x"])),
      Case(name: "export_none_requeue", steps: run("export_none_requeue.sbatch")),
      Case(name: "output_patterns", steps: run("output_patterns.sbatch", dirs: ["errs"])),
      Case(name: "multiple_per_line") { r in
        try r.mkdir("work/run1")
        try r.write("multiple_per_line.sbatch", try fixture("multiple_per_line.sbatch"))
        let (id, finish) = try r.sbatchInBackground(["multiple_per_line.sbatch"])
        r.record["held"] = try r.state("<A1>")
        r.record["release"] = "\(try r.tool("scontrol", ["release", "\(id)"]).code)"
        finish()
      },
      Case(
        name: "invalid_mail_user",
        known: [
          Known(key: "sbatch#1", orch: "exit 1: ", slurm: "exit 255: ", why: parseError),
          Known(
            key: "sbatch#1 stderr",
            orch: "invalid_mail_user.sbatch:3:27: sbatch: error: Invalid directive found in batch script: e-mail>\n",
            slurm: "sbatch: error: Invalid directive found in batch script: e-mail>\n",
            why: "orch names the directive's file:line:column"),
        ], steps: run("invalid_mail_user.sbatch")),
      Case(
        name: "invalid_time",
        known: [
          Known(key: "sbatch#1", orch: "exit 1: ", slurm: "exit 255: ", why: parseError),
          Known(
            key: "sbatch#1 stderr",
            orch:
              "invalid_time.sbatch:3:9: sbatch: error: Invalid --time specification: bad time 'forever': expected min, min:sec, h:m:s, d-h, d-h:m or d-h:m:s\n",
            slurm: "sbatch: error: Invalid --time specification\n",
            why: "orch names the directive's file:line:column and the accepted formats"),
        ], steps: run("invalid_time.sbatch")),
      Case(
        name: "unknown_option",
        known: [
          Known(key: "sbatch#1", orch: "exit 1: ", slurm: "exit 255: ", why: parseError),
          Known(
            key: "sbatch#1 stderr",
            orch:
              "unknown_option.sbatch:3:9: sbatch: unrecognized option '--partitions=debug'\nTry \"sbatch --help\" for more information\n",
            slurm: "sbatch: unrecognized option '--partitions=debug'\nTry \"sbatch --help\" for more information\n",
            why: "orch names the directive's file:line:column"),
        ], steps: run("unknown_option.sbatch")),
      Case(
        name: "unmatched_quote",
        known: [
          Known(
            key: "sbatch#1 stderr",
            orch: "unmatched_quote.sbatch:2:9: sbatch: error: Unmatched `\"` in [#SBATCH --job-name=\"unterminated]\n",
            slurm: "sbatch: fatal: unmatched_quote.sbatch: line 2: Unmatched `\"` in [--job-name=\"unterminated]\n",
            why: "orch names the directive's file:line:column")
        ], steps: run("unmatched_quote.sbatch")),
      Case(
        name: "value_spills_to_next_line",
        known: [
          Known(key: "sbatch#1", orch: "exit 1: ", slurm: "exit 255: ", why: parseError),
          Known(
            key: "sbatch#1 stderr",
            orch: "value_spills_to_next_line.sbatch:3:12: sbatch: error: Invalid directive found in batch script: 4\n",
            slurm: "sbatch: error: Invalid directive found in batch script: 4\n",
            why: "orch names the directive's file:line:column"),
        ], steps: run("value_spills_to_next_line.sbatch")),
      Case(
        name: "no_shebang",
        known: [
          Known(
            key: "sbatch#1 stderr",
            orch:
              "sbatch: error: This does not look like a batch script. The first line must start with #! followed by the path to an interpreter.\n",
            slurm:
              "sbatch: error: This does not look like a batch script.  The first\nsbatch: error: line must start with #! followed by the path to an interpreter.\nsbatch: error: For instance: #!/bin/sh\n",
            why: "orch's errors are one line")
        ], steps: run("no_shebang.sh")),
      Case(
        name: "gpu_cluster_options", only: ["sbatch#1", "sbatch#1 stderr"],
        known: [
          Known(
            key: "sbatch#1 stderr",
            orch: "sbatch: error: Batch job submission failed: Requested node configuration is not available\n",
            slurm: "sbatch: error: Invalid generic resource (gres) specification\n",
            why:
              "both refuse a GPU no node has (issue 17): orch in SLURM's words for a GRES its nodes lack; this SLURM has no GresTypes=gpu, so it calls the name invalid"
          )
        ],
        // orch's one partition named as the script's (issue 18: any other partition is refused).
        steps: run("gpu_cluster_options.sbatch", env: ["ORCH_PARTITION": "gpu"])),
    ]
    // -c 3 and -c 4: rejected where the node has fewer CPUs, run (and fail on a missing program) otherwise.
    for (name, needed) in [("mem_per_cpu.sbatch", 3), ("python_train.sbatch", 4), ("quotes_comments.sbatch", 3)] {
      let small = cpus < needed
      let known = Known(
        key: "sbatch#1 stderr",
        orch: "sbatch: error: Batch job submission failed: Requested node configuration is not available\n",
        slurm: tooManyCPUs,
        why: "SLURM's words for -c above the node's CPUs under EnforcePartLimits=ALL (without it the job pends forever)"
      )
      cases.append(
        Case(
          name: String(name.split(separator: ".")[0]), only: small ? ["sbatch#1", "sbatch#1 stderr"] : nil,
          known: small ? [known] : [], steps: run(name)))
    }
    try compare(cases, slurm: slurm)
  }

  // MARK: - Running and comparing

  static func allowedCPUs() -> [Int] {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else {
      return Array(0..<ProcessInfo.processInfo.activeProcessorCount)
    }
    let list = line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)
    return expand(list)
  }

  /// Runs every case on both sides, waits until neither has anything left to run, and compares.
  func compare(_ cases: [Case], slurm: RealSlurm, file: StaticString = #filePath, line: UInt = #line) throws {
    let c = try Cluster("SlurmDifferential\(cases.count)")
    try c.installShims()
    let cpus = Self.allowedCPUs()
    try c.startDaemon(cpus: cpus.map(String.init).joined(separator: ","))
    // orch numbers jobs from 1 per store; from 1000 on, like deploy/slurm-local's FirstJobId, no
    // job id looks like an array index once masked.
    let (burn, burnID) = try c.sbatch(["-H", "--parsable", "--array=0-998", "--wrap", "true"])
    XCTAssertEqual(burn.code, 0, burn.err)
    if let burnID { try c.run(["scancel", "\(burnID)"]) }

    let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    var runs: [(Case, orch: SideRun, slurm: SideRun)] = []
    var slurmSides: [SideRun] = []
    defer {
      // Leave nothing pending on the real cluster, whatever happened.
      for s in slurmSides where !s.ids.isEmpty { _ = try? s.tool("scancel", s.ids.map(String.init)) }
    }
    let started = Date()
    for k in cases {
      let s = SideRun(
        side: .slurm, dir: c.root.path + "/slurm/" + k.name, toolEnv: slurm.env.merging(["PATH": path]) { $1 },
        node: slurm.node)
      slurmSides.append(s)
      let o = SideRun(
        side: .orch, dir: c.root.path + "/orch/" + k.name,
        toolEnv: ["PATH": c.shimsDir + ":" + path, "ORCH_HOME": c.home], node: host)
      for r in [s, o] {
        try r.mkdir("")
        try k.steps(r)
      }
      runs.append((k, o, s))
    }
    for (k, o, s) in runs {
      for r in [s, o] { try r.waitUntil("case \(k.name) settles", timeout: 120) { try r.settled() } }
    }
    let elapsed = Date().timeIntervalSince(started)
    print("SlurmDifferentialTests: \(cases.count) cases on both sides in \(String(format: "%.1f", elapsed)) s")

    for (k, o, s) in runs {
      try o.collect()
      try s.collect()
      var orch = o.record
      var real = s.record
      if let keep = k.variables {
        for key in Set(orch.keys).union(real.keys) {
          guard let colon = key.range(of: ": ", options: .backwards), key.hasPrefix("file ") else { continue }
          if !keep.contains(String(key[colon.upperBound...])) {
            orch[key] = nil
            real[key] = nil
          }
        }
      }
      if let path = ProcessInfo.processInfo.environment["SLURM_DIFFERENTIAL_DUMP"] {
        if !FileManager.default.fileExists(atPath: path) {
          _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        if let h = FileHandle(forWritingAtPath: path) {
          h.seekToEndOfFile()
          h.write(Data(keysText(k.name, orch, real).utf8))
          h.closeFile()
        }
      }
      let keys = Set(orch.keys).union(real.keys).filter { k.only?.contains($0) ?? true }
      XCTAssertTrue(keys.contains("sbatch#1"), "\(k.name): nothing was submitted", file: file, line: line)
      for key in keys.sorted() {
        let known = (k.known + Self.environmentKnown).first {
          $0.key == key || ($0.key.hasPrefix(": ") && key.hasSuffix($0.key))
        }
        if let known {
          XCTAssertEqual(
            orch[key], known.orch, "\(k.name): orch's \(key) (known: \(known.why))", file: file, line: line)
          XCTAssertEqual(
            real[key], known.slurm, "\(k.name): SLURM's \(key) (known: \(known.why))", file: file, line: line)
        } else {
          XCTAssertEqual(
            orch[key], real[key], "\(k.name): \(key) differs (first: orch, second: SLURM)", file: file, line: line)
        }
      }
    }
  }

  /// Both records of a case, key by key (SLURM_DIFFERENTIAL_DUMP=FILE appends them there).
  func keysText(_ name: String, _ orch: [String: String], _ real: [String: String]) -> String {
    var text = "== \(name)\n"
    for key in Set(orch.keys).union(real.keys).sorted() {
      let o = orch[key].map { "\($0.debugDescription)" } ?? "absent"
      let s = real[key].map { "\($0.debugDescription)" } ?? "absent"
      text += o == s ? "  \(key) = \(o)\n" : "  \(key): orch \(o) | SLURM \(s)\n"
    }
    return text
  }
}
