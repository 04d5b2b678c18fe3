import Foundation

/// The data transforms of a config, applied in training and in evaluation, in this order:
///
/// 1. at load, in raw units: the shifts (`shift.tint`, then `shift.vflip`; see `Tint`), the
///    train split with `shift.tint`'s p, val and test with `shift.tint_test`'s;
/// 2. at load, before normalisation: the block or pixel permutation (`data.block_shuffle`,
///    `data.pixel_shuffle`, `data.shuffle_seed`), one fixed permutation per seed and image shape;
/// 3. normalisation (`data.normalize`), with statistics of the transformed, unpatched train split —
///    all of it, before the class subset, so a subset changes which images are trained on and
///    nothing else (as the fixed ImageNet statistics do in the influence paper);
/// 4. the class subset of the train split (`data.classes`, `data.exclude_classes`,
///    `data.class_subset_seed`; labels are kept, val and test are not filtered);
/// 5. the spurious patch (`spurious.*`) on a fixed seeded subset of each split's images — for
///    training after the random crop and flip of each batch (so a square stays top-left), for
///    evaluation at load.
public struct TransformConfig: Sendable, Hashable {
  public enum SpuriousType: String, Sendable, Hashable, CaseIterable {
    case none, square, gaussian
  }

  /// Block side of the block shuffle; 0 = off.
  public var blockShuffle: Int
  public var pixelShuffle: Bool
  public var shuffleSeed: UInt64
  public var spuriousType: SpuriousType
  /// Fraction of the images of `spuriousClasses` that carry the patch.
  public var spuriousFraction: Double
  /// Classes whose images may carry the patch; empty = every class.
  public var spuriousClasses: [Int]
  /// Gaussian pattern scale, as a fraction of the data's value range.
  public var spuriousScale: Double
  public var spuriousSeed: UInt64
  /// Train only on these classes (`data.classes`); empty = every class.
  public var classes: [Int]
  /// Train on every class but these (`data.exclude_classes`).
  public var excludeClasses: [Int]
  /// Train on `ClassSubset.randomHalf(classes:seed:)` (`data.class_subset_seed`); nil = off.
  public var classSubsetSeed: UInt64?
  /// Probability that a train image is tinted with its own class's colour (`shift.tint`); nil = off.
  public var tint: Double?
  /// The same for val and test (`shift.tint_test`); nil = as `tint`.
  public var tintTest: Double?
  /// Seed of the class colours and of each image's colour draw (`shift.seed`).
  public var shiftSeed: UInt64
  /// Flip every image of every split upside down (`shift.vflip`).
  public var vflip: Bool

  public init(
    blockShuffle: Int = 0, pixelShuffle: Bool = false, shuffleSeed: UInt64 = 0, spuriousType: SpuriousType = .none,
    spuriousFraction: Double = 1, spuriousClasses: [Int] = [], spuriousScale: Double = 0.05, spuriousSeed: UInt64 = 0,
    classes: [Int] = [], excludeClasses: [Int] = [], classSubsetSeed: UInt64? = nil, tint: Double? = nil,
    tintTest: Double? = nil, shiftSeed: UInt64 = 0, vflip: Bool = false
  ) {
    self.blockShuffle = blockShuffle
    self.pixelShuffle = pixelShuffle
    self.shuffleSeed = shuffleSeed
    self.spuriousType = spuriousType
    self.spuriousFraction = spuriousFraction
    self.spuriousClasses = spuriousClasses
    self.spuriousScale = spuriousScale
    self.spuriousSeed = spuriousSeed
    self.classes = classes
    self.excludeClasses = excludeClasses
    self.classSubsetSeed = classSubsetSeed
    self.tint = tint
    self.tintTest = tintTest
    self.shiftSeed = shiftSeed
    self.vflip = vflip
  }

