import OrchCore
import SlurmSyntax
import Yams

/// One sweep file, parsed and checked but not expanded.
struct SweepFile {
  var stem: String
  var entries: [Entry]

  enum Entry {
    case key(KeyEntry)
    case derive(DeriveEntry)
  }

  struct Binding {
    var name: String
    var value: BindingValue
    var location: SourceLocation
  }

  /// One nested loop. A grid group becomes one `single` dim per name (same order, so the last
  /// name still runs fastest) instead of a materialised cartesian product.
  enum AxisDim {
    case single(name: String, location: SourceLocation, values: [BindingValue])
    case rows(names: [(String, SourceLocation)], rows: [[(String, BindingValue)]], location: SourceLocation)

    var count: Int {
      switch self {
      case .single(_, _, let v): return v.count
      case .rows(_, let r, _): return r.count
      }
    }

    var names: [(String, SourceLocation)] {
      switch self {
      case .single(let n, let l, _): return [(n, l)]
      case .rows(let n, _, _): return n
      }
    }
  }

  struct When {
    /// Each name must equal one of the values.
    var conditions: [(name: String, location: SourceLocation, anyOf: [BindingValue])]
    var set: [Binding]
  }

  struct ResourcesPatch {
    var cpus: Int?
    var time: Int??
    var mem: Int64??
    var maxAttempts: Int?
    var priority: Int?
    var gpus: Int?
    var gpuType: String??
    var gpusShared: Bool?

    func applied(to r: Resources) -> Resources {
      var r = r
      if let cpus { r.cpus = cpus }
      if let time { r.timeLimit = time }
      if let mem { r.memLimit = mem }
      if let maxAttempts { r.maxAttempts = maxAttempts }
      if let priority { r.priority = priority }
      if let gpus { r.gpus = gpus }
      if let gpuType { r.gpuType = gpuType }
      if let gpusShared { r.gpusShared = gpusShared }
      return r
    }
  }

  struct KeyEntry {
    var key: Template
    var kind: KindTemplates
    var bindings: [Binding]
    var axes: [AxisDim]
    var whens: [When]
    var resources: Resources
  }

  struct DeriveEntry {
    var pattern: String
    var regex: PyRegex
    var location: SourceLocation
    var rename: Rename?
    var suffix: Template?
    var set: [Binding]
    var axes: [AxisDim]
    var whens: [When]
    var resources: ResourcesPatch

    /// Where a derived key's problems are reported: the part of the entry that shapes the key.
    var keyLocation: SourceLocation { suffix?.location ?? rename?.location ?? location }
  }

  /// `re.sub(pattern, replace, key)`, where `replace` may also hold `{name}` holes.
  struct Rename {
    enum Piece {
      case text(String)
      case group(Int)
      case hole(String, SourceLocation)
    }
    var regex: PyRegex
    var pieces: [Piece]
    var location: SourceLocation
  }

  static let topFields = ["defaults", "register"]
  static let defaultsFields = ["bindings", "resources", "env"]
  static let keyFields = ["key", "command", "engine", "env", "bindings", "axes", "when", "resources"]
  static let deriveFields = ["derive", "rename", "suffix", "set", "axes", "when", "resources"]
  static let resourceFields = ["cpus", "time", "mem", "max_attempts", "priority", "gpus", "gpu_type", "gpus_shared"]
  /// Sweeps larger than this are almost certainly a typo'd range, and would exhaust memory. Task-local
  /// so a fuzzer can lower it: a legal 10⁷-config sweep is slow, not a hang.
  @TaskLocal static var maxConfigs = 10_000_000

