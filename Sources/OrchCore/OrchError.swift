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

  public var description: String { "\(UserText.escaped(file)):\(line):\(column)" }
}

/// The one error type of the Orchestrator library. The CLI prints `description` on one line and
/// exits with `exitCode`: 2 for bad input (nothing was changed), 1 for a failure while working.
public struct OrchError: Error, CustomStringConvertible, Sendable {
  public enum Kind: Sendable { case badInput, failure }

  public var kind: Kind
  public var message: String
  public var location: SourceLocation?
  /// Fixed text for the lines after the message (SLURM's tools follow getopt's error with a usage
  /// hint); never the user's input, so never escaped.
  public var usage: String?

  /// `message` may quote the user's input as is: it is escaped here, once for every error.
  public init(_ kind: Kind, _ message: String, at location: SourceLocation? = nil) {
    self.kind = kind
    self.message = UserText.escaped(message)
    self.location = location
  }

  public static func badInput(_ message: String, at location: SourceLocation? = nil) -> OrchError {
    OrchError(.badInput, message, at: location)
  }

  public static func failure(_ message: String) -> OrchError { OrchError(.failure, message) }

  public static func badInput(_ message: String, usage: String) -> OrchError {
    var error = OrchError(.badInput, message)
    error.usage = usage
    return error
  }

  public var exitCode: Int32 { kind == .badInput ? 2 : 1 }

  public var description: String {
    let line = location.map { "\($0): \(message)" } ?? message
    return usage.map { line + "\n" + $0 } ?? line
  }
}

/// Text from the user (names, keys, paths, file contents) as it may appear in a one-line message,
/// and which of its characters a name must not hold. Control characters (C0, DEL, C1), line and
/// paragraph separators and bidirectional controls could end an error's line, rewrite the
/// terminal, or show a name other than the one stored (U+202E reverses what follows).
public enum UserText {
  /// Why `scalar` is refused in a name, or nil when it may appear.
  public static func problem(_ scalar: Unicode.Scalar) -> String? {
    switch scalar.value {
    case 0x00...0x1F, 0x7F...0x9F: return "control character"
    case 0x2028: return "line separator"
    case 0x2029: return "paragraph separator"
    default: return scalar.properties.isBidiControl ? "bidirectional control" : nil
    }
  }

  /// The first refused character of `text`: what it is and where (0-based, in Unicode scalars).
  public static func firstProblem(_ text: String) -> (problem: String, scalar: Unicode.Scalar, offset: Int)? {
    for (i, s) in text.unicodeScalars.enumerated() {
      if let p = problem(s) { return (p, s, i) }
    }
    return nil
  }

  /// `text` with every refused character written as an escape: `\n`, `\t`, `\r`, else `\u{202E}`.
  /// Printable text (backslashes included) is unchanged, so escaping twice changes nothing.
  public static func escaped(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: { problem($0) != nil }) else { return text }
    var out = String.UnicodeScalarView()
    for s in text.unicodeScalars {
      guard problem(s) != nil else {
        out.append(s)
        continue
      }
      switch s {
      case "\n": out.append(contentsOf: "\\n".unicodeScalars)
      case "\t": out.append(contentsOf: "\\t".unicodeScalars)
      case "\r": out.append(contentsOf: "\\r".unicodeScalars)
      default: out.append(contentsOf: "\\u{\(String(s.value, radix: 16, uppercase: true))}".unicodeScalars)
      }
    }
    return String(out)
  }

  /// Refuses `text` (a name, a path) if it holds a refused character, saying which and where.
  public static func check(_ text: String, _ what: String, at location: SourceLocation? = nil) throws(OrchError) {
    guard let (problem, scalar, offset) = firstProblem(text) else { return }
    throw .badInput(
      "\(what) '\(text)' contains a \(problem) (U+\(hex4(scalar)) at character \(offset + 1)); it must be printable",
      at: location)
  }

  static func hex4(_ s: Unicode.Scalar) -> String {
    let h = String(s.value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - h.count)) + h
  }
}