  /// From resolved, type-checked engine bindings; rules across these bindings are checked here.
  init(bindings b: [String: ConfigValue]) throws(EngineError) {
    func int(_ n: String) -> Int {
      guard case .int(let i)? = b[n] else { preconditionFailure("schema type of \(n)") }
      return i
    }
    func double(_ n: String) -> Double {
      guard case .double(let d)? = b[n] else { preconditionFailure("schema type of \(n)") }
      return d
    }
    func ints(_ n: String) -> [Int] {
      guard case .list(let items)? = b[n] else { preconditionFailure("schema type of \(n)") }
      return items.map { if case .int(let i) = $0 { i } else { preconditionFailure("schema type of \(n)") } }
    }
    func seed(_ n: String) -> UInt64 { UInt64(bitPattern: Int64(int(n))) }
    guard case .bool(let pixel)? = b["data.pixel_shuffle"], case .string(let type)? = b["spurious.type"],
      case .bool(let vflip)? = b["shift.vflip"]
    else { preconditionFailure("schema types of the transform bindings") }
    // -1 is "off" for the subset seed and the tint probabilities (0 is a meaningful value of each).
    let subset = int("data.class_subset_seed")
    let (tint, tintTest) = (double("shift.tint"), double("shift.tint_test"))
    self.init(
      blockShuffle: int("data.block_shuffle"), pixelShuffle: pixel, shuffleSeed: seed("data.shuffle_seed"),
      spuriousType: SpuriousType(rawValue: type)!, spuriousFraction: double("spurious.fraction"),
      spuriousClasses: ints("spurious.classes"), spuriousScale: double("spurious.scale"),
      spuriousSeed: seed("spurious.seed"), classes: ints("data.classes"), excludeClasses: ints("data.exclude_classes"),
      classSubsetSeed: subset < 0 ? nil : UInt64(subset), tint: tint < 0 ? nil : tint,
      tintTest: tintTest < 0 ? nil : tintTest, shiftSeed: seed("shift.seed"), vflip: vflip)
    if blockShuffle > 0 && pixelShuffle {
      throw EngineError(
        .config, "bindings 'data.block_shuffle' and 'data.pixel_shuffle' exclude each other; set one of them")
    }
    if let bad = spuriousClasses.first(where: { $0 < 0 }) {
      throw EngineError(.config, "binding 'spurious.classes' expects class indices ≥ 0, got \(bad)")
    }
    let subsetBindings = [
      ("data.classes", !classes.isEmpty), ("data.exclude_classes", !excludeClasses.isEmpty),
      ("data.class_subset_seed", classSubsetSeed != nil),
    ].filter(\.1).map { "'\($0.0)'" }
    if subsetBindings.count > 1 {
      throw EngineError(
        .config,
        "bindings \(subsetBindings.joined(separator: " and ")) exclude each other: a class subset is given by one of"
          + " data.classes (keep), data.exclude_classes (drop) or data.class_subset_seed (a seeded random half)")
    }
    for (name, list) in [("data.classes", classes), ("data.exclude_classes", excludeClasses)] {
      if let bad = list.first(where: { $0 < 0 }) {
        throw EngineError(.config, "binding '\(name)' expects class ids ≥ 0, got \(bad)")
      }
      var counts: [Int: Int] = [:]  // not a count per entry: a list may hold 100000 ids
      for c in list { counts[c, default: 0] += 1 }
      if let twice = list.first(where: { counts[$0, default: 0] > 1 }) {
        throw EngineError(.config, "binding '\(name)' lists class \(twice) more than once")
      }
    }
  }

  public var permutes: Bool { blockShuffle > 0 || pixelShuffle }
  /// Whether the train split is a class subset.
  public var subsetsClasses: Bool { !classes.isEmpty || !excludeClasses.isEmpty || classSubsetSeed != nil }
  /// Whether a distribution shift (`shift.*`) applies to some split.
  public var shifts: Bool { tint != nil || tintTest != nil || vflip }
  public var isIdentity: Bool { !permutes && spuriousType == .none && !subsetsClasses && !shifts }

