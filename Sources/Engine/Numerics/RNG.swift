/// Seeded xoshiro256** generator whose whole state is `state` (four words), so it can be
/// written into a checkpoint and restored to continue the exact same stream.
public struct RNG: Sendable, Equatable, Hashable {
  private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

  /// The four state words, for checkpoints; `init(state:)` restores them.
  public var state: [UInt64] { [s0, s1, s2, s3] }

  /// Derives the state from `seed` and a `stream` number with splitmix64; distinct streams
  /// (init, shuffle, dropout, augmentation) stay independent of each other's consumption.
  public init(seed: UInt64, stream: UInt64 = 0) {
    var x = seed ^ (stream &* 0xD1B5_4A32_D192_ED03)
    var s = [UInt64](repeating: 0, count: 4)
    for i in 0..<4 {
      x &+= 0x9E37_79B9_7F4A_7C15
      var z = x
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      s[i] = z ^ (z >> 31)
    }
    if s.allSatisfy({ $0 == 0 }) { s[0] = 1 }
    (s0, s1, s2, s3) = (s[0], s[1], s[2], s[3])
  }

  public init(state: [UInt64]) throws {
    guard state.count == 4, state.contains(where: { $0 != 0 }) else {
      throw EngineError(.format, "RNG state must be 4 words, not all zero (got \(state))")
    }
    (s0, s1, s2, s3) = (state[0], state[1], state[2], state[3])
  }

  @inline(__always)
  static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  public mutating func next() -> UInt64 {
    let result = RNG.rotl(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = RNG.rotl(s3, 45)
    return result
  }

  /// Uniform in [0, 1) with 24 random bits.
  public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

  public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }

  /// Uniform in [0, 1) with 53 random bits.
  public mutating func uniformDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// Standard normal by Box–Muller; no cached spare, so the state stays four words.
  public mutating func normal() -> Float {
    let u1 = 1 - uniformDouble()  // (0, 1]
    let u2 = uniformDouble()
    return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
  }

  /// Unbiased integer in 0..<bound (Lemire's multiply-and-reject).
  public mutating func below(_ bound: Int) -> Int {
    precondition(bound > 0)
    let b = UInt64(bound)
    var m = next().multipliedFullWidth(by: b)
    if m.low < b {
      let threshold = (0 &- b) % b
      while m.low < threshold { m = next().multipliedFullWidth(by: b) }
    }
    return Int(m.high)
  }

  /// Fisher–Yates shuffle.
  public mutating func shuffle<T>(_ array: inout [T]) {
    var i = array.count - 1
    while i > 0 {
      let j = below(i + 1)
      array.swapAt(i, j)
      i -= 1
    }
  }

  public mutating func permutation(_ n: Int) -> [Int] {
    var p = Array(0..<n)
    shuffle(&p)
    return p
  }
}

// Foundation-free libm access keeps the numerics target light.
#if canImport(Glibc)
  import Glibc
  func _log(_ x: Double) -> Double { Glibc.log(x) }
  func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#elseif canImport(Darwin)
  import Darwin
  func _log(_ x: Double) -> Double { Darwin.log(x) }
  func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
