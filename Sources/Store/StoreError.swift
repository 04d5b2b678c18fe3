/// The one error type of the Store library: what failed, and while doing what.
public struct StoreError: Error, CustomStringConvertible, Sendable {
  public var message: String
  /// A caller's own error thrown inside a transaction, kept so the caller can rethrow it as is.
  public var underlying: (any Error)?

  public init(_ message: String, underlying: (any Error)? = nil) {
    self.message = message
    self.underlying = underlying
  }
  public var description: String { message }

  /// Wraps any error thrown while `context` ("while claiming job 12_3").
  static func wrap<T>(_ context: @autoclosure () -> String, _ body: () throws -> T) throws(StoreError) -> T {
    do { return try body() } catch let error as StoreError {
      throw StoreError("\(context()): \(error.message)", underlying: error.underlying)
    } catch {
      throw StoreError("\(context()): \(error)", underlying: error)
    }
  }
}
