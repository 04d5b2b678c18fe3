import Foundation
import XCTest

/// `scontrol update job` on the fields the daemon reads — Dependency and JobName — driven through
/// the real binaries with a running daemon: what the store says after an update is what the daemon
/// does. Waits are on other jobs finishing, never on the clock: a job submitted after the update
/// and run to its end shows the daemon took the updated job into account.
final class ScontrolUpdateTests: XCTestCase {
  func testDaemonHonoursAnUpdatedDependency() throws {
    let c = try Cluster()
    try c.startDaemon()
    let target = try c.submit(["-H", "--wrap", "true"])
    // Runs at once unless its new dependency holds it back.
    let dependent = try c.submit(["--begin=now+1hour", "--wrap", "echo ran > dependent.txt"])
    let set = try c.run(["scontrol", "update", "job", "\(dependent)", "Dependency=afterok:\(target)"])
    XCTAssertEqual(set.code, 0, set.err)
    XCTAssertEqual(try c.run(["scontrol", "update", "job", "\(dependent)", "StartTime=now"]).code, 0)
    // A job queued after the update runs to its end: the daemon has had its turns.
    let witness = try c.submit(["--wrap", "true"])
    XCTAssertEqual(try c.waitFinished(witness), ["\(witness)": "COMPLETED 0:0"])
    XCTAssertEqual(
      try c.run(["squeue", "-h", "-j", "\(dependent)", "-o", "%t %r %E"]).out,
      "PD Dependency afterok:\(target)(unfulfilled)\n")
    XCTAssertEqual(c.read("dependent.txt"), "")
    // Met once the target completes.
    XCTAssertEqual(try c.run(["scontrol", "release", "\(target)"]).code, 0)
    XCTAssertEqual(try c.waitFinished(dependent), ["\(dependent)": "COMPLETED 0:0"])
    XCTAssertEqual(c.read("dependent.txt"), "ran\n")
  }

  func testRemovedDependencyMakesTheJobEligible() throws {
    let c = try Cluster()
    try c.startDaemon()
    let target = try c.submit(["-H", "--wrap", "true"])
    let dependent = try c.submit(["--dependency=afterok:\(target)", "--wrap", "true"])
    let cleared = try c.run(["scontrol", "update", "JobId=\(dependent)", "Dependency="])
    XCTAssertEqual(cleared.code, 0, cleared.err)
    XCTAssertEqual(try c.waitFinished(dependent), ["\(dependent)": "COMPLETED 0:0"])
    XCTAssertEqual(try c.run(["squeue", "-h", "-j", "\(target)", "-o", "%t %r"]).out, "PD JobHeldUser\n")
    XCTAssertEqual(try c.run(["scancel", "\(target)"]).code, 0)
  }

  func testRefusedDependencyUpdatesWriteNothing() throws {
    let c = try Cluster()
    try c.startDaemon()
    let a = try c.submit(["-H", "--wrap", "true"])
    let b = try c.submit(["-H", "--dependency=afterok:\(a)", "--wrap", "true"])
    let array = try c.submit(["-H", "--array=0-3", "--wrap", "true"])
    func update(_ id: String, _ value: String) throws -> String {
      let r = try c.run(["scontrol", "update", "job", id, value])
      return "\(r.code) \(r.err)"
    }
    func dependency(_ id: Int) throws -> String {
      try c.run(["squeue", "-h", "-j", "\(id)", "-o", "%E"]).out
    }
    // orch's sbatch refuses a dependency on a job it does not have; so does its update (SLURM
    // 22.05 takes both, and drops the term as met by a purged job).
    XCTAssertEqual(try update("\(b)", "Dependency=afterok:999999"), "1 Job dependency problem for job \(b)\n")
    XCTAssertEqual(try update("\(b)", "Dependency=afterok:\(a)_3"), "1 Job dependency problem for job \(b)\n")
    XCTAssertEqual(try update("\(b)", "Dependency=afterok:abc"), "1 Job dependency problem for job \(b)\n")
    XCTAssertEqual(try update("\(b)", "Dependency=afterok:\(b)"), "1 Job dependency problem for job \(b)\n")
    XCTAssertEqual(try update("\(a)", "Dependency=afterok:\(b)"), "1 Circular job dependency for job \(a)\n")
    // Held, the jobs' dependencies still show where they stand, as slurmctld shows them.
    XCTAssertEqual(try dependency(b), "afterok:\(a)(unfulfilled)\n")
    XCTAssertEqual(try dependency(a), "(null)\n")
    XCTAssertEqual(try update("\(array)", "Dependency=afterok:\(array)_1"), "1 \(array)_0-3: Job dependency problem\n")
    // SLURM splits the element off with its own dependency; orch keeps one per array and refuses.
    XCTAssertEqual(
      try update("\(array)_2", "Dependency=afterok:\(a)"),
      "1 \(array)_2: orch keeps this value once per array: update the whole array (\(array)), not some of its elements\n"
    )
    XCTAssertEqual(try dependency(array), "(null)\n")
    XCTAssertEqual(try update("\(array)", "Dependency=afterany:\(a)"), "0 ")
    XCTAssertEqual(
      try c.run(["squeue", "-h", "-r", "-j", "\(array)", "-o", "%i %E"]).out,
      (0...3).map { "\(array)_\($0) afterany:\(a)(unfulfilled)\n" }.joined())
    XCTAssertEqual(try update("\(b)", "Dependency=afterok:\(a)?afterok:\(array)"), "0 ")
    XCTAssertEqual(try dependency(b), "afterok:\(a)(unfulfilled)?afterok:\(array)_*(unfulfilled)\n")
    XCTAssertEqual(try c.run(["scancel", "\(a)", "\(b)", "\(array)"]).code, 0)
    XCTAssertEqual(try update("\(b)", "Dependency="), "1 Job has already finished for job \(b)\n")
  }

