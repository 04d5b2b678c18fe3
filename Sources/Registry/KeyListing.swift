import Foundation
import OrchCore

extension Registry {
  /// `listing(load(path:, keysOnly: true).matching(regex), regex:)` as bytes, with no config built:
  /// the keys are rendered into one buffer, duplicate-checked through a table of their offsets,
  /// matched and printed, so listing 100,000 keys costs little more than rendering them. Nil when
  /// the sweeps need the full load — a `derive:` entry (it reads its sources' bindings), a path
  /// that is not there —; otherwise the same errors in the same order as the full load.
  public static func keyListing(path: String, regex: String) throws(OrchError) -> [UInt8]? {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
    let files = isDir.boolValue ? try sweepFiles(directory: path) : [path]
    var keys = KeySet()
    for file in files {
      let src = try YAMLSource(path: file)
      let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
      let sweep = try SweepFile.parse(src, stem: stem)
      for entry in sweep.entries {
        guard case .key(let e) = entry else { return nil }
        let unit = ExpansionUnit(
          base: e.bindings.map { ($0.name, $0.value) }, key: e.key, keyLocation: e.key.location, kind: e.kind,
          resources: e.resources, location: e.key.location)
        keys.startEntry(at: e.key.location)
        try Expander.expandKeys(
          file: stem, units: [unit], axes: e.axes, whens: e.whens,
          willEmit: { keys.reserve($0) },
          references: { (c) throws(OrchError) in _ = try Builder.renderingReferences(c) },
          emit: { (key) throws(OrchError) in try keys.insert(key) })
      }
    }
    let r = try PyRegex(regex)
    var matched: [Int] = []
    keys.bytes.withUnsafeBufferPointer { all in
      for i in 0..<keys.count {
        let (start, end) = keys.range(i)
        if r.search(utf8: UnsafeBufferPointer(rebasing: all[start..<end])) { matched.append(i) }
      }
    }
    var out: [UInt8] = Array("\(matched.count) configs found ====== with regex: \(regex)\n".utf8)
    out.reserveCapacity(out.count + matched.count * 48)
    for (n, i) in matched.enumerated() {
      let number = String(n).utf8
      out.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: 2 + max(0, 3 - number.count)))
      out.append(contentsOf: number)
      out.append(contentsOf: ") ".utf8)
      let (start, end) = keys.range(i)
      out.append(contentsOf: keys.bytes[start..<end])
      out.append(UInt8(ascii: "\n"))
    }
    return out
  }
}

/// Rendered keys in one byte buffer, in registration order, with an open-addressing table of
/// their indices for the duplicate check (a `[String: Int]` of a million keys costs a String and
/// a SipHash each).
struct KeySet {
  private(set) var bytes: [UInt8] = []
  /// Key `i` is `bytes[ends[i - 1]..<ends[i]]`.
  private var ends: [Int] = []
  private var hashes: [UInt64] = []
  /// Key index + 1 per slot, 0 when free.
  private var table = [Int](repeating: 0, count: 1024)
  /// The first key of each entry and the entry's location, for the duplicate-key error.
  private var entries: [(first: Int, location: SourceLocation)] = []

  var count: Int { ends.count }

  func range(_ i: Int) -> (Int, Int) { (i == 0 ? 0 : ends[i - 1], ends[i]) }

  mutating func startEntry(at location: SourceLocation) { entries.append((ends.count, location)) }

  mutating func reserve(_ n: Int) {
    ends.reserveCapacity(ends.count + n)
    hashes.reserveCapacity(hashes.count + n)
    while (ends.count + n) * 2 > table.count { grow() }
  }

  /// Eight bytes at a time, each word mixed in with a multiply and a shift.
  private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var h = UInt64(key.count) &* 0x9e37_79b9_7f4a_7c15
    guard let base = key.baseAddress else { return h }
    let raw = UnsafeRawPointer(base)
    var i = 0
    while i + 8 <= key.count {
      h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xbf58_476d_1ce4_e5b9
      h ^= h >> 31
      i += 8
    }
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    while i < key.count {
      tail |= UInt64(key[i]) << shift
      shift += 8
      i += 1
    }
    h = (h ^ tail) &* 0x94d0_49bb_1331_11eb
    return h ^ (h >> 29)
  }

  mutating func insert(_ key: UnsafeBufferPointer<UInt8>) throws(OrchError) {
    let h = Self.hash(key)
    let mask = table.count - 1
    var slot = Int(truncatingIfNeeded: h ^ (h >> 29)) & mask
    while table[slot] != 0 {
      let j = table[slot] - 1
      if hashes[j] == h {
        let (start, end) = range(j)
        if end - start == key.count && bytes[start..<end].elementsEqual(key) { throw duplicate(key, first: j) }
      }
      slot = (slot + 1) & mask
    }
    bytes.append(contentsOf: key)
    ends.append(bytes.count)
    hashes.append(h)
    table[slot] = ends.count
    if ends.count * 2 > table.count { grow() }
  }

  private mutating func grow() {
    table = [Int](repeating: 0, count: table.count * 2)
    let mask = table.count - 1
    for (j, h) in hashes.enumerated() {
      var slot = Int(truncatingIfNeeded: h ^ (h >> 29)) & mask
      while table[slot] != 0 { slot = (slot + 1) & mask }
      table[slot] = j + 1
    }
  }

  /// The full load's duplicate-key error (`Builder.register`).
  private func duplicate(_ key: UnsafeBufferPointer<UInt8>, first j: Int) -> OrchError {
    let k = String(decoding: key, as: UTF8.self)
    let at = entries[entries.count - 1].location
    let first = entries.last { $0.first <= j }?.location ?? at
    let hint = first == at ? "; one entry produced it twice: its key must vary with every axis" : ""
    return .badInput("duplicate key '\(k)' (first registered at \(first))\(hint)", at: at)
  }
}
