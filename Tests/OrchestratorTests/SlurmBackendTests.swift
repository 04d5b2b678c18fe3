import Foundation
import XCTest

@testable import Orchestrator
@testable import Store

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
    XCTAssertEqual(SlurmSubmitter.quote("/runs/a_b-c.out"), "/runs/a_b-c.out")
    XCTAssertEqual(SlurmSubmitter.quote("it's here"), "'it'\\''s here'")
  }

  func testSlurmOptionsRoundTrip() {
    let options = SlurmOptions(partition: "cpu", parallelism: 4, sbatchArgs: ["--qos=short"])
    XCTAssertEqual(SlurmOptions.decode(options.encoded()), options)
    XCTAssertEqual(SlurmOptions.decode(nil), SlurmOptions())
  }
}
