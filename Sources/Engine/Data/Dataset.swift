import Foundation

/// One split of a dataset, inputs already in the models' layout.
public struct Split: Sendable {
  public var name: String
  public var inputs: [Float]  // [N, sampleSize]: NHWC images, [L] signals or [F] features per sample
  public var labels: [Int]  // [N]
  /// Group labels from `{split}_bias.npy` (bias/spurious attribute), if present.
  public var bias: [Int]?  // [N]

  public init(name: String, inputs: [Float], labels: [Int], bias: [Int]? = nil) {
    precondition(
      labels.isEmpty || inputs.count % labels.count == 0, "inputs do not divide into \(labels.count) samples")
    self.name = name
    self.inputs = inputs
    self.labels = labels
    self.bias = bias
  }

  public var count: Int { labels.count }

  /// The RNG stream of this split's per-sample draws (train 1, val 2, test 3): one seed gives each
  /// split its own, fixed draws.
  var drawStream: UInt64 {
    switch name {
    case "train": 1
    case "val": 2
    case "test": 3
    default: 4
    }
  }

  /// Bytes held in memory: inputs, labels and group labels.
  public var bytes: Int {
    inputs.count * MemoryLayout<Float>.size + (labels.count + (bias?.count ?? 0)) * MemoryLayout<Int>.size
  }
}

/// A classification dataset read from a directory of `.npy` files:
///
/// - inputs `{split}_x.npy` (images or signals; uint8 or float32) or, when there is none,
///   `{split}_feats.npy` (feature vectors);
/// - labels `{split}_targets.npy`, else `{split}_y.npy` (int64 or uint8);
/// - optional `{split}_bias.npy` group labels;
/// - splits `train` and `test`, optional `val`.
///
/// Shapes of `_x` arrays: `[N, L]` is a 1-D signal (one channel), `[N, H, W]` a single-channel
/// image, `[N, A, B, C]` an image in NCHW when `A` is 1 or 3 (`data.layout: auto`), otherwise
/// NHWC; `data.layout` NCHW/NHWC overrides the rule. `_feats` arrays are flattened to `[N, F]`.
/// Images are converted to NHWC, the layout the convolutional models run on.
public struct Dataset: Sendable {
  public enum Kind: String, Sendable {
    /// Images and 1-D signals: normalised per channel; crop and flip apply.
    case images
    /// Feature vectors: normalised per feature; no augmentation.
    case features
  }

  public var name: String
  public var directory: String
  public var kind: Kind
  /// Per-sample shape: [H, W, C] for images, [L] for signals, [F] for features.
  public var sampleShape: [Int]
  public var classes: Int
  public var train: Split
  public var val: Split?
  public var test: Split

  /// An in-memory dataset (benchmarks, synthetic data); labels must lie in 0..<classes.
  public init(
    name: String, kind: Kind, sampleShape: [Int], classes: Int, train: Split, val: Split? = nil, test: Split,
    directory: String = ""
  ) {
    self.name = name
    self.directory = directory
    self.kind = kind
    self.sampleShape = sampleShape
    self.classes = classes
    self.train = train
    self.val = val
    self.test = test
  }

  public var sampleSize: Int { sampleShape.reduce(1, *) }

  /// Bytes of the splits in memory.
  public var bytes: Int { train.bytes + (val?.bytes ?? 0) + test.bytes }

  /// Channels normalisation is per: the image channels, 1 for a signal, every feature.
  public var channels: Int {
    switch kind {
    case .features: sampleSize
    case .images: sampleShape.count == 3 ? sampleShape[2] : 1
    }
  }

