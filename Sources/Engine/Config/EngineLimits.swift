/// The bounds that hold every engine config, however hostile, to a process that neither traps on
/// an overflowing size nor asks for more memory than a machine has. Each binding's range is in the
/// schema (`BindingSpec.range`), so `orch submit` and the engine refuse the same values; what only
/// the data decides (the input shape, the class count, the sample counts) is checked against the
/// model and workspace bounds when the model is built. data/README.md documents them.
public enum EngineLimits {
  /// Parameters of a model (and entries of its BatchNorm statistics): 2²⁸ floats, 1 GiB each for the
  /// parameters, their gradients and Adam's two moments.
  public static let maxParameters = 1 << 28
  /// A model's workspace for its largest batch — activations, their gradients, masks, im2col
  /// columns, pool indices — and any other buffer sized by the config (the batch buffers, the test
  /// logits, CAML's features and distances): 8 GiB, 2³¹ four-byte elements, so every index and
  /// every BLAS dimension also fits in 32 bits.
  public static let maxWorkspaceBytes = 1 << 33
  public static let maxWorkspaceElements = maxWorkspaceBytes / 4

  /// Ops of a model's graph (layers, BatchNorms, activations, dropouts, pools, residual additions):
  /// what its depth and blocks make, so planning the graph stays quick. An mlp of the largest
  /// depth with BatchNorm and dropout has 4097; a ResNet-152 would have about 500.
  public static let maxOps = 1 << 13

  public static let maxEpochs = 1_000_000
  public static let maxBatchSize = 1 << 20
  public static let maxWidth = 1 << 16
  /// Layers, conv blocks, stages, blocks per stage, kernel side, stride, channel growth.
  public static let maxLayers = 1024
  /// Sizes measured in pixels along one image side (crop padding, shuffle blocks).
  public static let maxSide = 1 << 16
  public static let maxClusters = 1024
  public static let maxRestarts = 1000
  /// Entries of a list binding.
  public static let maxListCount = ClassLabels.maxClasses

  /// The product of `factors` (each ≥ 0), or nil when it exceeds `limit`; never overflows.
  public static func product(_ factors: [Int], atMost limit: Int) -> Int? {
    var result = 1
    for f in factors {
      guard f >= 0 else { return nil }
      let (p, overflow) = result.multipliedReportingOverflow(by: f)
      if overflow || p > limit { return nil }
      result = p
    }
    return result
  }

  /// "2 GiB", "512 MiB", "1234 B".
  static func bytes(_ n: Int) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] where n >= 1 << shift && n % (1 << shift) == 0 {
      return "\(n >> shift) \(unit)"
    }
    return "\(n) B"
  }
}
