import Foundation
import OrchCore

/// The specs one entry expands over: a `key:` entry has one unit, a `derive:` one per source key.
struct ExpansionUnit {
  var base: [(String, BindingValue)]
  var key: Template
  var keyLocation: SourceLocation
  var kind: KindTemplates
  var resources: Resources
  var location: SourceLocation
}

/// Expands units × axes into configs. Binding names get slots in canonical (bytewise) order and
/// every value is interned once, its rendered text, JSON-escaped text and JSON kept in one byte
/// arena, so a config is a row of value ids and rendering it is a run of `memcpy`s, then a
/// SHA-256: a 1,000,000-config grid has to expand in well under 4 s.
struct Expander {
  private struct Span {
    var start: Int
    var end: Int
  }

  private enum PieceKind: UInt8 { case literal, slot, key, unknown }

  /// One template piece; `info` indexes `holes` for error messages.
  private struct Piece {
    var kind: PieceKind
    var raw: Span
    var escaped: Span
    var slot: Int
    var info: Int
  }

  private struct Compiled {
    var pieces: Span
    /// Index into `constants` when the template has no holes: rendered once, shared by every config.
    var constant: Int
    var constantEscaped: Span
    /// The slot when the template is exactly one hole, whose value's text is then shared, not copied.
    var soleSlot: Int
    var soleKey: Bool
  }

  private struct Kind {
    var args: [Compiled]
    var envPrefix: [Span]
    var envNames: [String]
    var envValues: [Compiled]
    /// The env dictionary itself when no env value has a hole: one shared instance, not one per config.
    var constantEnv: [String: String]?
    var engine: String?
    var engineTail: Span
    var usesKey: Bool
  }

  private enum Dim {
    case single(slot: Int, values: [Int32])
    case rows([[(Int, Int32)]])

    var count: Int {
      switch self {
      case .single(_, let v): return v.count
      case .rows(let r): return r.count
      }
    }
  }

  private struct When {
    var conditions: [(slot: Int, accepts: [Bool])]
    var set: [(Int, Int32)]
  }

  let file: String
  private var names: [String] = []
  private var slotOf: [String: Int] = [:]
  private var values: [BindingValue] = []
  private var valueIds: [String: Int32] = [:]
  private var arena: [UInt8] = []
  private var valueText: [Span] = []
  private var valueStrings: [String] = []
  private var valueEscaped: [Span] = []
  private var valueJSON: [Span] = []
  private var slotPrefix: [Span] = []
  private var pieces: [Piece] = []
  private var constants: [String] = []
  private var holes: [(name: String, at: SourceLocation, template: String)] = []

  private init(file: String) { self.file = file }

  /// Calls `willEmit` with the number of configs before the first `emit`. With `keysOnly`, configs
  /// carry their key and bindings but no rendered job, canonical JSON or hash (for listings); the
  /// same errors are raised, in the same order.
  static func expand(
    file: String, units: [ExpansionUnit], axes: [SweepFile.AxisDim], whens: [SweepFile.When], keysOnly: Bool = false,
    willEmit: (Int) -> Void, emit: (consuming ConfigSpec) throws(OrchError) -> Void
  ) throws(OrchError) {
    willEmit(try checkedTotal(units: units, axes: axes))
    var x = Expander(file: file)
    x.declare(units: units, axes: axes, whens: whens)
    try x.run(units: units, axes: axes, whens: whens, keysOnly: keysOnly, emit: emit)
  }

  /// The entry's config count, refused before anything is expanded when it passes the limit
  /// (checked product: an overflow counts as over).
  private static func checkedTotal(units: [ExpansionUnit], axes: [SweepFile.AxisDim]) throws(OrchError) -> Int {
    var total = units.count
    for d in axes {
      total = total.multipliedReportingOverflow(by: d.count).overflow ? Int.max : total * d.count
    }
    if total > SweepFile.maxConfigs {
      let at = axes.first?.names.first?.1 ?? units.first?.location
      throw .badInput("entry expands to \(total) configs, more than the limit of \(SweepFile.maxConfigs)", at: at)
    }
    return total
  }

