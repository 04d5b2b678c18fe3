import Foundation
import XCTest

/// Bad input gets one line naming file:line:column where there is one, exit code 2, and leaves
/// the store untouched.
final class BadInputTests: XCTestCase {
  func check(_ c: Cluster, _ args: [String], mentions: [String], file: StaticString = #filePath, line: UInt = #line)
    throws
  {
    let r = try c.run(args)
    XCTAssertEqual(r.code, 2, "exit code for \(args): \(r.err)", file: file, line: line)
    let lines = r.err.split(separator: "\n")
    XCTAssertEqual(lines.count, 1, "one line: \(r.err)", file: file, line: line)
    for m in mentions { XCTAssertTrue(r.err.contains(m), "'\(m)' in: \(r.err)", file: file, line: line) }
    XCTAssertFalse(
      FileManager.default.fileExists(atPath: c.home + "/orch.db"), "store untouched", file: file, line: line)
  }

  func testMalformedYAML() throws {
    let c = try Cluster()
    try c.write("sweeps/bad.yaml", "register:\n  - key: \"a\n    command: [true]\n")
    try check(c, ["submit", "sweeps/bad.yaml"], mentions: ["bad.yaml:"])
  }

  func testDuplicateKeys() throws {
    let c = try Cluster()
    try c.write("sweeps/p100_a.yaml", "register:\n  - key: same\n    command: [\"true\"]\n")
    try c.write("sweeps/p200_b.yaml", "register:\n  - key: same\n    command: [\"true\"]\n")
    try check(c, ["submit", "sweeps"], mentions: ["p200_b.yaml:2:", "same"])
  }

  func testUnboundTemplateName() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/t.yaml", "register:\n  - key: \"x/{seeds}\"\n    command: [\"true\"]\n    axes: {seed: range(0, 2)}\n")
    try check(c, ["submit", "sweeps/t.yaml"], mentions: ["t.yaml:2:", "seeds", "seed"])
  }

  func testBadArraySpecs() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/ok.yaml", "register:\n  - key: \"k/{i}\"\n    command: [\"true\"]\n    axes: {i: range(0, 5)}\n")
    for spec in ["0-", "5-1", "1-3%0", "a"] {
      try check(c, ["submit", "sweeps/ok.yaml", "--array", spec], mentions: [spec])
    }
    try check(c, ["submit", "sweeps/ok.yaml", "--array", "0-7"], mentions: ["out of range"])
  }

  func testBadTimeFormats() throws {
    let c = try Cluster()
    try c.write("sweeps/ok.yaml", "register:\n  - key: k\n    command: [\"true\"]\n")
    for t in ["1:2:3:4", "abc", "-5"] { try check(c, ["submit", "sweeps/ok.yaml", "--time=\(t)"], mentions: [t]) }
    try c.write("sweeps/t.yaml", "register:\n  - key: k2\n    command: [\"true\"]\n    resources: {time: \"1-2-3\"}\n")
    try check(c, ["submit", "sweeps/t.yaml"], mentions: ["t.yaml:4:", "1-2-3"])
  }

  func testDependencyOnAMissingJobWritesNothing() throws {
    let c = try Cluster()
    try c.write("sweeps/ok.yaml", "register:\n  - key: k\n    command: [\"true\"]\n")
    let r = try c.run(["submit", "sweeps/ok.yaml", "--after", "999", "--no-daemon"])
    XCTAssertEqual(r.code, 2, r.err)
    XCTAssertEqual(r.err, "orch: dependency on job afterok:999 which does not exist\n")
    XCTAssertEqual(try c.run(["history", "--json"]).out.trimmingCharacters(in: .whitespacesAndNewlines), "[\n\n]")
  }

  func testMissingSweepsDirectory() throws {
    let c = try Cluster()
    try check(c, ["submit", "nowhere/"], mentions: ["nowhere"])
    try check(c, ["configs", "x", "--sweeps", "nowhere"], mentions: ["nowhere"])
  }

  func testUnsafeKey() throws {
    let c = try Cluster()
    try c.write("sweeps/k.yaml", "register:\n  - key: \"../{x}\"\n    command: [\"true\"]\n    bindings: {x: up}\n")
    try check(c, ["submit", "sweeps/k.yaml"], mentions: ["k.yaml:2:", "../up"])
  }

  /// A `.npy` file of `rows` float32 zeros ([rows, columns]) or int64 zeros ([rows]).
  func npy(_ c: Cluster, _ relative: String, rows: Int, columns: Int? = nil) throws {
    let shape = columns.map { "(\(rows), \($0))" } ?? "(\(rows),)"
    var header = "{'descr': '\(columns == nil ? "<i8" : "<f4")', 'fortran_order': False, 'shape': \(shape), }"
    while (10 + header.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xff), UInt8(header.count >> 8)]
    bytes += Array(header.utf8) + [UInt8](repeating: 0, count: rows * (columns ?? 2) * 4)
    let url = c.root.appendingPathComponent(relative)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(bytes).write(to: url)
  }

  /// A user's feature directory whose files disagree, or CAML on one without group labels: exit 2
  /// at submission naming the file, nothing queued.
  func testFeatureDirectoriesAreCheckedAtSubmission() throws {
    let c = try Cluster()
    for split in ["train", "test"] {
      try npy(c, "feats/\(split)_feats.npy", rows: 10, columns: 4)
      try npy(c, "feats/\(split)_targets.npy", rows: 10)
    }
    try npy(c, "feats/train_bias.npy", rows: 9)
    try c.write(
      "sweeps/p100_f.yaml",
      """
      register:
        - key: erm
          engine: train
          bindings: {data.name: ./feats, model.arch: mlp}
        - key: caml
          engine: train
          bindings: {data.name: ./feats, model.arch: mlp, train.loss: caml, caml.reference: runs/erm}
      """)
    try check(
      c, ["submit", "sweeps/p100_f.yaml", "--match", "^erm$"],
      mentions: ["p100_f.yaml:2:", "feats/train_bias.npy has 9 rows but train_feats.npy has 10"])
    try npy(c, "nofeats/test_feats.npy", rows: 10, columns: 4)
    try npy(c, "nofeats/test_targets.npy", rows: 10)
    try c.write(
      "sweeps/p100_g.yaml", "register:\n  - key: g\n    engine: train\n    bindings: {data.name: ./nofeats}\n")
    try check(
      c, ["submit", "sweeps/p100_g.yaml"], mentions: ["p100_g.yaml:2:", "has no train_x.npy or train_feats.npy"])
    try npy(c, "feats/train_bias.npy", rows: 10)
    try FileManager.default.createDirectory(atPath: c.root.path + "/runs/erm", withIntermediateDirectories: true)
    try check(
      c, ["submit", "sweeps/p100_f.yaml", "--match", "^caml$"],
      mentions: ["p100_f.yaml:5:", "feats/test_bias.npy is missing", "`train.loss: caml` needs group labels"])
  }
}