  static func parse(_ src: YAMLSource, stem: String) throws(OrchError) -> SweepFile {
    let start = SourceLocation(file: src.path, line: 1, column: 1)
    guard let root = src.root else {
      throw .badInput("sweep file is empty; expected a mapping with 'register'", at: start)
    }
    guard case .mapping = root else {
      throw .badInput("top level must be a mapping with 'register', found \(src.describe(root))", at: src.loc(root))
    }
    // `x-…` keys are free, to hold YAML anchors that entries merge with `<<: *name`.
    let top = try src.mapping(root, "top level").filter { !$0.key.hasPrefix("x-") }
    try src.checkFields(top, allowed: topFields, in: "the top level")
    guard let register = top.first(where: { $0.key == "register" }) else {
      throw .badInput("top level has no 'register' list", at: src.loc(root))
    }
    var defaults: (bindings: [Binding], resources: ResourcesPatch, env: [(String, Template)]) = ([], .init(), [])
    if let d = top.first(where: { $0.key == "defaults" }) {
      let fields = try src.mapping(d.value, "defaults")
      try src.checkFields(fields, allowed: defaultsFields, in: "defaults")
      for f in fields {
        switch f.key {
        case "bindings": defaults.bindings = try bindings(src, f.value, "defaults.bindings")
        case "resources": defaults.resources = try resources(src, f.value)
        default: defaults.env = try env(src, f.value)
        }
      }
    }
    var entries: [Entry] = []
    for node in try src.sequence(register.value, "register") {
      let fields = try src.mapping(node, "a register entry")
      let has = Set(fields.map(\.key))
      if has.contains("key") && has.contains("derive") {
        throw .badInput(
          "an entry has either 'key' (a new spec) or 'derive' (copies of earlier specs), not both",
          at: src.loc(node))
      }
      if has.contains("derive") {
        try src.checkFields(fields, allowed: deriveFields, in: "a derive entry")
        entries.append(.derive(try derive(src, fields, node)))
      } else if has.contains("key") {
        try src.checkFields(fields, allowed: keyFields, in: "a register entry")
        entries.append(.key(try keyEntry(src, fields, node, defaults)))
      } else {
        try src.checkFields(fields, allowed: keyFields, in: "a register entry")
        throw .badInput("entry needs 'key' (a new spec) or 'derive' (copies of earlier specs)", at: src.loc(node))
      }
    }
    return SweepFile(stem: stem, entries: entries)
  }

  private static func keyEntry(
    _ src: YAMLSource, _ fields: [YAMLSource.Field], _ node: Node,
    _ defaults: (bindings: [Binding], resources: ResourcesPatch, env: [(String, Template)])
  ) throws(OrchError) -> KeyEntry {
    var key: Template? = nil
    var argv: [Template]? = nil
    var engine: (String, SourceLocation)? = nil
    var envNode: Node? = nil
    var own: [Binding] = []
    var axes: [AxisDim] = []
    var whens: [When] = []
    var patch = ResourcesPatch()
    for f in fields {
      switch f.key {
      case "key":
        let t = try src.template(f.value, "key")
        if let hole = t.pieces.first(where: { if case .hole("key", _) = $0 { true } else { false } }),
          case .hole(_, let at) = hole
        {
          throw .badInput("'{key}' is the rendered key; it cannot appear in the key template", at: at)
        }
        key = t
      case "command":
        guard case .sequence(let seq) = f.value else {
          throw .badInput("command must be a list (argv); for a shell write [sh, -c, '…']", at: src.loc(f.value))
        }
        if seq.isEmpty { throw .badInput("command must not be empty", at: src.loc(f.value)) }
        var items: [Template] = []
        for item in seq { items.append(try src.template(item, "a command item")) }
        argv = items
      case "engine":
        let name = try src.string(f.value, "engine")
        guard engineNames.contains(name) else {
          throw .badInput(
            "unknown engine '\(name)'\(didYouMean(name, in: engineNames)) (engines: train, eval)",
            at: src.loc(f.value))
        }
        engine = (name, src.loc(f.keyNode))
      case "env": envNode = f.value
      case "bindings": own = try bindings(src, f.value, "bindings")
      case "axes": axes = try axesList(src, f.value)
      case "when": whens = try self.whens(src, f.value)
      default: patch = try resources(src, f.value)
      }
    }
    guard let key else { throw .badInput("entry has no key", at: src.loc(node)) }
    let kind: KindTemplates
    switch (argv, engine) {
    case (let argv?, nil):
      var env: [(String, Template)] = defaults.env
      if let envNode {
        for (name, t) in try self.env(src, envNode) {
          env.removeAll { $0.0 == name }
          env.append((name, t))
        }
      }
      kind = KindTemplates(argv: argv, env: env.map { (name: $0.0, value: $0.1) })
    case (nil, let (name, _)?):
      if let envNode {
        throw .badInput("env applies to command entries only; engine jobs take bindings", at: src.loc(envNode))
      }
      kind = KindTemplates(engine: name)
    case (.some, .some(let (_, at))):
      throw .badInput("an entry has either 'command' or 'engine', not both", at: at)
    case (nil, nil):
      throw .badInput("entry needs 'command' (an argv list) or 'engine' (train or eval)", at: src.loc(node))
    }
    var resources = defaults.resources.applied(to: Resources())
    resources = patch.applied(to: resources)
    try checkAxisNames(axes)
    return KeyEntry(
      key: key, kind: kind, bindings: defaults.bindings + own, axes: axes, whens: whens,
      resources: resources)
  }

