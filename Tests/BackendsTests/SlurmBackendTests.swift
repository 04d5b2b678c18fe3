import Foundation
import XCTest

@testable import Backends
@testable import OrchCore
@testable import Store
@testable import Worker

/// What the SLURM backend reads from SLURM (records of `scontrol show job -o` and of the job
/// completion log) and what it writes for it (sbatch scripts).
final class SlurmBackendTests: XCTestCase {
  func testScontrolRecordsBecomeObservations() throws {
    let pending = SlurmRecord(
      line:
        "JobId=1000 ArrayJobId=1000 ArrayTaskId=2-3%1 ArrayTaskThrottle=1 JobName=wrap JobState=PENDING Reason=JobArrayTaskLimit Dependency=(null) ExitCode=0:0 StartTime=Unknown EndTime=Unknown"
    )
    XCTAssertEqual(pending.elements?.array, "1000")
    XCTAssertEqual(pending.elements?.indices, [2, 3])
    XCTAssertEqual(pending.observation, SlurmObservation(state: .pending, reason: "JobArrayTaskLimit"))

    let failed = SlurmRecord(
      line:
        "JobId=1003 ArrayJobId=1000 ArrayTaskId=2 JobState=FAILED Reason=NonZeroExitCode ExitCode=1:0 StartTime=2026-11-22T22:59:42 EndTime=2026-11-22T22:59:43 WorkDir=/tmp/a b"
    )
    XCTAssertEqual(failed.elements?.indices, [2])
    let o = try XCTUnwrap(failed.observation)
    XCTAssertEqual(o.state, .failed)
    XCTAssertEqual(o.exitCode, 1)
    XCTAssertNil(o.signal)
    XCTAssertEqual(o.reason, "NonZeroExitCode")
    XCTAssertEqual((o.endTime ?? 0) - (o.startTime ?? 0), 1)
    XCTAssertEqual(failed["WorkDir"], "/tmp/a b")

    let cancelled = SlurmRecord(line: "JobId=7 ArrayJobId=5 ArrayTaskId=1 JobState=CANCELLED by 0 ExitCode=0:15")
    XCTAssertEqual(cancelled.observation?.state, .cancelled)
    XCTAssertEqual(cancelled.observation?.signal, 15)
  }

  func testJobCompletionLogLinesHaveNoReasonButAnExitCode() throws {
    let line =
      "JobId=1013 UserId=root(0) GroupId=root(0) Name=x JobState=FAILED Partition=local TimeLimit=45 StartTime=2026-11-22T22:59:46 EndTime=2026-11-22T22:59:46 NodeList=localhost ArrayJobId=1004 ArrayTaskId=17 DerivedExitCode=0:0 ExitCode=3:0 "
    let record = SlurmRecord(line: Substring(line))
    XCTAssertEqual(record.elements?.array, "1004")
    XCTAssertEqual(record.elements?.indices, [17])
    XCTAssertEqual(record.observation?.state, .failed)
    XCTAssertEqual(record.observation?.exitCode, 3)
    XCTAssertEqual(record.observation?.reason, "NonZeroExitCode")
  }

  func testEveryStateMapsToOrchsVocabulary() {
    XCTAssertEqual(SlurmRecord.state("COMPLETING"), .running)
    XCTAssertEqual(SlurmRecord.state("REQUEUED"), .pending)
    XCTAssertEqual(SlurmRecord.state("NODE_FAIL"), .failed)
    XCTAssertEqual(SlurmRecord.state("OUT_OF_MEMORY"), .outOfMemory)
    XCTAssertEqual(SlurmRecord.state("DEADLINE"), .timeout)
    XCTAssertNil(SlurmRecord.state("SOMETHING_NEW"))
  }

