import Foundation
import XCTest

/// Issue 13 items 2, 6, 7 and 14 against the real SLURM (22.05, deploy/slurm-local): which
/// dependency elements, delays, memory products and CPU counts each side accepts, and in which
/// words it refuses them. Where orch refuses what SLURM takes, the case says so and why.
extension SlurmDifferentialTests {
  func testLimitsMatchRealSlurm() throws {
    let slurm = try RealSlurm.find()
    let submissions = (1...8).flatMap { ["sbatch#\($0)", "sbatch#\($0) stderr"] }
    let dependencyProblem = "sbatch: error: Batch job submission failed: Job dependency problem\n"
    let cases = [
      Case(
        name: "dependency_limits", only: Set(submissions),
        known: [
          Known(
            key: "sbatch#5 stderr",
            orch:
              "sbatch: error: Invalid --dependency specification: --dependency 'after:<A1>+2147483648' has delay '+2147483648' minutes; at most 2147483647 (SLURM's limit)\n",
            slurm: dependencyProblem, why: "both refuse a delay above a C int; orch says which value and why"),
          Known(
            key: "sbatch#6 stderr",
            orch:
              "sbatch: error: Invalid --dependency specification: --dependency 'after:<A1>+999999999999999999' has delay '+999999999999999999' minutes; at most 2147483647 (SLURM's limit)\n",
            slurm: dependencyProblem, why: "as sbatch#5 stderr"),
          Known(
            key: "sbatch#8", orch: "exit 1: ", slurm: "exit 0: Submitted batch job <A5>\n",
            why:
              "SLURM 22.05 takes afterok:A_99 on a 4-element array and lifts the term at once (the element is 'gone'); orch refuses an element that does not exist"
          ),
          Known(key: "sbatch#8 stderr", orch: dependencyProblem, slurm: "", why: "as sbatch#8"),
        ]
      ) { r in
        try r.write("ok.sbatch", "#!/bin/bash\ntrue\n")
        let a = try XCTUnwrap(r.sbatch(["-H", "--array=0-3", "ok.sbatch"]))
        // A range past MaxArraySize (SLURM) and past the array (orch); one the array has.
        try r.sbatch(["-H", "-d", "afterok:\(a)_[0-3999999]", "ok.sbatch"])
        try r.sbatch(["-H", "-d", "afterok:\(a)_[0-3]", "ok.sbatch"])
        // SLURM's largest delay, and two above it.
        try r.sbatch(["-H", "-d", "after:\(a)+2147483647", "ok.sbatch"])
        try r.sbatch(["-H", "-d", "after:\(a)+2147483648", "ok.sbatch"])
        try r.sbatch(["-H", "-d", "after:\(a)+999999999999999999", "ok.sbatch"])
        try r.sbatch(["-H", "-d", "afterok:\(a)_[0-2:2]?afterok:\(a)_3", "ok.sbatch"])
        // Last, so the ids both sides print before it get the same labels: an element the array
        // does not have.
        try r.sbatch(["-H", "-d", "afterok:\(a)_99", "ok.sbatch"])
        r.record["scancel"] = "\(try r.tool("scancel", r.ids.map(String.init)).code)"
      },
      Case(
        name: "memory_and_cpus", only: Set(submissions + ["file w-0000000003-0000000003-<job id>.out"]),
        known: [
          Known(
            key: "sbatch#2", orch: "exit 1: ", slurm: "exit 0: Submitted batch job <A2>\n",
            why:
              "orch admits memory as a consumable resource (CR_Core_Memory, issue 17) and refuses --mem past what the machine has for jobs; this SLURM is CR_CPU, where memory is not counted"
          ),
          Known(
            key: "sbatch#2 stderr",
            orch: "sbatch: error: Batch job submission failed: Requested node configuration is not available\n",
            slurm: "", why: "as sbatch#2"),
          Known(
            key: "sbatch#3 stderr",
            orch: "sbatch: error: Batch job submission failed: Requested node configuration is not available\n",
            slurm: "sbatch: error: Batch job submission failed: More processors requested than permitted\n",
            why:
              "SLURM's words for -c above the node's CPUs under EnforcePartLimits=ALL (without it the job pends forever)"
          ),
          Known(
            key: "sbatch#4", orch: "exit 1: ", slurm: "exit 0: Submitted batch job <A3>\n",
            why:
              "--mem-per-cpu=8000000T × 2 CPUs is past 2^63 bytes: SLURM (memory not a consumable here) takes it, orch refuses what it cannot count"
          ),
          Known(
            key: "sbatch#4 stderr",
            orch:
              "sbatch: error: Invalid --mem-per-cpu specification: 8388608000000M per CPU × 2 CPUs is over 8796093022207M, the most memory orch can count\n",
            slurm: "", why: "as sbatch#4"),
        ]
      ) { r in
        try r.write("ok.sbatch", "#!/bin/bash\ntrue\n")
        // A pattern width pads to at most 10 digits.
        let a = try XCTUnwrap(r.sbatch(["--array=3", "-o", "w-%20a-%099999999999a-%j.out", "ok.sbatch"]))
        try r.sbatch(["-H", "--mem-per-cpu=8000000T", "ok.sbatch"])
        try r.sbatch(["-H", "-c", "1000", "ok.sbatch"])
        // Last, as in dependency_limits.
        try r.sbatch(["-H", "-c", "2", "--mem-per-cpu=8000000T", "ok.sbatch"])
        r.record["scancel"] = "\(try r.tool("scancel", r.ids.filter { $0 != a }.map(String.init)).code)"
      },
    ]
    try compare(cases, slurm: slurm)
  }
}
