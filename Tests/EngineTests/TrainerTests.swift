import XCTest

@testable import Engine

final class TrainerTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws {
    dir = try temporaryDirectory()
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: dir)
  }

  /// A small digits MLP; `overrides` replace or add bindings.
  func config(_ overrides: [String: ConfigValue] = [:]) throws -> TrainConfig {
    var bindings: [String: ConfigValue] = [
      "data.name": "digits", "model.arch": "mlp", "model.width": 32, "model.depth": 1, "train.epochs": 4,
      "train.batch_size": 32, "optimizer.base_lr": 0.05, "train.checkpoint_every": 1,
    ]
    bindings.merge(overrides) { _, new in new }
    return try EngineSchema.validate(bindings)
  }

  /// Everything a resume has to restore, exercised at once.
  func richConfig(_ overrides: [String: ConfigValue] = [:]) throws -> TrainConfig {
    let rich: [String: ConfigValue] = [
      "model.batch_norm": true, "model.dropout": 0.1, "data.augment.crop_padding": 1, "data.augment.flip": true,
      "optimizer.name": "adamw", "optimizer.base_lr": 0.01, "optimizer.weight_decay": 0.01,
      "lr_scheduler.name": "cosine", "lr_scheduler.warmup_epochs": 1, "train.label_smoothing": 0.1,
      "train.grad_clip": 5.0, "train.checkpoint_every": 2, "train.seed": 3,
    ]
    return try config(rich.merging(overrides) { _, new in new })
  }

  func tensors(_ runDir: String, epoch: Int) throws -> [String: NDArray] {
    try Checkpoint.read(Checkpoint.path(runDir: runDir, epoch: epoch)).tensors
  }

  func assertBitIdentical(
    _ a: [String: NDArray], _ b: [String: NDArray], _ names: [String]? = nil, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    let names = names ?? a.keys.sorted()
    XCTAssertEqual(Set(a.keys).isSuperset(of: names), true, file: file, line: line)
    if names == a.keys.sorted() { XCTAssertEqual(Set(a.keys), Set(b.keys), file: file, line: line) }
    for name in names {
      XCTAssertEqual(a[name]?.shape, b[name]?.shape, name, file: file, line: line)
      XCTAssertTrue(a[name]?.bytes() == b[name]?.bytes(), "\(name) differs", file: file, line: line)
    }
  }

  /// Stops the run once `epoch` has finished (and checkpointed), or at `step` within the epoch
  /// after it — a kill in the middle of an epoch.
  func stopping(afterEpoch epoch: Int, midEpochStep step: Int? = nil) -> TrainHooks {
    final class State: @unchecked Sendable {
      var epochDone = 0
      var stepInEpoch = 0
    }
    let state = State()
    return TrainHooks(
      onBatch: { _, s, _ in state.stepInEpoch = s },
      onEpoch: { m in
        state.epochDone = m.epoch
        state.stepInEpoch = 0
      },
      shouldStop: {
        guard state.epochDone >= epoch else { return false }
        guard let step else { return true }
        return state.stepInEpoch >= step
      })
  }

  func testMLPLearnsDigitsAndReportsEverything() throws {
    let c = try config([
      "model.width": 128, "train.epochs": 5, "optimizer.base_lr": 0.1, "lr_scheduler.name": "cosine",
      "train.checkpoint_every": 0,
    ])
    let events = EventRecorder()
    var batches = 0
    var epochs: [EpochMetrics] = []
    let hooks = TrainHooks(
      onBatch: { _, _, per in
        batches += 1
        XCTAssertEqual(per, 43)
      }, onEpoch: { epochs.append($0) })
    let result = try Trainer(config: c, runDir: dir, events: events, hooks: hooks).run()
    let accuracy = try XCTUnwrap(result.metrics["test_acc"])
    print("digits MLP 64-128-10, 5 epochs: test accuracy \(accuracy)")
    XCTAssertGreaterThanOrEqual(accuracy, 0.95)
    XCTAssertFalse(result.stopped)
    XCTAssertEqual(result.epoch, 5)
    XCTAssertEqual(result.step, 5 * 43)
    XCTAssertEqual(batches, 5 * 43)
    XCTAssertEqual(epochs.map(\.epoch), [1, 2, 3, 4, 5])
    XCTAssertEqual(epochs.last?["test_acc"], accuracy)

    // Events: per-epoch metrics, checkpoints E000 and E005, the predictions artifact, done last.
    XCTAssertEqual(events.metric("train_loss").count, 5)
    XCTAssertEqual(events.metric("test_acc").last, accuracy)
    XCTAssertEqual(events.metric("samples_per_s").count, 5)
    XCTAssertEqual(events.metric("test_acc_class_9").count, 5)
    XCTAssertTrue(events.metric("lr").first! > events.metric("lr").last!, "cosine decays")
    XCTAssertTrue(events.metric("val_acc").isEmpty, "digits has no val split")
    let checkpointEpochs = events.events.compactMap { if case .checkpoint(let e, _, _, _, _) = $0 { e } else { nil } }
    XCTAssertEqual(checkpointEpochs, [0, 5])
    XCTAssertTrue(events.events.contains(.artifact(name: "predictions", path: dir + "/predictions.npy")))
    guard case .done(let done)? = events.events.last else { return XCTFail("last event is not done") }
    XCTAssertEqual(done, result.metrics)
    XCTAssertNil(done["samples_per_s"])
    XCTAssertEqual((0..<10).compactMap { done["test_acc_class_\($0)"] }.count, 10)

    // predictions.npy holds the test logits; their argmax gives the reported accuracy.
    let predictions = try NPY.read(dir + "/predictions.npy")
    XCTAssertEqual(predictions.shape, [450, 10])
    let logits = predictions.floats()
    let labels = try NPY.read(DataLocation.resolve("digits") + "/test_y.npy").integers()
    let correct = (0..<450).filter { i in
      let row = logits[(i * 10)..<(i * 10 + 10)]
      return row.firstIndex(of: row.max()!)! - i * 10 == labels[i]
    }.count
    XCTAssertEqual(Double(correct) / 450, accuracy)
    XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/resolved_config.json"))
    XCTAssertEqual(
      try EngineSchema.validate(configJSON: String(contentsOfFile: dir + "/resolved_config.json", encoding: .utf8)), c)
  }

  func testCheckpointsAtStartEveryNAndEnd() throws {
    let events = EventRecorder()
    let result = try train(
      config: config(["train.epochs": 5, "train.checkpoint_every": 2]), runDir: dir, events: events)
    XCTAssertEqual(Checkpoint.list(runDir: dir).map(\.epoch), [5, 4, 2, 0])
    XCTAssertEqual(result.checkpoints.map(\.epoch), [0, 2, 4, 5])
    for written in result.checkpoints {
      let file = try Checkpoint.read(written.path)
      XCTAssertEqual(file.metadata["epoch"], String(written.epoch))
      XCTAssertEqual(file.metadata["format"], Checkpoint.format)
      XCTAssertNotNil(file.tensors["fc1.weight"])
      XCTAssertNotNil(file.tensors["head.bias"])
      XCTAssertNotNil(file.tensors["optimizer.moment1"])
      XCTAssertEqual(file.tensors["rng.shuffle"]?.shape, [4])
      let bytes = try readFile(written.path)
      XCTAssertEqual(bytes.count, written.bytes)
      XCTAssertEqual(sha256Hex(bytes), written.sha256)
      XCTAssertTrue(
        events.events.contains(
          .checkpoint(
            epoch: written.epoch, step: written.epoch * 43, path: written.path, bytes: written.bytes,
            sha256: written.sha256)))
    }
    XCTAssertNotEqual(
      try tensors(dir, epoch: 0)["fc1.weight"]?.floats(), try tensors(dir, epoch: 5)["fc1.weight"]?.floats())
    XCTAssertEqual(Checkpoint.fileName(epoch: 30), "ckpt-E030.safetensors")
    XCTAssertEqual(Checkpoint.fileName(epoch: 1234), "ckpt-E1234.safetensors")
  }

  func testResumeEndsBitForBitWhereAnUninterruptedRunEnds() throws {
    let c = try richConfig()
    let straightDir = dir + "/straight"
    let straight = try train(config: c, runDir: straightDir, events: EventRecorder())

    // Killed in the middle of epoch 3: only E000 and E002 exist; the rerun resumes from E002.
    let resumedDir = dir + "/resumed"
    let first = try Trainer(
      config: c, runDir: resumedDir, events: EventRecorder(), hooks: stopping(afterEpoch: 2, midEpochStep: 5)
    ).run()
    XCTAssertTrue(first.stopped)
    XCTAssertEqual(first.epoch, 2)
    XCTAssertEqual(Checkpoint.list(runDir: resumedDir).map(\.epoch), [2, 0])
    let events = EventRecorder()
    let resumed = try train(config: c, runDir: resumedDir, events: events)
    XCTAssertEqual(resumed.resumedFrom, 2)
    XCTAssertEqual(resumed.checkpoints.map(\.epoch), [4])
    XCTAssertEqual(events.metric("train_loss").count, 2)

    assertBitIdentical(try tensors(straightDir, epoch: 4), try tensors(resumedDir, epoch: 4))
    XCTAssertEqual(resumed.metrics, straight.metrics)
    XCTAssertEqual(try readFile(straightDir + "/predictions.npy"), try readFile(resumedDir + "/predictions.npy"))
    XCTAssertEqual(resumed.step, straight.step)

    // A finished run directory: nothing to train, same final metrics.
    let again = try train(config: c, runDir: straightDir, events: EventRecorder())
    XCTAssertEqual(again.resumedFrom, 4)
    XCTAssertTrue(again.checkpoints.isEmpty)
    XCTAssertEqual(again.metrics, straight.metrics)

    // The run directory belongs to its config.
    XCTAssertThrowsError(
      try train(config: richConfig(["optimizer.base_lr": 0.02]), runDir: straightDir, events: EventRecorder())
    ) {
      XCTAssertTrue("\($0)".contains("was written by another config"), "\($0)")
    }
  }

  func testDamagedNewestCheckpointsFallBackToTheLastValidOne() throws {
    let straightDir = dir + "/straight"
    let straight = try train(config: richConfig(), runDir: straightDir, events: EventRecorder())

    // Same computation with a checkpoint every epoch, stopped after epoch 3.
    let c = try richConfig(["train.checkpoint_every": 1])
    let runDir = dir + "/damaged"
    _ = try Trainer(config: c, runDir: runDir, events: EventRecorder(), hooks: stopping(afterEpoch: 3)).run()
    XCTAssertEqual(Checkpoint.list(runDir: runDir).map(\.epoch), [3, 2, 1, 0])
    // E003 truncated (a torn copy), E002 with one flipped bit in its tensor data.
    let e3 = Checkpoint.path(runDir: runDir, epoch: 3)
    let bytes3 = try readFile(e3)
    try writeFileAtomically(e3, Array(bytes3[0..<(bytes3.count / 2)]))
    let e2 = Checkpoint.path(runDir: runDir, epoch: 2)
    var bytes2 = try readFile(e2)
    bytes2[bytes2.count - 100] ^= 0x10
    try writeFileAtomically(e2, bytes2)
    XCTAssertThrowsError(try Checkpoint.read(e3)) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
    XCTAssertThrowsError(try Checkpoint.read(e2)) { XCTAssertTrue("\($0)".contains("digest"), "\($0)") }

    // A writer killed before its rename leaves a temporary file; it is cleaned up, never read.
    let stale = Checkpoint.directory(runDir: runDir) + "/ckpt-E004.safetensors.tmp-99999"
    try writeFileAtomically(stale, [1, 2, 3])
    XCTAssertEqual(Checkpoint.newestValid(runDir: runDir)?.epoch, 1)

    var notices: [String] = []
    let resumed = try Trainer(
      config: c, runDir: runDir, events: EventRecorder(), hooks: TrainHooks(log: { notices.append($0) })
    ).run()
    XCTAssertEqual(resumed.resumedFrom, 1)
    XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
    XCTAssertEqual(resumed.skippedCheckpoints, [e3 + ".corrupt", e2 + ".corrupt"])
    XCTAssertTrue(notices.contains { $0.hasPrefix("skipping checkpoint \(e3)") })
    XCTAssertEqual(Checkpoint.list(runDir: runDir).map(\.epoch), [4, 3, 2, 1, 0])
    let names = try tensors(straightDir, epoch: 4).keys.sorted()
    assertBitIdentical(try tensors(straightDir, epoch: 4), try tensors(runDir, epoch: 4), names)
    XCTAssertEqual(resumed.metrics, straight.metrics)
  }

  func testFixedTransferKeepsTheBackboneAndTrainsANewHead() throws {
    let sourceDir = dir + "/source"
    _ = try train(
      config: config(["model.batch_norm": true, "train.epochs": 2, "train.checkpoint_every": 0]), runDir: sourceDir,
      events: EventRecorder())
    let sourcePath = Checkpoint.path(runDir: sourceDir, epoch: 2)
    let source = try tensors(sourceDir, epoch: 2)

    let targetDir = dir + "/fixed"
    let result = try train(
      config: config([
        "model.batch_norm": true, "train.epochs": 2, "train.checkpoint_every": 0, "train.seed": 7,
        "train.finetune_from": .string(sourcePath), "train.transfer": "FIXED",
      ]), runDir: targetDir, events: EventRecorder())
    let initial = try tensors(targetDir, epoch: 0)
    let final = try tensors(targetDir, epoch: 2)
    // Backbone parameters and BatchNorm running statistics: bit-identical to the source.
    let backbone = ["fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"]
    assertBitIdentical(source, final, backbone)
    assertBitIdentical(source, initial, backbone)
    // A new head (from the target's seed), then trained.
    XCTAssertNotEqual(initial["head.weight"]?.floats(), source["head.weight"]?.floats())
    XCTAssertNotEqual(final["head.weight"]?.floats(), initial["head.weight"]?.floats())
    XCTAssertGreaterThan(result.metrics["test_acc"] ?? 0, 0.8)

    // FULL starts from the same backbone and trains it.
    let fullDir = dir + "/full"
    _ = try train(
      config: config([
        "model.batch_norm": true, "train.epochs": 1, "train.checkpoint_every": 0, "train.seed": 7,
        "train.finetune_from": .string(sourcePath),
      ]), runDir: fullDir, events: EventRecorder())
    assertBitIdentical(source, try tensors(fullDir, epoch: 0), backbone)
    XCTAssertNotEqual(try tensors(fullDir, epoch: 1)["fc1.weight"]?.floats(), source["fc1.weight"]?.floats())

    // A checkpoint of another architecture does not fit the backbone.
    XCTAssertThrowsError(
      try train(
        config: config(["model.width": 16, "train.finetune_from": .string(sourcePath), "train.epochs": 1]),
        runDir: dir + "/mismatch", events: EventRecorder())
    ) { XCTAssertTrue("\($0)".contains("loading train.finetune_from"), "\($0)") }
  }

  func testWorkerEntryPointWritesJSONLinesWithIncreasingSeqToAPipe() throws {
    var fds: [Int32] = [0, 0]
    XCTAssertEqual(pipe(&fds), 0)
    defer { close(fds[0]) }
    let runDir = dir + "/job"
    try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
    let json =
      #"{"bindings":{"data.name":"digits","init":"random","model.arch":"linear","train.epochs":2,"train.checkpoint_every":1},"engine":"train"}"#
    try writeFileAtomically(runDir + "/config.json", Array(json.utf8))
    var lines: [String] = []
    let result = try EngineJob.run(
      runDir: runDir, environment: ["ORCH_EVENTS_FD": String(fds[1]), "OPENBLAS_NUM_THREADS": "1"],
      hooks: TrainHooks(log: { lines.append($0) }))
    XCTAssertEqual(BLAS.threadCount, 1)
    // Direct emits too: a non-finite value is written as null.
    let stream = EventStream(fd: fds[1])
    stream.emit(.metric(name: "train_loss", value: .nan, epoch: 1, step: 1))
    stream.emit(.heartbeat)
    close(fds[1])
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = read(fds[0], &buffer, buffer.count)
      if n <= 0 { break }
      data += buffer[0..<n]
    }
    let text = String(decoding: data, as: UTF8.self)
    XCTAssertTrue(text.hasSuffix("\n"))
    let objects = try text.split(separator: "\n").map {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
    }
    // The job's stream, then the second stream starting again at 1.
    let seqs = objects.map { ($0["seq"] as? NSNumber)?.intValue ?? -1 }
    XCTAssertEqual(Array(seqs.prefix(seqs.count - 2)), Array(1...(seqs.count - 2)))
    XCTAssertEqual(Array(seqs.suffix(2)), [1, 2])
    XCTAssertTrue(objects.allSatisfy { $0["type"] is String && $0["time"] is NSNumber })
    let job = objects.dropLast(2)
    XCTAssertEqual(job.last?["type"] as? String, "done")
    XCTAssertEqual(
      ((job.last?["metrics"] as? [String: Any])?["test_acc"] as? NSNumber)?.doubleValue, result.metrics["test_acc"])
    let metric = try XCTUnwrap(job.first { $0["type"] as? String == "metric" && $0["name"] as? String == "test_acc" })
    XCTAssertEqual((metric["epoch"] as? NSNumber)?.intValue, 1)
    XCTAssertEqual((metric["step"] as? NSNumber)?.intValue, 11)
    let checkpoints = job.filter { $0["type"] as? String == "checkpoint" }
    XCTAssertEqual(checkpoints.map { ($0["epoch"] as? NSNumber)?.intValue }, [0, 1, 2])
    XCTAssertTrue(checkpoints.allSatisfy { ($0["sha256"] as? String)?.count == 64 && $0["bytes"] is NSNumber })
    XCTAssertTrue(job.contains { $0["type"] as? String == "artifact" && $0["name"] as? String == "predictions" })
    XCTAssertTrue(objects[objects.count - 2]["value"] is NSNull)
    XCTAssertEqual(lines.count, 4, "the memory line, one line per epoch and one at the end")
    XCTAssertTrue(lines[0].hasPrefix("memory: parameters "), lines[0])
    XCTAssertTrue(lines[1].hasPrefix("epoch 1/2 step 11 train_loss"), lines[1])
    // The heartbeat before the first batch marks the end of start-up.
    let types = job.map { $0["type"] as? String ?? "" }
    XCTAssertEqual(types.filter { $0 == "heartbeat" }.count, 1)
    XCTAssertEqual(types.firstIndex(of: "heartbeat"), types.firstIndex(of: "checkpoint").map { $0 + 1 })
  }

  func testInMemoryFeaturesWithValSplitAndGroups() throws {
    // Two Gaussian blobs in 4-D; the bias attribute splits each class into two groups.
    var rng = RNG(seed: 21)
    func split(_ name: String, _ n: Int) -> Split {
      var inputs: [Float] = []
      var labels: [Int] = []
      var bias: [Int] = []
      for i in 0..<n {
        let y = i % 2
        for j in 0..<4 { inputs.append(rng.normal() + (j == 0 ? Float(3 * y) : 0)) }
        labels.append(y)
        bias.append((i / 2) % 2)
      }
      return Split(name: name, inputs: inputs, labels: labels, bias: bias)
    }
    let data = Dataset(
      name: "blobs", kind: .features, sampleShape: [4], classes: 2, train: split("train", 200), val: split("val", 50),
      test: split("test", 60))
    let events = EventRecorder()
    let c = try config(["model.arch": "linear", "train.epochs": 3, "train.eval_batch_size": 16])
    let result = try Trainer(config: c, runDir: dir, events: events, dataset: data).run()
    XCTAssertEqual(events.metric("val_acc").count, 3)
    XCTAssertEqual(events.metric("test_worst_group_acc").count, 3)
    XCTAssertNotNil(result.metrics["val_mean_group_acc"])
    XCTAssertGreaterThan(result.metrics["test_acc"] ?? 0, 0.85)
    XCTAssertLessThanOrEqual(result.metrics["test_worst_group_acc"]!, result.metrics["test_mean_group_acc"]!)
    XCTAssertEqual(try NPY.read(dir + "/predictions.npy").shape, [60, 2])

    XCTAssertThrowsError(
      try Trainer(config: config(["data.augment.flip": true]), runDir: dir + "/x", events: events, dataset: data).run()
    ) { XCTAssertTrue("\($0)".contains("data.augment.* applies to images"), "\($0)") }
    XCTAssertThrowsError(
      try train(config: config(["train.finetune_from": "train/digits/mlp@E030"]), runDir: dir + "/y", events: events)
    ) { XCTAssertTrue("\($0)".contains("must be resolved to a path"), "\($0)") }
  }

  func testZeroEpochsEvaluatesTheInitialModel() throws {
    let result = try train(config: config(["train.epochs": 0]), runDir: dir, events: EventRecorder())
    XCTAssertEqual(Checkpoint.list(runDir: dir).map(\.epoch), [0])
    XCTAssertNotNil(result.metrics["test_acc"])
    XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/predictions.npy"))
  }
}