  /// Only the keys, for a listing: each rendered key's bytes go to `emit` (valid during the call),
  /// with the checks and errors of `expand(keysOnly: true)` in the same order, and no config built.
  /// A config whose checkpoint reference has holes (`{`/`}`) is built and given to `references`
  /// first, which raises what rendering the reference would.
  static func expandKeys(
    file: String, units: [ExpansionUnit], axes: [SweepFile.AxisDim], whens: [SweepFile.When],
    willEmit: (Int) -> Void, references: (consuming ConfigSpec) throws(OrchError) -> Void,
    emit: (UnsafeBufferPointer<UInt8>) throws(OrchError) -> Void
  ) throws(OrchError) {
    willEmit(try checkedTotal(units: units, axes: axes))
    var x = Expander(file: file)
    x.declare(units: units, axes: axes, whens: whens)
    let plan = try x.plan(units: units, axes: axes, whens: whens, keysOnly: true)
    // The slots that can hold a reference, and the values with a hole in one.
    var referenceSlots: [Int] = []
    if plan.table.mayHoldReferences {
      let names = Set(CheckpointReference.bindings).union(CheckpointReference.listBindings)
      referenceSlots = x.names.indices.filter { names.contains(x.names[$0]) }
    }
    let braced = x.values.map { v -> Bool in
      func has(_ t: String) -> Bool { t.utf8.contains { $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") } }
      switch v {
      case .string(let t): return has(t)
      case .list(let items): return items.contains { if case .string(let t) = $0 { has(t) } else { false } }
      default: return false
      }
    }
    let frozen = x
    try frozen.arena.withUnsafeBufferPointer { (arena) throws(OrchError) in
      try frozen.pieces.withUnsafeBufferPointer { (pieces) throws(OrchError) in
        let r = Renderer(x: frozen, arena: arena, pieces: pieces)
        var out = Output()
        try plan.each(0..<(units.count * plan.perUnit)) { (u, kind, slots) throws(OrchError) in
          if referenceSlots.contains(where: { slots[$0] >= 0 && braced[Int(slots[$0])] }) {
            try references(
              r.keyedConfig(units, u, key: plan.keys[u], kind: kind, slots: slots, table: plan.table, out: &out))
          } else {
            try r.checkedKey(units, u, key: plan.keys[u], kind: kind, slots: slots, out: &out)
          }
          try out.key.withUnsafeBufferPointer { (key) throws(OrchError) in try emit(key) }
        }
      }
    }
  }

  // MARK: Slots, values, templates

  private mutating func declare(units: [ExpansionUnit], axes: [SweepFile.AxisDim], whens: [SweepFile.When]) {
    var all = Set<String>()
    for u in units { for (n, _) in u.base { all.insert(n) } }
    for d in axes { for (n, _) in d.names { all.insert(n) } }
    for w in whens { for b in w.set { all.insert(b.name) } }
    names = all.sorted(by: bytewiseLess)
    for (i, n) in names.enumerated() {
      slotOf[n] = i
      var prefix: [UInt8] = []
      JSON.appendString(n, to: &prefix)
      prefix.append(UInt8(ascii: ":"))
      slotPrefix.append(store(prefix))
    }
  }

  private mutating func store<C: Collection<UInt8>>(_ bytes: C) -> Span {
    let start = arena.count
    arena.append(contentsOf: bytes)
    return Span(start: start, end: arena.count)
  }

  private mutating func intern(_ v: BindingValue) -> Int32 {
    // Keyed by JSON, not by `==`: 1 vs 1.0 vs "1" and 0.0 vs -0.0 render differently.
    var json: [UInt8] = []
    v.appendJSON(to: &json)
    let k = String(decoding: json, as: UTF8.self)
    if let id = valueIds[k] { return id }
    let id = Int32(values.count)
    valueIds[k] = id
    values.append(v)
    let text = v.templateText
    valueText.append(store(text.utf8))
    valueStrings.append(text)
    valueEscaped.append(store(JSON.escaped(text)))
    valueJSON.append(store(json))
    return id
  }

  private mutating func compile(_ t: Template) -> Compiled {
    let first = pieces.count
    var constant: String? = ""
    for p in t.pieces {
      switch p {
      case .literal(let s):
        let raw = store(s.utf8)
        pieces.append(Piece(kind: .literal, raw: raw, escaped: store(JSON.escaped(s)), slot: -1, info: -1))
        constant? += s
      case .hole(let name, let at):
        constant = nil
        holes.append((name, at, t.text))
        let empty = Span(start: 0, end: 0)
        if name == "key" {
          pieces.append(Piece(kind: .key, raw: empty, escaped: empty, slot: -1, info: holes.count - 1))
        } else if let s = slotOf[name] {
          pieces.append(Piece(kind: .slot, raw: empty, escaped: empty, slot: s, info: holes.count - 1))
        } else {
          pieces.append(Piece(kind: .unknown, raw: empty, escaped: empty, slot: -1, info: holes.count - 1))
        }
      }
    }
    let escaped = constant.map { store(JSON.escaped($0)) } ?? Span(start: 0, end: 0)
    if let constant { constants.append(constant) }
    let sole = pieces.count == first + 1 ? pieces[first] : nil
    return Compiled(
      pieces: Span(start: first, end: pieces.count), constant: constant == nil ? -1 : constants.count - 1,
      constantEscaped: escaped,
      soleSlot: sole?.kind == .slot ? sole!.slot : -1, soleKey: sole?.kind == .key)
  }

  private mutating func compile(_ k: KindTemplates) -> Kind {
    if let engine = k.engine {
      var tail = Array(",\"engine\":".utf8)
      JSON.appendString(engine, to: &tail)
      tail.append(UInt8(ascii: "}"))
      return Kind(
        args: [], envPrefix: [], envNames: [], envValues: [], constantEnv: nil, engine: engine,
        engineTail: store(tail), usesKey: false)
    }
    let args = (k.argv ?? []).map { compile($0) }
    let envPrefix = k.env.map { e -> Span in
      var prefix: [UInt8] = []
      JSON.appendString(e.name, to: &prefix)
      prefix.append(contentsOf: ":\"".utf8)
      return store(prefix)
    }
    let envValues = k.env.map { compile($0.value) }
    let usesKey =
      (k.argv ?? []).contains { $0.holeNames.contains("key") }
      || k.env.contains { $0.value.holeNames.contains("key") }
    var constantEnv: [String: String]? = [:]
    for (e, v) in zip(k.env, envValues) {
      if v.constant >= 0 { constantEnv?[e.name] = constants[v.constant] } else { constantEnv = nil }
    }
    return Kind(
      args: args, envPrefix: envPrefix, envNames: k.env.map(\.name), envValues: envValues, constantEnv: constantEnv,
      engine: nil, engineTail: Span(start: 0, end: 0), usesKey: usesKey)
  }

  private mutating func compile(_ d: SweepFile.AxisDim) -> Dim {
    switch d {
    case .single(let name, _, let vs): return .single(slot: slotOf[name]!, values: vs.map { intern($0) })
    case .rows(_, let rows, _): return .rows(rows.map { row in row.map { (slotOf[$0.0]!, intern($0.1)) } })
    }
  }

  private mutating func compile(_ w: SweepFile.When) throws(OrchError) -> When {
    var conditions: [(slot: Int, accepts: [Bool])] = []
    for c in w.conditions {
      guard let slot = slotOf[c.name] else {
        throw .badInput(
          "when.if names '\(c.name)', which this entry never binds\(didYouMean(c.name, in: names))",
          at: c.location)
      }
      conditions.append((slot, []))
    }
    return When(conditions: conditions, set: w.set.map { (slotOf[$0.name]!, intern($0.value)) })
  }

  // MARK: Expansion

  /// Everything is interned and compiled first, so the arena is frozen during the hot loop.
  private mutating func plan(
    units: [ExpansionUnit], axes: [SweepFile.AxisDim], whens: [SweepFile.When], keysOnly: Bool
  ) throws(OrchError) -> Plan {
    let bases = units.map { u in
      var slots = [Int32](repeating: -1, count: names.count)
      for (n, v) in u.base { slots[slotOf[n]!] = intern(v) }
      return slots
    }
    let dims = axes.map { compile($0) }
    var cwhens: [When] = []
    for w in whens { cwhens.append(try compile(w)) }
    for (wi, w) in whens.enumerated() {
      for (ci, c) in w.conditions.enumerated() {
        cwhens[wi].conditions[ci].accepts = values.map { v in c.anyOf.contains { v.conditionEquals($0) } }
      }
    }
    var kindOf: [ObjectIdentifier: Int] = [:]
    var kinds: [Kind] = []
    var unitKind: [Int] = []
    var keys: [Compiled] = []
    for unit in units {
      if let k = kindOf[ObjectIdentifier(unit.kind)] {
        unitKind.append(k)
      } else {
        kinds.append(compile(unit.kind))
        kindOf[ObjectIdentifier(unit.kind)] = kinds.count - 1
        unitKind.append(kinds.count - 1)
      }
      keys.append(compile(unit.key))
    }
    return Plan(
      units: units, bases: bases, dims: dims, whens: cwhens, kinds: kinds, unitKind: unitKind, keys: keys,
      table: BindingTable(names: names, values: values), perUnit: dims.reduce(1) { $0 * $1.count },
      keysOnly: keysOnly)
  }

  private mutating func run(
    units: [ExpansionUnit], axes: [SweepFile.AxisDim], whens: [SweepFile.When], keysOnly: Bool,
    emit: (consuming ConfigSpec) throws(OrchError) -> Void
  ) throws(OrchError) {
    let plan = try plan(units: units, axes: axes, whens: whens, keysOnly: keysOnly)
    let total = units.count * plan.perUnit
    let frozen = self
    try frozen.arena.withUnsafeBufferPointer { (arena) throws(OrchError) in
      try frozen.pieces.withUnsafeBufferPointer { (pieces) throws(OrchError) in
        let r = Renderer(x: frozen, arena: arena, pieces: pieces)
        let chunk = 16_384
        if total <= 2 * chunk || ProcessInfo.processInfo.activeProcessorCount < 2 {
          try plan.render(r, 0..<total, emit)
          return
        }
        // Big sweeps render in parallel chunks while this thread emits (and duplicate-checks) the
        // finished ones strictly in order; the first error in order wins, so the result never
        // depends on timing.
        let chunks = (total + chunk - 1) / chunk
        let results = UnsafeMutableBufferPointer<ChunkResult>.allocate(capacity: chunks)
        for c in 0..<chunks {
          let n = min(total, (c + 1) * chunk) - c * chunk
          (results.baseAddress! + c).initialize(to: ChunkResult(configs: .allocate(capacity: n)))
        }
        let done = (0..<chunks).map { _ in DispatchSemaphore(value: 0) }
        var waited = 0
        defer {
          // After an error, let the workers finish before their buffers go; configs not emitted
          // are destroyed here.
          for c in waited..<chunks { done[c].wait() }
          for c in 0..<chunks {
            let r = results[c]
            (r.configs.baseAddress! + r.emitted).deinitialize(count: r.count - r.emitted)
            r.configs.deallocate()
          }
          results.deinitialize()
          results.deallocate()
        }
        let shared = Shared(plan: plan, renderer: r, results: results)
        for c in 0..<chunks {
          let signal = done[c]
          DispatchQueue.global(qos: .userInitiated).async {
            var result = shared.results[c]
            let range = (c * chunk)..<min(total, (c + 1) * chunk)
            do throws(OrchError) {
              try shared.plan.render(shared.renderer, range) { config in
                (result.configs.baseAddress! + result.count).initialize(to: config)
                result.count += 1
              }
            } catch {
              result.error = error
            }
            shared.results[c] = result
            signal.signal()
          }
        }
        for c in 0..<chunks {
          done[c].wait()
          waited = c + 1
          while results[c].emitted < results[c].count {
            let config = (results[c].configs.baseAddress! + results[c].emitted).move()
            results[c].emitted += 1
            try emit(config)
          }
          if let e = results[c].error { throw e }
        }
      }
    }
  }

  /// What the parallel workers see: read-only plan and renderer (the arena is frozen while they
  /// run), and one result slot per chunk that only that chunk's worker writes.
  private struct Shared: @unchecked Sendable {
    let plan: Plan
    let renderer: Renderer
    let results: UnsafeMutableBufferPointer<ChunkResult>
  }

  /// A chunk's configs live in raw memory so they can be moved out one by one, never copied.
  private struct ChunkResult {
    var configs: UnsafeMutableBufferPointer<ConfigSpec>
    var count = 0
    var emitted = 0
    var error: OrchError? = nil
  }

  /// Everything one expansion needs, indexed by a flat config number (unit-major, last axis fastest).
  private struct Plan {
    var units: [ExpansionUnit]
    var bases: [[Int32]]
    var dims: [Dim]
    var whens: [When]
    var kinds: [Kind]
    var unitKind: [Int]
    var keys: [Compiled]
    var table: BindingTable
    var perUnit: Int
    var keysOnly: Bool

    func render(
      _ r: Renderer, _ range: Range<Int>, _ sink: (consuming ConfigSpec) throws(OrchError) -> Void
    ) throws(OrchError) {
      var out = Output()
      try each(range) { (u, kind, slots) throws(OrchError) in
        if keysOnly {
          try sink(r.keyedConfig(units, u, key: keys[u], kind: kind, slots: slots, table: table, out: &out))
        } else {
          try sink(r.config(units, u, key: keys[u], kind: kind, slots: slots, table: table, out: &out))
        }
      }
    }

    /// Calls `body` with each config's unit, job templates and binding slots, in order.
    @inline(__always)
    func each(
      _ range: Range<Int>, _ body: (Int, Kind, [Int32]) throws(OrchError) -> Void
    ) throws(OrchError) {
      guard !range.isEmpty else { return }
      var slots = [Int32](repeating: -1, count: table.names.count)
      var idx = [Int](repeating: 0, count: dims.count)
      var u = range.lowerBound / perUnit
      var rem = range.lowerBound % perUnit
      for d in dims.indices.reversed() {
        idx[d] = rem % dims[d].count
        rem /= dims[d].count
      }
      var kind = kinds[unitKind[u]]
      for _ in range {
        let base = bases[u]
        for s in slots.indices { slots[s] = base[s] }
        for (d, dim) in dims.enumerated() {
          switch dim {
          case .single(let slot, let vs): slots[slot] = vs[idx[d]]
          case .rows(let rows): for (s, v) in rows[idx[d]] { slots[s] = v }
          }
        }
        for w in whens where w.conditions.allSatisfy({ c in slots[c.slot] >= 0 && c.accepts[Int(slots[c.slot])] }) {
          for (s, v) in w.set { slots[s] = v }
        }
        try body(u, kind, slots)
        var d = dims.count - 1
        while d >= 0 {
          idx[d] += 1
          if idx[d] < dims[d].count { break }
          idx[d] = 0
          d -= 1
        }
        if d < 0 && u + 1 < units.count {
          u += 1
          kind = kinds[unitKind[u]]
        }
      }
    }
  }

  private struct Output {
    var key: [UInt8] = []
    var keyEscaped: [UInt8] = []
    var json: [UInt8] = []
    var scratch: [UInt8] = []
  }

  /// The hot path, over the frozen arena and piece table.
  private struct Renderer {
    let x: Expander
    let arena: UnsafeBufferPointer<UInt8>
    let pieces: UnsafeBufferPointer<Piece>

    @inline(__always)
    func put(_ span: Span, _ out: inout [UInt8]) {
      out.append(contentsOf: UnsafeBufferPointer(rebasing: arena[span.start..<span.end]))
    }

    func render(_ c: Compiled, escaped: Bool, _ out: inout [UInt8], slots: [Int32], key: [UInt8]) throws(OrchError) {
      for i in c.pieces.start..<c.pieces.end {
        let p = pieces[i]
        switch p.kind {
        case .literal: put(escaped ? p.escaped : p.raw, &out)
        case .slot:
          let v = Int(slots[p.slot])
          if v < 0 { throw unbound(p.info, slots) }
          put(escaped ? x.valueEscaped[v] : x.valueText[v], &out)
        case .key: out.append(contentsOf: key)
        case .unknown: throw unbound(p.info, slots)
        }
      }
    }

    func unbound(_ info: Int, _ slots: [Int32]) -> OrchError {
      let h = x.holes[info]
      let bound = x.names.indices.filter { slots[$0] >= 0 }.map { x.names[$0] }
      return .badInput(
        "template '\(h.template)' uses unbound name '\(h.name)'\(didYouMean(h.name, in: bound))", at: h.at)
    }

    func string(_ c: Compiled, slots: [Int32], key: String, out: inout Output) throws(OrchError) -> String {
      if c.constant >= 0 { return x.constants[c.constant] }
      if c.soleSlot >= 0 && slots[c.soleSlot] >= 0 { return x.valueStrings[Int(slots[c.soleSlot])] }
      if c.soleKey { return key }
      out.scratch.removeAll(keepingCapacity: true)
      try render(c, escaped: false, &out.scratch, slots: slots, key: out.key)
      return String(decoding: out.scratch, as: UTF8.self)
    }

    func config(
      _ units: [ExpansionUnit], _ u: Int, key: Compiled, kind: Kind, slots: [Int32], table: BindingTable,
      out: inout Output
    ) throws(OrchError) -> ConfigSpec {
      out.key.removeAll(keepingCapacity: true)
      try render(key, escaped: false, &out.key, slots: slots, key: [])
      if let problem = unsafeKeyProblem(out.key) {
        let k = String(decoding: out.key, as: UTF8.self)
        throw .badInput("unsafe key '\(k)': \(problem) (keys become run directories)", at: units[u].keyLocation)
      }
      let keyString = String(decoding: out.key, as: UTF8.self)
      if kind.usesKey {
        // A safe key has no control characters or backslashes: only '"' can need escaping.
        out.keyEscaped.removeAll(keepingCapacity: true)
        if out.key.contains(UInt8(ascii: "\"")) {
          JSON.appendEscaped(out.key, to: &out.keyEscaped)
        } else {
          out.keyEscaped.append(contentsOf: out.key)
        }
      }

      var json = out.json
      out.json = []
      json.removeAll(keepingCapacity: true)
      json.append(contentsOf: "{\"bindings\":{".utf8)
      var first = true
      for s in 0..<slots.count where slots[s] >= 0 {
        if !first { json.append(UInt8(ascii: ",")) }
        first = false
        put(x.slotPrefix[s], &json)
        put(x.valueJSON[Int(slots[s])], &json)
      }
      json.append(UInt8(ascii: "}"))
      let jobKind: JobKind
      if let engine = kind.engine {
        put(kind.engineTail, &json)
        jobKind = .engine(engine)
      } else {
        json.append(contentsOf: ",\"command\":[".utf8)
        var argv: [String] = []
        argv.reserveCapacity(kind.args.count)
        for i in kind.args.indices {
          if i > 0 { json.append(UInt8(ascii: ",")) }
          json.append(UInt8(ascii: "\""))
          if kind.args[i].constant >= 0 {
            put(kind.args[i].constantEscaped, &json)
          } else {
            try render(kind.args[i], escaped: true, &json, slots: slots, key: out.keyEscaped)
          }
          argv.append(try string(kind.args[i], slots: slots, key: keyString, out: &out))
          json.append(UInt8(ascii: "\""))
        }
        json.append(contentsOf: "],\"env\":{".utf8)
        var env = kind.constantEnv ?? [String: String](minimumCapacity: kind.envNames.count)
        for i in kind.envValues.indices {
          if i > 0 { json.append(UInt8(ascii: ",")) }
          put(kind.envPrefix[i], &json)
          if kind.envValues[i].constant >= 0 {
            put(kind.envValues[i].constantEscaped, &json)
          } else {
            try render(kind.envValues[i], escaped: true, &json, slots: slots, key: out.keyEscaped)
          }
          if kind.constantEnv == nil {
            env[kind.envNames[i]] = try string(kind.envValues[i], slots: slots, key: keyString, out: &out)
          }
          json.append(UInt8(ascii: "\""))
        }
        json.append(contentsOf: "}}".utf8)
        jobKind = .command(argv: argv, env: env)
      }
      let hash = json.withUnsafeBytes { sha256Hex($0) }
      let canonical = String(decoding: json, as: UTF8.self)
      out.json = json
      return ConfigSpec(
        key: keyString, file: x.file, storage: .slots(table, slots), kind: jobKind, resources: units[u].resources,
        canonicalJSON: canonical, hash: hash, location: units[u].location, templates: units[u].kind)
    }

    /// `config` without rendering the job: the key and bindings, and the job's holes checked.
    func keyedConfig(
      _ units: [ExpansionUnit], _ u: Int, key: Compiled, kind: Kind, slots: [Int32], table: BindingTable,
      out: inout Output
    ) throws(OrchError) -> ConfigSpec {
      try checkedKey(units, u, key: key, kind: kind, slots: slots, out: &out)
      let jobKind: JobKind = kind.engine.map { .engine($0) } ?? .command(argv: [], env: [:])
      return ConfigSpec(
        key: String(decoding: out.key, as: UTF8.self), file: x.file, storage: .slots(table, slots), kind: jobKind,
        resources: units[u].resources, canonicalJSON: "", hash: "", location: units[u].location,
        templates: units[u].kind)
    }

    /// The key rendered into `out.key`, and the job's holes checked.
    @inline(__always)
    func checkedKey(
      _ units: [ExpansionUnit], _ u: Int, key: Compiled, kind: Kind, slots: [Int32], out: inout Output
    ) throws(OrchError) {
      out.key.removeAll(keepingCapacity: true)
      try render(key, escaped: false, &out.key, slots: slots, key: [])
      if let problem = unsafeKeyProblem(out.key) {
        let k = String(decoding: out.key, as: UTF8.self)
        throw .badInput("unsafe key '\(k)': \(problem) (keys become run directories)", at: units[u].keyLocation)
      }
      for c in kind.args where c.constant < 0 { try checkBound(c, slots: slots) }
      for c in kind.envValues where c.constant < 0 { try checkBound(c, slots: slots) }
    }

    /// Throws what `render` would for an unbound hole.
    func checkBound(_ c: Compiled, slots: [Int32]) throws(OrchError) {
      for i in c.pieces.start..<c.pieces.end {
        let p = pieces[i]
        switch p.kind {
        case .literal, .key: continue
        case .slot: if slots[p.slot] < 0 { throw unbound(p.info, slots) }
        case .unknown: throw unbound(p.info, slots)
        }
      }
    }
  }
}

/// Why a rendered key cannot be a run directory, or nil when it can.
func unsafeKeyProblem(_ key: [UInt8]) -> String? {
  if key.isEmpty { return "empty key" }
  if key[0] == UInt8(ascii: "/") { return "absolute path" }
  var ascii = true
  let problem: String? = key.withUnsafeBufferPointer { key in
    var componentStart = 0
    for i in 0...key.count {
      let b = i < key.count ? key[i] : UInt8(ascii: "/")
      if b == UInt8(ascii: "\\") { return "backslash" }
      if b < 0x20 || b == 0x7F { return "control character" }
      if b >= 0x80 { ascii = false }
      guard b == UInt8(ascii: "/") else { continue }
      let n = i - componentStart
      if n == 0 { return "empty path component" }
      if key[componentStart] == UInt8(ascii: "."), n == 1 || (n == 2 && key[componentStart + 1] == UInt8(ascii: ".")) {
        return "'\(n == 1 ? "." : "..")' path component"
      }
      componentStart = i + 1
    }
    return nil
  }
  if let problem { return problem }
  // C1 controls, line separators and bidi controls are all outside ASCII.
  if !ascii, let p = UserText.firstProblem(String(decoding: key, as: UTF8.self)) { return p.problem }
  return nil
}
