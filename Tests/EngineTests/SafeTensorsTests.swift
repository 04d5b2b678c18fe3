import XCTest

@testable import Engine

final class SafeTensorsTests: XCTestCase {
  let sample = SafeTensorsFile(
    tensors: [
      "fc1.weight": NDArray(shape: [2, 3], float32: [0.5, -1, 1e-8, .pi, 0, -3e38]),
      "optimizer.steps": NDArray(shape: [1], int64: [1234]),
      "rng.state": NDArray(shape: [4], int64: [Int64.min, -1, 0, Int64.max]),
      "mask": NDArray(shape: [5], uint8: [0, 1, 128, 254, 255]),
      "empty": NDArray(shape: [0], float32: []),
    ],
    metadata: ["epoch": "3", "config_hash": "abc\"def\\\n", "note": "naïve ✓"])

  func testRoundTrip() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = "\(dir)/ckpt.safetensors"
    try SafeTensors.write(sample, to: path)
    XCTAssertEqual(try SafeTensors.read(path), sample)
    // Overwriting replaces the file and leaves no temporary behind.
    let other = SafeTensorsFile(tensors: ["x": NDArray(shape: [1], float32: [1])])
    try SafeTensors.write(other, to: path)
    XCTAssertEqual(try SafeTensors.read(path), other)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["ckpt.safetensors"])
    // Header length is a multiple of 8 so the data stays aligned.
    let bytes = try SafeTensors.encode(sample)
    let n = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
    XCTAssertEqual(n % 8, 0)
  }

  /// `safetensors.numpy.load_file` reads our file with equal values and metadata; and we read a
  /// file written by `save_file`.
  func testPythonInterop() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = "\(dir)/ours.safetensors"
    try SafeTensors.write(sample, to: path)
    let script = """
      import json, numpy as np
      from safetensors.numpy import load_file, save_file
      from safetensors import safe_open
      t = load_file('\(path)')
      with safe_open('\(path)', framework='np') as f:
          meta = f.metadata()
      def values(v):
          return [float(x) if v.dtype == np.float32 else int(x) for x in v.ravel()]
      out = {k: {'dtype': str(v.dtype), 'shape': list(v.shape), 'values': values(v)} for k, v in t.items()}
      print(json.dumps({'tensors': out, 'metadata': meta}))
      save_file({'w': np.arange(6, dtype=np.float32).reshape(2, 3) / 3, 'i': np.array([-7, 2**40], dtype=np.int64),
                 'u': np.array([[1, 2], [3, 250]], dtype=np.uint8)}, '\(dir)/theirs.safetensors', metadata={'k': 'v'})
      """
    guard let out = try runPython(script, requiring: ["numpy", "safetensors"]) else {
      throw XCTSkip("python3 with numpy and safetensors not available (pip install safetensors)")
    }
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
    XCTAssertEqual(json["metadata"] as? [String: String], sample.metadata)
    let tensors = try XCTUnwrap(json["tensors"] as? [String: [String: Any]])
    XCTAssertEqual(Set(tensors.keys), Set(sample.tensors.keys))
    for (name, array) in sample.tensors {
      let t = try XCTUnwrap(tensors[name])
      XCTAssertEqual(t["shape"] as? [Int], array.shape, name)
      let values = try XCTUnwrap(t["values"] as? [NSNumber])
      switch array.storage {
      case .float32(let v):
        XCTAssertEqual(t["dtype"] as? String, "float32")
        XCTAssertEqual(values.map { Float($0.doubleValue) }, v, name)
      case .int64(let v):
        XCTAssertEqual(t["dtype"] as? String, "int64")
        XCTAssertEqual(values.map { $0.int64Value }, v, name)
      case .uint8(let v):
        XCTAssertEqual(t["dtype"] as? String, "uint8")
        XCTAssertEqual(values.map { UInt8($0.intValue) }, v, name)
      }
    }
    let theirs = try SafeTensors.read("\(dir)/theirs.safetensors")
    XCTAssertEqual(theirs.metadata, ["k": "v"])
    XCTAssertEqual(theirs.tensors["w"], NDArray(shape: [2, 3], float32: (0..<6).map { Float($0) / 3 }))
    XCTAssertEqual(theirs.tensors["i"], NDArray(shape: [2], int64: [-7, 1 << 40]))
    XCTAssertEqual(theirs.tensors["u"], NDArray(shape: [2, 2], uint8: [1, 2, 3, 250]))
  }

  func testCorruptAndTruncatedFilesAreClearErrors() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let good = try SafeTensors.encode(sample)
    func header(_ json: String, data: [UInt8] = []) -> [UInt8] {
      let h = Array(json.utf8)
      return (0..<8).map { UInt8((h.count >> (8 * $0)) & 0xFF) } + h + data
    }
    let cases: [(String, [UInt8], String)] = [
      ("short", [1, 2, 3], "truncated safetensors file"),
      ("cut-data", Array(good.dropLast(3)), "truncated safetensors file"),
      ("cut-header", Array(good.prefix(20)), "truncated safetensors file: header needs"),
      ("huge-header", [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0] + good, "exceeds"),
      ("not-json", header("{not json}"), "not valid JSON"),
      ("array", header("[1, 2]"), "not a JSON object"),
      (
        "bf16", header(#"{"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#, data: [0, 0]),
        "unsupported dtype BF16"
      ),
      (
        "size", header(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "needs 8 bytes"
      ),
      ("gap", header(#"{"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, data: [0, 0]), "gap or overlap"),
      (
        "trailing", header(#"{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [0, 0]),
        "cover 1 data bytes, file has 2"
      ),
      ("meta", header(#"{"__metadata__":{"a":1}}"#), "is not a string"),
      // A shape whose byte count overflows: a trap before it was compared with the offsets.
      (
        "overflow", header(#"{"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#, data: [0]),
        "has shape [4611686018427387904, 4], too large for any file"
      ),
      (
        "overflow-empty", header(#"{"x":{"dtype":"U8","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}"#),
        "too large for any file"
      ),
    ]
    for (name, bytes, part) in cases {
      let path = "\(dir)/\(name).safetensors"
      try writeFileAtomically(path, bytes)
      XCTAssertThrowsError(try SafeTensors.read(path), name) { error in
        let text = "\(error)"
        XCTAssert(text.hasPrefix("while reading \(path): "), text)
        XCTAssert(text.contains(part), "\(name): '\(text)' lacks '\(part)'")
      }
    }
    XCTAssertThrowsError(
      try SafeTensors.encode(SafeTensorsFile(tensors: ["__metadata__": NDArray(shape: [1], uint8: [0])])))
  }
}
