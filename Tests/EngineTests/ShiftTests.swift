import Foundation
import XCTest

@testable import Engine

/// Class subsets (`data.classes`, `data.exclude_classes`, `data.class_subset_seed`), shifts
/// (`shift.tint`, `shift.tint_test`, `shift.vflip`) and the per-example outputs (`margins.npy`,
/// `correct.npy`).
final class ShiftTests: XCTestCase {
  /// `n` images h×w×c per split whose entry j of sample i is `(i * 5 + j) % 100 + 20`, labels
  /// i % classes.
  func dataset(n: Int = 12, height h: Int = 3, width w: Int = 2, channels c: Int = 3, classes: Int = 4) -> Dataset {
    let size = h * w * c
    func split(_ name: String) -> Split {
      Split(
        name: name, inputs: (0..<(n * size)).map { Float(($0 / size * 5 + $0 % size) % 100 + 20) },
        labels: (0..<n).map { $0 % classes })
    }
    return Dataset(
      name: "toy", kind: .images, sampleShape: [h, w, c], classes: classes, train: split("train"),
      val: split("val"), test: split("test"))
  }

  func transforms(_ bindings: [String: ConfigValue]) throws -> TransformConfig {
    try EngineSchema.validate(bindings).transforms
  }

  func prepare(_ data: Dataset, _ bindings: [String: ConfigValue], normalize: Bool = false) throws -> Dataset {
    try PreparedData.prepare(data, config: try transforms(bindings), normalize: normalize).dataset
  }

  func message(_ body: () throws -> Void) -> String {
    do {
      try body()
      return "accepted"
    } catch {
      return "\(error)"
    }
  }

  // MARK: Tint

  func testTintBlendsEachImageWithTheColourOfItsDrawnClassInRawUnits() throws {
    let data = dataset()
    let tinted = try prepare(data, ["shift.tint": 0.5, "shift.seed": 7])
    // Colours: uniform in the train split's raw range [20, 92], class by class, channel by channel.
    XCTAssertEqual(data.train.inputs.min(), 20)
    XCTAssertEqual(data.train.inputs.max(), 92)
    var rng = RNG(seed: 7, stream: 0x7147)
    let colours = (0..<12).map { _ in Float(20) + Float(72) * rng.uniform() }  // [4 classes, 3 channels]
    let tint = Tint(classes: 4, channels: 3, seed: 7, rawLow: 20, rawHigh: 92)
    XCTAssertEqual(tint.colours, colours)
    for (name, original, shifted) in [
      ("train", data.train, tinted.train), ("val", data.val!, tinted.val!), ("test", data.test, tinted.test),
    ] {
      // The per-image draws, replayed: u < p → own class, else the r-th other class.
      var draws = RNG(seed: 7, stream: 0x7150 + ["train": 1, "val": 2, "test": 3][name]!)
      for i in 0..<original.count {
        let label = original.labels[i]
        let u = draws.uniformDouble()
        let r = draws.below(3)
        let k = u < 0.5 ? label : (r < label ? r : r + 1)
        for j in 0..<18 {
          let expected = 0.75 * original.inputs[i * 18 + j] + 0.25 * colours[k * 3 + j % 3]
          XCTAssertEqual(shifted.inputs[i * 18 + j], expected, "\(name) sample \(i) entry \(j)")
        }
      }
      XCTAssertEqual(shifted.labels, original.labels)
    }
    // A pixel worked by hand: sample 0 entry 0 is 20; at p = 1 it takes class 0's colour.
    let own = try prepare(data, ["shift.tint": 1.0, "shift.seed": 7])
    XCTAssertEqual(own.train.inputs[0], 15 + 0.25 * colours[0])
    XCTAssertEqual(own.test.inputs[18 + 2], 0.75 * 27 + 0.25 * colours[1 * 3 + 2])  // sample 1 (class 1), entry 2
  }

