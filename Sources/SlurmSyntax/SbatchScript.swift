import OrchCore

/// The batch script itself: sbatch's sanity checks, the `#!` interpreter, and the `#SBATCH`
/// directive scanner. Works on UTF-8 bytes as SLURM's C code does, so `\r` stays a byte and
/// columns count bytes.
public enum SbatchScript {
  public struct Token: Sendable, Equatable {
    public let text: String
    public let location: SourceLocation
  }

  /// `#!/bin/sh` plus the comment SLURM writes into every `--wrap` script.
  public static func wrapping(_ command: String) -> String {
    "#!/bin/sh\n# This script was created by sbatch --wrap.\n\n\(command)\n"
  }

  /// sbatch's `_get_script_buffer` checks, in its order, on the file's bytes (a UTF-8 byte-order
  /// mark before `#!` fails the `#!` test, as in sbatch).
  public static func validate(_ bytes: [UInt8]) throws(OrchError) {
    if bytes.isEmpty {
      throw .badInput("sbatch: error: Batch script is empty!")
    }
    if bytes.allSatisfy(isSpace) {
      throw .badInput("sbatch: error: Batch script contains only whitespace!")
    }
    if !(bytes.count >= 2 && bytes[0] == UInt8(ascii: "#") && bytes[1] == UInt8(ascii: "!")) {
      throw .badInput(
        "sbatch: error: This does not look like a batch script. The first line must start with #! followed by the path to an interpreter."
      )
    }
    if bytes.contains(0) {
      throw .badInput(
        "sbatch: error: The Slurm controller does not allow scripts that contain a NULL character '\\0'.")
    }
    if zip(bytes, bytes.dropFirst()).contains(where: { $0 == UInt8(ascii: "\r") && $1 == UInt8(ascii: "\n") }) {
      throw .badInput(
        "sbatch: error: Batch script contains DOS line breaks (\\r\\n) instead of expected UNIX line breaks (\\n).")
    }
  }

  /// The kernel's reading of `#!`: blanks skipped, the interpreter up to the next blank, and the
  /// rest of the line (trimmed) as one argument, so `#!/usr/bin/env -S a b` passes `-S a b` whole.
  public static func interpreter(_ body: String, file: String) throws(OrchError) -> [String] {
    let firstLine = body.utf8.prefix { $0 != UInt8(ascii: "\n") }.dropFirst(2)
    let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
    let rest = firstLine.drop(while: blank)
    let path = rest.prefix { !blank($0) }
    if path.isEmpty {
      throw .badInput(
        "sbatch: error: the #! line names no interpreter; expected a path such as #!/bin/bash",
        at: SourceLocation(file: file, line: 1, column: 1))
    }
    var argument = rest.dropFirst(path.count).drop(while: blank)
    while let last = argument.last, blank(last) { argument = argument.dropLast() }
    let head = String(decoding: path, as: UTF8.self)
    return argument.isEmpty ? [head] : [head, String(decoding: argument, as: UTF8.self)]
  }

  /// The words of every `#SBATCH` line, in order, as sbatch collects them before handing them to
  /// getopt as one argument vector. A line counts when `#SBATCH` starts at column 0; scanning
  /// stops at the first line whose first non-blank character is not `#`.
  public static func directiveTokens(_ body: String, file: String) throws(OrchError) -> [Token] {
    let magic = Array("#SBATCH".utf8)
    var tokens: [Token] = []
    var lineNumber = 0
    for line in body.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
      lineNumber += 1
      let bytes = Array(line)
      guard bytes.starts(with: magic) else {
        if let first = bytes.first(where: { !isSpace($0) }), first != UInt8(ascii: "#") { break }
        continue
      }
      var position = magic.count
      while let word = try nextWord(bytes, from: &position, file: file, line: lineNumber) {
        tokens.append(
          Token(text: word.text, location: SourceLocation(file: file, line: lineNumber, column: word.start + 1)))
      }
    }
    return tokens
  }

  /// SLURM's `get_argument`: quotes group (and are removed), a backslash escapes the next byte
  /// (inside quotes too) except a blank outside quotes, which ends the word before the escape
  /// is looked at; an unescaped `#` ends the line. A word that comes out empty (`""`) also ends
  /// the line, because sbatch stops at the first missing argument.
  private static func nextWord(
    _ bytes: [UInt8], from position: inout Int, file: String, line: Int
  ) throws(OrchError) -> (text: String, start: Int)? {
    while position < bytes.count && isSpace(bytes[position]) { position += 1 }
    if position == bytes.count { return nil }
    let start = position
    var word: [UInt8] = []
    var escaped = false
    var quote: UInt8?
    while position < bytes.count && (quote != nil || !isSpace(bytes[position])) {
      let b = bytes[position]
      if escaped {
        escaped = false
      } else if b == UInt8(ascii: "\\") {
        escaped = true
        position += 1
        continue
      } else if let q = quote {
        if b == q {
          quote = nil
          position += 1
          continue
        }
      } else if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
        quote = b
        position += 1
        continue
      } else if b == UInt8(ascii: "#") {
        break
      }
      word.append(b)
      position += 1
    }
    if let quote {
      let text = String(decoding: bytes, as: UTF8.self)
      throw .badInput(
        "sbatch: error: Unmatched `\(Character(Unicode.Scalar(quote)))` in [\(text)]",
        at: SourceLocation(file: file, line: line, column: start + 1))
    }
    return word.isEmpty ? nil : (String(decoding: word, as: UTF8.self), start)
  }

  /// C's `isspace` in the C locale.
  static func isSpace(_ b: UInt8) -> Bool {
    b == 0x20 || (0x09...0x0D).contains(b)
  }
}
