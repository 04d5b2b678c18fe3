/// Architectures by name.
public enum Architecture: String, Sendable, Hashable, Codable, CaseIterable {
  /// Flatten → head (logistic regression).
  case linear
  /// Flatten → `depth` × (Linear(width) → [BatchNorm] → activation → [Dropout]) → head.
  case mlp
  /// `depth` × (conv k×k → [BatchNorm] → activation → max pool 2 between blocks), channels
  /// `width·channelGrowth^i`, then global average pool (or flatten) → head.
  case cnn
  /// Stem conv3×3 → BN → activation, `depth` stages of `blocksPerStage` basic residual blocks
  /// (channels `width·2^s`, stride 2 from the second stage; 1×1 conv + BN shortcut where the
  /// shape changes), global average pool → head.
  case resnet
}

public enum Activation: String, Sendable, Hashable, Codable, CaseIterable {
  case relu, tanh
}

/// What to build. Per-sample input shape is `[features…]` for `linear`/`mlp` (flattened) and
/// `[H, W, C]` (NHWC) for `cnn`/`resnet`; `[L]` or `[L, C]` is a 1-D signal, run as height 1.
/// The classifier is always named `head` so transfer can replace or keep it; with
/// `cosineScale` > 0 it is a cosine classifier (`head.weight` only, logits s·cos θ, see
/// `cosineForward`) instead of a linear layer.
public struct ModelSpec: Sendable, Hashable, Codable {
  public var architecture: Architecture
  public var inputShape: [Int]
  public var classes: Int
  public var width: Int
  public var depth: Int
  public var activation: Activation
  public var dropout: Float
  public var batchNorm: Bool
  public var kernelSize: Int
  public var convStride: Int
  public var pool: Bool
  public var globalPool: Bool
  public var channelGrowth: Int
  public var blocksPerStage: Int
  public var batchNormMomentum: Float
  /// 0: linear head; s > 0: cosine head with logits s·cos θ (CAML).
  public var cosineScale: Float

  public init(
    architecture: Architecture, inputShape: [Int], classes: Int, width: Int = 128, depth: Int = 2,
    activation: Activation = .relu, dropout: Float = 0, batchNorm: Bool = false,
    kernelSize: Int = 3, convStride: Int = 1, pool: Bool = true, globalPool: Bool = true,
    channelGrowth: Int = 2, blocksPerStage: Int = 1, batchNormMomentum: Float = 0.1,
    cosineScale: Float = 0
  ) {
    self.architecture = architecture
    self.inputShape = inputShape
    self.classes = classes
    self.width = width
    self.depth = depth
    self.activation = activation
    self.dropout = dropout
    self.batchNorm = batchNorm
    self.kernelSize = kernelSize
    self.convStride = convStride
    self.pool = pool
    self.globalPool = globalPool
    self.channelGrowth = channelGrowth
    self.blocksPerStage = blocksPerStage
    self.batchNormMomentum = batchNormMomentum
    self.cosineScale = cosineScale
  }

  /// Elements per input sample (`Int.max` past the workspace bound, which `validate` refuses).
  public var inputSize: Int { EngineLimits.product(inputShape, atMost: EngineLimits.maxWorkspaceElements) ?? Int.max }

  func validate() throws(EngineError) {
    func fail(_ message: String) -> EngineError {
      EngineError(.config, message, context: ["building model \(architecture.rawValue)"])
    }
    guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
      throw fail("input shape must be non-empty and positive, got \(inputShape)")
    }
    guard inputSize <= EngineLimits.maxWorkspaceElements else {
      throw fail("input shape \(inputShape) has more than \(EngineLimits.maxWorkspaceElements) elements per sample")
    }
    guard classes >= 2 && classes <= ClassLabels.maxClasses else {
      throw fail("classes must be in 2…\(ClassLabels.maxClasses), got \(classes)")
    }
    guard dropout >= 0 && dropout < 1 else { throw fail("dropout must be in [0, 1), got \(dropout)") }
    guard cosineScale >= 0 && cosineScale.isFinite else {
      throw fail("cosine scale must be finite and ≥ 0, got \(cosineScale)")
    }
    // The schema's ranges of the model.* bindings, for specs built without it.
    let bounds: [(String, Int, Int)] = [
      ("width", width, EngineLimits.maxWidth), ("depth", depth, EngineLimits.maxLayers),
      ("kernel size", kernelSize, EngineLimits.maxLayers), ("stride", convStride, EngineLimits.maxLayers),
      ("channel growth", channelGrowth, EngineLimits.maxLayers),
      ("blocks per stage", blocksPerStage, EngineLimits.maxLayers),
    ]
    for (name, value, high) in bounds where value > high {
      throw fail("\(name) must be at most \(high), got \(value)")
    }
    switch architecture {
    case .linear:
      break
    case .mlp:
      guard width > 0, depth >= 1 else { throw fail("mlp needs width > 0 and depth ≥ 1, got \(width), \(depth)") }
    case .cnn, .resnet:
      guard inputShape.count <= 3 else {
        throw fail("input shape must be [H, W, C], [L, C] or [L], got \(inputShape)")
      }
      guard width > 0, depth >= 1, kernelSize >= 1, convStride >= 1, channelGrowth >= 1, blocksPerStage >= 1 else {
        throw fail("width, depth, kernel size, stride, channel growth and blocks per stage must be positive")
      }
    }
  }

  /// (H, W, C) of a convolutional input.
  var imageShape: (height: Int, width: Int, channels: Int) {
    switch inputShape.count {
    case 1: (1, inputShape[0], 1)
    case 2: (1, inputShape[0], inputShape[1])
    default: (inputShape[0], inputShape[1], inputShape[2])
    }
  }
}