  func testTintProbabilityChoosesOwnColourAtRateAndOtherColoursUniformly() throws {
    let labels = (0..<4000).map { $0 % 5 }
    let split = Split(name: "train", inputs: [Float](repeating: 0, count: 4000 * 3), labels: labels)
    let tint = Tint(classes: 5, channels: 3, seed: 1, rawLow: 0, rawHigh: 255)
    let at90 = tint.colourClasses(split, p: 0.9)
    let at50 = tint.colourClasses(split, p: 0.5)
    let at0 = tint.colourClasses(split, p: 0)
    let own90 = Set(labels.indices.filter { at90[$0] == labels[$0] })
    let own50 = Set(labels.indices.filter { at50[$0] == labels[$0] })
    XCTAssertEqual(Double(own90.count) / 4000, 0.9, accuracy: 0.02)
    XCTAssertEqual(Double(own50.count) / 4000, 0.5, accuracy: 0.03)
    XCTAssertTrue(own50.isSubset(of: own90), "one seed: the own-colour images at p are among those at any larger p")
    XCTAssertTrue(labels.indices.allSatisfy { at0[$0] != labels[$0] }, "p = 0: never the own colour")
    // The other colour does not depend on p, and is uniform over the 4 other classes.
    for i in labels.indices where at90[i] != labels[i] { XCTAssertEqual(at90[i], at0[i]) }
    for c in 0..<5 {
      let others = labels.indices.filter { labels[$0] == c }.map { at0[$0] }
      for k in 0..<5 where k != c {
        XCTAssertEqual(Double(others.filter { $0 == k }.count) / Double(others.count), 0.25, accuracy: 0.05)
      }
    }
    XCTAssertEqual(tint.colourClasses(split, p: 0.9), at90, "deterministic")
    XCTAssertNotEqual(
      Tint(classes: 5, channels: 3, seed: 2, rawLow: 0, rawHigh: 255).colourClasses(split, p: 0.5), at50)
  }

  /// ID vs OOD: `shift.tint` alone tints val and test like train (the reference distribution);
  /// `shift.tint_test: 0` changes only val and test, so the normalisation is the training job's.
  func testTintTestChangesOnlyValAndTestAndKeepsTheStatistics() throws {
    let data = dataset(n: 40)
    let reference = try prepare(data, ["shift.tint": 0.9], normalize: true)
    let same = try prepare(data, ["shift.tint": 0.9, "shift.tint_test": 0.9], normalize: true)
    let shifted = try prepare(data, ["shift.tint": 0.9, "shift.tint_test": 0.0], normalize: true)
    XCTAssertEqual(same.test.inputs, reference.test.inputs)
    XCTAssertEqual(shifted.train.inputs, reference.train.inputs, "same train split, same statistics")
    XCTAssertNotEqual(shifted.test.inputs, reference.test.inputs)
    XCTAssertNotEqual(shifted.val!.inputs, reference.val!.inputs)
    // tint_test alone shifts val and test of a model trained without the tint.
    let onlyTest = try prepare(data, ["shift.tint_test": 0.0])
    XCTAssertEqual(onlyTest.train.inputs, data.train.inputs)
    XCTAssertNotEqual(onlyTest.test.inputs, data.test.inputs)
  }

  // MARK: Vertical flip

  func testVerticalFlipReversesRowsOfEverySplit() throws {
    let data = dataset()
    let flipped = try prepare(data, ["shift.vflip": true])
    for (original, shifted) in [(data.train, flipped.train), (data.val!, flipped.val!), (data.test, flipped.test)] {
      for i in 0..<original.count {
        for y in 0..<3 {
          for j in 0..<6 {  // a row: 2 pixels × 3 channels
            XCTAssertEqual(shifted.inputs[i * 18 + y * 6 + j], original.inputs[i * 18 + (2 - y) * 6 + j])
          }
        }
      }
    }
    // Sample 0 by hand: rows [20…25], [26…31], [32…37] become [32…37], [26…31], [20…25].
    XCTAssertEqual(Array(flipped.train.inputs[0..<18]), [32...37, 26...31, 20...25].flatMap { $0.map(Float.init) })
    var twice = flipped.test.inputs
    verticalFlip(&twice, [3, 2, 3])
    XCTAssertEqual(twice, data.test.inputs)
  }

