import Foundation
import XCTest

/// A `.npy` file of little-endian float32 or int64 values (what a user's dataset holds), written
/// without the engine so these tests drive only the binaries.
func writeNPY(_ path: String, shape: [Int], float32 values: [Float]) throws {
  try writeNPY(path, descr: "<f4", shape: shape, data: values.withUnsafeBytes { Data($0) })
}

func writeNPY(_ path: String, shape: [Int], int64 values: [Int64]) throws {
  try writeNPY(path, descr: "<i8", shape: shape, data: values.withUnsafeBytes { Data($0) })
}

private func writeNPY(_ path: String, descr: String, shape: [Int], data: Data) throws {
  let dims = shape.count == 1 ? "(\(shape[0]),)" : "(\(shape.map(String.init).joined(separator: ", ")))"
  var header = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }".utf8)
  header += [UInt8](repeating: 0x20, count: (64 - (10 + header.count + 1) % 64) % 64) + [0x0A]
  var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
  bytes += header
  try (Data(bytes) + data).write(to: URL(fileURLWithPath: path))
}

/// Label files the engine cannot train on are refused when the sweep is submitted, and a job
/// that meets one anyway (the files changed after submission) fails with the message: neither
/// traps nor sizes a model by a stray label.
final class BadLabelTests: XCTestCase {
  /// A feature dataset at `dir`: train labels 0…9 then `last`, test labels 0…3.
  func writeDataset(_ dir: String, last: Int64) throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try writeNPY(dir + "/train_feats.npy", shape: [11, 2], float32: (0..<22).map(Float.init))
    try writeNPY(dir + "/train_y.npy", shape: [11], int64: (0..<10).map(Int64.init) + [last])
    try writeNPY(dir + "/test_feats.npy", shape: [4, 2], float32: (0..<8).map(Float.init))
    try writeNPY(dir + "/test_y.npy", shape: [4], int64: [0, 1, 2, 3])
  }

  /// Runs `orch-worker engine` on a training config over `data` as the pool worker would.
  func runEngine(_ c: Cluster, data: String, extra: String = "") throws -> Cluster.Result {
    let runDir = c.root.appendingPathComponent("run-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
    try #"{"engine":"train","bindings":{"data.name":"\#(data)","model.arch":"linear","train.epochs":1\#(extra)}}"#
      .write(toFile: runDir + "/config.json", atomically: true, encoding: .utf8)
    return try c.execute(Cluster.binDir + "/orch-worker", ["engine", "--run-dir", runDir], env: [:])
  }

  func testStrayLabelsAreRefusedAtSubmitAndFailTheJobCleanly() throws {
    let c = try Cluster()
    let cases: [(Int64, [String])] = [
      // 2⁶² trapped in the model's layout (SIGILL); 10¹¹ asked for 6.8 TB.
      (1 << 62, ["label 4611686018427387904 at index 10", "at most 100000"]),
      (100_000_000_000, ["label 100000000000 at index 10", "at most 100000"]),
      (-5, ["label -5 at index 10 is negative"]),
      // 99 beside 0…9 silently trained a 100-class model.
      (99, ["the labels are not the class ids 0…99 without gaps", "set data.num_classes"]),
    ]
    for (label, parts) in cases {
      let data = c.root.appendingPathComponent("data-\(label)").path
      try writeDataset(data, last: label)
      try c.write(
        "sweeps/labels.yaml",
        """
        register:
          - key: stray
            engine: train
            bindings: {data.name: "\(data)", model.arch: linear, train.epochs: 1}
        """)
      let submit = try c.run(["submit", "sweeps/labels.yaml", "--no-daemon"])
      XCTAssertEqual(submit.code, 2, "label \(label): \(submit.out)\(submit.err)")
      XCTAssertTrue(submit.err.contains("labels.yaml:2:"), submit.err)
      for part in [data + "/train_y.npy"] + parts {
        XCTAssertTrue(submit.err.contains(part), "label \(label): '\(submit.err)' lacks '\(part)'")
      }
      XCTAssertFalse(FileManager.default.fileExists(atPath: c.home + "/orch.db"), "nothing stored")

      let job = try runEngine(c, data: data)
      XCTAssertEqual(job.code, 1, "label \(label): exit \(job.code), \(job.err)")
      for part in parts { XCTAssertTrue(job.err.contains(part), "label \(label): '\(job.err)' lacks '\(part)'") }
    }
    // Declared, the gap is a class without training samples.
    let gap = c.root.appendingPathComponent("data-99").path
    try c.write(
      "sweeps/declared.yaml",
      """
      register:
        - key: declared
          engine: train
          bindings: {data.name: "\(gap)", data.num_classes: 100, model.arch: linear, train.epochs: 1}
      """)
    let declared = try c.run(["submit", "sweeps/declared.yaml", "--no-daemon"])
    XCTAssertEqual(declared.code, 0, declared.err)
    let job = try runEngine(c, data: gap, extra: #","data.num_classes":100"#)
    XCTAssertEqual(job.code, 0, job.err)
  }
}
