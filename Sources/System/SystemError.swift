/// A failed system call or file operation, with what was attempted and errno's text.
public struct SystemError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