  /// The classes of the train split for a dataset of `classCount` classes, ascending. Ids out of
  /// range and an empty subset are errors.
  public func keptClasses(classCount: Int, dataName: String = "the dataset") throws(EngineError) -> [Int] {
    for (name, list) in [("data.classes", classes), ("data.exclude_classes", excludeClasses)] {
      if let bad = list.first(where: { $0 < 0 || $0 >= classCount }) {
        throw EngineError(
          .config,
          "binding '\(name)' names class \(bad), and \(dataName) has \(classCount) classes (ids 0…\(classCount - 1))")
      }
    }
    let kept: [Int]
    if let seed = classSubsetSeed {
      kept = ClassSubset.randomHalf(classes: classCount, seed: seed)
    } else if !classes.isEmpty {
      kept = classes.sorted()
    } else {
      let dropped = Set(excludeClasses)
      kept = (0..<classCount).filter { !dropped.contains($0) }
    }
    if kept.isEmpty {
      throw EngineError(
        .config,
        excludeClasses.isEmpty
          ? "the class subset of \(dataName) (\(classCount) classes) is empty: nothing to train on"
          : "binding 'data.exclude_classes' drops all \(classCount) classes of \(dataName): nothing to train on")
    }
    return kept
  }

  /// Checks the transforms against a dataset's per-sample shape ([H, W, C] images, [L] signals,
  /// [F] features) and, when known, its class count (`classes`; generated datasets are known by
  /// name): the block side must divide the image, every transform but the class subset needs
  /// images, class ids must exist.
  public func check(
    sampleShape: [Int], kind: Dataset.Kind, dataName: String, classes classCount: Int? = nil
  ) throws(EngineError) {
    guard !isIdentity else { return }
    if subsetsClasses, let count = classCount ?? GeneratedDatasets.classCount(dataName) {
      _ = try keptClasses(classCount: count, dataName: dataName)
    }
    guard permutes || spuriousType != .none || shifts else { return }
    let what =
      blockShuffle > 0
      ? "data.block_shuffle"
      : pixelShuffle
        ? "data.pixel_shuffle"
        : spuriousType != .none
          ? "spurious.type" : tint != nil ? "shift.tint" : tintTest != nil ? "shift.tint_test" : "shift.vflip"
    guard kind == .images, sampleShape.count == 3 else {
      throw EngineError(
        .config,
        "binding '\(what)' applies to images, and \(dataName) has samples of shape \(sampleShape)"
          + (kind == .features ? " (feature vectors)" : ""))
    }
    let (h, w) = (sampleShape[0], sampleShape[1])
    if blockShuffle > 0 && (h % blockShuffle != 0 || w % blockShuffle != 0) {
      // The divisors of gcd(H, W), found up to its square root: a header may claim a huge side.
      var g = (max(1, h), max(1, w))
      while g.1 != 0 { g = (g.1, g.0 % g.1) }
      var small: [Int] = []
      var large: [Int] = []
      var d = 1
      while d <= g.0 / d {
        if g.0 % d == 0 {
          small.append(d)
          if d != g.0 / d { large.append(g.0 / d) }
        }
        d += 1
      }
      let divisors = small + large.reversed()
      throw EngineError(
        .config,
        "binding 'data.block_shuffle' (\(blockShuffle)) does not divide the \(h)×\(w) images of \(dataName)"
          + " (block sizes that do: \(divisors.map(String.init).joined(separator: ", ")))")
    }
  }

  /// The permutation the config asks for, for images of `sampleShape` ([H, W, C]); nil when off.
  public func permutation(sampleShape: [Int]) throws(EngineError) -> ImagePermutation? {
    guard permutes else { return nil }
    guard sampleShape.count == 3 else {
      throw EngineError(.config, "block and pixel shuffles apply to [H, W, C] images, not samples of \(sampleShape)")
    }
    let (h, w, c) = (sampleShape[0], sampleShape[1], sampleShape[2])
    if blockShuffle > 0 {
      return try ImagePermutation.blockShuffle(height: h, width: w, channels: c, block: blockShuffle, seed: shuffleSeed)
    }
    if pixelShuffle { return ImagePermutation.pixelShuffle(height: h, width: w, channels: c, seed: shuffleSeed) }
    return nil
  }
}

