import OrchCore

/// A key, argv or env template: literal text and `{name}` holes; `{{`/`}}` are literal braces.
struct Template: Sendable {
  enum Piece: Sendable {
    case literal(String)
    case hole(String, SourceLocation)
  }

  var text: String
  var pieces: [Piece]
  var location: SourceLocation

  var holeNames: [String] {
    pieces.compactMap { if case .hole(let n, _) = $0 { return n } else { return nil } }
  }

  static func literal(_ text: String, at location: SourceLocation) -> Template {
    Template(text: text, pieces: text.isEmpty ? [] : [.literal(text)], location: location)
  }

  /// `firstColumn` is the column of the template's first character when the YAML scalar maps
  /// one-to-one onto the source line, so errors can point at the hole itself.
  static func parse(_ text: String, at location: SourceLocation, firstColumn: Int?) throws(OrchError) -> Template {
    func loc(_ offset: Int) -> SourceLocation {
      guard let firstColumn else { return location }
      return SourceLocation(file: location.file, line: location.line, column: firstColumn + offset)
    }
    let s = Array(text.unicodeScalars)
    var pieces: [Piece] = []
    var lit = String.UnicodeScalarView()
    var i = 0
    while i < s.count {
      let c = s[i]
      if c == "{" && i + 1 < s.count && s[i + 1] == "{" {
        lit.append("{")
        i += 2
      } else if c == "}" && i + 1 < s.count && s[i + 1] == "}" {
        lit.append("}")
        i += 2
      } else if c == "}" {
        throw .badInput("single '}' in template '\(text)'; write '}}' for a literal brace", at: loc(i))
      } else if c == "{" {
        guard let close = s[(i + 1)...].firstIndex(of: "}") else {
          throw .badInput("unclosed '{' in template '\(text)'; write '{{' for a literal brace", at: loc(i))
        }
        let name = String(String.UnicodeScalarView(s[(i + 1)..<close]))
        guard name == "key" || isBindingName(name) else {
          throw .badInput(
            "bad template hole '{\(name)}': expected a binding name such as 'optimizer.base_lr'", at: loc(i))
        }
        if !lit.isEmpty { pieces.append(.literal(String(lit))); lit = String.UnicodeScalarView() }
        pieces.append(.hole(name, loc(i)))
        i = close + 1
      } else {
        lit.append(c)
        i += 1
      }
    }
    if !lit.isEmpty { pieces.append(.literal(String(lit))) }
    return Template(text: text, pieces: pieces, location: location)
  }
}

/// Gin names: identifiers joined by dots, optionally behind `scope/` prefixes.
func isBindingName(_ name: String) -> Bool {
  let scopes = name.split(separator: "/", omittingEmptySubsequences: false)
  return scopes.allSatisfy { scope in
    scope.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { ident in
      guard let first = ident.utf8.first, !(0x30...0x39).contains(first) else { return false }
      return ident.utf8.allSatisfy { b in
        (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || b == 0x5F
      }
    }
  }
}

/// The closest candidate by edit distance, if close enough to be a plausible typo.
func closest(_ word: String, in candidates: some Sequence<String>) -> String? {
  var best: (String, Int)? = nil
  for c in candidates {
    let d = editDistance(word, c)
    if best == nil || d < best!.1 { best = (c, d) }
  }
  guard let (name, d) = best, d <= max(2, word.count / 2) else { return nil }
  return name
}

func didYouMean(_ word: String, in candidates: some Sequence<String>) -> String {
  closest(word, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
}

func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var prev = Array(0...b.count)
  var cur = [Int](repeating: 0, count: b.count + 1)
  for i in 1...a.count {
    cur[0] = i
    for j in 1...b.count {
      cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
    }
    swap(&prev, &cur)
  }
  return prev[b.count]
}
