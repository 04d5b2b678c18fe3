import Engine
import OrchCore
import Registry

/// `orch results --where EXPR`: a small expression language over a row's bindings and metrics.
///
///     expr    := and ('or' and)*
///     and     := unary ('and' unary)*
///     unary   := 'not' unary | compare
///     compare := operand (('==' | '!=' | '<' | '<=' | '>' | '>=') operand)?
///     operand := NUMBER | 'STRING' | "STRING" | true | false | null | NAME | '(' expr ')'
///
/// A NAME is a binding (`model.width`), a metric (`test_acc`; `metric:NAME` for one named like a
/// binding) or one of `sweep`, `key`, `state`, `job`; names no selected row has are an error. Numbers compare as numbers (`1 == 1.0`), strings
/// and booleans only with their own kind; a row without the value (a metric not reported) or with
/// values of different kinds fails every comparison but `!=`. A bare operand is true when it is
/// the boolean true. `&&`, `||` and `!` are accepted for `and`, `or`, `not`.
public struct ResultsFilter: Sendable {
  public indirect enum Node: Sendable {
    case literal(ConfigValue)
    case name(String)
    case compare(Node, Op, Node)
    case and(Node, Node)
    case or(Node, Node)
    case not(Node)
  }

  public enum Op: String, Sendable { case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=" }

  public var root: Node
  public var names: Set<String>

  /// Inputs longer than this, or nested deeper, are refused (never a stack overflow).
  static let maxLength = 4096
  static let maxDepth = 64

  public static func parse(_ text: String) throws(OrchError) -> ResultsFilter {
    guard text.utf8.count <= maxLength else {
      throw .badInput("--where: the expression is \(text.utf8.count) bytes long; at most \(maxLength)")
    }
    var parser = Parser(tokens: try tokenize(text), text: text)
    let root = try parser.expression(depth: 0)
    if parser.at < parser.tokens.count {
      throw parser.fail("unexpected \(parser.tokens[parser.at].text)", parser.tokens[parser.at].offset)
    }
    return ResultsFilter(root: root, names: parser.names)
  }

  /// True when the row passes; `value` looks a name up (nil: the row has no such value).
  public func matches(_ value: (String) -> ConfigValue?) -> Bool { Self.truth(root, value) }

  static func truth(_ node: Node, _ value: (String) -> ConfigValue?) -> Bool {
    switch node {
    case .and(let a, let b): return truth(a, value) && truth(b, value)
    case .or(let a, let b): return truth(a, value) || truth(b, value)
    case .not(let a): return !truth(a, value)
    case .compare(let a, let op, let b):
      return compare(resolve(a, value), op, resolve(b, value))
    case .literal, .name:
      if case .bool(true)? = resolve(node, value) { return true }
      return false
    }
  }

  static func resolve(_ node: Node, _ value: (String) -> ConfigValue?) -> ConfigValue? {
    switch node {
    case .literal(let v): return v
    case .name(let n): return value(n)
    default: return .bool(truth(node, value))
    }
  }

  static func compare(_ a: ConfigValue?, _ op: Op, _ b: ConfigValue?) -> Bool {
    guard let a, let b else { return op == .ne }
    let order: Int?
    switch (number(a), number(b)) {
    case (let x?, let y?): order = x < y ? -1 : (x > y ? 1 : (x == y ? 0 : nil))
    default:
      switch (a, b) {
      case (.string(let x), .string(let y)): order = x < y ? -1 : (x == y ? 0 : 1)
      case (.bool(let x), .bool(let y)): order = x == y ? 0 : nil
      case (.null, .null): order = 0
      default: order = a == b ? 0 : nil
      }
    }
    guard let order else { return op == .ne }
    switch op {
    case .eq: return order == 0
    case .ne: return order != 0
    case .lt: return order < 0
    case .le: return order <= 0
    case .gt: return order > 0
    case .ge: return order >= 0
    }
  }

  static func number(_ v: ConfigValue) -> Double? {
    switch v {
    case .int(let i): return Double(i)
    case .double(let d): return d
    default: return nil
    }
  }

  // MARK: Tokens

  struct Token {
    enum Kind { case number, string, name, op, open, close, and, or, not }
    var kind: Kind
    var text: String
    var offset: Int
    var value: ConfigValue? = nil
  }

