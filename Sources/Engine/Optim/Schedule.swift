#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Learning-rate schedules. `learningRate(base:step:stepsPerEpoch:)` is evaluated before
/// every update with the 0-based global step; epoch-wise schedules use `epoch = step /
/// stepsPerEpoch`, per-iteration ones the step itself.
public enum LRSchedule: Sendable, Hashable, Codable {
  case constant
  /// `base · gamma^⌊epoch / stepSize⌋` (PyTorch StepLR stepped per epoch).
  case step(stepSize: Int, gamma: Float)
  /// `base · gamma^(milestones ≤ epoch)` (PyTorch MultiStepLR stepped per epoch).
  case multiStep(milestones: [Int], gamma: Float)
  /// Per iteration: linear warmup `base · step / warmup` over `warmupEpochs`, then cosine
  /// decay from `base` to `minLR` at `totalEpochs`.
  case cosine(warmupEpochs: Int, totalEpochs: Int, minLR: Float)
  /// Per iteration: linear ramp from 0 to `base` at `peakEpoch`, then linearly to 0 at
  /// `totalEpochs` (FFCV/bias-transfer `np.interp([0, peak, total], [0, 1, 0])`).
  case cyclic(peakEpoch: Float, totalEpochs: Int)

  public func learningRate(base: Float, step: Int, stepsPerEpoch: Int) -> Float {
    let perEpoch = max(1, stepsPerEpoch)
    let epoch = step / perEpoch
    switch self {
    case .constant:
      return base
    case .step(let stepSize, let gamma):
      return base * pow(gamma, Float(epoch / max(1, stepSize)))
    case .multiStep(let milestones, let gamma):
      var passed = 0
      for m in milestones where m <= epoch { passed += 1 }
      return base * pow(gamma, Float(passed))
    case .cosine(let warmupEpochs, let totalEpochs, let minLR):
      let warmup = warmupEpochs * perEpoch
      let total = max(warmup + 1, totalEpochs * perEpoch)
      if step < warmup { return base * Float(step) / Float(warmup) }
      let progress = min(1, Double(step - warmup) / Double(total - warmup))
      return minLR + (base - minLR) * Float(0.5 * (1 + cos(Double.pi * progress)))
    case .cyclic(let peakEpoch, let totalEpochs):
      let peak = Double(peakEpoch) * Double(perEpoch)
      let total = Double(totalEpochs * perEpoch)
      let s = Double(step)
      let factor: Double
      if s <= peak {
        factor = peak > 0 ? s / peak : 1
      } else if s < total {
        factor = (total - s) / (total - peak)
      } else {
        factor = 0
      }
      return base * Float(factor)
    }
  }
}
