import Foundation
import OrchCore

/// Every config the sweep files register, in registration order: files by name, entries in file
/// order, axes as nested loops (last fastest). That order is the array index, so `--array 0-9`
/// selects the same configs every time.
public struct Registry: Sendable {
  public var configs: [ConfigSpec]
  private var index: [String: Int]

  /// Every `*.yaml`/`*.yml` file in `directory` (dot files skipped), in bytewise name order.
  /// `keysOnly` (for listings) leaves every config's job, canonical JSON and hash unrendered.
  public static func load(directory: String, keysOnly: Bool = false) throws(OrchError) -> Registry {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) else {
      throw .badInput("sweeps directory '\(directory)' does not exist")
    }
    guard isDir.boolValue else { throw .badInput("sweeps directory '\(directory)' is not a directory") }
    var builder = Builder(singleFile: false, keysOnly: keysOnly)
    for path in try sweepFiles(directory: directory) { try builder.add(path: path) }
    return Registry(configs: builder.configs, index: builder.index)
  }

  /// The sweep files of a directory, in load order.
  static func sweepFiles(directory: String) throws(OrchError) -> [String] {
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: directory)
    } catch {
      throw .badInput("cannot list sweeps directory '\(directory)': \(error.localizedDescription)")
    }
    let base = directory.hasSuffix("/") ? directory : directory + "/"
    var paths: [String] = []
    for name in names.sorted(by: bytewiseLess)
    where !name.hasPrefix(".") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) {
      var isSubdir: ObjCBool = false
      if FileManager.default.fileExists(atPath: base + name, isDirectory: &isSubdir), isSubdir.boolValue { continue }
      paths.append(base + name)
    }
    return paths
  }

  /// A sweeps directory, or one sweep file (which can then derive only from its own entries).
  public static func load(path: String, keysOnly: Bool = false) throws(OrchError) -> Registry {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
      if path.hasSuffix(".yaml") || path.hasSuffix(".yml") {
        throw .badInput("sweep file '\(path)' does not exist")
      }
      throw .badInput("sweeps directory '\(path)' does not exist")
    }
    if isDir.boolValue { return try load(directory: path, keysOnly: keysOnly) }
    var builder = Builder(singleFile: true, keysOnly: keysOnly)
    try builder.add(path: path)
    return Registry(configs: builder.configs, index: builder.index)
  }

  public func config(key: String) -> ConfigSpec? {
    index[key].map { configs[$0] }
  }

  /// Configs whose key Python's `re.search(regex, key)` matches, in registration order.
  public func matching(_ regex: String) throws(OrchError) -> [ConfigSpec] {
    let r = try PyRegex(regex)
    let scratch = PyRegex.Scratch()
    return configs.filter { r.search($0.key, scratch: scratch) }
  }

  /// A sweep's name (`--name`, or its file's or directory's) is shown by every listing and written
  /// into SLURM's scripts: a control, line or bidi character in it is refused.
  public static func checkSweepName(_ name: String, given: Bool, path: String) throws(OrchError) {
    do { try UserText.check(name, given ? "--name" : "sweep name") } catch {
      if given { throw error }
      throw .badInput(error.message + " (the name of '\(path)'; rename it or give --name)")
    }
  }

  /// Byte-for-byte the seed registry's `python -m configs REGEX` output.
  public static func listing(_ matched: [ConfigSpec], regex: String) -> String {
    var out = "\(matched.count) configs found ====== with regex: \(regex)\n"
    for (i, c) in matched.enumerated() {
      let n = String(i)
      out += "  " + String(repeating: " ", count: max(0, 3 - n.count)) + n + ") " + c.key + "\n"
    }
    return out
  }
}

struct Builder {
  var configs: [ConfigSpec] = []
  var index: [String: Int] = [:]
  let singleFile: Bool
  let keysOnly: Bool

  init(singleFile: Bool, keysOnly: Bool = false) {
    self.singleFile = singleFile
    self.keysOnly = keysOnly
  }

