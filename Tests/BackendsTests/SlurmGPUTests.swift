import Foundation
import GRDB
import OrchCore
import XCTest

@testable import Backends
@testable import Store
@testable import Worker

/// GPUs through the SLURM backend: requests go to sbatch as `--gres`, and `orch collect` reads the
/// devices SLURM allocated from `scontrol -d show job`.
final class SlurmGPUTests: XCTestCase {
  var dir: String!

  override func setUpWithError() throws {
    dir = NSTemporaryDirectory() + "orch-slurmgpu-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    chmod(dir, 0o700)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

  func testGPUJobsGoToSbatchWithGresInTheirOwnArray() throws {
    let sbatch = dir + "/sbatch"
    try "#!/bin/sh\nn=$(cat \(dir!)/n 2>/dev/null || echo 100)\necho $((n + 1)) > \(dir!)/n\necho \"$n;cluster\"\n"
      .write(toFile: sbatch, atomically: true, encoding: .utf8)
    chmod(sbatch, 0o755)
    let home = try OrchHome(path: dir + "/home")
    let store = try home.openStore()
    let gpus = [0, 2, 2]
    let first = try store.submit(now: 1) { tx in
      let jobs = (0..<3).map {
        NewJob(
          arrayIndex: $0, key: "k\($0)", configHash: "h\($0)", config: #"{"bindings":{},"command":["/bin/true"]}"#,
          resources: JobResources(gpus: gpus[$0], gpuType: gpus[$0] > 0 ? "a100" : nil))
      }
      let id = try tx.insert(
        array: NewArray(sweep: "s", name: "s", source: "x", isArray: true, launch: "{}", outputRoot: dir + "/runs"),
        jobs: jobs, dependencies: [])
      try tx.assignToSlurm(jobIDs: (0..<3).map { id + $0 })
      return id
    }
    let jobs = try store.slurmJobs(ids: (0..<3).map { first + $0 })
    XCTAssertEqual(jobs.map(\.gpus), gpus)
    let submitter = SlurmSubmitter(
      store: store, home: home, commands: SlurmCommands(sbatch: sbatch, scontrol: "/bin/false", scancel: "/bin/false"),
      maxArraySize: 100, workerBinary: "/opt/orch-worker", cwd: dir)
    let arrays = try submitter.submit(jobs: jobs, options: SlurmOptions(), sources: [:], label: "g")
    XCTAssertEqual(arrays.map(\.jobs.count), [1, 2])
    let cpuOnly = try String(contentsOfFile: home.path + "/slurm/g/array-0.sbatch", encoding: .utf8)
    XCTAssertFalse(cpuOnly.contains("--gres"), cpuOnly)
    let withGPUs = try String(contentsOfFile: home.path + "/slurm/g/array-1.sbatch", encoding: .utf8)
    XCTAssertTrue(withGPUs.contains("#SBATCH --gres=gpu:a100:2\n"), withGPUs)
  }

  func testCollectReadsTheAllocatedGPUs() throws {
    let record = SlurmRecord(
      line:
        "JobId=1001 ArrayJobId=1000 ArrayTaskId=1 JobState=RUNNING Reason=None ExitCode=0:0 StartTime=2026-11-22T22:59:42 TresPerNode=gres:gpu:2 JOB_GRES=gpu:2 Nodes=n1 CPU_IDs=0-1 Mem=0 GRES=gpu:2(IDX:1,3)"
    )
    XCTAssertEqual(record.observation?.gpus, [1, 3])
    XCTAssertEqual(SlurmRecord.gpuIndices("gpu:a100:4(IDX:0-3)"), [0, 1, 2, 3])
    XCTAssertNil(SlurmRecord.gpuIndices("gpu:2"))
    XCTAssertNil(SlurmRecord.gpuIndices("gpu:1(IDX:0-99999999)"))
    XCTAssertNil(SlurmRecord(line: "JobId=1 JobState=RUNNING").observation?.gpus)

    let home = try OrchHome(path: dir + "/home")
    let store = try home.openStore()
    let id = try store.submit(now: 1) { tx in
      let id = try tx.insert(
        array: NewArray(sweep: "s", name: "s", source: "x", isArray: true, launch: "{}", outputRoot: dir + "/runs"),
        jobs: [
          NewJob(
            arrayIndex: 0, key: "k", configHash: "h", config: "{}", resources: JobResources(gpus: 2))
        ], dependencies: [])
      try tx.assignToSlurm(jobIDs: [id])
      return id
    }
    try store.write("test") { db in
      try db.execute(sql: "UPDATE jobs SET slurm_id = '1000_1', ready = 1, attempt = 1 WHERE id = ?", arguments: [id])
    }
    let job = try XCTUnwrap(store.slurmJobs(ids: [id]).first)
    let collector = SlurmCollector(
      store: store, commands: SlurmCommands(sbatch: "/bin/false", scontrol: "/bin/false", scancel: "/bin/false"))
    _ = try collector.record([(job, try XCTUnwrap(record.observation))])
    XCTAssertEqual(try store.attempts(jobID: id).map(\.gpus), ["1,3"])
  }
}
