import Foundation
import XCTest

@testable import Engine

/// The binding reference (`orch bindings`, docs/bindings.md) and the suggestions for unknown names.
final class BindingReferenceTests: XCTestCase {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  func testDocsBindingsIsCurrent() throws {
    let path = Self.repository.appendingPathComponent("docs/bindings.md").path
    let text = try String(contentsOfFile: path, encoding: .utf8)
    XCTAssertEqual(
      text, EngineSchema.referenceMarkdown,
      "docs/bindings.md is stale: regenerate it with `make docs` (orch bindings --markdown > docs/bindings.md)")
  }

  func testTheReferenceListsEveryBindingOnceWithItsDefaultAndMeaning() throws {
    let markdown = EngineSchema.referenceMarkdown
    let names = EngineSchema.bindings.map(\.name) + EngineSchema.evalBindings.map(\.name)
    XCTAssertEqual(EngineSchema.reference.map(\.name), names)
    for spec in EngineSchema.reference {
      let rows = markdown.split(separator: "\n").filter { $0.hasPrefix("| `\(spec.name)` |") }
      XCTAssertEqual(rows.count, 1, spec.name)
      XCTAssertTrue(rows.first?.contains("| `\(spec.defaultValue.json)` |") ?? false, "\(spec.name): \(rows)")
      XCTAssertFalse(spec.doc.isEmpty, "\(spec.name) has a meaning")
    }
  }

  func testReferenceJSONIsOneObjectPerBindingWithTypedDefaults() throws {
    for spec in EngineSchema.reference {
      let object = try XCTUnwrap(
        try JSONSerialization.jsonObject(with: Data(spec.referenceJSON.utf8), options: [.fragmentsAllowed])
          as? [String: Any], spec.referenceJSON)
      XCTAssertEqual(object["name"] as? String, spec.name)
      XCTAssertEqual(object["meaning"] as? String, spec.doc)
      XCTAssertEqual(object["type"] as? String, spec.typeName)
      XCTAssertEqual(object["allowed"] as? String, spec.allowed)
      XCTAssertEqual(object["choices"] as? [String], spec.choices)
      // The default round-trips as the engine parses it.
      let encoded = try JSONSerialization.data(withJSONObject: ["d": object["default"]!])
      let decoded = try ConfigValue.parse(json: String(decoding: encoded, as: UTF8.self))
      guard case .map(let m) = decoded else { return XCTFail("not an object") }
      XCTAssertEqual(
        try EngineSchema.check(name: spec.name, value: m["d"]!), spec.defaultValue, "\(spec.name)'s default")
    }
    let lr = try XCTUnwrap(EngineSchema.reference.first { $0.name == "optimizer.name" })
    XCTAssertEqual(lr.choices, ["sgd", "adam", "adamw"])
    XCTAssertEqual(lr.allowed, "sgd, adam, adamw")
    XCTAssertEqual(EngineSchema.reference.first { $0.name == "data.name" }?.engines, ["train", "eval"])
    XCTAssertEqual(EngineSchema.reference.first { $0.name == "model.width" }?.engines, ["train"])
    XCTAssertEqual(EngineSchema.reference.first { $0.name == "eval.alpha" }?.engines, ["eval"])
  }

  /// The old suggestion was the nearest whole name by edit distance: `optimizer.lr` got
  /// `optimizer.eps` (3 edits) rather than `optimizer.base_lr` (5).
  func testSuggestionsMatchTheLastDottedPart() {
    let expected = [
      "optimizer.lr": "optimizer.base_lr",
      "train.lr": "optimizer.base_lr",
      "lr_scheduler.warmup": "lr_scheduler.warmup_epochs",
      "train.batch": "train.batch_size",
      "model.epochs": "train.epochs",
      "data.seed": "data.shuffle_seed",
      "optimizer.weight": "optimizer.weight_decay",
      "lr_schedular.name": "lr_scheduler.name",
      // Typos of a whole name still get that name.
      "optimizer.base_lrr": "optimizer.base_lr",
      "train.epoch": "train.epochs",
      "model.widht": "model.width",
      "spurious.typ": "spurious.type",
      "eval.alpah": "eval.alpha",
    ]
    for (name, want) in expected {
      XCTAssertEqual(EngineSchema.suggestion(for: name), want, name)
    }
    XCTAssertThrowsError(try EngineSchema.validate(["optimizer.lr": 0.1])) { error in
      XCTAssertEqual(
        (error as? EngineError)?.message, "unknown binding 'optimizer.lr'; did you mean 'optimizer.base_lr'?")
    }
  }
}