  mutating func add(path: String) throws(OrchError) {
    let src = try YAMLSource(path: path)
    let name = (path as NSString).lastPathComponent
    let stem = (name as NSString).deletingPathExtension
    let sweep = try SweepFile.parse(src, stem: stem)
    for entry in sweep.entries {
      switch entry {
      case .key(let e):
        let unit = ExpansionUnit(
          base: e.bindings.map { ($0.name, $0.value) }, key: e.key, keyLocation: e.key.location, kind: e.kind,
          resources: e.resources, location: e.key.location)
        try Expander.expand(
          file: stem, units: [unit], axes: e.axes, whens: e.whens, keysOnly: keysOnly, willEmit: { reserve($0) },
          emit: { c throws(OrchError) in
            // Not `rendered ?? c`: its autoclosure copied every config.
            if let rendered = try Self.renderingReferences(c) { try register(rendered) } else { try register(c) }
          })
      case .derive(let d):
        try derive(d, stem: stem)
      }
    }
  }

  private mutating func derive(_ d: SweepFile.DeriveEntry, stem: String) throws(OrchError) {
    let scratch = PyRegex.Scratch()
    let sources = configs.filter { d.regex.search($0.key, scratch: scratch) }
    if sources.isEmpty {
      let hint = singleFile ? " (only this file was loaded; load the sweeps directory to derive from others)" : ""
      throw .badInput("derive '\(d.pattern)' matches no key registered before it\(hint)", at: d.location)
    }
    let units = sources.map { s in
      let base = s.sortedBindings.map { ($0.name, $0.value) } + d.set.map { ($0.name, $0.value) }
      return ExpansionUnit(
        base: base, key: derivedKey(s.key, d), keyLocation: d.keyLocation, kind: s.templates ?? literalKind(s.kind),
        resources: d.resources.applied(to: s.resources), location: d.location)
    }
    // Reference holes are rendered only in what this entry binds: the copied bindings were
    // rendered by their own entry, where `{{`/`}}` already became literal braces.
    var bound: [String: SourceLocation] = [:]
    for w in d.whens { for b in w.set { bound[b.name] = b.location } }
    for a in d.axes { for (n, at) in a.names { bound[n] = at } }
    for b in d.set { bound[b.name] = b.location }
    let always = Set(d.set.map(\.name) + d.axes.flatMap { $0.names.map(\.0) })
    var perUnit = 1
    var emitted = 0
    try Expander.expand(
      file: stem, units: units, axes: d.axes, whens: d.whens, keysOnly: keysOnly,
      willEmit: { n in
        perUnit = max(1, n / units.count)
        reserve(n)
      },
      emit: { c throws(OrchError) in
        let source = sources[emitted / perUnit]
        emitted += 1
        // A `when` may leave the source's value in place; only a value it changed is its own.
        let rendered = try Self.renderingReferences(
          c, only: { name in bound[name] != nil && (always.contains(name) || c.binding(name) != source.binding(name)) },
          at: { bound[$0] ?? c.location })
        try register(rendered ?? c)
      })
  }

  /// The source key after `re.sub(rename.pattern, rename.replace, key)`, then the suffix.
  private func derivedKey(_ key: String, _ d: SweepFile.DeriveEntry) -> Template {
    var pieces: [Template.Piece] = []
    var text = ""
    if let r = d.rename {
      let utf8 = Array(key.utf8)
      func sub(_ a: Int, _ b: Int) -> String { String(decoding: utf8[a..<b], as: UTF8.self) }
      var pos = 0
      for m in r.regex.substitutionMatches(key) {
        pieces.append(.literal(sub(pos, m[0])))
        for p in r.pieces {
          switch p {
          case .text(let t): pieces.append(.literal(t))
          case .group(let g):
            if 2 * g + 1 < m.count, m[2 * g] >= 0 { pieces.append(.literal(sub(m[2 * g], m[2 * g + 1]))) }
          case .hole(let n, let at): pieces.append(.hole(n, at))
          }
        }
        pos = m[1]
      }
      pieces.append(.literal(sub(pos, utf8.count)))
    } else {
      pieces.append(.literal(key))
    }
    if let s = d.suffix { pieces += s.pieces }
    pieces.removeAll { if case .literal("") = $0 { true } else { false } }
    for p in pieces {
      switch p {
      case .literal(let s):
        text += s.replacingOccurrences(of: "{", with: "{{").replacingOccurrences(of: "}", with: "}}")
      case .hole(let n, _): text += "{\(n)}"
      }
    }
    return Template(text: text, pieces: pieces, location: d.keyLocation)
  }

