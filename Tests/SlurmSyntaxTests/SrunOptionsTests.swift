import TestSupport
import XCTest

@testable import OrchCore
@testable import SlurmSyntax

final class SrunOptionsTests: XCTestCase {
  func parse(_ args: [String]) throws -> SlurmArguments {
    try SlurmGetopt.parse(args + ["hostname"], tool: "srun", flags: SrunOptions.flags, stopAtOperand: true)
  }

  func refusal(_ args: [String], step: (job: String, node: String, cpus: Int)? = ("7", "n1", 2)) throws
    -> SrunOptions.Refusal?
  {
    do {
      _ = try SrunOptions.check(parse(args), step: step)
      return nil
    } catch let refusal as SrunOptions.Refusal {
      return refusal
    }
  }

  func testSingleNodeChoicesAreAccepted() throws {
    for args in [
      ["--cpu-bind=verbose,cores"], ["--cpu-bind=MAP_CPU:0,1"], ["--mpi=pmix"], ["-l", "-u", "-K", "-K1"],
      ["--kill-on-bad-exit=1"], ["-n1", "-N1", "--exclusive", "--overlap"], ["-m", "block:cyclic,pack"],
      ["--distribution=plane=4"], ["--hint=nomultithread,compute_bound"], ["--threads-per-core=1", "--wait=0"],
      ["--accel-bind=gv"], ["--propagate"], ["--propagate=STACK,NOCORE"], ["-w", "n1"], ["-x", "n2"], ["-c", "2"],
      ["-M", "orch"], ["--slurmd-debug=error", "--quit-on-interrupt"],
    ] {
      XCTAssertNil(try refusal(args), "\(args)")
    }
  }

  func testRefusalsInSlurmWords() throws {
    XCTAssertEqual(
      try refusal(["--cpu-bind=bogus"])?.lines,
      ["srun: error: unrecognized --cpu-bind argument \"bogus\"", "srun: fatal: Failed to parse --cpu-bind= values."])
    XCTAssertEqual(
      try refusal(["--mpi=openmp"])?.lines,
      ["srun: error: Invalid MPI type 'openmp', --mpi=list for acceptable types"])
    XCTAssertEqual(
      try refusal(["-m", "diagonal"]), .init(lines: ["srun: error: Invalid --distribution specification"], status: 255))
    XCTAssertEqual(try refusal(["-m", "plane=0"])?.status, 255)
    XCTAssertEqual(
      try refusal(["--threads-per-core=x"])?.lines, ["srun: error: Invalid numeric value \"x\" for --threads-per-core."]
    )
    XCTAssertEqual(
      try refusal(["--exclude=n[0-3]"])?.lines,
      ["srun: error: Hostlist is empty!  Can't run job."])
    XCTAssertNotNil(try refusal(["--cpu-bind=map_cpu:0,x"]))
    XCTAssertEqual(
      try refusal(["-c", "3"])?.lines,
      ["srun: error: Unable to create step for job 7: More processors requested than permitted"])
    XCTAssertEqual(
      try refusal(["--pty"])?.lines, ["srun: error: --pty is not supported: orch's steps have no pseudo-terminal"])
    XCTAssertNotNil(try refusal(["-M", "other"]))
    // Outside a job the node lists and the CPU count are sbatch's to check.
    XCTAssertNil(try refusal(["--exclude=n1", "-c", "64"], step: nil))
  }

  func testWarningsInsideAJob() throws {
    let check = try SrunOptions.check(parse(["--begin=now", "-w", "n1,n2"]), step: ("7", "n1", 1))
    XCTAssertEqual(
      check.warnings,
      [
        "srun: error: --begin is ignored because nodes are already allocated.",
        "srun: error: Required nodelist includes more nodes than permitted by max-node count (2 > 1). Eliminating nodes from the nodelist.",
      ])
    XCTAssertEqual(try SrunOptions.check(parse(["--begin=now"]), step: nil).warnings, [])
  }
}
