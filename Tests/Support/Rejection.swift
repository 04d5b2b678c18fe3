import OrchCore
import XCTest

/// Runs `body`, requires a bad-input `OrchError`, and returns its message for exact checks.
@discardableResult
public func slurmRejection<T>(
  _ body: () throws(OrchError) -> T, file: StaticString = #filePath, line: UInt = #line
) -> String {
  do {
    let value = try body()
    XCTFail("expected an error, got \(value)", file: file, line: line)
    return ""
  } catch {
    XCTAssertEqual(error.kind, .badInput, file: file, line: line)
    XCTAssertFalse(error.message.contains("\n"), "messages are one line", file: file, line: line)
    return error.message
  }
}
