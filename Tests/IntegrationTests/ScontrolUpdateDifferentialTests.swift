import Foundation
import XCTest

/// `scontrol update job` Dependency= and JobName=/Name= against a real SLURM, through the
/// harness of `SlurmFidelityDifferentialTests`: exit codes, messages and what `scontrol show job`
/// and `squeue` show afterwards. Skipped when no real SLURM answers.
extension SlurmFidelityDifferentialTests {
  func testScontrolUpdateFieldsMatchRealSlurm() throws {
    let slurm = try RealSlurm.find()
    let scenarios: [Scenario] = [
      Scenario(
        name: "update_dependency",
        known: [
          // SLURM 22.05 takes a dependency on a job it does not know and drops it as met (a job
          // purged, it assumes); orch refuses it as its sbatch --dependency does, writing nothing.
          Known(key: "unknown", orch: "1 Job dependency problem for job <A2>\n", slurm: "0 "),
          Known(key: "unknown Dependency", orch: "afterok:<A1>(unfulfilled)", slurm: "(null)"),
        ]
      ) { t in
        let target = try t.submit(["-H", "--wrap", "true"])
        let later = try t.submit(["--begin=now+1hour", "--wrap", "true"])
        for (n, value) in [
          "afterok:\(target)", "afterany:\(target)", "", "afterok:abc", "bogus:\(target)", "afterok:\(later)",
          "\(target)", "afterok:\(target)",
        ].enumerated() {
          let r = try t.tool("scontrol", ["update", "job", "\(later)", "Dependency=\(value)"])
          t.record["update \(n) \(t.mask(value))"] =
            "\(r.code) \(t.mask(r.err))|\(t.mask(try t.jobParameter(later, "Dependency")))"
        }
        let circular = try t.tool("scontrol", ["update", "job", "\(target)", "Dependency=afterok:\(later)"])
        t.record["circular"] = "\(circular.code) \(t.mask(circular.err))"
        t.record["circular Dependency"] = t.mask(try t.jobParameter(target, "Dependency"))
        let unknown = try t.tool("scontrol", ["update", "job", "\(later)", "Dependency=afterok:999999"])
        t.record["unknown"] = "\(unknown.code) \(t.mask(unknown.err))"
        t.record["unknown Dependency"] = t.mask(try t.jobParameter(later, "Dependency"))
        try t.cancel([target, later])
      },
      Scenario(
        name: "update_dependency_array",
        known: [
          // SLURM splits the element off its array with its own dependency; orch keeps one per array.
          Known(
            key: "element",
            orch:
              "1 <A2>_2: orch keeps this value once per array: update the whole array (<A2>), not some of its elements\n",
            slurm: "0 ")
        ]
      ) { t in
        let target = try t.submit(["-H", "--wrap", "true"])
        let array = try t.submit(["--begin=now+1hour", "--array=0-3", "--wrap", "true"])
        let whole = try t.tool("scontrol", ["update", "job", "\(array)", "Dependency=afterany:\(target)"])
        t.record["whole"] = "\(whole.code) \(t.mask(whole.err))"
        t.record["whole squeue"] = t.mask(try t.tool("squeue", ["-h", "-r", "-j", "\(array)", "-o", "%i %E"]).out)
        let own = try t.tool("scontrol", ["update", "job", "\(array)", "Dependency=afterok:\(array)_1"])
        t.record["own element"] = "\(own.code) \(t.mask(own.err))"
        let element = try t.tool("scontrol", ["update", "job", "\(array)_2", "Dependency=afterok:\(target)"])
        t.record["element"] = "\(element.code) \(t.mask(element.err))"
        let cleared = try t.tool("scontrol", ["update", "job", "\(array)", "Dependency="])
        t.record["cleared"] = "\(cleared.code) \(t.mask(cleared.err))"
        // Sorted: SLURM lists the element it split off last.
        t.record["cleared squeue"] = t.mask(
          try t.tool("squeue", ["-h", "-r", "-j", "\(array)", "-o", "%i %E"]).out.split(separator: "\n").sorted()
            .joined(separator: "\n"))
        try t.cancel([target, array])
      },
      Scenario(name: "update_running_and_finished") { t in
        let done = try t.submit(["--wrap", "true"])
        try t.waitForJobState(done, "COMPLETED")
        let running = try t.submit(["--wrap", "sleep 60"])
        try t.waitForJobState(running, "RUNNING")
        for (label, id, value) in [
          ("running Dependency", running, "Dependency=afterok:\(done)"),
          ("running Dependency=", running, "Dependency="),
          ("running StartTime", running, "StartTime=now+1hour"), ("running JobName", running, "JobName=renamed"),
          ("finished Dependency", done, "Dependency="), ("finished JobName", done, "JobName=x"),
          ("finished StartTime", done, "StartTime=now+1hour"), ("running NumCPUs", running, "NumCPUs=2"),
          ("running MinMemoryNode", running, "MinMemoryNode=100"), ("finished NumCPUs", done, "NumCPUs=2"),
          ("running Partition", running, "Partition=local"), ("running other Partition", running, "Partition=nope"),
          ("finished Partition", done, "Partition=local"),
        ] {
          let r = try t.tool("scontrol", ["update", "job", "\(id)", value])
          t.record[label] = "\(r.code) \(t.mask(r.err))"
        }
        t.record["running name"] = try t.jobParameter(running, "JobName")
        t.record["finished name"] = try t.jobParameter(done, "JobName")
        try t.cancel([running])
      },
      Scenario(
        name: "update_name",
        known: [
          // SLURM splits the element off its array with its own name; orch keeps one per array.
          Known(
            key: "element",
            orch:
              "1 <A2>_1: orch keeps this value once per array: update the whole array (<A2>), not some of its elements\n",
            slurm: "0 "),
          Known(key: "element names", orch: "whole whole whole", slurm: "element whole whole"),
        ]
      ) { t in
        let single = try t.submit(["-H", "--wrap", "true"])
        let array = try t.submit(["-H", "--array=0-2", "--wrap", "true"])
        for (n, args) in [["JobName=first"], ["Name=second"], ["JobName=a b"], ["JobName="], ["Name=last"]].enumerated()
        {
          let r = try t.tool("scontrol", ["update", "job", "\(single)"] + args)
          t.record["single \(n) \(args[0])"] =
            "\(r.code) \(t.mask(r.err))|\(try t.tool("squeue", ["-h", "-j", "\(single)", "-o", "%j"]).out)"
        }
        let whole = try t.tool("scontrol", ["update", "job", "\(array)", "JobName=whole"])
        t.record["whole"] = "\(whole.code) \(t.mask(whole.err))"
        let element = try t.tool("scontrol", ["update", "job", "\(array)_1", "JobName=element"])
        t.record["element"] = "\(element.code) \(t.mask(element.err))"
        t.record["element names"] = try t.tool("squeue", ["-h", "-r", "-j", "\(array)", "-o", "%j"]).out
          .split(separator: "\n").joined(separator: " ")
        try t.cancel([single, array])
      },
      Scenario(name: "update_partition") { t in
        let id = try t.submit(["-H", "--wrap", "true"])
        for value in ["local", "nope", "", "local,nope", "LOCAL"] {
          let r = try t.tool("scontrol", ["update", "job", "\(id)", "Partition=\(value)"])
          t.record["Partition=\(value)"] = "\(r.code) \(t.mask(r.err))|\(try t.jobParameter(id, "Partition"))"
        }
        try t.cancel([id])
      },
      Scenario(
        name: "update_resources",
        known: [
          // SLURM refuses a CPU count its node lacks yet keeps it (the job can never start); orch
          // writes nothing, as its sbatch refuses such a request.
          Known(
            key: "update 11 NumCPUs=64",
            orch: "1 Requested partition configuration not available now for job <A1>\n|NumCPUs=1 MinMemoryNode=0|1 0",
            slurm:
              "1 Requested partition configuration not available now for job <A1>\n|NumCPUs=64 MinMemoryNode=100000000M|64 100000000"
          ),
          // Memory is not a consumable of deploy/slurm-local's SLURM; orch counts it and refuses
          // what the machine can never give, as its sbatch --mem does.
          // (SLURM stores 99999999M as 100000000M.)
          Known(
            key: "update 10 MinMemoryNode=99999999",
            orch: "1 Requested partition configuration not available now for job <A1>\n|NumCPUs=1 MinMemoryNode=0|1 0",
            slurm: "0 |NumCPUs=1 MinMemoryNode=100000000M|1 100000000"),
        ]
      ) { t in
        let id = try t.submit(["-H", "--wrap", "true"])
        for (n, value) in [
          "NumCPUs=2", "NumCPUs=0", "NumCPUs=abc", "NumCPUs=-1", "MinMemoryNode=100", "MinMemoryNode=1G",
          "MinMemoryNode=abc", "MinMemoryCPU=50", "MinMemoryNode=0", "NumCPUs=1", "MinMemoryNode=99999999",
          "NumCPUs=64",
        ].enumerated() {
          let r = try t.tool("scontrol", ["update", "job", "\(id)", value])
          let job = try t.job(id) ?? [:]
          let memory =
            job["MinMemoryCPU"].map { "MinMemoryCPU=\($0)" } ?? "MinMemoryNode=\(job["MinMemoryNode"] ?? "?")"
          let squeue = try t.tool("squeue", ["-h", "-j", "\(id)", "-o", "%C %m"]).out
          t.record["update \(n) \(value)"] =
            "\(r.code) \(t.mask(r.err))|NumCPUs=\(job["NumCPUs"] ?? "?") \(memory)|\(squeue.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
        try t.cancel([id])
      },
    ]
    try compare(scenarios, slurm: slurm)
  }
}