/// One fixed permutation of the entries of an NHWC image: output entry `j` is input entry
/// `source[j]`.
public struct ImagePermutation: Sendable, Equatable {
  public let source: [Int]

  public init(source: [Int]) {
    precondition(Set(source).count == source.count && source.allSatisfy { $0 >= 0 && $0 < source.count })
    self.source = source
  }

  /// Splits the image into (H/b)·(W/b) blocks of b×b pixels (row-major block order) and puts
  /// input block `order[k]` at block position `k`, `order` a permutation drawn from `seed`;
  /// pixels inside a block and their channels keep their arrangement. b must divide H and W.
  public static func blockShuffle(
    height h: Int, width w: Int, channels c: Int, block b: Int, seed: UInt64
  ) throws(EngineError) -> ImagePermutation {
    guard b > 0, h % b == 0, w % b == 0 else {
      throw EngineError(.config, "block size \(b) does not divide the \(h)×\(w) image")
    }
    let (rows, columns) = (h / b, w / b)
    var rng = RNG(seed: seed, stream: 0xB10C)
    let order = rng.permutation(rows * columns)
    var source = [Int](repeating: 0, count: h * w * c)
    for k in 0..<(rows * columns) {
      let (toRow, toColumn) = (k / columns, k % columns)
      let (fromRow, fromColumn) = (order[k] / columns, order[k] % columns)
      for y in 0..<b {
        for x in 0..<b {
          let to = ((toRow * b + y) * w + toColumn * b + x) * c
          let from = ((fromRow * b + y) * w + fromColumn * b + x) * c
          for ch in 0..<c { source[to + ch] = from + ch }
        }
      }
    }
    return ImagePermutation(source: source)
  }

  /// One permutation of all H·W·C entries (pixels and their channels), drawn from `seed`.
  public static func pixelShuffle(height h: Int, width w: Int, channels c: Int, seed: UInt64) -> ImagePermutation {
    var rng = RNG(seed: seed, stream: 0x919E1)
    return ImagePermutation(source: rng.permutation(h * w * c))
  }

  /// The permutation that undoes this one.
  public var inverse: ImagePermutation {
    var back = [Int](repeating: 0, count: source.count)
    for (j, s) in source.enumerated() { back[s] = j }
    return ImagePermutation(source: back)
  }

  /// Permutes every sample of `inputs` ([N, size]) in place.
  public func apply(to inputs: inout [Float]) {
    let size = source.count
    precondition(inputs.count % size == 0, "inputs do not divide into samples of \(size)")
    var sample = [Float](repeating: 0, count: size)
    inputs.withUnsafeMutableBufferPointer { x in
      sample.withUnsafeMutableBufferPointer { tmp in
        source.withUnsafeBufferPointer { src in
          for i in 0..<(x.count / size) {
            let base = x.baseAddress! + i * size
            tmp.baseAddress!.update(from: base, count: size)
            for j in 0..<size { base[j] = tmp[src[j]] }
          }
        }
      }
    }
  }
}

/// The spurious feature of `spurious.*`, resolved against one dataset: which images carry it and
/// what it writes.
///
/// - `square`: a solid yellow square in the top-left corner, side ⌊min(H, W)/4⌋ (at least 1).
///   Yellow is (hi, hi, lo) in the data's raw units — hi and lo the largest and smallest raw value
///   of the train split (255 and 0 for uint8 images); single-channel images get hi.
/// - `gaussian`: a fixed pattern z ~ N(0, 1) of the image's shape (drawn from `spurious.seed`)
///   added as `scale · (hi − lo) · z`, the result clipped to [lo, hi].
///
/// Both are written in normalised units (the raw values mapped with the train statistics), so they
/// apply after normalisation and augmentation. Marked images: of each split's images whose label
/// is in `spurious.classes` (all when empty), round(fraction · count) (halves up) chosen by a seeded
/// permutation, per split.
public struct SpuriousPatch: Sendable {
  public let type: TransformConfig.SpuriousType
  public let height: Int
  public let width: Int
  public let channels: Int
  /// Side of the square.
  public let side: Int
  /// Square colour per channel, normalised.
  let colour: [Float]
  /// Gaussian delta per entry ([H, W, C]), normalised, and the clip range per channel.
  let delta: [Float]
  let low: [Float]
  let high: [Float]
  let fraction: Double
  let classes: Set<Int>
  let seed: UInt64

