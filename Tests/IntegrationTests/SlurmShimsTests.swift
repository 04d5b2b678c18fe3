import Foundation
import XCTest

/// `--backend slurm` with orch's own shims (`orch shims DIR`) earlier on PATH than SLURM: the
/// shims are skipped (links to orch, or copies of it), the sbatch used is named, and `--slurm-bin` /
/// `ORCH_SLURM_BIN` name SLURM's directory outright.
final class SlurmShimsTests: XCTestCase {
  static let sweep = """
    register:
      - key: "hello/{i}"
        command: [/bin/sh, -c, "echo hello {i}"]
        axes: {i: range(0, 2)}
    """

  /// A stand-in SLURM that records what it is asked: `scontrol show config` and `sbatch --parsable`.
  private func fakeSlurm(_ c: Cluster) throws -> (dir: String, log: String) {
    let dir = c.root.appendingPathComponent("fake-slurm").path
    let log = c.root.appendingPathComponent("fake-slurm.log").path
    try c.write("fake-slurm/sbatch", "#!/bin/sh\necho \"sbatch $*\" >> \(log)\necho 4242\n")
    try c.write("fake-slurm/scontrol", "#!/bin/sh\necho \"scontrol $*\" >> \(log)\necho 'MaxArraySize = 1001'\n")
    try c.write("fake-slurm/scancel", "#!/bin/sh\necho \"scancel $*\" >> \(log)\n")
    for n in ["sbatch", "scontrol", "scancel"] { chmod(dir + "/" + n, 0o755) }
    return (dir, log)
  }

  func testShimsAndCopiesOfOrchEarlierOnPathAreSkipped() throws {
    let c = try Cluster()
    try c.write("sweeps/p1.yaml", Self.sweep)
    let shims = c.root.appendingPathComponent("shims").path
    XCTAssertEqual(try c.run(["shims", shims]).code, 0)
    // A copy of the binary (another inode: recognised by its content) with links to the copy.
    let copies = c.root.appendingPathComponent("copies").path
    try FileManager.default.createDirectory(atPath: copies, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: Cluster.binDir + "/orch", toPath: copies + "/sbatch")
    XCTAssertEqual(symlink(copies + "/sbatch", copies + "/scontrol"), 0)
    XCTAssertEqual(symlink("sbatch", copies + "/scancel"), 0)
    let fake = try fakeSlurm(c)
    let path = "\(shims):\(copies):\(fake.dir):/usr/bin:/bin"

    let r = try c.run(["submit", "sweeps/p1.yaml", "--backend", "slurm", "--output-root", c.runs], env: ["PATH": path])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertTrue(
      r.out.contains(
        "through SLURM's \(fake.dir)/sbatch (skipped orch's own \(shims)/sbatch, \(copies)/sbatch, \(shims)/scontrol, "
          + "\(copies)/scontrol, \(shims)/scancel, \(copies)/scancel)\n"), r.out)
    XCTAssertTrue(r.out.contains("SLURM job 4242: 2 element(s)"), r.out)
    let log = c.read("fake-slurm.log")
    XCTAssertTrue(log.hasPrefix("scontrol show config\nsbatch --parsable "), log)

    // --json names it too.
    try c.write("sweeps/p2.yaml", Self.sweep.replacingOccurrences(of: "hello", with: "again"))
    let j = try c.run(["submit", "sweeps/p2.yaml", "--backend", "slurm", "--json"], env: ["PATH": path])
    XCTAssertEqual(j.code, 0, j.err)
    let json = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as! [String: Any]
    XCTAssertEqual(json["sbatch"] as? String, fake.dir + "/sbatch")
    XCTAssertEqual((json["skipped"] as? [String])?.count, 6)
    XCTAssertEqual((json["arrays"] as? [[String: Any]])?.first?["slurmJobID"] as? Int, 4242, j.out)
  }

  func testSlurmBinAndOrchSlurmBinNameTheDirectory() throws {
    let c = try Cluster()
    try c.write("sweeps/p1.yaml", Self.sweep)
    let shims = c.root.appendingPathComponent("shims").path
    XCTAssertEqual(try c.run(["shims", shims]).code, 0)
    let fake = try fakeSlurm(c)

    // Only orch's shims on PATH: one line saying so and how to name SLURM; nothing written.
    let only = try c.run(["submit", "sweeps/p1.yaml", "--backend", "slurm"], env: ["PATH": shims])
    XCTAssertEqual(only.code, 1, only.err)
    XCTAssertEqual(
      only.err,
      "orch: the SLURM backend needs SLURM's `sbatch`, but PATH has only orch's own (\(shims)/sbatch); "
        + "name SLURM's directory with --slurm-bin DIR or ORCH_SLURM_BIN=DIR\n")
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.db"))

    // --slurm-bin pointing at the shims is refused, not skipped.
    let refused = try c.run(["submit", "sweeps/p1.yaml", "--backend", "slurm", "--slurm-bin", shims])
    XCTAssertEqual(refused.code, 1, refused.err)
    XCTAssertEqual(refused.err, "orch: \(shims)/sbatch (--slurm-bin) is orch itself, not SLURM's `sbatch`\n")
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.db"))
    // Without --backend slurm it is bad input.
    XCTAssertEqual(try c.run(["submit", "sweeps/p1.yaml", "--slurm-bin", fake.dir]).code, 2)

    let flag = try c.run(
      ["submit", "sweeps/p1.yaml", "--backend", "slurm", "--slurm-bin", fake.dir], env: ["PATH": shims])
    XCTAssertEqual(flag.code, 0, flag.err)
    XCTAssertTrue(flag.out.contains("through SLURM's \(fake.dir)/sbatch\n"), flag.out)

    try c.write("sweeps/p2.yaml", Self.sweep.replacingOccurrences(of: "hello", with: "again"))
    let env = try c.run(
      ["submit", "sweeps/p2.yaml", "--backend", "slurm"], env: ["PATH": shims, "ORCH_SLURM_BIN": fake.dir])
    XCTAssertEqual(env.code, 0, env.err)
    XCTAssertTrue(env.out.contains("through SLURM's \(fake.dir)/sbatch\n"), env.out)
    XCTAssertEqual(c.read("fake-slurm.log").components(separatedBy: "sbatch --parsable").count, 3)
  }

  /// The full path on a real SLURM: shims first on PATH, the sweep reaches SLURM's sbatch and runs.
  func testShimsFirstOnPathTheSweepRunsOnTheRealSlurm() throws {
    let slurm = try RealSlurm.find()
    let c = try Cluster()
    try c.write("sweeps/p1.yaml", Self.sweep)
    let shims = c.root.appendingPathComponent("shims").path
    XCTAssertEqual(try c.run(["shims", shims]).code, 0)
    var env = slurm.env
    env["PATH"] = shims + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    let r = try c.run(
      ["submit", "sweeps/p1.yaml", "--backend", "slurm", "--output-root", c.runs, "--time", "1:00", "--wait"], env: env)
    XCTAssertEqual(r.code, 0, r.out + r.err)
    XCTAssertTrue(r.out.contains("through SLURM's /usr/bin/sbatch (skipped orch's own \(shims)/sbatch"), r.out)
    XCTAssertTrue(r.out.contains("2 completed, 0 not completed"), r.out)
    let states = try c.states(sweep: "p1")
    XCTAssertEqual(states.count, 2)
    XCTAssertEqual(Set(states.values), ["COMPLETED"], "\(states)")
    XCTAssertTrue(c.read("runs/hello/1/log.txt").contains("hello 1\n"), c.read("runs/hello/1/log.txt"))
  }
}