  // MARK: Class subsets

  func testRandomHalfIsDeterministicHalfSizedAndSeedDependent() {
    for classes in [2, 7, 10, 64] {
      let half = ClassSubset.randomHalf(classes: classes, seed: 3)
      XCTAssertEqual(half.count, classes / 2)
      XCTAssertEqual(half, half.sorted())
      XCTAssertEqual(Set(half).count, half.count)
      XCTAssertTrue(half.allSatisfy { (0..<classes).contains($0) })
      XCTAssertEqual(ClassSubset.randomHalf(classes: classes, seed: 3), half)
    }
    let halves = Set((0..<20).map { ClassSubset.randomHalf(classes: 64, seed: UInt64($0)) })
    XCTAssertEqual(halves.count, 20, "20 seeds, 20 different halves")
    // Over many seeds every class is in about half of the subsets.
    var counts = [Int](repeating: 0, count: 64)
    for seed in 0..<400 { for c in ClassSubset.randomHalf(classes: 64, seed: UInt64(seed)) { counts[c] += 1 } }
    XCTAssertTrue(counts.allSatisfy { (140...260).contains($0) }, "\(counts)")
  }

  /// The documented recipe, reimplemented in Python, picks the same classes.
  func testRandomHalfMatchesItsPythonReimplementation() throws {
    let script = fixturesDirectory + "/class_subset.py"
    for classes in [10, 64, 7] {
      let seeds = [0, 1, 2, 17, 123_456_789]
      let code =
        "import runpy, sys; sys.argv = ['x', '\(classes)'] + [str(s) for s in \(seeds)];"
        + " runpy.run_path('\(script)', run_name='__main__')"
      guard let out = try runPython(code) else { throw XCTSkip("python3 is not available") }
      let lines = out.split(separator: "\n").map { $0.split(separator: " ").map { Int($0)! } }
      XCTAssertEqual(
        lines, seeds.map { ClassSubset.randomHalf(classes: classes, seed: UInt64($0)) }, "\(classes) classes")
    }
  }

  func testClassSubsetsFilterOnlyTheTrainSplitAndKeepLabels() throws {
    let data = dataset(n: 20, classes: 5)
    let kept = try prepare(data, ["data.classes": [3, 1]])
    XCTAssertEqual(kept.classes, 5, "the model keeps every output class")
    XCTAssertEqual(kept.train.labels, data.train.labels.filter { $0 == 1 || $0 == 3 })
    XCTAssertEqual(kept.test.inputs, data.test.inputs)
    XCTAssertEqual(kept.test.labels, data.test.labels)
    XCTAssertEqual(kept.val!.labels, data.val!.labels)
    // Each kept image is the original image, in order.
    let indices = data.train.labels.indices.filter { [1, 3].contains(data.train.labels[$0]) }
    for (k, i) in indices.enumerated() {
      XCTAssertEqual(
        Array(kept.train.inputs[(k * 18)..<(k * 18 + 18)]), Array(data.train.inputs[(i * 18)..<(i * 18 + 18)]))
    }
    let dropped = try prepare(data, ["data.exclude_classes": [0, 4]])
    XCTAssertEqual(dropped.train.labels, data.train.labels.filter { ![0, 4].contains($0) })
    let half = try prepare(data, ["data.class_subset_seed": 5])
    let chosen = ClassSubset.randomHalf(classes: 5, seed: 5)
    XCTAssertEqual(chosen.count, 2)
    XCTAssertEqual(half.train.labels, data.train.labels.filter { chosen.contains($0) })
    XCTAssertEqual(
      try transforms(["data.class_subset_seed": 5]).keptClasses(classCount: 5), chosen,
      "what the orchestrator computes for the config")
    // The normalisation statistics are the whole train split's: test is normalised the same way.
    let normalisedAll = try prepare(data, [:], normalize: true)
    let normalisedSubset = try prepare(data, ["data.classes": [3, 1]], normalize: true)
    XCTAssertEqual(normalisedSubset.test.inputs, normalisedAll.test.inputs)
  }

