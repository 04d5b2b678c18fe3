import Foundation
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// A mutation fuzzer over committed corpora: every file in `Corpus/<target>/` is fed as is, then
/// seeded mutations of them (byte flips, inserts, deletes, splices, dictionary tokens).
/// `ORCH_FUZZ_ITERATIONS` (default 300, what `make test` runs) or `ORCH_FUZZ_SECONDS` (what
/// `make fuzz` sets) bound the run; `ORCH_FUZZ_SEED` makes a failure reproducible.
/// A body returns normally or throws the parser's own error; a trap is the bug. The input being
/// run is mirrored to `Corpus/<target>/crash-latest` by a signal handler when the process dies,
/// and an input over `hangLimit` seconds is written to `Corpus/<target>/hang-latest`.
enum Fuzz {
  static let hangLimit: Double = 10

  static var corpusRoot: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")
  }

  static var seed: UInt64 {
    ProcessInfo.processInfo.environment["ORCH_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x6f72_6368
  }

  static func corpus(_ target: String) -> [[UInt8]] {
    let dir = corpusRoot.appendingPathComponent(target)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { !$0.hasPrefix(".") }.sorted().compactMap {
      (try? Data(contentsOf: dir.appendingPathComponent($0))).map { [UInt8]($0) }
    }
  }

  /// Runs `body` over the corpus of `target`, `seeds` and their mutations. `tokens` are spliced in
  /// by the mutator: the syntax's own punctuation and the boundary numbers worth trying.
  static func run(
    _ target: String, seeds: [String] = [], tokens: [String] = [],
    file: StaticString = #filePath, line: UInt = #line, _ body: @escaping @Sendable ([UInt8]) throws -> Void
  ) {
    let env = ProcessInfo.processInfo.environment
    let iterations = env["ORCH_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 300
    let seconds = env["ORCH_FUZZ_SECONDS"].flatMap { Double($0) }
    var pool = corpus(target) + seeds.map { Array($0.utf8) }
    if pool.isEmpty { pool = [[]] }
    let dictionary = (tokens + defaultTokens).map { Array($0.utf8) }
    var rng = SplitMix(seed: seed)
    for byte in target.utf8 { rng.state = rng.state &* 31 &+ UInt64(byte) }
    let crashPath = corpusRoot.appendingPathComponent(target).appendingPathComponent("crash-latest").path
    try? FileManager.default.createDirectory(
      atPath: (crashPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    CrashMirror.arm(path: crashPath)
    defer { CrashMirror.disarm() }

    let start = Date()
    var count = 0
    var inputs = pool.makeIterator()
    while true {
      let input: [UInt8]
      if let next = inputs.next() {
        input = next
      } else {
        if let seconds {
          if Date().timeIntervalSince(start) >= seconds { break }
        } else if count >= pool.count + iterations {
          break
        }
        input = mutate(pool[Int(rng.next() % UInt64(pool.count))], pool: pool, dictionary: dictionary, rng: &rng)
      }
      count += 1
      CrashMirror.set(input)
      if !runBounded(input, body) {
        let hang = corpusRoot.appendingPathComponent(target).appendingPathComponent("hang-latest")
        try? Data(input).write(to: hang)
        XCTFail("\(target): input \(count) ran over \(hangLimit) s; written to \(hang.path)", file: file, line: line)
        // The stuck thread cannot be stopped; leave before it takes the rest of the run with it.
        exit(1)
      }
    }
    print("fuzz \(target): \(count) inputs, seed \(seed)")
  }

  /// Runs one input on its own thread; false when it did not finish within the hang limit.
  private static func runBounded(_ input: [UInt8], _ body: @escaping @Sendable ([UInt8]) throws -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      _ = try? body(input)
      done.signal()
    }
    thread.stackSize = 8 << 20
    thread.start()
    return done.wait(timeout: .now() + hangLimit) == .success
  }

  static let defaultTokens = [
    "0", "-1", "1", "9223372036854775807", "9223372036854775808", "18446744073709551616",
    "99999999999999999999999", "1e308", "nan", "\u{0}", "\n", "\r", "\t", " ", "\u{7f}", "\u{85}",
    "\u{2028}", "\u{202e}", "\"", "'", "\\", "%", ":", ",", "-", "+", "[", "]", "{", "}", "=", "*", "&", "$",
  ]

  static func mutate(_ base: [UInt8], pool: [[UInt8]], dictionary: [[UInt8]], rng: inout SplitMix) -> [UInt8] {
    var out = base
    let rounds = 1 + Int(rng.next() % 4)
    for _ in 0..<rounds {
      let position = out.isEmpty ? 0 : Int(rng.next() % UInt64(out.count + 1))
      switch rng.next() % 7 {
      case 0 where !out.isEmpty:
        let i = min(position, out.count - 1)
        out[i] ^= UInt8(1 << (rng.next() % 8))
      case 1:
        out.insert(UInt8(truncatingIfNeeded: rng.next()), at: position)
      case 2 where !out.isEmpty:
        let i = min(position, out.count - 1)
        let length = min(out.count - i, 1 + Int(rng.next() % 8))
        out.removeSubrange(i..<(i + length))
      case 3:
        out.insert(contentsOf: dictionary[Int(rng.next() % UInt64(dictionary.count))], at: position)
      case 4 where !out.isEmpty:
        // Repeat a slice: what finds quadratic paths and unbounded nesting.
        let i = min(position, out.count - 1)
        let length = min(out.count - i, 1 + Int(rng.next() % 16))
        let slice = out[i..<(i + length)]
        for _ in 0..<(1 + Int(rng.next() % 8)) { out.insert(contentsOf: slice, at: i) }
      case 5:
        let other = pool[Int(rng.next() % UInt64(pool.count))]
        if !other.isEmpty {
          let j = Int(rng.next() % UInt64(other.count))
          out = Array(out[..<position]) + Array(other[j...])
        }
      default:
        if !out.isEmpty {
          let i = min(position, out.count - 1)
          out[i] = UInt8(truncatingIfNeeded: rng.next())
        }
      }
      if out.count > 1 << 16 { out.removeLast(out.count - (1 << 16)) }
    }
    return out
  }

  /// Inputs as UTF-8 text where the parser takes a String (invalid sequences repaired, as a shell
  /// argument or a file read as text would be).
  static func text(_ input: [UInt8]) -> String { String(decoding: input, as: UTF8.self) }
}

struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }
}

/// The input in flight, kept where a signal handler can write it with async-signal-safe calls.
enum CrashMirror {
  nonisolated(unsafe) static var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
  nonisolated(unsafe) static var length = 0
  nonisolated(unsafe) static var path: UnsafeMutablePointer<CChar>? = nil

  static func arm(path: String) {
    self.path = strdup(path)
    for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
      signal(sig) { number in
        if let path = CrashMirror.path {
          let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
          if fd >= 0 {
            _ = write(fd, CrashMirror.buffer, CrashMirror.length)
            close(fd)
          }
        }
        signal(number, SIG_DFL)
        raise(number)
      }
    }
  }

  static func set(_ input: [UInt8]) {
    let n = min(input.count, 1 << 16)
    if n > 0 { input.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: n) } }
    length = n
  }

  static func disarm() {
    for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] { signal(sig, SIG_DFL) }
  }
}
