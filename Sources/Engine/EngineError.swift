/// The one error type of the Engine library. `context` holds what was being done, outermost
/// first, so the message reads "while reading train_x.npy: truncated data: …".
public struct EngineError: Error, CustomStringConvertible, Sendable, Equatable {
  public enum Kind: String, Sendable, Equatable {
    case io, format, shape, config, numeric
  }

  public var kind: Kind
  public var message: String
  public var context: [String]

  public init(_ kind: Kind, _ message: String, context: [String] = []) {
    self.kind = kind
    self.message = message
    self.context = context
  }

  /// Returns a copy with `what` prepended as the outermost context.
  public func adding(context what: String) -> EngineError {
    var copy = self
    copy.context.insert(what, at: 0)
    return copy
  }

  public var description: String {
    (context.map { "while \($0)" } + [message]).joined(separator: ": ")
  }
}

/// Runs `body`, prefixing any `EngineError` (or wrapping any other error) with `context`.
@inlinable
public func withContext<T>(_ context: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
  do {
    return try body()
  } catch let error as EngineError {
    throw error.adding(context: context())
  } catch {
    throw EngineError(.io, "\(error)", context: [context()])
  }
}
