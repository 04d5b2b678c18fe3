import Foundation
import GRDB
import XCTest

@testable import Store

/// A fresh store per test, with the submit/claim/finish steps the daemon takes.
class StoreTestCase: XCTestCase {
  var dir: URL!
  var store: JobStore!

  override func setUpWithError() throws {
    dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("orch-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    store = try JobStore(path: dir.appendingPathComponent("orch.db").path)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

  @discardableResult
  func submit(_ n: Int, priority: Int = 0, throttle: Int? = nil, maxAttempts: Int = 1, hash: String = "h") throws
    -> Int64
  {
    try store.submit(now: 1) { tx in
      let jobs = (0..<n).map {
        NewJob(
          arrayIndex: $0, key: "k\(hash)\($0)", configHash: "\(hash)\($0)", config: "{}",
          resources: JobResources(maxAttempts: maxAttempts, priority: priority))
      }
      return try tx.insert(
        array: NewArray(
          sweep: "s", name: "s", source: "x", isArray: true, throttle: throttle, launch: "{}", outputRoot: "/tmp/r"),
        jobs: jobs,
        dependencies: [])
    }
  }

  func claim(cpus: Int = 8) throws -> ClaimedJob? {
    try store.write("claim") { db in
      try JobStore.claim(db, freeCPUs: cpus, now: 2, workerPID: 1, cpus: { Array(0..<$0) })
    }
  }

  func finish(_ job: ClaimedJob, _ state: JobState, started: Bool = true) throws -> FinishResult {
    try store.write("finish") { db in
      try JobStore.finish(
        db,
        AttemptOutcome(
          jobID: job.id, attempt: job.attempt, state: state, exitCode: state == .completed ? 0 : 1, signal: nil,
          reason: nil, endTime: 3, started: started))
    }
  }

}
