import XCTest

@testable import Engine

/// Labels against the class count (`ClassLabels`): the same errors when a sweep is submitted
/// (`Dataset.checkFiles`) and when a job loads its data, never a model sized by a stray label.
final class ClassLabelTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws {
    dir = try temporaryDirectory()
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: dir)
  }

  /// A 12-sample feature dataset whose train labels are 0…9 then `last` twice; test labels 0…3.
  func writeDataset(last: Int64, trainLabels: NDArray? = nil) throws {
    try NPY.write(NDArray(shape: [12, 2], float32: (0..<24).map(Float.init)), to: dir + "/train_feats.npy")
    try NPY.write(
      trainLabels ?? NDArray(shape: [12], int64: (0..<10).map(Int64.init) + [last, last]), to: dir + "/train_y.npy")
    try NPY.write(NDArray(shape: [4, 2], float32: (0..<8).map(Float.init)), to: dir + "/test_feats.npy")
    try NPY.write(NDArray(shape: [4], int64: [0, 1, 2, 3]), to: dir + "/test_y.npy")
  }

  /// The error of loading and of the submission's check, which must agree.
  func errors(classes: Int = 0) -> (load: String, submit: String) {
    var load = "no error"
    var submit = "no error"
    do { _ = try Dataset.load(directory: dir, classes: classes) } catch { load = error.description }
    do { try Dataset.checkFiles(directory: dir, needsBias: false, classes: classes) } catch {
      submit = error.description
    }
    return (load, submit)
  }

  func assertBoth(_ parts: [String], classes: Int = 0, file: StaticString = #filePath, line: UInt = #line) {
    let (load, submit) = errors(classes: classes)
    for part in parts {
      XCTAssertTrue(load.contains(part), "load: '\(load)' lacks '\(part)'", file: file, line: line)
      XCTAssertTrue(submit.contains(part), "submit: '\(submit)' lacks '\(part)'", file: file, line: line)
    }
  }

  func testHugeLabelsAreErrorsNotAModelOfThatSize() throws {
    // 2⁶² made the model's layout overflow (SIGILL); 10¹¹ asked for 6.8 TB of parameters.
    for label: Int64 in [1 << 62, 100_000_000_000, Int64.max] {
      try writeDataset(last: label)
      assertBoth(["train_y.npy: label \(label) at index 10", "at most \(ClassLabels.maxClasses)"])
    }
    // Declared: a label past data.num_classes, and a count past the limit.
    try writeDataset(last: 1 << 62)
    assertBoth(
      ["train_y.npy: label 4611686018427387904 at index 10 is outside 0..<20", "data.num_classes"], classes: 20)
    try writeDataset(last: 11)
    assertBoth(["data.num_classes is 100001", "at most 100000"], classes: 100_001)
  }

  func testAGapInTheLabelsNeedsTheClassCountDeclared() throws {
    // 99 with ten distinct labels below it silently trained a 100-class model.
    try writeDataset(last: 99)
    assertBoth([
      "train_y.npy: the labels are not the class ids 0…99 without gaps", "11 distinct values up to 99",
      "89 ids missing (10, 11, 12, 13, 14, …)", "set data.num_classes",
    ])
    XCTAssertEqual(try Dataset.load(directory: dir, classes: 100).classes, 100)
    XCTAssertNoThrow(try Dataset.checkFiles(directory: dir, needsBias: false, classes: 100))
    // Dense labels infer their count.
    try writeDataset(last: 10)
    XCTAssertEqual(try Dataset.load(directory: dir).classes, 11)
    XCTAssertNoThrow(try Dataset.checkFiles(directory: dir, needsBias: false))
  }

  func testNegativeAndNonIntegerLabelsAndTestLabelsOutsideTheCount() throws {
    try writeDataset(last: -1)
    assertBoth(["train_y.npy: label -1 at index 10 is negative"])
    assertBoth(["train_y.npy: label -1 at index 10 is outside 0..<12 (12 classes, data.num_classes)"], classes: 12)
    try writeDataset(last: 0, trainLabels: NDArray(shape: [12], float32: (0..<12).map(Float.init)))
    assertBoth(["expected integer labels, found float32"])
    try writeDataset(last: 0, trainLabels: NDArray(shape: [12, 1], int64: (0..<12).map(Int64.init)))
    assertBoth(["train_y.npy has shape [12, 1], expected [12]"])
    // Train labels 0…9 infer 10 classes; a test label 10 lies outside.
    try writeDataset(last: 9)
    try NPY.write(NDArray(shape: [4], int64: [0, 1, 10, 3]), to: dir + "/test_y.npy")
    assertBoth([
      "test_y.npy: label 10 at index 2 is outside 0..<10 (10 classes, inferred from the train labels; set"
        + " data.num_classes)"
    ])
    XCTAssertNoThrow(try Dataset.checkFiles(directory: dir, needsBias: false, classes: 11))
  }

  func testTheSchemaBoundsTheDeclaredClassCount() {
    XCTAssertThrowsError(try EngineSchema.validate(["data.num_classes": .int(1 << 40)])) { error in
      XCTAssertTrue("\(error)".contains("data.num_classes"), "\(error)")
    }
    XCTAssertNoThrow(try EngineSchema.validate(["data.num_classes": .int(ClassLabels.maxClasses)]))
  }
}
