import Crypto
import OrchCore

public enum JobKind: Sendable, Hashable {
  case command(argv: [String], env: [String: String])
  case engine(String)
}

/// One registered config: what a job runs, under which key (its run directory).
public struct ConfigSpec: Sendable {
  public var key: String
  /// Sweep file stem, e.g. `p100_demo`.
  public var file: String
  /// Built on each read from a compact row shared with the rest of the sweep (a million configs
  /// would otherwise be a million dictionaries); read it once per config, or use `binding(_:)`.
  public var bindings: [String: BindingValue] {
    get {
      switch storage {
      case .dictionary(let d): return d
      case .slots(let table, let slots):
        var d = [String: BindingValue](minimumCapacity: slots.count)
        for (i, v) in slots.enumerated() where v >= 0 { d[table.names[i]] = table.values[Int(v)] }
        return d
      }
    }
    set { storage = .dictionary(newValue) }
  }
  var storage: BindingStorage
  public var kind: JobKind
  public var resources: Resources
  /// `{"bindings":{…},"command":[…],"env":{…}}` or `{"bindings":{…},"engine":"train"}`; the key
  /// and resources are left out so renaming a config or giving it more time keeps its identity.
  public var canonicalJSON: String
  /// Lowercase hex SHA-256 of `canonicalJSON`.
  public var hash: String
  /// Where the config was registered (its entry's key template, or its `derive:` pattern).
  public var location: SourceLocation
  /// Unrendered command/env (or engine), so a `derive` can re-render them with new bindings.
  var templates: KindTemplates?

  /// A config built in code (the sbatch front end, tests); canonical JSON and hash are computed.
  public init(
    key: String, file: String, bindings: [String: BindingValue], kind: JobKind,
    resources: Resources = Resources(), location: SourceLocation
  ) {
    self.key = key
    self.file = file
    storage = .dictionary(bindings)
    self.kind = kind
    self.resources = resources
    self.location = location
    canonicalJSON = ConfigSpec.canonicalJSON(bindings: bindings, kind: kind)
    hash = sha256Hex(Array(canonicalJSON.utf8))
    templates = nil
  }

  init(
    key: String, file: String, storage: BindingStorage, kind: JobKind, resources: Resources,
    canonicalJSON: String, hash: String, location: SourceLocation, templates: KindTemplates?
  ) {
    self.key = key
    self.file = file
    self.storage = storage
    self.kind = kind
    self.resources = resources
    self.canonicalJSON = canonicalJSON
    self.hash = hash
    self.location = location
    self.templates = templates
  }

  /// One binding's value, without building the dictionary.
  public func binding(_ name: String) -> BindingValue? {
    switch storage {
    case .dictionary(let d): return d[name]
    case .slots(let table, let slots):
      guard let i = table.slot(of: name), slots[i] >= 0 else { return nil }
      return table.values[Int(slots[i])]
    }
  }

  /// The bindings in canonical (bytewise) name order.
  public var sortedBindings: [(name: String, value: BindingValue)] {
    switch storage {
    case .dictionary(let d): return d.sorted { bytewiseLess($0.key, $1.key) }.map { ($0.key, $0.value) }
    case .slots(let table, let slots):
      return slots.indices.filter { slots[$0] >= 0 }.map { (table.names[$0], table.values[Int(slots[$0])]) }
    }
  }

  public static func canonicalJSON(bindings: [String: BindingValue], kind: JobKind) -> String {
    var out: [UInt8] = Array("{\"bindings\":".utf8)
    BindingValue.map(bindings).appendJSON(to: &out)
    switch kind {
    case .command(let argv, let env):
      out.append(contentsOf: ",\"command\":".utf8)
      BindingValue.list(argv.map { .string($0) }).appendJSON(to: &out)
      out.append(contentsOf: ",\"env\":".utf8)
      BindingValue.map(env.mapValues { .string($0) }).appendJSON(to: &out)
    case .engine(let name):
      out.append(contentsOf: ",\"engine\":".utf8)
      JSON.appendString(name, to: &out)
    }
    out.append(UInt8(ascii: "}"))
    return String(decoding: out, as: UTF8.self)
  }
}

/// The binding names (sorted bytewise) and interned values of one expansion, shared by its configs.
final class BindingTable: Sendable {
  let names: [String]
  let values: [BindingValue]
  /// Whether any name can hold a checkpoint reference: most sweeps bind none, and their configs
  /// then skip the per-config reference lookups.
  let mayHoldReferences: Bool

  init(names: [String], values: [BindingValue]) {
    self.names = names
    self.values = values
    mayHoldReferences = names.contains {
      CheckpointReference.bindings.contains($0) || CheckpointReference.listBindings.contains($0)
    }
  }

  func slot(of name: String) -> Int? {
    var lo = 0, hi = names.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if bytewiseLess(names[mid], name) { lo = mid + 1 } else { hi = mid }
    }
    return lo < names.count && names[lo] == name ? lo : nil
  }
}

enum BindingStorage: Sendable {
  case dictionary([String: BindingValue])
  /// Value ids per name of the table, -1 where unbound.
  case slots(BindingTable, [Int32])
}

/// The engines an `engine:` entry may name.
let engineNames = ["train", "eval"]

/// A spec's unrendered job: argv and env templates (env sorted by name), or an engine name.
final class KindTemplates: Sendable {
  let argv: [Template]?
  let env: [(name: String, value: Template)]
  let engine: String?

  init(argv: [Template], env: [(name: String, value: Template)]) {
    self.argv = argv
    self.env = env.sorted { bytewiseLess($0.name, $1.name) }
    engine = nil
  }

  init(engine: String) {
    argv = nil
    env = []
    self.engine = engine
  }
}

public func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String {
  let digest = SHA256.hash(data: bytes)
  let hex: [UInt8] = Array("0123456789abcdef".utf8)
  return String(unsafeUninitializedCapacity: 64) { out in
    var i = 0
    for b in digest {
      out[i] = hex[Int(b >> 4)]
      out[i + 1] = hex[Int(b & 15)]
      i += 2
    }
    return 64
  }
}

public func sha256Hex(_ bytes: [UInt8]) -> String {
  bytes.withUnsafeBytes { sha256Hex($0) }
}
