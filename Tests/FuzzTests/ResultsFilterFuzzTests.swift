import Analysis
import Engine
import XCTest

final class ResultsFilterFuzzTests: XCTestCase {
  /// `orch results --where`: any input parses to a filter or is an OrchError, and a parsed filter
  /// evaluates over a row without trapping, whatever its values.
  func testWhereExpression() {
    let row: [String: ConfigValue] = [
      "test_acc": .double(0.93), "model.width": .int(128), "state": .string("COMPLETED"), "flag": .bool(true),
      "nan": .double(.nan), "big": .int(Int.max), "small": .int(Int.min), "list": .list([.int(1)]),
    ]
    Fuzz.run(
      "results-where",
      seeds: ["test_acc > 0.9", "model.width == 128 and not flag", "((a))", "x == 'y' or y != \"z\""],
      tokens: [
        "and", "or", "not", "==", "!=", "<=", ">=", "(", ")", "'", "\"", "1e308", "-9223372036854775809", "&&", "||",
      ]
    ) { bytes in
      let filter = try ResultsFilter.parse(Fuzz.text(bytes))
      _ = filter.matches { row[$0] }
      _ = filter.matches { _ in nil }
    }
  }
}