  /// Loads `directory`; `classes` 0 infers the class count from the train labels (`ClassLabels`).
  /// Labels outside the class range, mismatched counts and shapes are errors naming the file.
  public static func load(
    directory: String, name: String? = nil, layout: DataLayout = .auto, classes: Int = 0
  ) throws(EngineError) -> Dataset {
    do {
      return try withContext("loading dataset \(directory)") {
        let fm = FileManager.default
        func exists(_ file: String) -> Bool { fm.fileExists(atPath: "\(directory)/\(file)") }
        guard exists("train_x.npy") || exists("train_feats.npy") else {
          throw EngineError(.io, "no train_x.npy or train_feats.npy")
        }
        let kind: Kind = exists("train_x.npy") ? .images : .features
        let inputSuffix = kind == .images ? "x" : "feats"

        /// A split's files; the inputs already as floats in the models' layout (images NHWC), read
        /// without a second copy of the file in memory.
        struct Raw {
          var shape: [Int]  // of the input file
          var inputs: [Float]
          var labels: NDArray
          var labelFile: String
          var bias: NDArray?
        }
        func readSplit(_ split: String) throws -> Raw? {
          let inputFile = "\(split)_\(inputSuffix).npy"
          guard exists(inputFile) else { return nil }
          let labelFile = exists("\(split)_targets.npy") ? "\(split)_targets.npy" : "\(split)_y.npy"
          guard exists(labelFile) else {
            throw EngineError(.io, "\(inputFile) has no labels (\(split)_targets.npy or \(split)_y.npy)")
          }
          let bias = exists("\(split)_bias.npy") ? try NPY.read("\(directory)/\(split)_bias.npy") : nil
          let (shape, inputs) = try NPY.readFloats("\(directory)/\(inputFile)") {
            kind == .images && isNCHW($0, layout)
          }
          return Raw(
            shape: shape, inputs: inputs, labels: try NPY.read("\(directory)/\(labelFile)"), labelFile: labelFile,
            bias: bias)
        }
        guard let trainRaw = try readSplit("train") else { throw EngineError(.io, "no train split") }
        guard let testRaw = try readSplit("test") else {
          throw EngineError(.io, "no test_\(inputSuffix).npy")
        }
        let valRaw = try readSplit("val")

        let sampleShape = try Self.sampleShape(of: trainRaw.shape, kind: kind, layout: layout, file: "train")
        func convert(_ split: String, _ raw: Raw) throws -> Split {
          let file = "\(split)_\(inputSuffix).npy"
          let shape = try Self.sampleShape(of: raw.shape, kind: kind, layout: layout, file: file)
          guard shape == sampleShape else {
            throw EngineError(.shape, "\(file) has samples of shape \(shape), train has \(sampleShape)")
          }
          let n = raw.shape[0]
          guard raw.labels.shape == [n] else {
            throw EngineError(
              .shape, "\(raw.labelFile) has shape \(raw.labels.shape), expected [\(n)] (one label per sample)")
          }
          let labels = try withContext("reading labels \(raw.labelFile)") { try raw.labels.integers() }
          var bias: [Int]?
          if let b = raw.bias {
            guard b.shape == [n] else {
              throw EngineError(.shape, "\(split)_bias.npy has shape \(b.shape), expected [\(n)]")
            }
            bias = try withContext("reading \(split)_bias.npy") { try b.integers() }
          }
          return Split(name: split, inputs: raw.inputs, labels: labels, bias: bias)
        }
        let train = try convert("train", trainRaw)
        let test = try convert("test", testRaw)
        let val = try valRaw.map { try convert("val", $0) }
        guard train.count > 0 else { throw EngineError(.shape, "the train split is empty") }

        let classCount = try ClassLabels.classCount(
          trainLabels: train.labels, file: trainRaw.labelFile, declared: classes)
        for (split, file) in [(test, testRaw.labelFile)] + (val.map { [($0, valRaw!.labelFile)] } ?? []) {
          try ClassLabels.check(split.labels, file: file, classes: classCount, inferred: classes == 0)
        }
        return Dataset(
          name: name ?? (directory as NSString).lastPathComponent, kind: kind, sampleShape: sampleShape,
          classes: classCount, train: train, val: val, test: test, directory: directory)
      }
    } catch let error as EngineError {
      throw error
    } catch {
      throw EngineError(.io, "\(error)", context: ["loading dataset \(directory)"])
    }
  }

  static func isNCHW(_ shape: [Int], _ layout: DataLayout) -> Bool {
    switch layout {
    case .nchw: true
    case .nhwc: false
    case .auto: shape[1] == 1 || shape[1] == 3
    }
  }

  /// Per-sample shape after conversion to NHWC.
  static func sampleShape(of shape: [Int], kind: Kind, layout: DataLayout, file: String) throws -> [Int] {
    guard shape.count >= 2 else {
      throw EngineError(.shape, "\(file) has shape \(shape); expected [N, …] with at least 2 dimensions")
    }
    guard shape.dropFirst().allSatisfy({ $0 > 0 }) else {
      throw EngineError(.shape, "\(file) has an empty sample shape \(shape)")
    }
    if kind == .features { return [shape.dropFirst().reduce(1, *)] }
    switch shape.count {
    case 2: return [shape[1]]
    case 3: return [shape[1], shape[2], 1]
    case 4: return isNCHW(shape, layout) ? [shape[2], shape[3], shape[1]] : [shape[1], shape[2], shape[3]]
    default:
      throw EngineError(.shape, "\(file) has shape \(shape); images are [N, H, W], [N, C, H, W] or [N, H, W, C]")
    }
  }

