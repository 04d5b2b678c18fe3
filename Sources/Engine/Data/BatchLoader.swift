/// Random crop with zero padding and horizontal flip of NHWC images (or [L] signals, cropped and
/// flipped along L). Each call draws from the caller's augmentation stream, so augmentation
/// never shifts the shuffle or dropout streams.
public struct Augmentation: Sendable, Equatable {
  public var cropPadding: Int
  public var flip: Bool

  public init(cropPadding: Int = 0, flip: Bool = false) {
    self.cropPadding = cropPadding
    self.flip = flip
  }

  public var isIdentity: Bool { cropPadding == 0 && !flip }

  /// Writes one augmented sample. Crop first (offsets uniform in ±padding, zeros outside the
  /// image: the train mean once normalised), then flip with probability ½ — torchvision's
  /// `RandomCrop(padding=p)` followed by `RandomHorizontalFlip()`.
  func apply(
    to dst: UnsafeMutablePointer<Float>,  // [H, W, C]
    from src: UnsafePointer<Float>,  // [H, W, C]
    height: Int, width: Int, channels: Int, rng: inout RNG
  ) {
    let p = cropPadding
    let dy = p > 0 && height > 1 ? rng.below(2 * p + 1) - p : 0
    let dx = p > 0 ? rng.below(2 * p + 1) - p : 0
    let mirrored = flip && rng.uniform() < 0.5
    for h in 0..<height {
      let sh = h + dy
      let row = dst + h * width * channels
      guard sh >= 0 && sh < height else {
        row.update(repeating: 0, count: width * channels)
        continue
      }
      for w in 0..<width {
        let sw = (mirrored ? width - 1 - w : w) + dx
        let out = row + w * channels
        if sw >= 0 && sw < width {
          out.update(from: src + (sh * width + sw) * channels, count: channels)
        } else {
          out.update(repeating: 0, count: channels)
        }
      }
    }
  }
}

/// Mini-batches of one split: a shuffled order (reshuffled in place each epoch) and batch
/// buffers allocated once, so a step allocates nothing.
public struct BatchLoader {
  public let split: Split
  public let batchSize: Int
  public let dropLast: Bool
  public let sampleShape: [Int]
  public let augmentation: Augmentation
  public private(set) var order: [Int]  // [N] sample indices of this epoch
  public private(set) var inputs: [Float]  // [min(batchSize, N), sampleSize]
  public private(set) var labels: [Int]  // [min(batchSize, N)]
  private let sampleSize: Int
  private let geometry: (height: Int, width: Int, channels: Int)

  public init(
    split: Split, sampleShape: [Int], batchSize: Int, dropLast: Bool = false, augmentation: Augmentation = .init()
  ) {
    precondition(batchSize >= 1)
    self.split = split
    self.batchSize = batchSize
    self.dropLast = dropLast && split.count >= batchSize
    self.sampleShape = sampleShape
    self.augmentation = augmentation
    sampleSize = sampleShape.reduce(1, *)
    switch sampleShape.count {
    case 3: geometry = (sampleShape[0], sampleShape[1], sampleShape[2])
    default: geometry = (1, sampleSize, 1)
    }
    order = Array(0..<split.count)
    // No batch holds more than the split: a batch size past it asks for no more memory.
    let rows = max(1, min(batchSize, split.count))
    inputs = [Float](repeating: 0, count: rows * sampleSize)
    labels = [Int](repeating: 0, count: rows)
  }

  public var batchesPerEpoch: Int {
    dropLast ? split.count / batchSize : (split.count + batchSize - 1) / batchSize
  }

  /// This epoch's order: a Fisher–Yates shuffle of 0..<N drawn from `rng`, so the same seed gives
  /// the same sequence of epochs in every run.
  public mutating func shuffle(rng: inout RNG) {
    order.withUnsafeMutableBufferPointer { o in
      for i in 0..<o.count { o[i] = i }
    }
    rng.shuffle(&order)
  }

  /// Gathers batch `index` of the epoch into `inputs`/`labels` (augmented from `rng` when
  /// augmentation is on); returns its size.
  public mutating func load(batch index: Int, rng: inout RNG) -> Int {
    let start = index * batchSize
    let n = min(batchSize, split.count - start)
    precondition(n > 0, "batch \(index) is past the end of the split")
    let (h, w, c) = geometry
    let size = sampleSize
    let augment = augmentation
    let (sourceInputs, sourceLabels, order) = (split.inputs, split.labels, order)
    sourceInputs.withUnsafeBufferPointer { source in
      inputs.withUnsafeMutableBufferPointer { batch in
        labels.withUnsafeMutableBufferPointer { y in
          order.withUnsafeBufferPointer { o in
            for i in 0..<n {
              let s = o[start + i]
              let src = source.baseAddress! + s * size
              let dst = batch.baseAddress! + i * size
              if augment.isIdentity {
                dst.update(from: src, count: size)
              } else {
                augment.apply(to: dst, from: src, height: h, width: w, channels: c, rng: &rng)
              }
              y[i] = sourceLabels[s]
            }
          }
        }
      }
    }
    return n
  }
}
