import Foundation
import XCTest

@testable import Engine

/// The data transforms (`data.block_shuffle`, `data.pixel_shuffle`, `spurious.*`) on known inputs.
final class TransformTests: XCTestCase {
  /// An RGB dataset of `n` images h×w whose entry j of sample i is `(i * 7 + j) % 200 + 10`
  /// (raw range 10…209), labels i % classes.
  func rgbDataset(n: Int = 12, height h: Int = 8, width w: Int = 8, classes: Int = 3) -> Dataset {
    let size = h * w * 3
    func split(_ name: String) -> Split {
      Split(
        name: name, inputs: (0..<(n * size)).map { Float(($0 / size * 7 + $0 % size) % 200 + 10) },
        labels: (0..<n).map { $0 % classes })
    }
    return Dataset(
      name: "rgb", kind: .images, sampleShape: [h, w, 3], classes: classes, train: split("train"), test: split("test"))
  }

  func transforms(_ bindings: [String: ConfigValue]) throws -> TransformConfig {
    try EngineSchema.validate(bindings).transforms
  }

  // MARK: Spurious patch

  func testSquarePatchIsYellowTopLeftQuarterSideInRawUnits() throws {
    let data = rgbDataset()
    let prepared = try PreparedData.prepare(
      data, config: try transforms(["spurious.type": "square"]), normalize: false)
    let patch = try XCTUnwrap(prepared.patch)
    XCTAssertEqual(patch.side, 2)  // 8 / 4
    // Every test image is patched (fraction 1, all classes); the train split is left to training.
    XCTAssertEqual(prepared.trainMarked, Array(repeating: true, count: 12))
    XCTAssertEqual(prepared.dataset.train.inputs, data.train.inputs)
    let size = 8 * 8 * 3
    for i in 0..<12 {
      for y in 0..<8 {
        for x in 0..<8 {
          for ch in 0..<3 {
            let j = i * size + (y * 8 + x) * 3 + ch
            let expected = y < 2 && x < 2 ? [Float(209), 209, 10][ch] : data.test.inputs[j]
            XCTAssertEqual(prepared.dataset.test.inputs[j], expected, "sample \(i) y \(y) x \(x) channel \(ch)")
          }
        }
      }
    }
  }

  func testSquarePatchIsWrittenInNormalisedUnits() throws {
    let data = rgbDataset()
    var normalised = data
    let stats = normalised.normalize()
    let prepared = try PreparedData.prepare(data, config: try transforms(["spurious.type": "square"]), normalize: true)
    let pixel = Array(prepared.dataset.test.inputs[0..<3])
    for (ch, raw) in [Float(209), 209, 10].enumerated() {
      XCTAssertEqual(pixel[ch], (raw - stats.mean[ch]) / stats.std[ch], accuracy: 1e-5)
    }
    // Outside the square: normalised as without the patch; the statistics ignore the patch.
    XCTAssertEqual(prepared.dataset.test.inputs[100], normalised.test.inputs[100])
  }

  func testMarkedSamplesAreAFixedFractionOfTheChosenClasses() throws {
    let data = rgbDataset(n: 30)
    let config = try transforms(["spurious.type": "square", "spurious.fraction": 0.5, "spurious.classes": [1]])
    let patch = SpuriousPatch(
      config, sampleShape: [8, 8, 3], rawLow: 0, rawHigh: 255, mean: [0, 0, 0], std: [1, 1, 1])
    let mask = patch.marked(data.train)
    XCTAssertEqual(mask.filter { $0 }.count, 5)  // half of the 10 images of class 1
    for (i, m) in mask.enumerated() where m { XCTAssertEqual(data.train.labels[i], 1) }
    XCTAssertEqual(patch.marked(data.train), mask, "deterministic")
    let other = SpuriousPatch(
      try transforms(["spurious.type": "square", "spurious.fraction": 0.5, "spurious.classes": [1], "spurious.seed": 9]
      ),
      sampleShape: [8, 8, 3], rawLow: 0, rawHigh: 255, mean: [0, 0, 0], std: [1, 1, 1])
    XCTAssertNotEqual(other.marked(data.train), mask, "another seed marks other images")
    // Unmarked test images keep their pixels; marked ones get the square.
    let prepared = try PreparedData.prepare(data, config: config, normalize: false)
    let testMask = patch.marked(data.test)
    for i in 0..<30 {
      XCTAssertEqual(prepared.dataset.test.inputs[i * 192] == 209, testMask[i], "test sample \(i)")
    }
  }

