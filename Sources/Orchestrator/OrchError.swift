/// Where in a user's file something went wrong; printed as `file:line:column`.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
  public var file: String
  public var line: Int
  public var column: Int

  public init(file: String, line: Int, column: Int) {
    self.file = file
    self.line = line
    self.column = column
  }

  public var description: String { "\(file):\(line):\(column)" }
}

/// The one error type of the Orchestrator library. The CLI prints `description` on one line and
/// exits with `exitCode`: 2 for bad input (nothing was changed), 1 for a failure while working.
public struct OrchError: Error, CustomStringConvertible, Sendable {
  public enum Kind: Sendable { case badInput, failure }

  public var kind: Kind
  public var message: String
  public var location: SourceLocation?

  public init(_ kind: Kind, _ message: String, at location: SourceLocation? = nil) {
    self.kind = kind
    self.message = message
    self.location = location
  }

  public static func badInput(_ message: String, at location: SourceLocation? = nil) -> OrchError {
    OrchError(.badInput, message, at: location)
  }

  public static func failure(_ message: String) -> OrchError { OrchError(.failure, message) }

  public var exitCode: Int32 { kind == .badInput ? 2 : 1 }

  public var description: String {
    if let location { return "\(location): \(message)" }
    return message
  }
}
