import Foundation
import XCTest

@testable import Registry

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("Fixtures/registry").path

/// `derive:` renders `{holes}` in the checkpoint references it binds (`set`, axes, `when`), as a
/// `key:` entry does; what it copies from its source stays as the source rendered it.
final class DeriveReferenceTests: XCTestCase {
  func testDeriveRendersHolesInTheReferencesItBinds() throws {
    let r = try Registry.load(path: fixtures + "/derive_references/p200_derive_refs.yaml")
    let byKey = Dictionary(uniqueKeysWithValues: r.configs.map { ($0.key, $0) })
    // `set`
    let ft = try XCTUnwrap(byKey["ft/seed0"])
    XCTAssertEqual(ft.binding("train.finetune_from"), .string("/y/ckpt-E1.pth"))
    XCTAssertTrue(ft.canonicalJSON.contains("\"train.finetune_from\":\"/y/ckpt-E1.pth\""), ft.canonicalJSON)
    // An axis value, each entry of a list binding, `{key}` as the derived key.
    XCTAssertEqual(
      byKey["sel/seed1"]?.binding("select.from"),
      .list([.string("train/seed1@final"), .string("sel/seed1@E001")]))
    XCTAssertEqual(
      byKey["sel/seed0"]?.binding("select.from"),
      .list([.string("train/seed0@final"), .string("sel/seed0@E001")]))
    // A `when` that fires; one that does not leaves nothing behind.
    XCTAssertEqual(byKey["sel/seed1"]?.binding("caml.reference"), .string("train/seed1@E001"))
    XCTAssertNil(byKey["sel/seed0"]?.binding("caml.reference"))
    // Copied as rendered by the source entry: its literal braces are not holes now.
    XCTAssertEqual(byKey["eval/src"]?.binding("eval.checkpoint"), .string("/x/{literal}.safetensors"))
    XCTAssertEqual(byKey["copy/src"]?.binding("eval.checkpoint"), .string("/x/{literal}.safetensors"))
    for c in r.configs {
      for slot in CheckpointReference.slots(c.binding) where slot.text != "/x/{literal}.safetensors" {
        XCTAssertFalse(slot.text.contains("{"), "\(c.key): \(slot.label) '\(slot.text)' kept a hole")
      }
    }
  }

  func testAnUnfilledHoleInADerivedReferenceIsALoadErrorAtItsBinding() {
    do {
      let r = try Registry.load(path: fixtures + "/errors/derive_reference_unbound.yaml")
      XCTFail("loaded: \(r.configs.map { "\($0.key) \($0.canonicalJSON)" })")
    } catch {
      XCTAssertEqual(error.kind, .badInput)
      XCTAssertEqual(error.exitCode, 2)
      XCTAssertTrue(
        error.description.hasSuffix(
          "derive_reference_unbound.yaml:7:11: config 'train/seed0/ft': train.finetune_from '/y/ckpt-E{ckpts}.pth' uses unbound name 'ckpts'"
        ), error.description)
    }
  }
}
