import XCTest

@testable import Engine

final class DatasetTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws {
    dir = try temporaryDirectory()
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: dir)
  }

  func write(_ array: NDArray, _ name: String, in directory: String? = nil) throws {
    try NPY.write(array, to: "\(directory ?? dir)/\(name)")
  }

  func loadError(_ directory: String) -> String {
    do {
      _ = try Dataset.load(directory: directory)
      return "no error"
    } catch {
      return error.description
    }
  }

  /// [N, C, H, W] values that encode their own index: n·1000 + c·100 + h·10 + w.
  func nchw(_ n: Int, _ c: Int, _ h: Int, _ w: Int) -> [Float] {
    var out: [Float] = []
    for s in 0..<n {
      for ch in 0..<c { for y in 0..<h { for x in 0..<w { out.append(Float(s * 1000 + ch * 100 + y * 10 + x)) } } }
    }
    return out
  }

  func testImagesInNCHWAndNHWCLoadToTheSameNHWCValues() throws {
    let (n, c, h, w) = (4, 3, 2, 5)
    let values = nchw(n, c, h, w)
    let labels = NDArray(shape: [n], int64: [0, 1, 2, 1])
    // Directory A: NCHW with `_targets`; directory B: the same images in NHWC with `_y`.
    let a = dir + "/a"
    let b = dir + "/b"
    for d in [a, b] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
    for split in ["train", "test"] {
      try write(NDArray(shape: [n, c, h, w], float32: values), "\(split)_x.npy", in: a)
      try write(labels, "\(split)_targets.npy", in: a)
      try write(
        NDArray(shape: [n, h, w, c], float32: nchwToNHWC(values, batch: n, channels: c, height: h, width: w)),
        "\(split)_x.npy", in: b)
      try write(labels, "\(split)_y.npy", in: b)
    }
    let da = try Dataset.load(directory: a)
    let db = try Dataset.load(directory: b)
    XCTAssertEqual(da.kind, .images)
    XCTAssertEqual(da.sampleShape, [h, w, c])
    XCTAssertEqual(db.sampleShape, [h, w, c])
    XCTAssertEqual(da.train.inputs, db.train.inputs)
    XCTAssertEqual(da.classes, 3)
    XCTAssertEqual(da.test.labels, [0, 1, 2, 1])
    XCTAssertNil(da.val)
    // Sample 1, pixel (y 1, x 2), channel 2 sits at NHWC offset ((1·H + 1)·W + 2)·C + 2.
    XCTAssertEqual(da.train.inputs[((1 * h + 1) * w + 2) * c + 2], 1212)
    // Forcing the layout overrides the rule.
    let forced = try Dataset.load(directory: b, layout: .nchw)
    XCTAssertEqual(forced.sampleShape, [w, c, h])
  }

  func testGrayscaleSignalsFeaturesValAndBias() throws {
    try write(NDArray(shape: [3, 2, 2], uint8: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), "train_x.npy")
    try write(NDArray(shape: [3], int64: [0, 1, 0]), "train_y.npy")
    try write(NDArray(shape: [1, 2, 2], uint8: [1, 1, 1, 1]), "test_x.npy")
    try write(NDArray(shape: [1], int64: [1]), "test_y.npy")
    try write(NDArray(shape: [1, 2, 2], uint8: [2, 2, 2, 2]), "val_x.npy")
    try write(NDArray(shape: [1], int64: [0]), "val_targets.npy")
    try write(NDArray(shape: [1], int64: [1]), "test_bias.npy")
    let d = try Dataset.load(directory: dir)
    XCTAssertEqual(d.sampleShape, [2, 2, 1])
    XCTAssertEqual(d.train.inputs, (0..<12).map(Float.init))
    XCTAssertEqual(d.val?.inputs, [2, 2, 2, 2])
    XCTAssertEqual(d.test.bias, [1])
    XCTAssertNil(d.train.bias)

    let signals = dir + "/signals"
    try FileManager.default.createDirectory(atPath: signals, withIntermediateDirectories: true)
    try write(NDArray(shape: [2, 5], float32: (0..<10).map(Float.init)), "train_x.npy", in: signals)
    try write(NDArray(shape: [2], int64: [0, 1]), "train_y.npy", in: signals)
    try write(NDArray(shape: [2, 5], float32: (0..<10).map(Float.init)), "test_x.npy", in: signals)
    try write(NDArray(shape: [2], int64: [1, 0]), "test_y.npy", in: signals)
    let s = try Dataset.load(directory: signals)
    XCTAssertEqual(s.kind, .images)
    XCTAssertEqual(s.sampleShape, [5])
    XCTAssertEqual(s.channels, 1)

    let feats = dir + "/feats"
    try FileManager.default.createDirectory(atPath: feats, withIntermediateDirectories: true)
    for split in ["train", "test"] {
      try write(NDArray(shape: [4, 2, 3], float32: (0..<24).map(Float.init)), "\(split)_feats.npy", in: feats)
      try write(NDArray(shape: [4], int64: [0, 1, 1, 0]), "\(split)_targets.npy", in: feats)
      try write(NDArray(shape: [4], int64: [0, 0, 1, 1]), "\(split)_bias.npy", in: feats)
    }
    var f = try Dataset.load(directory: feats)
    XCTAssertEqual(f.kind, .features)
    XCTAssertEqual(f.sampleShape, [6])
    XCTAssertEqual(f.channels, 6)
    XCTAssertEqual(f.train.bias, [0, 0, 1, 1])
    // Per-feature standardisation from the train split.
    f.normalize()
    for j in 0..<6 {
      let column = (0..<4).map { f.train.inputs[$0 * 6 + j] }
      XCTAssertEqual(column.reduce(0, +) / 4, 0, accuracy: 1e-5)
      XCTAssertEqual(column.map { $0 * $0 }.reduce(0, +) / 4, 1, accuracy: 1e-4)
    }
  }

  func testPerChannelNormalisation() throws {
    var rng = RNG(seed: 5)
    var values: [Float] = []
    for i in 0..<(20 * 4 * 4 * 3) {
      let scale: Float = i % 3 == 0 ? 200 : 10
      values.append(scale * rng.uniform() + Float(i % 3))
    }
    for split in ["train", "test"] {
      try write(NDArray(shape: [20, 4, 4, 3], float32: values), "\(split)_x.npy")
      try write(NDArray(shape: [20], int64: (0..<20).map { Int64($0 % 2) }), "\(split)_y.npy")
    }
    var d = try Dataset.load(directory: dir)
    XCTAssertEqual(d.channels, 3)
    let (mean, std) = d.normalize()
    XCTAssertEqual(mean.count, 3)
    XCTAssertGreaterThan(std[0], std[1] * 5)
    for ch in 0..<3 {
      let xs = stride(from: ch, to: d.train.inputs.count, by: 3).map { Double(d.train.inputs[$0]) }
      XCTAssertEqual(xs.reduce(0, +) / Double(xs.count), 0, accuracy: 1e-4)
      XCTAssertEqual(xs.map { $0 * $0 }.reduce(0, +) / Double(xs.count), 1, accuracy: 1e-3)
    }
  }

  /// The statistics and normalised values are exactly those of the plain loops (Double sums in
  /// sample order per channel, then (x − mean) · (1/std)), whatever the number of channels.
  func testNormalisationMatchesThePlainLoopsBitForBit() {
    for c in [1, 2, 3, 4, 5, 17, 64] {
      let n = 37
      var rng = RNG(seed: UInt64(c))
      let values = (0..<(n * c)).map { i in Float(i % c + 1) * 50 * rng.uniform() - 7 }
      let features = Split(name: "train", inputs: values, labels: (0..<n).map { $0 % 2 })
      var d = Dataset(
        name: "t", kind: c <= 4 ? .images : .features, sampleShape: c <= 4 ? [1, 1, c] : [c], classes: 2,
        train: features, test: features)
      let (mean, std) = d.normalize()
      var sum = [Double](repeating: 0, count: c)
      var squares = [Double](repeating: 0, count: c)
      for i in 0..<n {
        for ch in 0..<c {
          let v = Double(values[i * c + ch])
          sum[ch] += v
          squares[ch] += v * v
        }
      }
      let expectedMean = sum.map { Float($0 / Double(n)) }
      let expectedStd = (0..<c).map { ch -> Float in
        let m = sum[ch] / Double(n)
        let s = Float(max(0, squares[ch] / Double(n) - m * m).squareRoot())
        return s > 1e-6 ? s : 1
      }
      XCTAssertEqual(mean, expectedMean, "\(c) channels")
      XCTAssertEqual(std, expectedStd, "\(c) channels")
      let expected = values.indices.map { (values[$0] - expectedMean[$0 % c]) * (1 / expectedStd[$0 % c]) }
      XCTAssertEqual(d.train.inputs, expected, "\(c) channels")
      XCTAssertEqual(d.test.inputs, expected, "\(c) channels")
    }
  }

  func testBadLabelsAndShapesAreClearErrors() throws {
    try write(NDArray(shape: [3, 4], float32: [Float](repeating: 0, count: 12)), "train_x.npy")
    try write(NDArray(shape: [3], int64: [0, 1, 2]), "train_targets.npy")
    try write(NDArray(shape: [2, 4], float32: [Float](repeating: 0, count: 8)), "test_x.npy")
    try write(NDArray(shape: [2], int64: [1, 5]), "test_targets.npy")
    XCTAssertEqual(
      loadError(dir),
      "while loading dataset \(dir): test_targets.npy: label 5 at index 1 is outside 0..<3 (3 classes, inferred from"
        + " the train labels; set data.num_classes)")
    XCTAssertNoThrow(try Dataset.load(directory: dir, classes: 6))

    try write(NDArray(shape: [2], int64: [1, -1]), "test_targets.npy")
    XCTAssertTrue(loadError(dir).contains("label -1 at index 1"))

    try write(NDArray(shape: [3], int64: [0, 1, 1]), "test_targets.npy")
    XCTAssertTrue(loadError(dir).contains("test_targets.npy has shape [3], expected [2]"), loadError(dir))

    try write(NDArray(shape: [2], float32: [0, 1]), "test_targets.npy")
    XCTAssertTrue(loadError(dir).contains("expected integer labels, found float32"), loadError(dir))

    try write(NDArray(shape: [2], int64: [0, 1]), "test_targets.npy")
    try write(NDArray(shape: [2, 5], float32: [Float](repeating: 0, count: 10)), "test_x.npy")
    XCTAssertTrue(loadError(dir).contains("test_x.npy has samples of shape [5], train has [4]"), loadError(dir))

    try FileManager.default.removeItem(atPath: dir + "/test_targets.npy")
    XCTAssertTrue(loadError(dir).contains("test_x.npy has no labels (test_targets.npy or test_y.npy)"), loadError(dir))
    XCTAssertTrue(loadError(dir + "/missing").contains("no train_x.npy or train_feats.npy"))
  }

  func testShufflingIsIdenticalForASeedAndDiffersForAnother() {
    let split = Split(name: "train", inputs: (0..<(50 * 2)).map(Float.init), labels: (0..<50).map { $0 % 3 })
    func epochs(seed: UInt64) -> [[Int]] {
      var loader = BatchLoader(split: split, sampleShape: [2], batchSize: 8)
      var rng = RNG(seed: seed, stream: 1)
      var aug = RNG(seed: seed, stream: 3)
      var seen: [[Int]] = []
      for _ in 0..<3 {
        loader.shuffle(rng: &rng)
        var labels: [Int] = []
        for b in 0..<loader.batchesPerEpoch {
          let n = loader.load(batch: b, rng: &aug)
          labels += loader.labels[0..<n]
          // Inputs follow the order: sample s holds 2s, 2s+1.
          let s = loader.order[b * 8]
          XCTAssertEqual(loader.inputs[0], Float(2 * s))
        }
        XCTAssertEqual(labels.count, 50)
        seen.append(loader.order)
      }
      return seen
    }
    let a = epochs(seed: 42)
    XCTAssertEqual(a, epochs(seed: 42))
    XCTAssertNotEqual(a, epochs(seed: 43))
    XCTAssertNotEqual(a[0], a[1], "each epoch draws a new order")
    XCTAssertEqual(a[0].sorted(), Array(0..<50))
  }

  func testBatchesPerEpochAndDropLast() {
    let split = Split(name: "train", inputs: [Float](repeating: 0, count: 10), labels: [Int](repeating: 0, count: 10))
    XCTAssertEqual(BatchLoader(split: split, sampleShape: [1], batchSize: 4).batchesPerEpoch, 3)
    XCTAssertEqual(BatchLoader(split: split, sampleShape: [1], batchSize: 4, dropLast: true).batchesPerEpoch, 2)
    var loader = BatchLoader(split: split, sampleShape: [1], batchSize: 4)
    var rng = RNG(seed: 1)
    XCTAssertEqual(loader.load(batch: 2, rng: &rng), 2)
  }

  func testAugmentationCropsAndFlipsFromItsOwnStream() {
    // One 3×4 single-channel image with values 1...12.
    let image: [Float] = (1...12).map(Float.init)
    var out = [Float](repeating: -1, count: 12)
    let flipOnly = Augmentation(cropPadding: 0, flip: true)
    var rng = RNG(seed: 3)
    var flips = 0
    for _ in 0..<40 {
      flipOnly.apply(to: &out, from: image, height: 3, width: 4, channels: 1, rng: &rng)
      if out == image { continue }
      XCTAssertEqual(out, [4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9])
      flips += 1
    }
    XCTAssertTrue(flips > 5 && flips < 35, "\(flips) flips of 40")

    let crop = Augmentation(cropPadding: 1, flip: false)
    var shifted = 0
    for _ in 0..<40 {
      crop.apply(to: &out, from: image, height: 3, width: 4, channels: 1, rng: &rng)
      // Every output pixel is an input pixel or padding, and the content is a shift.
      XCTAssertTrue(out.allSatisfy { $0 == 0 || image.contains($0) })
      if out != image { shifted += 1 }
    }
    XCTAssertGreaterThan(shifted, 20)
    var a = RNG(seed: 9)
    var b = RNG(seed: 9)
    var outB = out
    let both = Augmentation(cropPadding: 2, flip: true)
    both.apply(to: &out, from: image, height: 3, width: 4, channels: 1, rng: &a)
    both.apply(to: &outB, from: image, height: 3, width: 4, channels: 1, rng: &b)
    XCTAssertEqual(out, outB)
  }

  func testDataLocation() throws {
    // Default: found walking up from the test executable to the package's data/ folder.
    let root = try XCTUnwrap(DataLocation.root(environment: [:]))
    XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/digits/train_x.npy"), root)
    XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/mnist1d/SHA256SUMS"), root)
    XCTAssertEqual(try DataLocation.resolve("digits", environment: [:]), root + "/digits")
    // ORCH_DATA_DIR wins.
    XCTAssertEqual(DataLocation.root(environment: ["ORCH_DATA_DIR": dir]), dir)
    try FileManager.default.createDirectory(atPath: dir + "/mine", withIntermediateDirectories: true)
    XCTAssertEqual(try DataLocation.resolve("mine", environment: ["ORCH_DATA_DIR": dir]), dir + "/mine")
    XCTAssertEqual(try DataLocation.resolve(dir + "/mine", environment: [:]), dir + "/mine")
    XCTAssertThrowsError(try DataLocation.resolve("nope", environment: ["ORCH_DATA_DIR": dir])) { error in
      XCTAssertTrue("\(error)".contains("dataset 'nope' not found in \(dir) (available: mine)"), "\(error)")
    }
  }

  func testBuiltinDatasetsMatchTheirChecksums() throws {
    let root = try XCTUnwrap(DataLocation.root(environment: [:]))
    for name in DataLocation.builtins {
      let sums = try String(contentsOfFile: "\(root)/\(name)/SHA256SUMS", encoding: .utf8)
      for line in sums.split(separator: "\n") {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        XCTAssertEqual(parts.count, 2)
        let bytes = try readFile("\(root)/\(name)/\(parts[1])")
        XCTAssertEqual(sha256Hex(bytes), String(parts[0]), "\(name)/\(parts[1])")
      }
    }
    let digits = try Dataset.load(directory: root + "/digits")
    XCTAssertEqual(digits.sampleShape, [8, 8, 1])
    XCTAssertEqual(digits.train.count, 1347)
    XCTAssertEqual(digits.test.count, 450)
    XCTAssertEqual(digits.classes, 10)
    let mnist1d = try Dataset.load(directory: root + "/mnist1d")
    XCTAssertEqual(mnist1d.sampleShape, [40])
    XCTAssertEqual(mnist1d.train.count, 4000)
    XCTAssertEqual(mnist1d.classes, 10)
  }
}