  private static func derive(_ src: YAMLSource, _ fields: [YAMLSource.Field], _ node: Node) throws(OrchError)
    -> DeriveEntry
  {
    let d = fields.first { $0.key == "derive" }!
    let pattern = try src.string(d.value, "derive")
    let regex = try compile(pattern, at: src.loc(d.value))
    var entry = DeriveEntry(
      pattern: pattern, regex: regex, location: src.loc(d.value), rename: nil, suffix: nil, set: [], axes: [],
      whens: [], resources: ResourcesPatch())
    for f in fields {
      switch f.key {
      case "derive": break
      case "rename": entry.rename = try rename(src, f.value)
      case "suffix":
        let t = try src.template(f.value, "suffix")
        try rejectKeyHole(t)
        entry.suffix = t
      case "set": entry.set = try bindings(src, f.value, "set")
      case "axes": entry.axes = try axesList(src, f.value)
      case "when": entry.whens = try whens(src, f.value)
      default: entry.resources = try resources(src, f.value)
      }
    }
    try checkAxisNames(entry.axes)
    return entry
  }

  private static func compile(_ pattern: String, at location: SourceLocation) throws(OrchError) -> PyRegex {
    do {
      return try PyRegex(pattern)
    } catch {
      throw .badInput(error.message, at: location)
    }
  }

  private static func rejectKeyHole(_ t: Template) throws(OrchError) {
    for case .hole("key", let at) in t.pieces {
      throw .badInput("'{key}' is only available in command and env templates", at: at)
    }
  }

  private static func rename(_ src: YAMLSource, _ node: Node) throws(OrchError) -> Rename {
    let fields = try src.mapping(node, "rename")
    try src.checkFields(fields, allowed: ["pattern", "replace"], in: "rename")
    guard let p = fields.first(where: { $0.key == "pattern" }), let r = fields.first(where: { $0.key == "replace" })
    else {
      throw .badInput("rename needs 'pattern' and 'replace'", at: src.loc(node))
    }
    let regex = try compile(try src.string(p.value, "rename.pattern"), at: src.loc(p.value))
    let template = try src.template(r.value, "rename.replace")
    try rejectKeyHole(template)
    let at = src.loc(r.value)
    var pieces: [Rename.Piece] = []
    for piece in template.pieces {
      switch piece {
      case .hole(let name, let l): pieces.append(.hole(name, l))
      case .literal(let text): pieces += try replacementEscapes(text, regex, at: at)
      }
    }
    return Rename(regex: regex, pieces: pieces, location: at)
  }