  func testRunningJobsKeepTheirDependencyAndTakeANewName() throws {
    let c = try Cluster()
    try c.startDaemon()
    let target = try c.submit(["-H", "--wrap", "true"])
    let running = try c.submit(["--wrap", "sleep 30"])
    try c.waitUntil("the job runs") {
      try c.run(["squeue", "-h", "-j", "\(running)", "-o", "%t"]).out == "R\n"
    }
    let r = try c.run(["scontrol", "update", "job", "\(running)", "Dependency=afterok:\(target)"])
    XCTAssertEqual("\(r.code) \(r.err)", "1 Job is no longer pending execution for job \(running)\n")
    let renamed = try c.run(["scontrol", "update", "job", "\(running)", "JobName=renamed"])
    XCTAssertEqual("\(renamed.code) \(renamed.err)", "0 ")
    XCTAssertEqual(try c.run(["squeue", "-h", "-j", "\(running)", "-o", "%j %t"]).out, "renamed R\n")
    XCTAssertEqual(try c.run(["scancel", "\(running)", "\(target)"]).code, 0)
  }

  func testUpdatedNameIsTheNameTheJobStartsWith() throws {
    let c = try Cluster()
    try c.startDaemon()
    let id = try c.submit(["-H", "-o", "%x_%a.out", "--array=0-1", "--wrap", "echo $SLURM_JOB_NAME"])
    let partial = try c.run(["scontrol", "update", "job", "\(id)_1", "Name=one"])
    XCTAssertEqual(partial.code, 1, partial.err)
    let whole = try c.run(["scontrol", "update", "job", "\(id)", "Name=sweep-b"])
    XCTAssertEqual("\(whole.code) \(whole.err)", "0 ")
    XCTAssertEqual(try c.run(["scontrol", "release", "\(id)"]).code, 0)
    try c.waitFinished(id)
    XCTAssertEqual(c.read("sweep-b_0.out") + c.read("sweep-b_1.out"), "sweep-b\nsweep-b\n")
  }

  func testUpdatedCPUsAndMemoryAreWhatTheJobRunsWith() throws {
    let c = try Cluster()
    try c.startDaemon(cpus: "0-1")
    let cpus = try c.submit(["-H", "--mem-per-cpu=10", "--wrap", "echo $(nproc) $SLURM_MEM_PER_CPU > cpus.txt"])
    let set = try c.run(["scontrol", "update", "job", "\(cpus)", "NumCPUs=2"])
    XCTAssertEqual("\(set.code) \(set.err)", "0 ")
    // --mem-per-cpu scales with the CPUs: 2 × 10M.
    XCTAssertTrue(
      try c.run(["scontrol", "show", "job", "\(cpus)"]).out.contains("TRES=cpu=2,mem=20M,node=1,billing=2"))
    XCTAssertEqual(try c.run(["scontrol", "release", "\(cpus)"]).code, 0)
    XCTAssertEqual(try c.waitFinished(cpus), ["\(cpus)": "COMPLETED 0:0"])
    XCTAssertEqual(c.read("cpus.txt"), "2 10\n")

    let big = "python3 -c \"import time; x = b'x' * (300 * 1024 * 1024); time.sleep(30)\""
    let memory = try c.submit(["-H", "--wrap", big])
    let limited = try c.run(["scontrol", "update", "job", "\(memory)", "MinMemoryNode=64"])
    XCTAssertEqual("\(limited.code) \(limited.err)", "0 ")
    XCTAssertEqual(try c.run(["scontrol", "release", "\(memory)"]).code, 0)
    XCTAssertEqual(try c.waitFinished(memory)["\(memory)"]?.split(separator: " ").first, "OUT_OF_MEMORY")
  }

  func testResourceUpdatesTheMachineCannotRunWriteNothing() throws {
    let c = try Cluster()
    try c.startDaemon()
    let id = try c.submit(["-H", "--mem=100M", "--array=0-1", "--wrap", "true"])
    func update(_ target: String, _ value: String) throws -> String {
      let r = try c.run(["scontrol", "update", "job", target, value])
      return "\(r.code) \(r.err)"
    }
    let cpus = ProcessInfo.processInfo.activeProcessorCount
    XCTAssertEqual(
      try update("\(id)", "NumCPUs=\(cpus + 1)"), "1 \(id)_0-1: Requested partition configuration not available now\n")
    XCTAssertEqual(
      try update("\(id)", "MinMemoryNode=99999999"),
      "1 \(id)_0-1: Requested partition configuration not available now\n")
    XCTAssertEqual(
      try update("\(id)_1", "MinMemoryNode=200"),
      "1 \(id)_1: orch keeps this value once per array: update the whole array (\(id)), not some of its elements\n")
    XCTAssertEqual(try update("\(id)", "NumCPUs=0"), "1 scontrol: error: Invalid NumCPUs value: 0\n")
    XCTAssertEqual(try update("\(id)", "MinMemoryNode=1G"), "1 scontrol: error: Invalid MinMemoryNode value: 1G\n")
    XCTAssertEqual(
      try c.run(["squeue", "-h", "-r", "-j", "\(id)", "-o", "%i %C %m"]).out, "\(id)_0 1 100M\n\(id)_1 1 100M\n")
    // One element's CPUs are its own: the claim reads them per job.
    XCTAssertEqual(try update("\(id)_1", "NumCPUs=2"), "0 ")
    XCTAssertEqual(
      try c.run(["squeue", "-h", "-r", "-j", "\(id)", "-o", "%i %C %m"]).out, "\(id)_0 1 100M\n\(id)_1 2 100M\n")
    XCTAssertEqual(try c.run(["scancel", "\(id)"]).code, 0)
  }
}