  /// Standardises every split with the per-channel mean and standard deviation (population) of
  /// the train split; channels with zero variance are only centred. Returns the statistics.
  @discardableResult
  public mutating func normalize() -> (mean: [Float], std: [Float]) {
    let c = channels
    var sum = [Double](repeating: 0, count: c)
    var squares = [Double](repeating: 0, count: c)
    let n = train.inputs.count / c
    train.inputs.withUnsafeBufferPointer { xb in
      sum.withUnsafeMutableBufferPointer { sb in
        squares.withUnsafeMutableBufferPointer { qb in
          Self.channelSums(xb.baseAddress!, rows: n, channels: c, sum: sb.baseAddress!, squares: qb.baseAddress!)
        }
      }
    }
    let mean = sum.map { Float($0 / Double(n)) }
    let std = (0..<c).map { ch -> Float in
      let m = sum[ch] / Double(n)
      let variance = max(0, squares[ch] / Double(n) - m * m)
      let s = Float(variance.squareRoot())
      return s > 1e-6 ? s : 1
    }
    let inverse = std.map { 1 / $0 }
    // (x − mean) · (1/std), element by element; the channel pattern repeats every lcm(c, 8) values,
    // so whole runs of 8 go through SIMD with the same two operations per element.
    var period = c
    while period % 8 != 0 { period += c }
    let meanPattern = (0..<period).map { mean[$0 % c] }
    let inversePattern = (0..<period).map { inverse[$0 % c] }
    func apply(_ values: inout [Float]) {
      values.withUnsafeMutableBufferPointer { xb in
        meanPattern.withUnsafeBufferPointer { mb in
          inversePattern.withUnsafeBufferPointer { ib in
            let (x, m, inv) = (xb.baseAddress!, mb.baseAddress!, ib.baseAddress!)
            let whole = xb.count / period * period
            var i = 0
            while i < whole {
              for k in stride(from: 0, to: period, by: 8) {
                let p = UnsafeMutableRawPointer(x + i + k)
                let v = p.loadUnaligned(as: SIMD8<Float>.self)
                let mv = UnsafeRawPointer(m + k).loadUnaligned(as: SIMD8<Float>.self)
                let iv = UnsafeRawPointer(inv + k).loadUnaligned(as: SIMD8<Float>.self)
                p.storeBytes(of: (v - mv) * iv, as: SIMD8<Float>.self)
              }
              i += period
            }
            for j in whole..<xb.count { x[j] = (x[j] - m[j - whole]) * inv[j - whole] }
          }
        }
      }
    }
    apply(&train.inputs)
    apply(&test.inputs)
    if val != nil { apply(&val!.inputs) }
    return (mean, std)
  }

  /// Per-channel Σx and Σx² in Double over `rows` rows of `channels` values, each channel's sums
  /// accumulated in row order. A few channels (an image's) are summed in registers rather than
  /// through memory, whose store-to-load latency bounded the loop.
  static func channelSums(
    _ x: UnsafePointer<Float>,  // [rows, channels]
    rows: Int, channels c: Int,
    sum: UnsafeMutablePointer<Double>,  // [channels]
    squares: UnsafeMutablePointer<Double>  // [channels]
  ) {
    // One to four channels (images): all sums in registers, four lanes of a SIMD4.
    if c <= 4 {
      var s = SIMD4<Double>()
      var q = SIMD4<Double>()
      var v = SIMD4<Double>()
      for r in 0..<rows {
        let row = x + r * c
        switch c {
        case 1: v = SIMD4(Double(row[0]), 0, 0, 0)
        case 2: v = SIMD4(Double(row[0]), Double(row[1]), 0, 0)
        case 3: v = SIMD4(Double(row[0]), Double(row[1]), Double(row[2]), 0)
        default: v = SIMD4(Double(row[0]), Double(row[1]), Double(row[2]), Double(row[3]))
        }
        s += v
        q += v * v
      }
      for k in 0..<c {
        sum[k] += s[k]
        squares[k] += q[k]
      }
      return
    }
    // Many channels (feature vectors): their independent sums already keep the adds busy.
    for r in 0..<rows {
      let row = x + r * c
      for k in 0..<c {
        let v = Double(row[k])
        sum[k] += v
        squares[k] += v * v
      }
    }
  }

  /// Loads the dataset a config names and normalises it if the config says so.
  public static func load(for config: TrainConfig) throws(EngineError) -> Dataset {
    let directory = try DataLocation.resolve(config.dataName)
    var dataset = try load(
      directory: directory, name: config.dataName, layout: config.layout, classes: config.numClasses)
    if config.normalize { dataset.normalize() }
    return dataset
  }
}
