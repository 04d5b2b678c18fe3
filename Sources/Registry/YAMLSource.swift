import Foundation
import OrchCore
import Yams

/// One parsed sweep file: the Yams node tree plus what is needed to turn nodes into
/// `file:line:column` locations and typed binding values.
struct YAMLSource {
  let path: String
  let root: Node?
  private let lines: [Substring]

  /// YAML 1.2 core schema: `yes`/`on` stay strings and `1:30` is not a base-60 int, unlike Yams'
  /// default (YAML 1.1) resolver.
  static let coreResolver: Resolver = {
    do {
      return try Resolver.basic
        .appending(.null, "^(?:~|null|Null|NULL|)$")
        .appending(.bool, "^(?:true|True|TRUE|false|False|FALSE)$")
        .appending(.int, "^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
        .appending(
          .float,
          "^(?:[-+]?(?:\\.[0-9]+|[0-9]+(?:\\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$"
        )
    } catch {
      preconditionFailure("core schema patterns are constant: \(error)")
    }
  }()

  init(path: String) throws(OrchError) {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .badInput("cannot read sweep file '\(path)'")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      let (line, column, byte) = YAMLSource.firstInvalidUTF8(Array(data))
      throw .badInput(
        "sweep file is not valid UTF-8: byte 0x\(String(byte, radix: 16, uppercase: true)) (save the file as UTF-8)",
        at: SourceLocation(file: path, line: line, column: column))
    }
    try self.init(path: path, text: text)
  }

  /// Where the first byte that is not UTF-8 sits: its line and column (in characters) and value.
  static func firstInvalidUTF8(_ bytes: [UInt8]) -> (line: Int, column: Int, byte: UInt8) {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    var (offset, line, column) = (0, 1, 1)
    while true {
      switch decoder.decode(&iterator) {
      case .scalarValue(let scalar):
        offset += UTF8.width(scalar)
        if scalar == "\n" {
          line += 1
          column = 1
        } else {
          column += 1
        }
      case .emptyInput: return (line, column, 0)
      case .error: return (line, column, bytes[offset])
      }
    }
  }

  init(path: String, text: String) throws(OrchError) {
    self.path = path
    let (quoted, inserted) = YAMLSource.quoteFlowRanges(text)
    self.inserted = inserted
    lines = quoted.split(separator: "\n", omittingEmptySubsequences: false)
    if let excess = YAMLAliases.check(quoted) {
      throw .badInput(
        excess.message,
        at: YAMLSource.location(path: path, inserted: inserted, line: excess.line, column: excess.column))
    }
    do {
      root = try Yams.compose(yaml: quoted, YAMLSource.coreResolver)
    } catch let e as YamlError {
      throw YAMLSource.translate(e, path: path, inserted: inserted)
    } catch {
      throw .badInput("malformed YAML: \(error)", at: SourceLocation(file: path, line: 1, column: 1))
    }
  }

  /// Columns (1-based, in the rewritten text) of quotes added by `quoteFlowRanges`, per line.
  private let inserted: [Int: [Int]]

  func location(line: Int, column: Int) -> SourceLocation {
    YAMLSource.location(path: path, inserted: inserted, line: line, column: column)
  }

  private static func location(path: String, inserted: [Int: [Int]], line: Int, column: Int) -> SourceLocation {
    let shift = inserted[line]?.count(where: { $0 < column }) ?? 0
    return SourceLocation(file: path, line: line, column: column - shift)
  }

