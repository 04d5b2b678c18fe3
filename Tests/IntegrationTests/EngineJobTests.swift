import Foundation
import XCTest

/// Engine jobs beside command jobs: the daemon runs `orch-worker engine` pinned, and the trainer's
/// events land in the store.
final class EngineJobTests: XCTestCase {
  func testEngineSweepTrainsThroughTheDaemonAndReportsIntoTheStore() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/digits.yaml",
      """
      register:
        - key: "digits/mlp/seed{train.seed}"
          engine: train
          bindings: {data.name: digits, model.arch: mlp, train.epochs: 2, train.checkpoint_every: 1}
          axes: {train.seed: range(0, 2)}
      """)
    try c.startDaemon()
    let r = try c.run(["submit", "sweeps/digits.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    let results = try c.run(["results", "digits", "--json"])
    let rows = try JSONSerialization.jsonObject(with: Data(results.out.utf8)) as! [[String: Any]]
    XCTAssertEqual(rows.count, 2)
    for row in rows {
      let acc = row["test_acc"] as? Double ?? 0
      XCTAssertGreaterThan(acc, 0.8, "\(row)")
    }
    for epoch in ["E000", "E001", "E002"] {
      XCTAssertTrue(
        FileManager.default.fileExists(atPath: c.runs + "/digits/mlp/seed0/checkpoints/ckpt-\(epoch).safetensors"))
    }
    let curves = try c.run(["metrics", "1_0", "--csv"]).out
    XCTAssertTrue(curves.contains(",test_acc,"), curves)
  }

  func testUnknownEngineBindingIsBadInputWithASuggestion() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/typo.yaml",
      """
      register:
        - key: typo
          engine: train
          bindings: {optimizer.base_lrr: 0.1}
      """)
    let r = try c.run(["submit", "sweeps/typo.yaml"])
    XCTAssertEqual(r.code, 2)
    XCTAssertTrue(r.err.contains("typo.yaml:2:"), r.err)
    XCTAssertTrue(r.err.contains("did you mean 'optimizer.base_lr'"), r.err)
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.db"))
  }

  /// An unknown transform and a block size that does not divide the dataset's images fail the
  /// submission at the entry, before anything is queued.
  func testBadTransformsAreBadInputAtSubmit() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p100_bad.yaml",
      """
      register:
        - key: ok/{data.block_shuffle}
          engine: train
          bindings: {data.name: digits, model.arch: cnn}
          axes: {data.block_shuffle: [1, 2, 4, 8]}
        - key: blk3
          engine: train
          bindings: {data.name: digits, model.arch: cnn, data.block_shuffle: 3}
        - key: patch
          engine: train
          bindings: {data.name: digits, spurious.type: squares}
      """)
    for (match, mentions) in [
      (
        "blk3", ["p100_bad.yaml:6:", "'data.block_shuffle' (3) does not divide the 8×8 images of digits", "1, 2, 4, 8"]
      ),
      (
        "patch", ["p100_bad.yaml:9:", "'spurious.type' expects one of none, square, gaussian", "did you mean 'square'"]
      ),
    ] {
      let r = try c.run(["submit", "sweeps", "--match", match])
      XCTAssertEqual(r.code, 2, r.err)
      XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
      for m in mentions { XCTAssertTrue(r.err.contains(m), "'\(m)' in: \(r.err)") }
      XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.db"), "nothing queued")
    }
    XCTAssertEqual(try c.run(["submit", "sweeps", "--match", "^ok/", "--no-daemon"]).code, 0)
  }
}