  func testGaussianPatternIsFixedScaledAndClipped() throws {
    let data = rgbDataset()
    let config = try transforms(["spurious.type": "gaussian", "spurious.scale": 0.05])
    let a = try PreparedData.prepare(data, config: config, normalize: false).dataset.test.inputs
    let b = try PreparedData.prepare(data, config: config, normalize: false).dataset.test.inputs
    XCTAssertEqual(a, b, "deterministic")
    let size = 8 * 8 * 3
    var rng = RNG(seed: 0, stream: 0x6A55)
    let z = (0..<size).map { _ in rng.normal() }
    for i in [0, 5] {
      for j in 0..<size {
        let x = data.test.inputs[i * size + j]
        let expected = min(209, max(10, x + 0.05 * (209 - 10) * z[j]))
        XCTAssertEqual(a[i * size + j], expected, accuracy: 1e-4, "sample \(i) entry \(j)")
      }
    }
    let reseeded = try PreparedData.prepare(
      data, config: try transforms(["spurious.type": "gaussian", "spurious.seed": 1]), normalize: false)
    XCTAssertNotEqual(reseeded.dataset.test.inputs, a)
  }

  /// Training patches after the random crop and flip, so the square stays top-left; unmarked
  /// samples pass unchanged.
  func testTrainingPatchesAfterAugmentation() throws {
    let data = rgbDataset(n: 16)
    let config = try EngineSchema.validate([
      "data.name": "rgb", "model.arch": "linear", "train.batch_size": 8, "data.augment.flip": true,
      "data.augment.crop_padding": 1, "spurious.type": "square", "spurious.fraction": 0.5, "spurious.classes": [0, 2],
      "data.normalize": false,
    ])
    let prepared = try PreparedData.prepare(data, config: config.transforms, normalize: false)
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let session = try TrainingSession(
      config: config, runDir: dir, dataset: prepared, events: EventRecorder(), hooks: TrainHooks())
    var rng = RNG(seed: 5, stream: 3)
    var shuffle = RNG(seed: 5, stream: 1)
    session.loader.shuffle(rng: &shuffle)
    let marked = prepared.trainMarked
    XCTAssertEqual(marked.filter { $0 }.count, 6)  // round(0.5 · 11 images of classes 0 and 2), half away from 0
    for b in 0..<2 {
      let n = session.loader.load(batch: b, rng: &rng)
      let augmented = session.loader.inputs
      session.patchBatch(try XCTUnwrap(session.patch), index: b, count: n)
      let patched = session.patchedInputs
      for i in 0..<n {
        let s = session.loader.order[b * 8 + i]
        for j in 0..<192 {
          let (y, x, ch) = (j / 24, j / 3 % 8, j % 3)
          let expected = marked[s] && y < 2 && x < 2 ? [Float(209), 209, 10][ch] : augmented[i * 192 + j]
          XCTAssertEqual(patched[i * 192 + j], expected, "batch \(b) sample \(s) entry \(j)")
        }
      }
    }
  }

  // MARK: Permutations

  func testBlockShuffleMovesWholeBlocksAndIsInvertibleAndDeterministic() throws {
    let (h, w, c) = (4, 6, 2)
    let p = try ImagePermutation.blockShuffle(height: h, width: w, channels: c, block: 2, seed: 3)
    XCTAssertEqual(p, try ImagePermutation.blockShuffle(height: h, width: w, channels: c, block: 2, seed: 3))
    XCTAssertNotEqual(p, try ImagePermutation.blockShuffle(height: h, width: w, channels: c, block: 2, seed: 4))
    XCTAssertNotEqual(p.source, Array(0..<(h * w * c)))
    // Each output block is one input block, its pixels and channels in their order.
    for by in 0..<2 {
      for bx in 0..<3 {
        let origin = p.source[(by * 2 * w + bx * 2) * c]
        XCTAssertEqual(origin % c, 0)
        let (oy, ox) = (origin / c / w, origin / c % w)
        XCTAssertTrue(oy % 2 == 0 && ox % 2 == 0, "block-aligned")
        for y in 0..<2 {
          for x in 0..<2 {
            for ch in 0..<c {
              XCTAssertEqual(p.source[((by * 2 + y) * w + bx * 2 + x) * c + ch], ((oy + y) * w + ox + x) * c + ch)
            }
          }
        }
      }
    }
    // Two samples permuted and permuted back.
    let original = (0..<(2 * h * w * c)).map(Float.init)
    var x = original
    p.apply(to: &x)
    XCTAssertEqual(x[0..<(h * w * c)].map { Int($0) }, p.source)
    XCTAssertEqual(x[(h * w * c)...].map { Int($0) - h * w * c }, p.source)
    p.inverse.apply(to: &x)
    XCTAssertEqual(x, original)
    // A block the size of the image is the identity; a block that does not divide is an error.
    XCTAssertEqual(
      try ImagePermutation.blockShuffle(height: 4, width: 4, channels: 1, block: 4, seed: 3).source, Array(0..<16))
    XCTAssertThrowsError(try ImagePermutation.blockShuffle(height: 4, width: 6, channels: 1, block: 4, seed: 0))
  }