  /// Configs built in code carry no templates; derive from their rendered job as literals.
  private func literalKind(_ kind: JobKind) -> KindTemplates {
    let at = SourceLocation(file: "<code>", line: 1, column: 1)
    switch kind {
    case .engine(let name): return KindTemplates(engine: name)
    case .command(let argv, let env):
      return KindTemplates(
        argv: argv.map { Template.literal($0, at: at) },
        env: env.map { (name: $0.key, value: Template.literal($0.value, at: at)) })
    }
  }

  /// A checkpoint reference may name its source with holes (`train/{data.name}/seed{train.seed}@final`),
  /// rendered from the config's own bindings when its entry expands, so one entry can evaluate or
  /// fine-tune each of a grid's models (a `derive` copies the rendered text); nil when no
  /// reference has a hole (the common case: no copy).
  /// `only` picks the bindings to render (all by default); `at` is where an error in one points.
  static func renderingReferences(
    _ c: ConfigSpec, only: (String) -> Bool = { _ in true }, at: ((String) -> SourceLocation)? = nil
  ) throws(OrchError) -> ConfigSpec? {
    if case .slots(let table, _) = c.storage, !table.mayHoldReferences { return nil }
    var bindings: [String: BindingValue]?
    for slot in CheckpointReference.slots(c.binding) where only(slot.name) {
      let text = slot.text
      guard text.contains("{") || text.contains("}") else { continue }
      let name = slot.label
      let location = at?(slot.name) ?? c.location
      let template = try Template.parse(text, at: location, firstColumn: nil)
      var all = bindings ?? c.bindings
      var out = ""
      for piece in template.pieces {
        switch piece {
        case .literal(let s): out += s
        case .hole(let hole, _):
          if hole == "key" {
            out += c.key
            continue
          }
          guard let value = all[hole] else {
            throw .badInput(
              "config '\(c.key)': \(name) '\(text)' uses unbound name '\(hole)'", at: location)
          }
          out += value.templateText
        }
      }
      CheckpointReference.set(slot, to: out, in: &all)
      bindings = all
    }
    guard let bindings else { return nil }
    if c.hash.isEmpty {
      // A keys-only load renders no job: keep it unrendered.
      return ConfigSpec(
        key: c.key, file: c.file, storage: .dictionary(bindings), kind: c.kind, resources: c.resources,
        canonicalJSON: "", hash: "", location: c.location, templates: c.templates)
    }
    var rendered = ConfigSpec(
      key: c.key, file: c.file, bindings: bindings, kind: c.kind, resources: c.resources, location: c.location)
    rendered.templates = c.templates
    return rendered
  }

  private mutating func reserve(_ n: Int) {
    configs.reserveCapacity(configs.count + n)
    index.reserveCapacity(index.count + n)
  }

  private mutating func register(_ c: consuming ConfigSpec) throws(OrchError) {
    let n = configs.count
    if let i = index.updateValue(n, forKey: c.key) {
      index[c.key] = i
      let first = configs[i].location
      let hint = first == c.location ? "; one entry produced it twice: its key must vary with every axis" : ""
      throw .badInput("duplicate key '\(c.key)' (first registered at \(first))\(hint)", at: c.location)
    }
    configs.append(c)
  }
}
