import XCTest

@testable import Engine

final class NPYTests: XCTestCase {
  func fixture(_ name: String) -> String { fixturesDirectory + "/" + name }

  func testRoundTripPerDType() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let arrays = [
      NDArray(shape: [2, 3], float32: [0, -1.5, .pi, 1e-30, -0.0, 3e38]),
      NDArray(shape: [4], int64: [Int64.min, -1, 0, Int64.max]),
      NDArray(shape: [2, 2, 2], uint8: [0, 1, 2, 127, 128, 200, 254, 255]),
      NDArray(shape: [], float32: [7]),
      NDArray(shape: [0, 3], float32: []),
    ]
    for (i, a) in arrays.enumerated() {
      let path = "\(dir)/a\(i).npy"
      try NPY.write(a, to: path)
      XCTAssertEqual(try NPY.read(path), a)
      let floats = try NPY.readFloats(path)
      XCTAssertEqual(floats.shape, a.shape)
      XCTAssertEqual(floats.values, a.floats())
      XCTAssertEqual((try readFile(path).count - a.count * a.dtype.byteSize) % 64, 0, "header padded to 64 bytes")
    }
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: dir).count, arrays.count, "no temporary files left")
  }

  /// Files written by numpy (see Fixtures/README.md), read back exactly.
  func testReadsNumpyFixtures() throws {
    let nchw = try NPY.read(fixture("f32_nchw.npy"))
    let expected = (0..<120).map { Float($0) / 7 - 3 }
    XCTAssertEqual(nchw, NDArray(shape: [2, 3, 4, 5], float32: expected))
    let nhwc = try NPY.read(fixture("f32_nhwc.npy"))
    XCTAssertEqual(nhwc.shape, [2, 4, 5, 3])
    let v = nhwc.floats()
    for n in 0..<2 {
      for c in 0..<3 {
        for h in 0..<4 {
          for w in 0..<5 {
            XCTAssertEqual(v[((n * 4 + h) * 5 + w) * 3 + c], expected[((n * 3 + c) * 4 + h) * 5 + w])
          }
        }
      }
    }
    XCTAssertEqual(nchwToNHWC(nchw.floats(), batch: 2, channels: 3, height: 4, width: 5), v)
    XCTAssertEqual(
      try NPY.read(fixture("i64.npy")), NDArray(shape: [7], int64: [-(1 << 40), -1, 0, 1, 1 << 40, 9, 1 << 62]))
    XCTAssertEqual(
      try NPY.read(fixture("u8.npy")), NDArray(shape: [3, 4], uint8: (0..<12).map { UInt8($0 * 23 % 256) }))
    XCTAssertEqual(try NPY.read(fixture("f32_scalar.npy")), NDArray(shape: [], float32: [2.5]))
    XCTAssertEqual(try NPY.read(fixture("f32_v2.npy")), NDArray(shape: [2, 3], float32: [0, 0.5, 1, 1.5, 2, 2.5]))
  }

  /// Our files load in numpy with the same values, when python3 and numpy are present.
  func testNumpyReadsOurFiles() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try NPY.write(NDArray(shape: [2, 2], float32: [0.1, -2, 3.5, 1e-7]), to: "\(dir)/f.npy")
    try NPY.write(NDArray(shape: [3], int64: [-5, 0, 1 << 50]), to: "\(dir)/i.npy")
    try NPY.write(NDArray(shape: [1, 2], uint8: [9, 255]), to: "\(dir)/u.npy")
    let script = """
      import numpy as np
      f = np.load('\(dir)/f.npy'); i = np.load('\(dir)/i.npy'); u = np.load('\(dir)/u.npy')
      assert f.dtype == np.float32 and f.shape == (2, 2)
      assert (f == np.array([[0.1, -2], [3.5, 1e-7]], dtype=np.float32)).all()
      assert i.dtype == np.int64 and list(i) == [-5, 0, 1 << 50]
      assert u.dtype == np.uint8 and u.shape == (1, 2) and list(u[0]) == [9, 255]
      print('ok')
      """
    guard let out = try runPython(script, requiring: ["numpy"]) else {
      throw XCTSkip("python3 with numpy not available")
    }
    XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "ok")
  }

  /// Both readers, the whole-file one and the chunked one, fail with the same message.
  func assertError(_ path: String, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
    func check(_ error: Error) {
      let text = "\(error)"
      XCTAssert(text.hasPrefix("while reading \(path): "), text, file: file, line: line)
      for part in parts { XCTAssert(text.contains(part), "'\(text)' lacks '\(part)'", file: file, line: line) }
    }
    XCTAssertThrowsError(try NPY.read(path), file: file, line: line) { check($0) }
    XCTAssertThrowsError(try NPY.readFloats(path), file: file, line: line) { check($0) }
  }

  /// The chunked Float reader gives `read(…).floats()` for every dtype and any chunk size, and
  /// reorders NCHW to NHWC on the way in like `nchwToNHWC`.
  func testReadFloatsMatchesReadInAnyChunks() throws {
    for name in ["f32_nchw.npy", "f32_nhwc.npy", "i64.npy", "u8.npy", "f32_scalar.npy", "f32_v2.npy"] {
      let whole = try NPY.read(fixture(name))
      for chunk in [1, 7, 100, 1 << 22] {
        let (shape, values) = try NPY.readFloats(fixture(name), chunkBytes: chunk)
        XCTAssertEqual(shape, whole.shape, name)
        XCTAssertEqual(values, whole.floats(), "\(name) in chunks of \(chunk) bytes")
      }
    }
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let bytes: [UInt8] = (0..<120).map { (i: Int) -> UInt8 in UInt8(i * 37 % 256) }
    try NPY.write(NDArray(shape: [3, 2, 4, 5], uint8: bytes), to: dir + "/u8_nchw.npy")
    let cases: [(String, [Float], [Int])] = [
      (fixture("f32_nchw.npy"), try NPY.read(fixture("f32_nchw.npy")).floats(), [2, 3, 4, 5]),
      (dir + "/u8_nchw.npy", bytes.map { Float($0) }, [3, 2, 4, 5]),
    ]
    for (path, values, s) in cases {
      let expected = nchwToNHWC(values, batch: s[0], channels: s[1], height: s[2], width: s[3])
      for chunk in [1, 50, 1 << 22] {
        let read = try NPY.readFloats(path, chunkBytes: chunk) { $0.count == 4 }
        XCTAssertEqual(read.shape, s)
        XCTAssertEqual(read.values, expected, "\(path) in chunks of \(chunk) bytes")
      }
    }
  }

  func testUnsupportedLayoutsAndTypesAreClearErrors() {
    assertError(fixture("fortran.npy"), contains: ["Fortran", "shape [2, 3]"])
    assertError(fixture("f64.npy"), contains: ["unsupported dtype '<f8'"])
    assertError(fixture("f32_bigendian.npy"), contains: ["unsupported dtype '>f4'"])
    assertError(fixture("does-not-exist.npy"), contains: ["cannot open"])
  }

  func testTruncatedAndCorruptFilesAreClearErrors() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let good = try readFile(fixture("f32_nchw.npy"))
    let cases: [(String, [UInt8], [String])] = [
      ("data.npy", Array(good.dropLast(5)), ["truncated data", "needs 480 bytes", "has 475"]),
      ("header.npy", Array(good.prefix(40)), ["truncated .npy header"]),
      ("magic.npy", Array("not numpy at all".utf8), ["not a .npy file"]),
      ("extra.npy", good + [1, 2, 3], ["3 unexpected bytes"]),
      ("empty.npy", [], ["not a .npy file"]),
    ]
    for (name, bytes, parts) in cases {
      let path = "\(dir)/\(name)"
      try writeFileAtomically(path, bytes)
      assertError(path, contains: parts)
    }
  }

  /// A header's shape is checked against the file before anything is allocated or multiplied
  /// out: these trapped on overflow (2⁶² int64 elements: the byte count; a zero dimension let
  /// 2³²·2³² pass, and a dataset's sample size then overflowed), or read past a 10-byte header.
  func testHugeDeclaredShapesAreErrorsNotTraps() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func file(_ header: String, data: [UInt8] = [], major: UInt8 = 1) -> [UInt8] {
      var h = Array(header.utf8)
      h += [UInt8](repeating: 0x20, count: (64 - (10 + h.count + 1) % 64) % 64) + [0x0A]
      let length = major == 1 ? [UInt8(h.count & 0xFF), UInt8(h.count >> 8)] : [UInt8(h.count & 0xFF), 0, 0, 0]
      return NPY.magic + [major, 0] + length + h + data
    }
    let cases: [(String, [UInt8])] = [
      ("huge", file("{'descr': '<i8', 'fortran_order': False, 'shape': (4611686018427387904,), }", data: [0, 0])),
      ("huge-v2", file("{'descr': '<f4', 'fortran_order': False, 'shape': (3037000500, 3037000500), }", major: 2)),
      ("zero", file("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }")),
    ]
    for (name, bytes) in cases {
      let path = "\(dir)/\(name).npy"
      try writeFileAtomically(path, bytes)
      XCTAssertThrowsError(try NPY.decode(bytes), name) { XCTAssertTrue("\($0)".contains("too large"), "\($0)") }
      assertError(path, contains: ["too large for any file"])
      XCTAssertThrowsError(try NPY.readFloats(path), name)
      XCTAssertNil(NPY.readShape(path), name)
    }
    // A version-2 magic with nothing after it: no header length to read.
    let short = "\(dir)/short.npy"
    try writeFileAtomically(short, NPY.magic + [2, 0, 0x10, 0])
    XCTAssertNil(NPY.readShape(short))
    assertError(short, contains: ["truncated .npy header"])
  }

  func testHeaderParser() throws {
    let h = try NPY.parseHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (1347,), }   \n")
    XCTAssertEqual(h.descr, "<i8")
    XCTAssertFalse(h.fortran)
    XCTAssertEqual(h.shape, [1347])
    XCTAssertEqual(try NPY.parseHeader("{'shape': (), 'fortran_order': False, 'descr': '|u1'}").shape, [])
    XCTAssertThrowsError(try NPY.parseHeader("{'descr': '<f4', 'shape': (2, 3)}"))
  }
}