  /// Python's `re.sub` replacement syntax: `\1`, `\g<1>`, `\g<name>`, `\\`, `\n` …
  private static func replacementEscapes(_ text: String, _ regex: PyRegex, at: SourceLocation) throws(OrchError)
    -> [Rename.Piece]
  {
    let s = Array(text.unicodeScalars)
    var out: [Rename.Piece] = []
    var lit = String.UnicodeScalarView()
    func flush() { if !lit.isEmpty { out.append(.text(String(lit))); lit = String.UnicodeScalarView() } }
    func group(_ g: Int) throws(OrchError) {
      guard g <= regex.groupCount else { throw .badInput("rename.replace: invalid group reference \(g)", at: at) }
      flush()
      out.append(.group(g))
    }
    var i = 0
    while i < s.count {
      let c = s[i]
      i += 1
      guard c == "\\" else { lit.append(c); continue }
      guard i < s.count else { throw .badInput("rename.replace: bad escape (end of pattern)", at: at) }
      let e = s[i]
      i += 1
      switch e {
      case "\\": lit.append("\\")
      case "n": lit.append("\n")
      case "t": lit.append("\t")
      case "r": lit.append("\r")
      case "f": lit.append("\u{0C}")
      case "v": lit.append("\u{0B}")
      case "a": lit.append("\u{07}")
      case "b": lit.append("\u{08}")
      case "g":
        guard i < s.count, s[i] == "<", let close = s[i...].firstIndex(of: ">") else {
          throw .badInput("rename.replace: missing < or > in \\g<…>", at: at)
        }
        let name = String(String.UnicodeScalarView(s[(i + 1)..<close]))
        i = close + 1
        if let n = Int(name), n >= 0 {
          try group(n)
        } else if let n = regex.groupIndex(named: name) {
          try group(n)
        } else {
          throw .badInput("rename.replace: unknown group name '\(name)'", at: at)
        }
      case "0"..."9":
        var digits = String(e)
        if i < s.count, ("0"..."9").contains(s[i]) { digits.unicodeScalars.append(s[i]); i += 1 }
        try group(Int(digits)!)
      default:
        if e.isASCII && e.properties.isAlphabetic {
          throw .badInput("rename.replace: bad escape \\\(e)", at: at)
        }
        lit.append("\\")
        lit.append(e)
      }
    }
    flush()
    return out
  }

  static func bindings(_ src: YAMLSource, _ node: Node, _ what: String) throws(OrchError) -> [Binding] {
    var out: [Binding] = []
    for f in try src.mapping(node, what) {
      try checkName(f.key, at: src.loc(f.keyNode))
      out.append(Binding(name: f.key, value: try src.value(f.value), location: src.loc(f.keyNode)))
    }
    return out
  }

  static func checkName(_ name: String, at location: SourceLocation) throws(OrchError) {
    if name == "key" {
      throw .badInput("binding name 'key' is reserved: '{key}' is the rendered key", at: location)
    }
    guard isBindingName(name) else {
      throw .badInput(
        "bad binding name '\(name)': expected gin names such as 'optimizer.base_lr' or 'scope/model.depth'",
        at: location)
    }
  }