  /// `rawLow`/`rawHigh`: the raw value range; `mean`/`std`: the normalisation (0 and 1 when off).
  public init(
    _ config: TransformConfig, sampleShape: [Int], rawLow: Float, rawHigh: Float, mean: [Float], std: [Float]
  ) {
    precondition(config.spuriousType != .none && sampleShape.count == 3)
    type = config.spuriousType
    (height, width, channels) = (sampleShape[0], sampleShape[1], sampleShape[2])
    side = max(1, min(height, width) / 4)
    let c = channels
    let raw: [Float] = c >= 3 ? [rawHigh, rawHigh, rawLow] + Array(repeating: rawLow, count: c - 3) : [rawHigh]
    colour = (0..<c).map { (raw[$0] - mean[$0]) / std[$0] }
    low = (0..<c).map { (rawLow - mean[$0]) / std[$0] }
    high = (0..<c).map { (rawHigh - mean[$0]) / std[$0] }
    if type == .gaussian {
      var rng = RNG(seed: config.spuriousSeed, stream: 0x6A55)
      let amplitude = Float(config.spuriousScale) * (rawHigh - rawLow)
      delta = (0..<(height * width * c)).map { j in amplitude * rng.normal() / std[j % c] }
    } else {
      delta = []
    }
    fraction = config.spuriousFraction
    classes = Set(config.spuriousClasses)
    seed = config.spuriousSeed
  }

  /// Whether each sample of `split` carries the patch (fixed for the seed and the split's name).
  public func marked(_ split: Split) -> [Bool] {
    let stream = split.drawStream
    let eligible = split.labels.indices.filter { classes.isEmpty || classes.contains(split.labels[$0]) }
    let count = Int((fraction * Double(eligible.count)).rounded())
    var rng = RNG(seed: seed, stream: 0x5A70 + stream)
    var mask = [Bool](repeating: false, count: split.count)
    for k in rng.permutation(eligible.count).prefix(count) { mask[eligible[k]] = true }
    return mask
  }

  /// Writes the patch into one normalised [H, W, C] sample.
  public func apply(to sample: UnsafeMutablePointer<Float>) {
    let c = channels
    switch type {
    case .none:
      break
    case .square:
      for y in 0..<side {
        for x in 0..<side {
          let p = sample + (y * width + x) * c
          for ch in 0..<c { p[ch] = colour[ch] }
        }
      }
    case .gaussian:
      for j in 0..<(height * width * c) {
        let ch = j % c
        sample[j] = min(high[ch], max(low[ch], sample[j] + delta[j]))
      }
    }
  }

  /// Patches the marked samples of `split` in place.
  public func apply(to split: inout Split) {
    let mask = marked(split)
    let size = height * width * channels
    split.inputs.withUnsafeMutableBufferPointer { x in
      for i in 0..<mask.count where mask[i] { apply(to: x.baseAddress! + i * size) }
    }
  }
}

/// A dataset with a config's transforms applied, plus what training still has to do per batch.
public struct PreparedData: Sendable {
  public var dataset: Dataset
  /// The spurious patch (nil when off); val and test splits are already patched, the train split
  /// is not — training patches the marked samples (`trainMarked`) after augmentation.
  public var patch: SpuriousPatch?
  public var trainMarked: [Bool]

  /// Loads `config.dataName` and applies the config's transforms (see `TransformConfig`).
  public static func load(for config: TrainConfig) throws(EngineError) -> PreparedData {
    let directory = try DataLocation.resolve(config.dataName)
    let dataset = try Dataset.load(
      directory: directory, name: config.dataName, layout: config.layout, classes: config.numClasses)
    return try prepare(dataset, config: config.transforms, normalize: config.normalize)
  }