/// `orch configs` output, byte for byte, on a registry that derives p200 keys from p100 ones.
final class ConfigsListingTests: XCTestCase {
  func testListingMatchesTheSeedRegistryFormat() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/p100_train.yaml",
      """
      register:
        - key: "train/{data.name}/{model.arch}/{init}-lr{optimizer.base_lr}"
          command: [echo, "{key}"]
          bindings: {data.name: digits, model.arch: mlp}
          axes:
            - grid: {init: [randinit, finetune], optimizer.base_lr: [0.1, 0.01]}
      """)
    try c.write(
      "sweeps/p200_shuffle.yaml",
      """
      register:
        - derive: "^train/digits/mlp/randinit"
          rename: {pattern: "^train/", replace: "blk{data.block_shuffle}_shuffle/"}
          suffix: "/seed{seed}"
          set: {data.block_shuffle: 4}
          axes: [{seed: range(0, 2)}]
      """)
    let r = try c.run(["configs", "blk4_shuffle", "--sweeps", "sweeps"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(
      r.out,
      """
      4 configs found ====== with regex: blk4_shuffle
          0) blk4_shuffle/digits/mlp/randinit-lr0.1/seed0
          1) blk4_shuffle/digits/mlp/randinit-lr0.1/seed1
          2) blk4_shuffle/digits/mlp/randinit-lr0.01/seed0
          3) blk4_shuffle/digits/mlp/randinit-lr0.01/seed1

      """)
    let all = try c.run(["configs", "--sweeps", "sweeps"])
    XCTAssertTrue(
      all.out.hasPrefix("8 configs found ====== with regex: .*\n    0) train/digits/mlp/randinit-lr0.1\n"), all.out)
  }
}
