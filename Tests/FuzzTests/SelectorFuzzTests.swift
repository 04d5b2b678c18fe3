import SlurmSyntax
import XCTest

final class SelectorFuzzTests: XCTestCase {
  /// scancel/scontrol job selectors (`12`, `12_3`, `12_[1-3,7]`): a bad one is an OrchError.
  func testJobSelector() {
    Fuzz.run("job-selector", seeds: ["12", "12_3", "12_[1-3,7]", "7_[0-99]", "3+1"], tokens: ["_", "_["]) {
      _ = try JobSelector.parse(Fuzz.text($0))
    }
  }
}
