import XCTest

@testable import Worker

final class JobEnvironmentTests: XCTestCase {
  /// One `Base` reused across jobs of different shapes gives what a fresh one gives, and every
  /// variable appears once, with the job's own value winning over the config's and the launch's.
  func testSharedBaseMatchesAFreshOneForEveryShape() {
    let launch = LaunchSpec(
      env: ["A": "1", "PATH": "/bin", "OMP_NUM_THREADS": "8", "SLURM_ARRAY_TASK_ID": "99", "SLURM_JOB_ID": "7"],
      cwd: "/tmp", submitHost: "h", cpusGiven: true, arrayTaskCount: 3, arrayTaskMax: 2)
    let base = JobEnvironment.Base(launch.env)
    let jobs: [(JobIdentity, [String: String])] = [
      (identity(id: 10, index: 0, isArray: true), [:]),
      (identity(id: 11, index: 1, isArray: true), ["A": "2"]),
      (identity(id: 12, index: nil, isArray: false), [:]),
      (identity(id: 13, index: 2, isArray: true), [:]),
      (identity(id: 14, index: nil, isArray: false), ["OMP_NUM_THREADS": "4", "B": "x=y"]),
    ]
    for (job, extra) in jobs {
      let shared = JobEnvironment.build(base: base, launch: launch, extra: extra, job: job, cpus: [0], host: "h")
      let fresh = JobEnvironment.build(launch: launch, extra: extra, job: job, cpus: [0], host: "h")
      XCTAssertEqual(shared.sorted(), fresh.sorted(), "job \(job.jobID)")
      let names = shared.map { String($0.prefix { $0 != "=" }) }
      XCTAssertEqual(names.count, Set(names).count, "each variable once")
      XCTAssertTrue(shared.contains("OMP_NUM_THREADS=1"))
      XCTAssertTrue(shared.contains("SLURM_JOB_ID=\(job.jobID)"))
      XCTAssertTrue(shared.contains("A=\(extra["A"] ?? "1")"))
    }
    XCTAssertTrue(
      JobEnvironment.build(base: base, launch: launch, extra: [:], job: jobs[2].0, cpus: [0], host: "h")
        .contains("SLURM_ARRAY_TASK_ID=99"), "a plain job keeps the launch's value")
  }

  func identity(id: Int64, index: Int?, isArray: Bool) -> JobIdentity {
    JobIdentity(
      jobID: id, arrayID: 10, arrayIndex: index, isArray: isArray, attempt: 1, name: "n", key: "k\(id)",
      runDir: "/tmp/r", home: "/tmp/h")
  }
}