  func testPixelShuffleIsOneFixedPermutationOfAllEntries() throws {
    let p = ImagePermutation.pixelShuffle(height: 4, width: 4, channels: 3, seed: 1)
    XCTAssertEqual(p, ImagePermutation.pixelShuffle(height: 4, width: 4, channels: 3, seed: 1))
    XCTAssertNotEqual(p, ImagePermutation.pixelShuffle(height: 4, width: 4, channels: 3, seed: 2))
    XCTAssertEqual(p.source.sorted(), Array(0..<48))
    var x = (0..<96).map(Float.init)
    p.apply(to: &x)
    p.inverse.apply(to: &x)
    XCTAssertEqual(x, (0..<96).map(Float.init))
  }

  func testPermutationAppliesToEverySplitBeforeNormalisation() throws {
    let data = rgbDataset()
    let config = try transforms(["data.block_shuffle": 4, "data.shuffle_seed": 2])
    let prepared = try PreparedData.prepare(data, config: config, normalize: false)
    let p = try ImagePermutation.blockShuffle(height: 8, width: 8, channels: 3, block: 4, seed: 2)
    var train = data.train.inputs
    var test = data.test.inputs
    p.apply(to: &train)
    p.apply(to: &test)
    XCTAssertEqual(prepared.dataset.train.inputs, train)
    XCTAssertEqual(prepared.dataset.test.inputs, test)
    XCTAssertNil(prepared.patch)
  }

  // MARK: Bad input

  func testBadTransformBindingsAreConfigErrors() {
    func message(_ bindings: [String: ConfigValue]) -> String? {
      do {
        _ = try EngineSchema.validate(bindings)
        return nil
      } catch {
        return error.message
      }
    }
    XCTAssertEqual(
      message(["spurious.type": "squares"]),
      "binding 'spurious.type' expects one of none, square, gaussian, got the string 'squares'; did you mean 'square'?")
    XCTAssertEqual(
      message(["spurious.typ": "square"]), "unknown binding 'spurious.typ'; did you mean 'spurious.type'?")
    XCTAssertEqual(
      message(["spurious.fraction": 1.5]),
      "binding 'spurious.fraction' expects a value in [0, 1], got the number 1.5")
    XCTAssertEqual(
      message(["data.block_shuffle": -1]), "binding 'data.block_shuffle' expects a value ≥ 0, got the integer -1")
    XCTAssertEqual(
      message(["data.block_shuffle": 2, "data.pixel_shuffle": true]),
      "bindings 'data.block_shuffle' and 'data.pixel_shuffle' exclude each other; set one of them")
    XCTAssertEqual(
      message(["spurious.classes": [1, -2]]), "binding 'spurious.classes' expects class indices ≥ 0, got -2")
  }

  func testTransformsAreCheckedAgainstTheImageShape() throws {
    func failure(_ config: TransformConfig, _ shape: [Int], _ kind: Dataset.Kind = .images) -> String? {
      do {
        try config.check(sampleShape: shape, kind: kind, dataName: "glyphs")
        return nil
      } catch {
        return error.message
      }
    }
    XCTAssertEqual(
      failure(try transforms(["data.block_shuffle": 3]), [16, 16, 3]),
      "binding 'data.block_shuffle' (3) does not divide the 16×16 images of glyphs (block sizes that do: 1, 2, 4, 8, 16)"
    )
    XCTAssertNil(failure(try transforms(["data.block_shuffle": 4]), [16, 16, 3]))
    XCTAssertEqual(
      failure(try transforms(["spurious.type": "square"]), [40], .images),
      "binding 'spurious.type' applies to images, and glyphs has samples of shape [40]")
    XCTAssertEqual(
      failure(try transforms(["data.pixel_shuffle": true]), [64], .features),
      "binding 'data.pixel_shuffle' applies to images, and glyphs has samples of shape [64] (feature vectors)")
    // Class indices are checked against the loaded data.
    XCTAssertThrowsError(
      try PreparedData.prepare(
        rgbDataset(), config: try transforms(["spurious.type": "square", "spurious.classes": [3]]), normalize: false)
    ) { XCTAssertTrue("\($0)".contains("names class 3, and rgb has 3 classes"), "\($0)") }
  }

  func testShapeProbeReadsOnlyHeaders() throws {
    let root = try XCTUnwrap(DataLocation.root(environment: [:]))
    let env = ["ORCH_DATA_DIR": root]
    XCTAssertEqual(
      TransformConfig.probeSampleShape(dataName: "digits", layout: .auto, environment: env)?.shape, [8, 8, 1])
    XCTAssertEqual(
      TransformConfig.probeSampleShape(dataName: "mnist1d", layout: .auto, environment: env)?.shape, [40])
    // Generated datasets are known without generating them.
    XCTAssertEqual(
      TransformConfig.probeSampleShape(dataName: "glyphs", layout: .auto, environment: [:])?.shape, [16, 16, 3])
    XCTAssertNil(TransformConfig.probeSampleShape(dataName: "/nonexistent/x", layout: .auto, environment: env))
  }
}