  func testSbatchTimesAndQuoting() {
    XCTAssertEqual(SlurmSubmitter.slurmTime(90), "0-00:01:30")
    XCTAssertEqual(SlurmSubmitter.slurmTime(2 * 86_400 + 3 * 3600 + 4 * 60 + 5), "2-03:04:05")
    XCTAssertEqual(SlurmSubmitter.shellQuote("/runs/a_b-c.out"), "/runs/a_b-c.out")
    XCTAssertEqual(SlurmSubmitter.shellQuote("it's here"), "'it'\\''s here'")
    XCTAssertEqual(SlurmSubmitter.directiveQuote("/runs/a_b-c.out"), "/runs/a_b-c.out")
    XCTAssertEqual(SlurmSubmitter.directiveQuote(#"it's "a\b" #1"#), #""it's \"a\\b\" #1""#)
  }

  func testSlurmOptionsRoundTrip() {
    let options = SlurmOptions(partition: "cpu", parallelism: 4, sbatchArgs: ["--qos=short"])
    XCTAssertEqual(SlurmOptions.decode(options.encoded()), options)
    XCTAssertEqual(SlurmOptions.decode(nil), SlurmOptions())
  }
}

/// The submission side against a stand-in `sbatch` that records its calls and answers ids from 100.
final class SlurmSubmitterTests: XCTestCase {
  var dir: String!

  override func setUpWithError() throws {
    dir = NSTemporaryDirectory() + "orch-slurm-submit-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

  /// An evaluation of two sources waits for both: one `afterok` naming both elements.
  func testAJobWithTwoSourcesWaitsForBoth() throws {
    let sbatch = dir + "/sbatch"
    try """
    #!/bin/sh
    n=$(cat \(dir!)/n 2>/dev/null || echo 100)
    echo $((n + 1)) > \(dir!)/n
    echo "$n;cluster"
    """.write(toFile: sbatch, atomically: true, encoding: .utf8)
    chmod(sbatch, 0o755)
    let home = try OrchHome(path: dir + "/home")
    let store = try home.openStore()
    let first = try store.submit(now: 1) { tx in
      let jobs = (0..<3).map { (i: Int) in
        NewJob(
          arrayIndex: i, key: "k\(i)", configHash: "h\(i)", config: #"{"bindings":{},"engine":"train"}"#,
          resources: JobResources())
      }
      let id = try tx.insert(
        array: NewArray(sweep: "s", name: "s", source: "x", isArray: true, launch: "{}", outputRoot: dir + "/runs"),
        jobs: jobs, dependencies: [])
      try tx.assignToSlurm(jobIDs: (0..<3).map { id + $0 })
      return id
    }
    let submitter = SlurmSubmitter(
      store: store, home: home, commands: SlurmCommands(sbatch: sbatch, scontrol: "/bin/false", scancel: "/bin/false"),
      maxArraySize: 1, workerBinary: "/opt/orch-worker", cwd: dir)
    let arrays = try submitter.submit(
      jobs: try store.slurmJobs(ids: (0..<3).map { first + $0 }), options: SlurmOptions(),
      sources: [first + 2: ["k0", "k1"]], label: "two")
    XCTAssertEqual(arrays.map(\.dependency), [nil, nil, "afterok:100_0:101_0"])
  }

  func testArraysSplitAtMaxArraySizeAndFineTunesFollowTheirSource() throws {
    let sbatch = dir + "/sbatch"
    try """
    #!/bin/sh
    n=$(cat \(dir!)/n 2>/dev/null || echo 100)
    echo $((n + 1)) > \(dir!)/n
    echo "$@" >> \(dir!)/calls
    echo "$n;cluster"
    """.write(toFile: sbatch, atomically: true, encoding: .utf8)
    chmod(sbatch, 0o755)
    let home = try OrchHome(path: dir + "/home")
    let store = try home.openStore()
    let first = try store.submit(now: 1) { tx in
      let jobs = (0..<6).map {
        NewJob(
          arrayIndex: $0, key: "k\($0)", configHash: "h\($0)",
          config: $0 == 5 ? #"{"bindings":{},"engine":"train"}"# : #"{"bindings":{},"command":["/bin/true"]}"#,
          resources: JobResources(cpus: 1, timeLimit: 90, memLimit: 1 << 30))
      }
      let id = try tx.insert(
        array: NewArray(sweep: "s", name: "s", source: "x", isArray: true, launch: "{}", outputRoot: dir + "/runs"),
        jobs: jobs, dependencies: [])
      try tx.assignToSlurm(jobIDs: (0..<6).map { id + $0 })
      return id
    }
    let jobs = try store.slurmJobs(ids: (0..<6).map { first + $0 })
    let submitter = SlurmSubmitter(
      store: store, home: home, commands: SlurmCommands(sbatch: sbatch, scontrol: "/bin/false", scancel: "/bin/false"),
      maxArraySize: 2, workerBinary: "/opt/orch-worker", cwd: dir)
    // k5 fine-tunes from k1.
    let arrays = try submitter.submit(
      jobs: jobs, options: SlurmOptions(partition: "cpu", parallelism: 3, sbatchArgs: ["--qos=short"]),
      sources: [first + 5: ["k1"]], label: "t")
    XCTAssertEqual(arrays.map(\.slurmJobID), [100, 101, 102, 103])
    XCTAssertEqual(arrays.map(\.jobs.count), [2, 2, 1, 1])
    XCTAssertEqual(arrays.map(\.dependency), [nil, nil, nil, "afterok:100_1"])
    let calls = try String(contentsOfFile: dir + "/calls", encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(calls.count, 4)
    XCTAssertTrue(calls[0].hasPrefix("--parsable --qos=short "), String(calls[0]))
    XCTAssertTrue(calls[3].hasPrefix("--parsable --dependency=afterok:100_1 --qos=short "), String(calls[3]))
    let script = try String(contentsOfFile: home.path + "/slurm/t/array-1.sbatch", encoding: .utf8)
    XCTAssertTrue(script.contains("#SBATCH --array=0-1%3\n"), script)
    XCTAssertTrue(script.contains("#SBATCH --time=0-00:01:30\n"), script)
    XCTAssertTrue(script.contains("#SBATCH --mem=1024M\n"), script)
    XCTAssertTrue(script.contains("#SBATCH --partition=cpu\n"), script)
    XCTAssertTrue(script.hasSuffix("--offset 2\n"), script)
    // Manifest line offset + i is element i's config; the engine job has no argv.
    let lines = try String(contentsOfFile: home.path + "/slurm/t/manifest.jsonl", encoding: .utf8).split(
      separator: "\n")
    XCTAssertEqual(lines.count, 6)
    let entries = try lines.map { try JSONDecoder().decode(SlurmManifestEntry.self, from: Data($0.utf8)) }
    XCTAssertEqual(entries.map(\.key), ["k0", "k1", "k2", "k3", "k4", "k5"])
    XCTAssertEqual(entries[0].argv, ["/bin/true"])
    XCTAssertNil(entries[5].argv)
    XCTAssertEqual(entries.map(\.attempt), [1, 1, 1, 1, 1, 1])
    let stored = try store.slurmJobs(ids: (0..<6).map { first + $0 })
    XCTAssertEqual(stored.map(\.slurmID), ["100_0", "100_1", "101_0", "101_1", "102_0", "103_0"])
    XCTAssertEqual(stored.map(\.attempt), [1, 1, 1, 1, 1, 1])
  }

  func testAFailedSbatchFailsTheJobsItDidNotSubmit() throws {
    let home = try OrchHome(path: dir + "/home")
    let store = try home.openStore()
    let first = try store.submit(now: 1) { tx in
      let id = try tx.insert(
        array: NewArray(sweep: "s", name: "s", source: "x", isArray: true, launch: "{}", outputRoot: dir + "/runs"),
        jobs: [NewJob(arrayIndex: 0, key: "k", configHash: "h", config: "{}", resources: JobResources())],
        dependencies: [])
      try tx.assignToSlurm(jobIDs: [id])
      return id
    }
    let submitter = SlurmSubmitter(
      store: store, home: home,
      commands: SlurmCommands(sbatch: "/bin/false", scontrol: "/bin/false", scancel: "/bin/false"),
      maxArraySize: 10, workerBinary: "/opt/orch-worker", cwd: dir)
    XCTAssertThrowsError(
      try submitter.submit(jobs: try store.slurmJobs(ids: [first]), options: SlurmOptions(), sources: [:], label: "f"))
    let job = try store.slurmJobs(ids: [first])[0]
    XCTAssertEqual(job.state, .failed)
    XCTAssertTrue(job.reason?.hasPrefix("sbatch failed") == true, job.reason ?? "")
  }
}

/// Collection against a stand-in `scontrol` that has forgotten the job: states come from the
/// job-completion log, events from the run directories, and a second pass adds nothing.
final class SlurmCollectorTests: XCTestCase {
  func testForgottenJobsAreCollectedFromTheCompletionLogOnce() throws {
    let dir = NSTemporaryDirectory() + "orch-slurm-collect-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try FileManager.default.createDirectory(atPath: dir + "/runs/k0", withIntermediateDirectories: true)
    let scontrol = dir + "/scontrol"
    try """
    #!/bin/sh
    if [ "$2" = config ]; then echo "JobCompLoc              = \(dir)/jobcomp.log"; exit 0; fi
    echo "slurm_load_jobs error: Invalid job id specified" >&2
    exit 1
    """.write(toFile: scontrol, atomically: true, encoding: .utf8)
    chmod(scontrol, 0o755)
    try """
    JobId=501 UserId=u(1) Name=s JobState=COMPLETED StartTime=2026-11-22T10:00:00 EndTime=2026-11-22T10:00:05 ArrayJobId=500 ArrayTaskId=0 DerivedExitCode=0:0 ExitCode=0:0
    JobId=502 UserId=u(1) Name=s JobState=FAILED StartTime=2026-11-22T10:00:00 EndTime=2026-11-22T10:00:01 ArrayJobId=500 ArrayTaskId=1 DerivedExitCode=0:0 ExitCode=2:0
    JobId=503 UserId=u(1) Name=other JobState=COMPLETED ArrayJobId=499 ArrayTaskId=1 ExitCode=0:0

    """.write(toFile: dir + "/jobcomp.log", atomically: true, encoding: .utf8)
    try """
    {"type":"metric","name":"loss","value":0.5,"epoch":1,"seq":1}
    {"type":"done","metrics":{"acc":0.9},"seq":2}

    """.write(toFile: dir + "/runs/k0/events.jsonl", atomically: true, encoding: .utf8)

    let store = try JobStore(path: dir + "/orch.db")
    let first = try store.submit(now: 1) { tx in
      let id = try tx.insert(
        array: NewArray(sweep: "s", name: "s", source: "x", isArray: true, launch: "{}", outputRoot: dir + "/runs"),
        jobs: (0..<2).map { (i: Int) in
          NewJob(arrayIndex: i, key: "k\(i)", configHash: "h\(i)", config: "{}", resources: JobResources())
        }, dependencies: [])
      try tx.assignToSlurm(jobIDs: [id, id + 1])
      return id
    }
    try store.recordSlurmSubmission([(first, 1, "500_0"), (first + 1, 1, "500_1")])
    let collector = SlurmCollector(
      store: store, commands: SlurmCommands(sbatch: "/bin/false", scontrol: scontrol, scancel: "/bin/false"))
    let jobs = try store.activeSlurmJobs()
    XCTAssertEqual(try collector.collect(sweep: nil), .init(jobs: 2, events: 2, changed: 2))
    let rows = try store.jobs(JobFilter())
    XCTAssertEqual(rows.map(\.state), [.completed, .failed])
    XCTAssertEqual(rows[1].exitCode, 2)
    XCTAssertEqual(rows[1].reason, "NonZeroExitCode")
    XCTAssertEqual((rows[0].endTime ?? 0) - (rows[0].startTime ?? 0), 5)
    XCTAssertEqual(try store.finalMetrics(jobIDs: [first])[first], ["acc": 0.9])
    // Again: nothing left to collect; and the same observations forced through change nothing.
    XCTAssertEqual(try collector.collect(sweep: nil), .init())
    XCTAssertEqual(try collector.collect(jobs), .init(jobs: 2, events: 0, changed: 0))
    XCTAssertEqual(try store.metrics(jobID: first).count, 2)
    XCTAssertEqual(try store.attempts(jobID: first + 1).map(\.state), ["FAILED"])
  }
}
