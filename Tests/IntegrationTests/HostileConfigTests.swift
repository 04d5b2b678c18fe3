import Foundation
import XCTest

/// An engine config, however hostile, is refused with a message naming what is wrong: by
/// `orch submit` (exit 2 at the entry, nothing queued) when the sweep shows it, and by
/// `orch-worker engine` (exit 1, the message in its output) when only the data does. Before, a
/// `model.width` of 2⁴⁰ was queued and trapped the engine (SIGILL in `ParameterLayout.add`).
final class HostileConfigTests: XCTestCase {
  /// Runs `orch-worker engine` on `bindings` (JSON object text) as the pool worker would.
  func runEngine(_ c: Cluster, _ bindings: String) throws -> Cluster.Result {
    let runDir = c.root.appendingPathComponent("run-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
    try #"{"engine":"train","bindings":\#(bindings)}"#.write(
      toFile: runDir + "/config.json", atomically: true, encoding: .utf8)
    return try c.execute(Cluster.binDir + "/orch-worker", ["engine", "--run-dir", runDir], env: [:])
  }

  func testHostileBindingsAreRefusedAtSubmitAndByTheEngine() throws {
    let c = try Cluster()
    let cases: [(yaml: String, json: String, parts: [String])] = [
      (
        "{data.name: digits, model.width: 1099511627776, train.epochs: 1}",
        #"{"data.name":"digits","model.width":1099511627776,"train.epochs":1}"#,
        ["binding 'model.width' expects a value in 1…65536, got the integer 1099511627776"]
      ),
      (
        "{data.name: digits, optimizer.base_lr: .nan, train.epochs: 1}",
        #"{"data.name":"digits","optimizer.base_lr":NaN,"train.epochs":1}"#,
        ["binding 'optimizer.base_lr' expects a finite number", "got the number nan"]
      ),
      (
        "{data.name: digits, optimizer.weight_decay: .inf, train.epochs: 1}",
        #"{"data.name":"digits","optimizer.weight_decay":1e999,"train.epochs":1}"#,
        ["binding 'optimizer.weight_decay' expects a finite number", "got the number inf"]
      ),
      (
        "{data.name: digits, model.arch: cnn, model.channel_growth: 1024, model.depth: 9, train.epochs: 1}",
        #"{"data.name":"digits","model.arch":"cnn","model.channel_growth":1024,"model.depth":9,"train.epochs":1}"#,
        ["conv3.weight of shape [134217728, 3, 3, 131072]", "more than 268435456 (2^28"]
      ),
      (
        "{data.name: digits, model.width: 60000, model.depth: 3, train.epochs: 1}",
        #"{"data.name":"digits","model.width":60000,"model.depth":3,"train.epochs":1}"#,
        ["fc2.weight of shape [60000, 60000] makes the model's parameters more than 268435456"]
      ),
      (
        // The cosine schedule multiplied the epochs by the steps per epoch: an overflow trap.
        "{data.name: digits, lr_scheduler.name: cosine, train.epochs: 4611686018427387904}",
        #"{"data.name":"digits","lr_scheduler.name":"cosine","train.epochs":4611686018427387904}"#,
        ["binding 'train.epochs' expects a value in 0…1000000, got the integer 4611686018427387904"]
      ),
    ]
    for (yaml, json, parts) in cases {
      try c.write(
        "sweeps/hostile.yaml",
        """
        register:
          - key: hostile
            engine: train
            bindings: \(yaml)
        """)
      let submit = try c.run(["submit", "sweeps/hostile.yaml", "--no-daemon"])
      XCTAssertEqual(submit.code, 2, "\(yaml): \(submit.out)\(submit.err)")
      XCTAssertTrue(submit.err.contains("hostile.yaml:2:"), submit.err)
      for part in parts { XCTAssertTrue(submit.err.contains(part), "\(yaml): '\(submit.err)' lacks '\(part)'") }
      XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.db"), "nothing queued")

      let job = try runEngine(c, json)
      XCTAssertEqual(job.code, 1, "\(json): exit \(job.code) (a trap shows as its signal's number), \(job.err)")
      XCTAssertFalse(job.err.contains("Program crashed"), job.err)
      for part in parts { XCTAssertTrue(job.err.contains(part), "\(json): '\(job.err)' lacks '\(part)'") }
    }
  }

  /// A model that fits its sweep but not the data the job finds (the dataset's features grew after
  /// submission): the job fails with the message in its log, the engine allocates nothing.
  func testAModelTooLargeForItsDataFailsTheJobWithTheMessage() throws {
    let c = try Cluster()
    let data = c.root.appendingPathComponent("wide").path
    func writeDataset(features: Int) throws {
      try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
      for split in ["train", "test"] {
        try writeNPY(
          data + "/\(split)_feats.npy", shape: [4, features], float32: [Float](repeating: 1, count: 4 * features))
        try writeNPY(data + "/\(split)_y.npy", shape: [4], int64: [0, 1, 0, 1])
      }
    }
    try writeDataset(features: 8)
    try c.write(
      "sweeps/wide.yaml",
      """
      register:
        - key: wide
          engine: train
          bindings: {data.name: "\(data)", model.arch: mlp, model.width: 65536, model.depth: 1, train.epochs: 1}
      """)
    let submit = try c.run(["submit", "sweeps/wide.yaml", "--no-daemon", "--output-root", c.runs])
    XCTAssertEqual(submit.code, 0, submit.err)
    // 8192 × 65536 inputs to the first layer: 2²⁹ parameters.
    try writeDataset(features: 8192)
    try c.startDaemon()
    try c.waitUntil("the job ends") { try c.states().values.contains { $0 != "PENDING" && $0 != "RUNNING" } }
    XCTAssertEqual(try c.states().values.first, "FAILED")
    let log = c.read("runs/wide/log.txt")
    XCTAssertTrue(log.contains("fc1.weight of shape [65536, 8192] makes the model's parameters more than"), log)
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.runs + "/wide/checkpoints/ckpt-E000.safetensors"))
    let history = try c.historyRows()
    XCTAssertEqual(history.first?["exitCode"] as? Int, 1, "\(history)")
  }
}