  /// Quotes `range(a, b[, step])` written bare inside `{…}` or `[…]`, where YAML would otherwise cut
  /// it at the comma (`{seed: range(0, 3)}` is `{seed: "range(0", "3)": null}`). Quoted strings,
  /// comments and block scalars are left alone. Returns the added quotes' columns so locations
  /// still point into the file as written.
  static func quoteFlowRanges(_ text: String) -> (String, [Int: [Int]]) {
    guard text.contains("range(") else { return (text, [:]) }
    var out: [String] = []
    var inserted: [Int: [Int]] = [:]
    var depth = 0
    var quote: Unicode.Scalar? = nil
    var blockIndent: Int? = nil
    var previous: Unicode.Scalar? = nil
    for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      var s = Array(line.unicodeScalars)
      let indent = s.prefix { $0 == " " }.count
      let blank = s.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" }
      if let b = blockIndent {
        if blank || indent > b { out.append(String(line)); continue }
        blockIndent = nil
      }
      if depth == 0 && quote == nil { previous = nil }
      var contentEnd = s.count
      var i = 0
      while i < s.count {
        let c = s[i]
        if let q = quote {
          if q == "\"" && c == "\\" { i += 2; continue }
          if q == "'" && c == "'" && i + 1 < s.count && s[i + 1] == "'" { i += 2; continue }
          if c == q { quote = nil; previous = c }
          i += 1
          continue
        }
        let spaceBefore = i == 0 || s[i - 1] == " " || s[i - 1] == "\t"
        if c == "#" && spaceBefore { contentEnd = i; break }
        let nodeStart: Bool
        switch previous {
        case nil: nodeStart = true
        case "[", "{", ",": nodeStart = true
        case ":", "-", "?": nodeStart = spaceBefore
        default: nodeStart = false
        }
        if (c == "\"" || c == "'") && nodeStart {
          quote = c
        } else if (c == "[" || c == "{") && (depth > 0 || nodeStart) {
          depth += 1
        } else if (c == "]" || c == "}") && depth > 0 {
          depth -= 1
        } else if depth > 0 && c == "r" && nodeStart && s[i...].starts(with: "range(".unicodeScalars),
          let close = s[i...].firstIndex(of: ")"),
          s[(i + 6)..<close].allSatisfy({ " \t,+-0123456789".unicodeScalars.contains($0) })
        {
          s.insert("\"", at: close + 1)
          s.insert("\"", at: i)
          inserted[n + 1, default: []] += [i + 1, close + 3]
          previous = "\""
          i = close + 3
          continue
        }
        if c != " " && c != "\t" { previous = c }
        i += 1
      }
      if quote == nil && depth == 0 {
        let content = String(String.UnicodeScalarView(s[..<contentEnd])).trimmingSpaces
        if let last = content.split(separator: " ").last, let f = last.unicodeScalars.first, f == "|" || f == ">",
          last.unicodeScalars.dropFirst().allSatisfy({ "+-123456789".unicodeScalars.contains($0) })
        {
          blockIndent = indent
        }
      }
      out.append(String(String.UnicodeScalarView(s)))
    }
    return (out.joined(separator: "\n"), inserted)
  }

  private static func translate(_ e: YamlError, path: String, inserted: [Int: [Int]]) -> OrchError {
    func at(_ m: Mark) -> SourceLocation { location(path: path, inserted: inserted, line: m.line, column: m.column) }
    func detail(_ context: YamlError.Context?, _ problem: String) -> String {
      guard let context else { return problem }
      return "\(problem) (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
    }
    switch e {
    case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      return .badInput("malformed YAML: \(detail(context, problem))", at: at(mark))
    case .duplicatedKeysInMapping(let duplicates, let context):
      let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
      return .badInput("malformed YAML: duplicate mapping key \(names)", at: at(context.mark))
    case .reader(let problem, let offset, _, let yaml):
      var line = 1, column = 1
      if let offset {
        for ch in yaml.prefix(offset) {
          if ch == "\n" { line += 1; column = 1 } else { column += 1 }
        }
      }
      return .badInput(
        "malformed YAML: \(problem)", at: location(path: path, inserted: inserted, line: line, column: column))
    default:
      return .badInput("malformed YAML: \(e)", at: SourceLocation(file: path, line: 1, column: 1))
    }
  }

  func loc(_ node: Node) -> SourceLocation {
    let m = node.mark
    return location(line: m?.line ?? 1, column: m?.column ?? 1)
  }

  struct Field {
    var key: String
    var keyNode: Node
    var value: Node
  }

  /// A mapping's fields in file order, with `<<: *anchor` merge keys flattened (explicit keys win).
  func mapping(_ node: Node, _ what: String) throws(OrchError) -> [Field] {
    guard case .mapping(let m) = node else {
      throw .badInput("\(what) must be a mapping, found \(describe(node))", at: loc(node))
    }
    var explicit: Set<String> = []
    for (k, _) in m { if let s = k.scalar, !(s.string == "<<" && s.style == .plain) { explicit.insert(s.string) } }
    var out: [Field] = []
    var seen: Set<String> = []
    for (k, v) in m {
      guard let ks = k.scalar else {
        throw .badInput("\(what) keys must be plain strings", at: loc(k))
      }
      if ks.string == "<<" && ks.style == .plain {
        let sources: [Node]
        switch v {
        case .mapping: sources = [v]
        case .sequence(let seq): sources = Array(seq)
        default: throw .badInput("merge key '<<' needs a mapping or a list of mappings", at: loc(v))
        }
        for src in sources {
          for f in try mapping(src, "merged mapping") where !explicit.contains(f.key) && !seen.contains(f.key) {
            seen.insert(f.key)
            out.append(f)
          }
        }
        continue
      }
      seen.insert(ks.string)
      out.append(Field(key: ks.string, keyNode: k, value: v))
    }
    return out
  }

  func sequence(_ node: Node, _ what: String) throws(OrchError) -> [Node] {
    guard case .sequence(let s) = node else {
      throw .badInput("\(what) must be a list, found \(describe(node))", at: loc(node))
    }
    return Array(s)
  }

  func checkFields(_ fields: [Field], allowed: [String], in what: String) throws(OrchError) {
    for f in fields where !allowed.contains(f.key) {
      let hint =
        closest(f.key, in: allowed).map { "did you mean '\($0)'?" }
        ?? "expected one of: \(allowed.joined(separator: ", "))"
      throw .badInput("unknown field '\(f.key)' in \(what); \(hint)", at: loc(f.keyNode))
    }
  }

  func describe(_ node: Node) -> String {
    switch node {
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .scalar(let s): return s.string.isEmpty && s.style == .plain ? "nothing" : "'\(s.string)'"
    case .alias: return "an alias"
    }
  }

  /// A scalar's text whatever its YAML type (time, mem, argv items, env values).
  func scalarText(_ node: Node, _ what: String) throws(OrchError) -> String {
    guard case .scalar(let s) = node else {
      throw .badInput("\(what) must be a single value, found \(describe(node))", at: loc(node))
    }
    return s.string
  }

  func string(_ node: Node, _ what: String) throws(OrchError) -> String {
    guard case .scalar(let s) = node, tagName(node) == .str else {
      throw .badInput("\(what) must be a string, found \(describe(node))", at: loc(node))
    }
    return s.string
  }

  func int(_ node: Node, _ what: String, min: Int? = nil) throws(OrchError) -> Int {
    let v = try value(node)
    guard case .int(let i) = v, i >= (min ?? Int.min) else {
      let bound = min.map { " ≥ \($0)" } ?? ""
      throw .badInput("\(what) must be an integer\(bound), found \(describe(node))", at: loc(node))
    }
    return i
  }

  func template(_ node: Node, _ what: String) throws(OrchError) -> Template {
    guard case .scalar(let s) = node else {
      let hint = node.mapping != nil ? " (quote templates that start with '{': \"{name}\")" : ""
      throw .badInput("\(what) must be a string, found \(describe(node))\(hint)", at: loc(node))
    }
    if tagName(node) == .null { throw .badInput("\(what) must be a string, found null", at: loc(node)) }
    let first = firstColumn(of: s).map { location(line: s.mark!.line, column: $0).column }
    return try Template.parse(s.string, at: loc(node), firstColumn: first)
  }

  /// Column of a scalar's first character when its text appears verbatim on its line.
  private func firstColumn(of s: Node.Scalar) -> Int? {
    guard let m = s.mark, m.line >= 1, m.line <= lines.count, !s.string.contains("\n") else { return nil }
    let line = Array(lines[m.line - 1].unicodeScalars)
    let quoted = s.style == .singleQuoted || s.style == .doubleQuoted
    guard s.style == .plain || quoted else { return nil }
    let start = m.column - 1 + (quoted ? 1 : 0)
    let text = Array(s.string.unicodeScalars)
    guard start >= 0, start + text.count <= line.count, Array(line[start..<(start + text.count)]) == text else {
      return nil
    }
    return start + 1
  }

  func value(_ node: Node) throws(OrchError) -> BindingValue {
    switch node {
    case .scalar(let s): return try scalarValue(s, tagName(node), at: loc(node))
    case .sequence(let seq):
      var out: [BindingValue] = []
      for n in seq { out.append(try value(n)) }
      return .list(out)
    case .mapping:
      var out: [String: BindingValue] = [:]
      for f in try mapping(node, "a mapping value") { out[f.key] = try value(f.value) }
      return .map(out)
    case .alias:
      throw .badInput("unresolved alias", at: loc(node))
    }
  }

  /// The resolved tag (Yams keeps `Tag.name` internal).
  func tagName(_ node: Node) -> Tag.Name { Tag.Name(rawValue: node.tag.rawValue) }

  private func scalarValue(_ s: Node.Scalar, _ tag: Tag.Name, at location: SourceLocation) throws(OrchError)
    -> BindingValue
  {
    let text = s.string
    switch tag {
    case .str: return .string(text)
    case .null:
      guard ["", "~", "null", "Null", "NULL"].contains(text) else { break }
      return .null
    case .bool:
      if ["true", "True", "TRUE"].contains(text) { return .bool(true) }
      if ["false", "False", "FALSE"].contains(text) { return .bool(false) }
    case .int:
      if let i = YAMLSource.parseInt(text) { return .int(i) }
      if text.range(of: "^[-+]?[0-9]+$", options: .regularExpression) != nil {
        throw .badInput("integer '\(text)' is out of range", at: location)
      }
    case .float:
      if let d = YAMLSource.parseFloat(text) { return .double(d) }
    default:
      throw .badInput("unsupported YAML tag '\(tag.rawValue)'", at: location)
    }
    throw .badInput(
      "'\(text)' is not a valid \(tag.rawValue.split(separator: ":").last ?? "value")",
      at: location)
  }

  static func parseInt(_ t: String) -> Int? {
    if t.hasPrefix("0o") { return Int(t.dropFirst(2), radix: 8) }
    if t.hasPrefix("0x") { return Int(t.dropFirst(2), radix: 16) }
    return Int(t.hasPrefix("+") ? String(t.dropFirst()) : t)
  }

  static func parseFloat(_ t: String) -> Double? {
    switch t {
    case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
    case "-.inf", "-.Inf", "-.INF": return -.infinity
    case ".nan", ".NaN", ".NAN": return .nan
    default: break
    }
    var s = t
    var sign = ""
    if s.hasPrefix("-") || s.hasPrefix("+") { sign = String(s.removeFirst()) }
    if s.hasPrefix(".") { s = "0" + s }
    s = s.replacingOccurrences(of: ".e", with: ".0e").replacingOccurrences(of: ".E", with: ".0E")
    if s.hasSuffix(".") { s += "0" }
    return Double(sign + s)
  }
}
