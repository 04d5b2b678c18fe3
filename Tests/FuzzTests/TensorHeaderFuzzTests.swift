import Foundation
import XCTest

@testable import Engine

/// `.npy` and safetensors files as the engine reads them (datasets, checkpoints): a bad header is
/// an EngineError, never a trap, a hang or an allocation the file's size does not back.
final class TensorHeaderFuzzTests: XCTestCase {
  static let tokens = [
    "(", ")", "L", "'shape'", "'descr'", "'<f4'", "'<i8'", "'|u1'", "True", "False", "4611686018427387904",
    "4294967296", "\u{93}NUMPY", "\u{1}\u{0}", "\u{2}\u{0}", "\u{3}\u{0}", "\u{ff}\u{ff}",
  ]

  func testNPYHeader() throws {
    let path = NSTemporaryDirectory() + "orch-fuzz-npy-\(getpid()).npy"
    defer { unlink(path) }
    Fuzz.run("npy-header", tokens: Self.tokens) { input in
      if let array = try? NPY.decode(input) { precondition(array.count * array.dtype.byteSize <= input.count) }
      // The file paths: what a dataset's loader and a submission's shape probe read.
      try Data(input).write(to: URL(fileURLWithPath: path))
      let shape = NPY.readShape(path)
      if let (fileShape, values) = try? NPY.readFloats(path, chunkBytes: 64, transpose: { _ in true }) {
        precondition(fileShape == shape && values.count <= input.count)
      }
      if let shape {
        for kind in [Dataset.Kind.images, .features] {
          _ = try? Dataset.sampleShape(of: shape, kind: kind, layout: .auto, file: "train_x.npy")
        }
      }
    }
  }

  func testSafeTensorsHeader() {
    Fuzz.run(
      "safetensors-header",
      tokens: Self.tokens + ["\"dtype\"", "\"F32\"", "\"I64\"", "\"U8\"", "\"shape\"", "\"data_offsets\"", "1e30"]
    ) { input in
      guard let file = try? SafeTensors.decode(input) else { return }
      let bytes = file.tensors.values.reduce(0) { $0 + $1.count * $1.dtype.byteSize }
      precondition(bytes <= input.count)
    }
  }
}
