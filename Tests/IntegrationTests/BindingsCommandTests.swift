import Foundation
import XCTest

/// `orch bindings` (the engine's binding reference) and `orch show` with the engine's defaults.
final class BindingsCommandTests: XCTestCase {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  func testBindingsListsEveryBindingWithTypeDefaultAllowedValuesAndMeaning() throws {
    let c = try Cluster()
    let r = try c.run(["bindings", "--json"])
    XCTAssertEqual(r.code, 0, r.err)
    let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
    let docs = try String(contentsOfFile: Self.repository + "/docs/bindings.md", encoding: .utf8)
    let documented = docs.split(separator: "\n").filter { $0.hasPrefix("| `") }.map {
      String($0.dropFirst(3).prefix { $0 != "`" })
    }
    XCTAssertEqual(rows.compactMap { $0["name"] as? String }, documented)
    XCTAssertGreaterThan(rows.count, 60)
    let lr = try XCTUnwrap(rows.first { $0["name"] as? String == "optimizer.base_lr" })
    XCTAssertEqual(lr["type"] as? String, "float")
    XCTAssertEqual(lr["default"] as? Double, 0.1)
    XCTAssertEqual(lr["allowed"] as? String, "≥ 0, finite")
    XCTAssertEqual(lr["meaning"] as? String, "base learning rate, scaled by the schedule")
    let arch = try XCTUnwrap(rows.first { $0["name"] as? String == "model.arch" })
    XCTAssertEqual(arch["choices"] as? [String], ["linear", "mlp", "cnn", "resnet"])
    XCTAssertTrue(rows.allSatisfy { !($0["meaning"] as? String ?? "").isEmpty })

    let markdown = try c.run(["bindings", "--markdown"])
    XCTAssertEqual(markdown.code, 0, markdown.err)
    XCTAssertEqual(markdown.out, docs, "docs/bindings.md is stale: `make docs`")
  }

  func testTheRegexSelectsByNameOrMeaning() throws {
    let c = try Cluster()
    let r = try c.run(["bindings", "^optimizer\\."])
    XCTAssertEqual(r.code, 0, r.err)
    let lines = r.out.split(separator: "\n")
    XCTAssertTrue(lines.first?.hasPrefix("NAME ") ?? false, r.out)
    XCTAssertEqual(lines.count - 1, 8, r.out)
    XCTAssertTrue(lines.dropFirst().allSatisfy { $0.hasPrefix("optimizer.") }, r.out)
    let warmup = try c.run(["bindings", "warmup", "--json"])
    let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(warmup.out.utf8)) as? [[String: Any]])
    XCTAssertEqual(rows.compactMap { $0["name"] as? String }, ["lr_scheduler.warmup_epochs"])
    let byMeaning = try c.run(["bindings", "learning rate", "--json"])
    let named = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(byMeaning.out.utf8)) as? [[String: Any]])
    XCTAssertTrue(named.contains { $0["name"] as? String == "optimizer.base_lr" }, byMeaning.out)
    let none = try c.run(["bindings", "no-such-binding"])
    XCTAssertEqual(none.code, 2)
    XCTAssertTrue(none.err.contains("no binding matches"), none.err)
    XCTAssertEqual(try c.run(["bindings", "("]).code, 2)
  }

  /// `orch show` printed only the config's own bindings; it now fills in the engine's defaults,
  /// each marked, in name order with the explicit ones.
  func testShowPrintsTheEnginesDefaultsMarked() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/s.yaml",
      """
      register:
        - key: "w{model.width}"
          engine: train
          bindings: {model.width: 64, optimizer.base_lr: 0.05, init: scratch}
        - key: cmd
          command: [echo, hi]
          bindings: {lr: 0.1}
      """)
    let r = try c.run(["show", "w64", "--sweeps", "sweeps"])
    XCTAssertEqual(r.code, 0, r.err)
    let bindings = r.out.split(separator: "\n").filter { $0.hasPrefix("  ") }.map { String($0.dropFirst(2)) }
    XCTAssertTrue(bindings.contains("model.width = 64"), r.out)
    XCTAssertTrue(bindings.contains("optimizer.base_lr = 0.05"), r.out)
    XCTAssertTrue(bindings.contains("init = scratch"), r.out)
    XCTAssertTrue(bindings.contains("optimizer.eps = 1e-08  (default)"), r.out)
    XCTAssertTrue(bindings.contains("train.epochs = 10  (default)"), r.out)
    XCTAssertTrue(bindings.contains("train.finetune_from = \"\"  (default)"), r.out)
    XCTAssertFalse(bindings.contains { $0.hasPrefix("select.") || $0.hasPrefix("eval.") }, r.out)
    XCTAssertFalse(bindings.contains { $0.hasPrefix("model.width") && $0.hasSuffix("(default)") }, r.out)
    XCTAssertEqual(bindings, bindings.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
    let cmd = try c.run(["show", "cmd", "--sweeps", "sweeps"])
    XCTAssertEqual(cmd.code, 0, cmd.err)
    XCTAssertFalse(cmd.out.contains("(default)"), cmd.out)
    XCTAssertTrue(cmd.out.contains("  lr = 0.1\n"), cmd.out)
  }

  /// An unknown name gets the binding its last dotted part names: `optimizer.lr` used to get
  /// `optimizer.eps` (nearer by edit distance).
  func testSubmitSuggestsTheBindingTheLastDottedPartNames() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/typo.yaml",
      """
      register:
        - key: typo
          engine: train
          bindings: {optimizer.lr: 0.1}
      """)
    let r = try c.run(["submit", "sweeps/typo.yaml"])
    XCTAssertEqual(r.code, 2)
    XCTAssertTrue(r.err.contains("unknown binding 'optimizer.lr'; did you mean 'optimizer.base_lr'?"), r.err)
  }
}
