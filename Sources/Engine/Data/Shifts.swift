/// The synthetic in-support shift of the effective-robustness paper (`shift.tint`): every class has
/// a fixed random colour, and an image is blended with its own class's colour with probability p,
/// else with a uniformly random other class's colour: x ← 0.75·x + 0.25·colour, in raw units.
///
/// - Colours: `RNG(seed: shift.seed, stream: 0x7147)`, for class 0, 1, … and within a class channel
///   by channel, `low + (high − low)·u` with `u = rng.uniform()` (24 bits, Float); low and high are
///   the smallest and largest raw value of the train split before the tint (0 and 255 for uint8
///   images that use the full range).
/// - Per image: `RNG(seed: shift.seed, stream: 0x7150 + s)`, s = 1 train, 2 val, 3 test, 4 other,
///   draws for every image in split order `u = rng.uniformDouble()` then `r = rng.below(C − 1)`;
///   the image takes its own class's colour when `u < p`, else class `r` if `r < label`, `r + 1`
///   otherwise. Both draws are made whatever p is, so for one seed the images tinted with their own
///   colour at p are a subset of those at any larger p, and the "other" colour does not depend on p.
public struct Tint: Sendable {
  public let classes: Int
  public let channels: Int
  /// Colour of each class, raw units.
  public let colours: [Float]  // [classes, channels]
  let seed: UInt64

  public init(classes: Int, channels: Int, seed: UInt64, rawLow: Float, rawHigh: Float) {
    precondition(classes >= 2 && channels >= 1)
    self.classes = classes
    self.channels = channels
    self.seed = seed
    var rng = RNG(seed: seed, stream: 0x7147)
    colours = (0..<(classes * channels)).map { _ in rawLow + (rawHigh - rawLow) * rng.uniform() }
  }

  /// The class whose colour each sample of `split` gets at probability `p` (see the type's doc).
  public func colourClasses(_ split: Split, p: Double) -> [Int] {
    let stream = split.drawStream
    var rng = RNG(seed: seed, stream: 0x7150 + stream)
    return split.labels.map { label in
      let u = rng.uniformDouble()
      let r = rng.below(classes - 1)
      return u < p ? label : (r < label ? r : r + 1)
    }
  }

  /// Tints every sample of `split` ([N, H, W, C], raw units) in place.
  public func apply(to split: inout Split, p: Double) {
    let chosen = colourClasses(split, p: p)
    let c = channels
    let size = split.count == 0 ? 0 : split.inputs.count / split.count
    precondition(size % c == 0, "samples of \(size) values are not pixels of \(c) channels")
    split.inputs.withUnsafeMutableBufferPointer { x in
      colours.withUnsafeBufferPointer { colours in
        for (i, k) in chosen.enumerated() {
          let sample = x.baseAddress! + i * size
          let colour = colours.baseAddress! + k * c
          for j in 0..<size { sample[j] = 0.75 * sample[j] + 0.25 * colour[j % c] }
        }
      }
    }
  }
}

/// Flips every [H, W, C] sample of `inputs` ([N, H, W, C]) upside down: row y ↔ row H − 1 − y.
public func verticalFlip(_ inputs: inout [Float], _ sampleShape: [Int]) {
  precondition(sampleShape.count == 3, "vertical flip applies to [H, W, C] images")
  let (h, row) = (sampleShape[0], sampleShape[1] * sampleShape[2])
  let size = h * row
  guard size > 0 else { return }
  inputs.withUnsafeMutableBufferPointer { x in
    for i in 0..<(x.count / size) {
      let sample = x.baseAddress! + i * size
      for y in 0..<(h / 2) {
        let (top, bottom) = (sample + y * row, sample + (h - 1 - y) * row)
        for j in 0..<row { swap(&top[j], &bottom[j]) }
      }
    }
  }
}

/// The seeded random half of the classes (`data.class_subset_seed`), for the influence experiment.
public enum ClassSubset {
  /// ⌊classes/2⌋ classes, ascending: the first ⌊classes/2⌋ entries of
  /// `RNG(seed: seed, stream: 0xC1A55).permutation(classes)`, sorted.
  ///
  /// To reproduce it elsewhere (Tests/EngineTests/Fixtures/class_subset.py does, in Python):
  /// the RNG is xoshiro256** whose four state words are splitmix64 outputs from
  /// `x = seed ^ (0xC1A55 · 0xD1B54A32D192ED03 mod 2⁶⁴)` (x += 0x9E3779B97F4A7C15 before each);
  /// the permutation starts from [0, 1, …, n − 1] and for i = n − 1 down to 1 swaps entries i and
  /// `below(i + 1)`, where `below(b)` multiplies a 64-bit output by b into 128 bits and returns the
  /// high word, drawing again while the low word is < (2⁶⁴ − b) mod b (Lemire).
  public static func randomHalf(classes: Int, seed: UInt64) -> [Int] {
    var rng = RNG(seed: seed, stream: 0xC1A55)
    return rng.permutation(max(0, classes)).prefix(max(0, classes) / 2).sorted()
  }
}

extension Split {
  /// The samples whose label is in `classes`, in their order; labels unchanged.
  public func keeping(classes: [Int]) -> Split {
    let keep = Set(classes)
    let indices = labels.indices.filter { keep.contains(labels[$0]) }
    let size = count == 0 ? 0 : inputs.count / count
    var kept = [Float]()  // [indices.count, size]
    kept.reserveCapacity(indices.count * size)
    for i in indices { kept.append(contentsOf: inputs[(i * size)..<((i + 1) * size)]) }
    return Split(
      name: name, inputs: kept, labels: indices.map { labels[$0] }, bias: bias.map { b in indices.map { b[$0] } })
  }
}