  func testTrainingOnASubsetSeesOnlyItsClasses() throws {
    let config = try EngineSchema.validate([
      "data.name": "digits", "model.arch": "linear", "train.epochs": 1, "train.batch_size": 64,
      "data.class_subset_seed": 2,
    ])
    let prepared = try PreparedData.load(for: config)
    let chosen = ClassSubset.randomHalf(classes: 10, seed: 2)
    XCTAssertEqual(Set(prepared.dataset.train.labels), Set(chosen))
    XCTAssertEqual(prepared.dataset.classes, 10)
    XCTAssertEqual(Set(prepared.dataset.test.labels).count, 10)
  }

  // MARK: Bad input

  func testBadClassAndShiftBindingsAreClearErrors() throws {
    func validation(_ b: [String: ConfigValue]) -> String { message { _ = try EngineSchema.validate(b) } }
    XCTAssertTrue(
      validation(["data.classes": [1], "data.exclude_classes": [2]]).contains(
        "bindings 'data.classes' and 'data.exclude_classes' exclude each other"))
    XCTAssertTrue(validation(["data.classes": [1], "data.class_subset_seed": 0]).contains("exclude each other"))
    XCTAssertTrue(validation(["data.classes": [-1]]).contains("expects class ids ≥ 0, got -1"))
    XCTAssertTrue(validation(["data.exclude_classes": [2, 2]]).contains("lists class 2 more than once"))
    XCTAssertTrue(validation(["data.class_subset_seed": -2]).contains("expects a value ≥ -1"))
    XCTAssertTrue(validation(["shift.tint": 1.5]).contains("'shift.tint' expects a value in [0, 1], or -1 (off)"))
    XCTAssertTrue(validation(["shift.tint_test": -0.5]).contains("'shift.tint_test' expects a value in [0, 1]"))
    XCTAssertTrue(validation(["shift.vflip": 1]).contains("'shift.vflip' expects true or false"))
    XCTAssertTrue(validation(["shift.tnt": 0.5]).contains("did you mean 'shift.tint'?"))
    XCTAssertEqual(validation(["shift.tint": 0, "shift.tint_test": 1, "data.class_subset_seed": 0]), "accepted")

    let data = dataset(n: 8, classes: 4)
    XCTAssertTrue(
      message { _ = try prepare(data, ["data.classes": [1, 4]]) }.contains(
        "binding 'data.classes' names class 4, and toy has 4 classes (ids 0…3)"))
    XCTAssertTrue(
      message { _ = try prepare(data, ["data.exclude_classes": [0, 1, 2, 3]]) }.contains(
        "drops all 4 classes of toy: nothing to train on"))
    // Known at submission for generated datasets, by name.
    let glyphs = try transforms(["data.exclude_classes": [64]])
    XCTAssertTrue(
      message { try glyphs.check(sampleShape: [16, 16, 3], kind: .images, dataName: "glyphs") }.contains(
        "names class 64, and glyphs has 64 classes"))
    // Shifts need images; a class subset does not.
    let features = Dataset(
      name: "feats", kind: .features, sampleShape: [4], classes: 2,
      train: Split(name: "train", inputs: [Float](repeating: 1, count: 16), labels: [0, 1, 0, 1]),
      test: Split(name: "test", inputs: [Float](repeating: 1, count: 8), labels: [0, 1]))
    XCTAssertTrue(
      message { _ = try prepare(features, ["shift.tint": 0.5]) }.contains("binding 'shift.tint' applies to images"))
    XCTAssertTrue(
      message { _ = try prepare(features, ["shift.vflip": true]) }.contains("'shift.vflip' applies to images"))
    XCTAssertEqual(try prepare(features, ["data.classes": [1]]).train.labels, [1, 1])
  }

  // MARK: Per-example outputs

