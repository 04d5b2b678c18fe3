/// Callbacks for a foreground run (`orch run -k KEY` draws its progress bar from them) and a
/// cooperative stop. All run on the training thread, between steps: keep them cheap.
public struct TrainHooks {
  /// After each optimisation step: epoch (1-based), step within the epoch (1...stepsPerEpoch),
  /// steps per epoch.
  public var onBatch: ((_ epoch: Int, _ step: Int, _ stepsPerEpoch: Int) -> Void)?
  /// After each epoch's evaluation and checkpoint.
  public var onEpoch: ((EpochMetrics) -> Void)?
  /// Polled after every step; true ends the run early, keeping what was checkpointed, with
  /// `TrainResult.stopped` set and no `done` event (a later run resumes).
  public var shouldStop: (() -> Bool)?
  /// Human-readable progress and notices (resume, skipped checkpoints); nil discards them.
  public var log: ((String) -> Void)?

  public init(
    onBatch: ((_ epoch: Int, _ step: Int, _ stepsPerEpoch: Int) -> Void)? = nil,
    onEpoch: ((EpochMetrics) -> Void)? = nil,
    shouldStop: (() -> Bool)? = nil,
    log: ((String) -> Void)? = nil
  ) {
    self.onBatch = onBatch
    self.onEpoch = onEpoch
    self.shouldStop = shouldStop
    self.log = log
  }
}

/// One epoch's metrics under their event names (`train_loss`, `train_acc`, `lr`,
/// `samples_per_s`, `val_loss`, `val_acc`, `test_loss`, `test_acc`, `test_acc_class_<k>`, and
/// with group labels `<split>_worst_group_acc`, `<split>_mean_group_acc`).
public struct EpochMetrics: Sendable, Equatable {
  public var epoch: Int
  public var epochs: Int
  /// Optimisation steps completed since the start of training.
  public var step: Int
  public var values: [String: Double]
  /// Wall-clock seconds of the epoch's training steps (evaluation excluded).
  public var trainSeconds: Double

  public subscript(name: String) -> Double? { values[name] }
}

/// How `Trainer.run` ended.
public struct TrainResult: Sendable, Equatable {
  /// The `done` event's metrics: the last epoch's, without the timing ones. Empty when stopped.
  public var metrics: [String: Double]
  /// Last epoch completed (and, unless stopped mid-epoch, checkpointed when due).
  public var epoch: Int
  public var step: Int
  /// Epoch of the checkpoint this run resumed from; nil for a fresh start.
  public var resumedFrom: Int?
  /// Damaged checkpoints set aside (renamed `*.corrupt`) before resuming.
  public var skippedCheckpoints: [String]
  /// Checkpoints written by this run, in order.
  public var checkpoints: [Checkpoint.Written]
  /// `<runDir>/predictions.npy`, once the run completed.
  public var predictionsPath: String?
  /// True when `TrainHooks.shouldStop` ended the run before its last epoch.
  public var stopped: Bool
}