  static func tokenize(_ text: String) throws(OrchError) -> [Token] {
    let s = Array(text.unicodeScalars)
    var tokens: [Token] = []
    var i = 0
    func fail(_ message: String, _ at: Int) -> OrchError {
      .badInput("--where: \(message) at character \(at + 1) of '\(text)'")
    }
    func isNameStart(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic }
    func isNamePart(_ c: Unicode.Scalar) -> Bool {
      isNameStart(c) || c == "." || c == ":" || ("0"..."9").contains(c)
    }
    while i < s.count {
      let c = s[i]
      if c == " " || c == "\t" || c == "\n" || c == "\r" {
        i += 1
        continue
      }
      let start = i
      switch c {
      case "(":
        tokens.append(Token(kind: .open, text: "'('", offset: i))
        i += 1
      case ")":
        tokens.append(Token(kind: .close, text: "')'", offset: i))
        i += 1
      case "=", "!", "<", ">":
        let two = i + 1 < s.count && s[i + 1] == "="
        let op = String(c) + (two ? "=" : "")
        i += two ? 2 : 1
        if op == "=" { throw fail("'=' is not an operator (compare with '==')", start) }
        if op == "!" {
          tokens.append(Token(kind: .not, text: "'!'", offset: start))
        } else {
          tokens.append(Token(kind: .op, text: op, offset: start))
        }
      case "&", "|":
        guard i + 1 < s.count, s[i + 1] == c else { throw fail("expected '\(c)\(c)'", start) }
        i += 2
        tokens.append(Token(kind: c == "&" ? .and : .or, text: "'\(c)\(c)'", offset: start))
      case "'", "\"":
        i += 1
        var out = String.UnicodeScalarView()
        while i < s.count, s[i] != c {
          if s[i] == "\\", i + 1 < s.count { i += 1 }
          out.append(s[i])
          i += 1
        }
        guard i < s.count else { throw fail("unterminated string", start) }
        i += 1
        tokens.append(Token(kind: .string, text: "a string", offset: start, value: .string(String(out))))
      case "0"..."9", ".", "-", "+":
        while i < s.count,
          ("0"..."9").contains(s[i]) || s[i] == "." || s[i] == "e" || s[i] == "E"
            || ((s[i] == "-" || s[i] == "+") && (i == start || s[i - 1] == "e" || s[i - 1] == "E"))
        {
          i += 1
        }
        let literal = String(String.UnicodeScalarView(s[start..<i]))
        let isInt = !literal.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
        if isInt, let v = Int(literal) {
          tokens.append(Token(kind: .number, text: literal, offset: start, value: .int(v)))
        } else if let v = Double(literal), v.isFinite {
          tokens.append(Token(kind: .number, text: literal, offset: start, value: .double(v)))
        } else {
          throw fail("'\(literal)' is not a number", start)
        }
      default:
        guard isNameStart(c) else { throw fail("unexpected character '\(c)'", start) }
        while i < s.count, isNamePart(s[i]) { i += 1 }
        let word = String(String.UnicodeScalarView(s[start..<i]))
        switch word {
        case "and": tokens.append(Token(kind: .and, text: "'and'", offset: start))
        case "or": tokens.append(Token(kind: .or, text: "'or'", offset: start))
        case "not": tokens.append(Token(kind: .not, text: "'not'", offset: start))
        case "true", "false":
          tokens.append(Token(kind: .number, text: word, offset: start, value: .bool(word == "true")))
        case "null": tokens.append(Token(kind: .number, text: word, offset: start, value: .null))
        default: tokens.append(Token(kind: .name, text: "'\(word)'", offset: start, value: .string(word)))
        }
      }
    }
    return tokens
  }

  struct Parser {
    var tokens: [Token]
    var text: String
    var at = 0
    var names: Set<String> = []

    func fail(_ message: String, _ offset: Int?) -> OrchError {
      if let offset { return .badInput("--where: \(message) at character \(offset + 1) of '\(text)'") }
      return .badInput("--where: \(message) at the end of '\(text)'")
    }

    mutating func take(_ kind: Token.Kind) -> Token? {
      guard at < tokens.count, tokens[at].kind == kind else { return nil }
      at += 1
      return tokens[at - 1]
    }

    mutating func expression(depth: Int) throws(OrchError) -> Node {
      guard depth < ResultsFilter.maxDepth else {
        throw fail("nested deeper than \(ResultsFilter.maxDepth) levels", at < tokens.count ? tokens[at].offset : nil)
      }
      var node = try conjunction(depth: depth)
      while take(.or) != nil { node = .or(node, try conjunction(depth: depth)) }
      return node
    }

    mutating func conjunction(depth: Int) throws(OrchError) -> Node {
      var node = try unary(depth: depth)
      while take(.and) != nil { node = .and(node, try unary(depth: depth)) }
      return node
    }

    mutating func unary(depth: Int) throws(OrchError) -> Node {
      var negations = 0
      while take(.not) != nil { negations += 1 }
      var node = try comparison(depth: depth)
      if negations % 2 == 1 { node = .not(node) }
      return node
    }

    mutating func comparison(depth: Int) throws(OrchError) -> Node {
      let left = try operand(depth: depth)
      guard let op = take(.op) else { return left }
      let right = try operand(depth: depth)
      return .compare(left, Op(rawValue: op.text) ?? .eq, right)
    }

    mutating func operand(depth: Int) throws(OrchError) -> Node {
      guard at < tokens.count else { throw fail("expected a name, a number or a string", nil) }
      let token = tokens[at]
      at += 1
      switch token.kind {
      case .number, .string: return .literal(token.value ?? .null)
      case .name:
        guard case .string(let name)? = token.value else { return .literal(.null) }
        names.insert(name)
        return .name(name)
      case .open:
        let inner = try expression(depth: depth + 1)
        guard take(.close) != nil else {
          throw fail("expected ')'", at < tokens.count ? tokens[at].offset : nil)
        }
        return inner
      default:
        throw fail("expected a name, a number or a string, not \(token.text)", token.offset)
      }
    }
  }
}