  private static func env(_ src: YAMLSource, _ node: Node) throws(OrchError) -> [(String, Template)] {
    var out: [(String, Template)] = []
    for f in try src.mapping(node, "env") {
      let ok =
        f.key.utf8.first.map { !(0x30...0x39).contains($0) } ?? false
        && f.key.utf8.allSatisfy { b in
          (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || b == 0x5F
        }
      guard ok else {
        throw .badInput("bad environment variable name '\(f.key)'", at: src.loc(f.keyNode))
      }
      out.append((f.key, try src.template(f.value, "env value")))
    }
    return out
  }

  private static func resources(_ src: YAMLSource, _ node: Node) throws(OrchError) -> ResourcesPatch {
    let fields = try src.mapping(node, "resources")
    try src.checkFields(fields, allowed: resourceFields, in: "resources")
    var r = ResourcesPatch()
    for f in fields {
      let at = src.loc(f.value)
      switch f.key {
      case "cpus": r.cpus = try src.int(f.value, "cpus", min: 1)
      case "max_attempts": r.maxAttempts = try src.int(f.value, "max_attempts", min: 1)
      case "priority": r.priority = try src.int(f.value, "priority")
      case "gpus":
        let n = try src.int(f.value, "gpus", min: 0)
        guard n <= GPURequest.maxCount else {
          throw .badInput("gpus must be at most \(GPURequest.maxCount), found \(n)", at: at)
        }
        r.gpus = n
      case "gpu_type":
        let text = try src.scalarText(f.value, "gpu_type")
        guard GPURequest.isTypeName(text) else {
          throw .badInput(
            "bad gpu_type '\(UserText.escaped(text))': expected a GPU type such as a100 (letters, digits, - _ .)",
            at: at)
        }
        r.gpuType = .some(text.lowercased())
      case "gpus_shared":
        guard case .bool(let shared) = try src.value(f.value) else {
          throw .badInput("gpus_shared must be true or false, found \(src.describe(f.value))", at: at)
        }
        r.gpusShared = shared
      case "time":
        do { r.time = .some(try TimeSpec.parseSeconds(try src.scalarText(f.value, "time"))) } catch {
          throw .badInput(error.message, at: error.location ?? at)
        }
      default:
        do { r.mem = .some(try MemorySpec.parseBytes(try src.scalarText(f.value, "mem"))) } catch {
          throw .badInput(error.message, at: error.location ?? at)
        }
      }
    }
    return r
  }

  private static func axesList(_ src: YAMLSource, _ node: Node) throws(OrchError) -> [AxisDim] {
    switch node {
    case .mapping: return try group(src, node)
    case .sequence(let seq):
      var out: [AxisDim] = []
      for g in seq { out += try group(src, g) }
      return out
    default:
      throw .badInput("axes must be a list of groups or one mapping of name: values", at: src.loc(node))
    }
  }

  private static func group(_ src: YAMLSource, _ node: Node) throws(OrchError) -> [AxisDim] {
    let fields = try src.mapping(node, "an axis group")
    let keywords = fields.filter { ["grid", "zip", "list"].contains($0.key) }
    if let k = keywords.first {
      guard fields.count == 1 else {
        throw .badInput(
          "an axis group is one of 'grid:', 'zip:', 'list:' or 'name: values'; put '\(k.key):' in its own list item",
          at: src.loc(k.keyNode))
      }
      switch k.key {
      case "grid":
        let inner = try src.mapping(k.value, "grid")
        if inner.isEmpty { throw .badInput("axis group 'grid' is empty", at: src.loc(k.keyNode)) }
        return try gridDims(src, inner)
      case "zip": return [try zipDim(src, k.value, at: src.loc(k.keyNode))]
      default: return [try listDim(src, k.value, at: src.loc(k.keyNode))]
      }
    }
    if fields.isEmpty { throw .badInput("axis group is empty", at: src.loc(node)) }
    return try gridDims(src, fields)
  }

  private static func gridDims(_ src: YAMLSource, _ fields: [YAMLSource.Field]) throws(OrchError) -> [AxisDim] {
    var out: [AxisDim] = []
    for f in fields {
      let at = src.loc(f.keyNode)
      try checkName(f.key, at: at)
      out.append(.single(name: f.key, location: at, values: try axisValues(src, f.value, name: f.key, at: at)))
    }
    return out
  }

  private static func zipDim(_ src: YAMLSource, _ node: Node, at: SourceLocation) throws(OrchError) -> AxisDim {
    let fields = try src.mapping(node, "zip")
    if fields.isEmpty { throw .badInput("axis group 'zip' is empty", at: at) }
    var names: [(String, SourceLocation)] = []
    var columns: [[BindingValue]] = []
    for f in fields {
      let l = src.loc(f.keyNode)
      try checkName(f.key, at: l)
      let values = try axisValues(src, f.value, name: f.key, at: l)
      if let first = columns.first, first.count != values.count {
        throw .badInput(
          "zip axes differ in length: '\(names[0].0)' has \(first.count) values, '\(f.key)' has \(values.count)",
          at: l)
      }
      names.append((f.key, l))
      columns.append(values)
    }
    let rows = (0..<columns[0].count).map { r in names.indices.map { (names[$0].0, columns[$0][r]) } }
    return .rows(names: names, rows: rows, location: at)
  }

  private static func listDim(_ src: YAMLSource, _ node: Node, at: SourceLocation) throws(OrchError) -> AxisDim {
    let items = try src.sequence(node, "list")
    if items.isEmpty { throw .badInput("axis group 'list' is empty", at: at) }
    var names: [(String, SourceLocation)] = []
    var rows: [[(String, BindingValue)]] = []
    for item in items {
      var row: [(String, BindingValue)] = []
      for b in try bindings(src, item, "a list combination") {
        row.append((b.name, b.value))
        if !names.contains(where: { $0.0 == b.name }) { names.append((b.name, b.location)) }
      }
      rows.append(row)
    }
    return .rows(names: names, rows: rows, location: at)
  }

  private static func axisValues(_ src: YAMLSource, _ node: Node, name: String, at: SourceLocation)
    throws(OrchError) -> [BindingValue]
  {
    let values: [BindingValue]
    switch node {
    case .sequence(let seq):
      var out: [BindingValue] = []
      for n in seq { out.append(try src.value(n)) }
      values = out
    case .scalar(let s) where src.tagName(node) == .str && s.string.hasPrefix("range("):
      guard s.string.hasSuffix(")") else {
        throw .badInput(
          "'\(s.string)' is cut short: inside {…} or […] a comma splits values, so quote it: \"range(0, 3)\"",
          at: src.loc(node))
      }
      values = try range(s.string, at: src.loc(node)).map { .int($0) }
    default:
      throw .badInput(
        "axis '\(name)' must be a list of values or range(start, stop[, step]), found \(src.describe(node))",
        at: src.loc(node))
    }
    if values.isEmpty { throw .badInput("axis '\(name)' is empty", at: at) }
    return values
  }

  /// Python's `range(stop)`, `range(start, stop[, step])`.
  static func range(_ text: String, at: SourceLocation) throws(OrchError) -> [Int] {
    let inner = text.dropFirst("range(".count).dropLast()
    let parts = inner.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
    let ints = parts.compactMap { Int($0) }
    guard ints.count == parts.count, (1...3).contains(ints.count) else {
      throw .badInput("bad range '\(text)': expected range(start, stop[, step]) with integers", at: at)
    }
    let (start, stop, step) =
      ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
    guard step != 0 else { throw .badInput("bad range '\(text)': step must not be zero", at: at) }
    // In 128 bits: stop − start and −step overflow Int at its ends (range(-2**63, 2**63 - 1, 2**62)).
    let span = Int128(stop) - Int128(start)
    let count =
      step > 0
      ? (span > 0 ? (span - 1) / Int128(step) + 1 : 0)
      : (span < 0 ? (-span - 1) / -Int128(step) + 1 : 0)
    guard count <= maxConfigs else {
      throw .badInput("bad range '\(text)': \(count) values, more than the limit of \(maxConfigs)", at: at)
    }
    // Every value lies between start and stop, so Int holds it.
    return (0..<Int(count)).map { Int(Int128(start) + Int128($0) * Int128(step)) }
  }

  private static func whens(_ src: YAMLSource, _ node: Node) throws(OrchError) -> [When] {
    var out: [When] = []
    for item in try src.sequence(node, "when") {
      let fields = try src.mapping(item, "a when clause")
      try src.checkFields(fields, allowed: ["if", "set"], in: "a when clause")
      guard let cond = fields.first(where: { $0.key == "if" }), let set = fields.first(where: { $0.key == "set" })
      else {
        throw .badInput("a when clause needs 'if' and 'set'", at: src.loc(item))
      }
      var conditions: [(name: String, location: SourceLocation, anyOf: [BindingValue])] = []
      for b in try bindings(src, cond.value, "when.if") {
        if case .list(let options) = b.value {
          conditions.append((b.name, b.location, options))
        } else {
          conditions.append((b.name, b.location, [b.value]))
        }
      }
      out.append(When(conditions: conditions, set: try bindings(src, set.value, "when.set")))
    }
    return out
  }

  /// A name swept by two axes would silently shadow the first; refuse it.
  private static func checkAxisNames(_ axes: [AxisDim]) throws(OrchError) {
    var seen: [String: SourceLocation] = [:]
    for dim in axes {
      for (name, at) in dim.names {
        if let first = seen[name] {
          throw .badInput("'\(name)' is swept by two axes (first at \(first))", at: at)
        }
        seen[name] = at
      }
    }
  }
}
