import Foundation
import XCTest

/// `-M/--clusters` of the SLURM clients: orch is one cluster, named `orch`. Workflow tools pass the
/// option even with one cluster (Snakemake's status query is `sacct --clusters all ...`, its
/// submission `sbatch --cluster NAME`). deploy/slurm-local has no accounting database, without
/// which real SLURM answers any -M with "Problem talking to database", so the expected texts are
/// SLURM's own (sbatch.c's reply, proc_args.c's `print_db_notok`, squeue's `_multi_cluster`).
final class SlurmClustersTests: XCTestCase {
  func testClustersNamingOrchSelectItAndOtherNamesAreRefused() throws {
    let c = try Cluster()
    let parsable = try c.run(["sbatch", "--parsable", "-H", "-J", "mc", "-M", "orch", "--wrap", "true"])
    XCTAssertEqual(parsable.code, 0, parsable.err)
    let first = try XCTUnwrap(Int(parsable.out.split(separator: ";").first ?? ""), parsable.out)
    XCTAssertEqual(parsable.out, "\(first);orch\n")
    let plain = try c.run(["sbatch", "-H", "-J", "mc", "--cluster", "ORCH,all", "--wrap", "true"])
    XCTAssertEqual(plain.code, 0, plain.err)
    let second = first + 1
    XCTAssertEqual(plain.out, "Submitted batch job \(second) on cluster orch\n")

    let refusal =
      "'other' can't be reached now, or it is an invalid entry for --cluster.  Use 'sacctmgr list clusters' to see available clusters.\n"
    let other = try c.run(["sbatch", "-H", "--clusters=other", "--wrap", "true"])
    XCTAssertEqual(other.code, 1)
    XCTAssertEqual(other.err, "sbatch: error: " + refusal)

    let squeue = try c.run(["squeue", "-M", "orch", "-h", "-o", "%i %t"])
    XCTAssertEqual(squeue.code, 0, squeue.err)
    XCTAssertEqual(squeue.out, "CLUSTER: orch\n\(first) PD\n\(second) PD\n", "the refused submission left no job")
    XCTAssertEqual(
      try c.run(["squeue", "-M", "elsewhere"]).err,
      "squeue: error: 'elsewhere' can't be reached now, or it is an invalid entry for --cluster.  Use 'sacctmgr list clusters' to see available clusters.\n"
    )

    let sinfo = try c.run(["sinfo", "-M", "all", "-h", "-o", "%P"])
    XCTAssertEqual(sinfo.out, "CLUSTER: orch\nlocal*\n", sinfo.err)

    let sacct = try c.run([
      "sacct", "-X", "--parsable2", "--clusters", "all", "--noheader", "--format=JobIdRaw,State", "--name", "mc",
    ])
    XCTAssertEqual(sacct.code, 0, sacct.err)
    XCTAssertEqual(sacct.out, "\(first)|PENDING\n\(second)|PENDING\n")

    let show = try c.run(["scontrol", "-M", "orch", "show", "job", "\(first)"])
    XCTAssertEqual(show.code, 0, show.err)
    XCTAssertTrue(show.out.hasPrefix("JobId=\(first) "), show.out)

    let kept = try c.run(["scancel", "--clusters=other", "\(first)"])
    XCTAssertEqual(kept.code, 1)
    XCTAssertEqual(kept.err, "scancel: error: " + refusal)
    XCTAssertEqual(try c.run(["scancel", "--clusters=all", "\(first)"]).code, 0)
    XCTAssertEqual(try c.run(["squeue", "-h", "-t", "all", "-o", "%i %t"]).out, "\(second) PD\n\(first) CA\n")
  }
}