/// `train.finetune_from: KEY@E001 | KEY@latest` waits for that config and starts from its checkpoint.
final class CheckpointReferenceTests: XCTestCase {
  func testFineTuneWaitsForItsSourceInTheSameSubmissionAndInTheStore() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p100_source.yaml",
      """
      defaults:
        bindings: {data.name: digits, model.arch: mlp, train.epochs: 2, train.checkpoint_every: 1}
      register:
        - key: source
          engine: train
        - key: "tune/{train.transfer}"
          engine: train
          bindings: {train.finetune_from: "source@E001"}
          axes: {train.transfer: [FIXED, FULL]}
      """)
    try c.startDaemon()
    let r = try c.run(["submit", "sweeps/p100_source.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    let config = c.read("runs/tune/FIXED/config.json")
    XCTAssertTrue(config.contains(c.runs + "/source/checkpoints/ckpt-E001.safetensors"), config)
    let log = c.read("runs/tune/FIXED/log.txt")
    XCTAssertTrue(log.contains("initialised the backbone from"), log)
    // The tune jobs started after the source ended.
    let rows = try c.historyRows()
    let end = rows.first { ($0["key"] as? String) == "source" }?["endTime"] as? Double ?? .infinity
    for row in rows where (row["key"] as? String)?.hasPrefix("tune/") == true {
      XCTAssertGreaterThanOrEqual(row["startTime"] as? Double ?? 0, end)
    }

    // A later submission refers to the stored source with @latest.
    try c.write(
      "sweeps/p200_more.yaml",
      """
      register:
        - key: more
          engine: train
          bindings: {data.name: digits, model.arch: mlp, train.epochs: 1, train.finetune_from: "source@latest"}
      """)
    let more = try c.run(["submit", "sweeps/p200_more.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(more.code, 0, more.out + more.err)
    XCTAssertTrue(c.read("runs/more/log.txt").contains("ckpt-E002.safetensors"), c.read("runs/more/log.txt"))
  }

  func testReferenceToAnUnknownKeyIsBadInput() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/x.yaml",
      """
      register:
        - key: tune
          engine: train
          bindings: {train.finetune_from: "nowhere@E001"}
      """)
    let r = try c.run(["submit", "sweeps/x.yaml", "--no-daemon"])
    XCTAssertEqual(r.code, 2, r.err)
    XCTAssertTrue(r.err.contains("x.yaml:2:") && r.err.contains("'nowhere'"), r.err)
  }
}

/// kill -9 of a training process: the requeued attempt resumes from the newest checkpoint and ends
/// where an uninterrupted run of the same config ends.
final class EngineResumeTests: XCTestCase {
  func testKilledTrainingResumesAndMatchesAnUninterruptedRun() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/resume.yaml",
      """
      register:
        - key: "run/{copy}"
          engine: train
          bindings: {data.name: digits, model.arch: mlp, model.dropout: 0.1, train.epochs: 30, train.checkpoint_every: 1, train.seed: 7}
          axes: {copy: [killed, clean]}
      """)
    try c.startDaemon(cpus: "0")
    XCTAssertEqual(try c.run(["submit", "sweeps/resume.yaml", "--max-attempts", "2", "--output-root", c.runs]).code, 0)
    let checkpoint = c.runs + "/run/killed/checkpoints/ckpt-E003.safetensors"
    try c.waitUntil("epoch 3 is checkpointed") { FileManager.default.fileExists(atPath: checkpoint) }
    let pid = Self.trainerPID(runDir: c.runs + "/run/killed")
    guard pid > 0 else { return XCTFail("the training process ended before it could be killed") }
    XCTAssertEqual(kill(pid, SIGKILL), 0)
    try c.waitUntil("both complete", timeout: 120) {
      let s = try c.states()
      return s.count == 2 && s.values.allSatisfy { $0 == "COMPLETED" }
    }
    let results = try c.run(["results", "resume", "--json", "--params", "none"])
    let rows = try JSONSerialization.jsonObject(with: Data(results.out.utf8)) as! [[String: Any]]
    let metrics = Dictionary(
      uniqueKeysWithValues: rows.map { row in
        (row["key"] as! String, row.filter { $0.key != "job" }.compactMapValues { $0 as? Double })
      })
    XCTAssertEqual(metrics["run/killed"], metrics["run/clean"])
    XCTAssertNotNil(metrics["run/clean"]?["test_acc"])
    let attempts = try c.run(["history", "-j", "1_0", "--attempts", "--json"])
    let tries = try JSONSerialization.jsonObject(with: Data(attempts.out.utf8)) as! [[String: Any]]
    XCTAssertEqual(tries.map { $0["state"] as? String }, ["FAILED", "COMPLETED"])
    XCTAssertTrue(c.read("runs/run/killed/log.txt").contains("resum"), c.read("runs/run/killed/log.txt"))
  }

  /// The `orch-worker engine` process training in `runDir`.
  static func trainerPID(runDir: String) -> Int32 {
    let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for pid in procs.compactMap({ Int32($0) }) {
      guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
      let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      if args.contains("engine") && args.contains(runDir) { return pid }
    }
    return -1
  }
}