  /// Applies `transforms` to a loaded, not yet normalised dataset, normalising it when asked.
  public static func prepare(
    _ dataset: Dataset, config transforms: TransformConfig, normalize: Bool
  ) throws(EngineError) -> PreparedData {
    var data = dataset
    try transforms.check(sampleShape: data.sampleShape, kind: data.kind, dataName: data.name, classes: data.classes)
    if transforms.tint != nil || transforms.tintTest != nil {
      let tint = Tint(
        classes: data.classes, channels: data.sampleShape[2], seed: transforms.shiftSeed,
        rawLow: data.train.inputs.min() ?? 0, rawHigh: data.train.inputs.max() ?? 0)
      let (p, pTest) = (transforms.tint, transforms.tintTest ?? transforms.tint)
      if let p { tint.apply(to: &data.train, p: p) }
      if let pTest {
        tint.apply(to: &data.test, p: pTest)
        if data.val != nil { tint.apply(to: &data.val!, p: pTest) }
      }
    }
    if transforms.vflip {
      for split in [\Dataset.train, \Dataset.test] { verticalFlip(&data[keyPath: split].inputs, data.sampleShape) }
      if data.val != nil { verticalFlip(&data.val!.inputs, data.sampleShape) }
    }
    if let permutation = try transforms.permutation(sampleShape: data.sampleShape) {
      permutation.apply(to: &data.train.inputs)
      permutation.apply(to: &data.test.inputs)
      if data.val != nil { permutation.apply(to: &data.val!.inputs) }
    }
    let rawLow = data.train.inputs.min() ?? 0
    let rawHigh = data.train.inputs.max() ?? 0
    var stats = (mean: [Float](repeating: 0, count: data.channels), std: [Float](repeating: 1, count: data.channels))
    if normalize { stats = data.normalize() }
    if transforms.subsetsClasses {
      let kept = try transforms.keptClasses(classCount: data.classes, dataName: data.name)
      data.train = data.train.keeping(classes: kept)
      if data.train.count == 0 {
        throw EngineError(.config, "the train split of \(data.name) has no image of the classes \(kept)")
      }
    }
    guard transforms.spuriousType != .none else { return PreparedData(dataset: data, patch: nil, trainMarked: []) }
    if let bad = transforms.spuriousClasses.first(where: { $0 >= data.classes }) {
      throw EngineError(
        .config, "binding 'spurious.classes' names class \(bad), and \(data.name) has \(data.classes) classes")
    }
    let patch = SpuriousPatch(
      transforms, sampleShape: data.sampleShape, rawLow: rawLow, rawHigh: rawHigh, mean: stats.mean, std: stats.std)
    patch.apply(to: &data.test)
    if data.val != nil { patch.apply(to: &data.val!) }
    return PreparedData(dataset: data, patch: patch, trainMarked: patch.marked(data.train))
  }
}

extension TransformConfig {
  /// The per-sample shape of the dataset `dataName` names, read without loading it (from the
  /// header of `train_x.npy` or `train_feats.npy`), with its kind; nil when it cannot be found
  /// here. Lets a submission check the transforms before anything is queued.
  public static func probeSampleShape(
    dataName: String, layout: DataLayout, environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> (shape: [Int], kind: Dataset.Kind)? {
    if GeneratedDatasets.names.contains(dataName) { return GeneratedDatasets.probe(dataName) }
    guard let directory = try? DataLocation.resolve(dataName, environment: environment) else { return nil }
    for (file, kind) in [("train_x.npy", Dataset.Kind.images), ("train_feats.npy", .features)] {
      guard let shape = NPY.readShape(directory + "/" + file) else { continue }
      return (try? Dataset.sampleShape(of: shape, kind: kind, layout: layout, file: file)).map { ($0, kind) }
    }
    return nil
  }
}