  func testMarginsAndCorrectnessOfKnownLogits() {
    let logits: [Float] = [
      2, 0.5, -1,  // label 0: margin 1.5, correct
      0, 3, 1,  // label 2: margin 1 − 3 = −2, wrong
      1, 1, 0,  // label 1: tie with class 0 → margin 0, wrong (argmax takes the first)
      1, 1, 0,  // label 0: tie → margin 0, correct
    ]
    let (margins, correct) = PerExampleOutputs.compute(logits: logits, labels: [0, 2, 1, 0], classes: 3)
    XCTAssertEqual(margins, [1.5, -2, 0, 0])
    XCTAssertEqual(correct, [1, 0, 0, 1])
  }

  /// A tint-trained model: its final evaluation writes margins and correctness beside the
  /// predictions; an eval job reproduces them bit for bit, and `shift.tint_test: 0` evaluates it
  /// on the shifted set.
  func testTrainingAndEvaluationWriteMarginsAndTheShiftedEvaluationDiffers() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let config = try EngineSchema.validate([
      "data.name": "digits", "model.arch": "mlp", "model.width": 32, "model.depth": 1, "train.epochs": 2,
      "train.batch_size": 32, "optimizer.base_lr": 0.05, "shift.tint": 0.9, "shift.seed": 3,
    ])
    let events = EventRecorder()
    _ = try Trainer(config: config, runDir: dir + "/train", events: events).run()
    let labels = try NPY.read(DataLocation.resolve("digits") + "/test_y.npy").integers()
    func outputs(_ run: String) throws -> (logits: [Float], margins: [Float], correct: [Int]) {
      (
        try NPY.read(run + "/predictions.npy").floats(), try NPY.read(run + "/margins.npy").floats(),
        try NPY.read(run + "/correct.npy").integers()
      )
    }
    let trained = try outputs(dir + "/train")
    XCTAssertEqual(try NPY.read(dir + "/train/correct.npy").dtype, .uint8)
    XCTAssertEqual(trained.margins.count, labels.count)
    let (margins, correct) = PerExampleOutputs.compute(logits: trained.logits, labels: labels, classes: 10)
    XCTAssertEqual(trained.margins, margins)
    XCTAssertEqual(trained.correct, correct.map(Int.init))
    for name in ["predictions", "margins", "correct"] {
      XCTAssertTrue(events.events.contains(.artifact(name: name, path: dir + "/train/\(name).npy")), name)
    }
    let accuracy = events.metric("test_acc").last!
    XCTAssertEqual(Double(trained.correct.reduce(0, +)) / Double(labels.count), accuracy, accuracy: 1e-12)

    func evaluate(_ bindings: [String: ConfigValue], _ name: String) throws -> TrainResult {
      let e = EventRecorder()
      let r = try Evaluator(config: EvalConfig.validate(bindings), runDir: dir + "/" + name, events: e).run()
      XCTAssertTrue(e.events.contains(.artifact(name: "margins", path: dir + "/\(name)/margins.npy")))
      XCTAssertTrue(e.events.contains(.artifact(name: "correct", path: dir + "/\(name)/correct.npy")))
      return r
    }
    let checkpoint = ConfigValue.string(dir + "/train")
    let reference = try evaluate(["eval.checkpoint": checkpoint], "reference")
    XCTAssertEqual(reference.metrics["test_acc"], accuracy)
    XCTAssertEqual(try outputs(dir + "/reference").margins.map(\.bitPattern), trained.margins.map(\.bitPattern))
    let explicit = try evaluate(["eval.checkpoint": checkpoint, "shift.tint_test": 0.9], "explicit")
    XCTAssertEqual(try outputs(dir + "/explicit").logits, trained.logits)
    let shifted = try evaluate(["eval.checkpoint": checkpoint, "shift.tint_test": 0.0], "shifted")
    XCTAssertNotEqual(try outputs(dir + "/shifted").logits, trained.logits)
    XCTAssertNotEqual(shifted.metrics["test_acc"], accuracy)
    let flipped = try evaluate(["eval.checkpoint": checkpoint, "shift.vflip": true], "flipped")
    XCTAssertNotEqual(try outputs(dir + "/flipped").logits, trained.logits)
    XCTAssertNotEqual(flipped.metrics["test_acc"], accuracy)
  }
}
