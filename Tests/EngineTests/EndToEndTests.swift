import XCTest

@testable import Engine

/// A small training loop over the real digits split: the pieces a trainer composes.
final class EndToEndTests: XCTestCase {
  static let digits = "/work/shared/data/digits"

  struct Split {
    var x: [Float]  // [N, 64]
    var y: [Int]  // [N]
    var count: Int { y.count }
  }

  func load(_ split: String) throws -> Split {
    let x = try NPY.read("\(Self.digits)/\(split)_x.npy")
    let y = try NPY.read("\(Self.digits)/\(split)_y.npy")
    XCTAssertEqual(x.shape.dropFirst(), [8, 8])
    return Split(x: x.floats().map { $0 / 16 }, y: try y.integers())
  }

  final class Run {
    let model: Model
    var optimizer: Optimizer
    var shuffle: RNG
    var dropout: RNG
    let schedule = LRSchedule.cosine(warmupEpochs: 1, totalEpochs: 8, minLR: 0)
    var step = 0
    var batchX: [Float]
    var batchY: [Int]
    let batch = 32

    init(seed: UInt64) throws {
      var initRNG = RNG(seed: seed, stream: 0)
      model = try Model(
        spec: ModelSpec(architecture: .mlp, inputShape: [64], classes: 10, width: 128, depth: 1, dropout: 0.1),
        maxBatch: 64, rng: &initRNG)
      optimizer = Optimizer(.sgd(momentum: 0.9, nesterov: true, weightDecay: 1e-4), parameterCount: model.layout.count)
      shuffle = RNG(seed: seed, stream: 1)
      dropout = RNG(seed: seed, stream: 2)
      batchX = [Float](repeating: 0, count: batch * 64)
      batchY = [Int](repeating: 0, count: batch)
    }

    func epoch(_ data: Split) {
      let order = shuffle.permutation(data.count)
      let perEpoch = data.count / batch
      for b in 0..<perEpoch {
        for i in 0..<batch {
          let s = order[b * batch + i]
          for j in 0..<64 { batchX[i * 64 + j] = data.x[s * 64 + j] }
          batchY[i] = data.y[s]
        }
        _ = model.trainBatch(input: batchX, labels: batchY, batch: batch, labelSmoothing: 0.05, rng: &dropout)
        clipGradientNorm(&model.gradients, ranges: model.trainableRanges, maxNorm: 5)
        let lr = schedule.learningRate(base: 0.1, step: step, stepsPerEpoch: perEpoch)
        optimizer.step(
          parameters: &model.parameters, gradients: model.gradients, ranges: model.trainableRanges, learningRate: lr)
        step += 1
      }
    }

    func accuracy(_ data: Split) -> Double {
      var correct = 0
      var start = 0
      while start < data.count {
        let n = min(64, data.count - start)
        let r = data.x[(start * 64)..<((start + n) * 64)].withContiguousStorageIfAvailable { x in
          data.y[start..<(start + n)].withContiguousStorageIfAvailable { y in
            model.evaluateBatch(input: x.baseAddress!, labels: y.baseAddress!, batch: n)
          }
        }
        correct += r!!.correct
        start += n
      }
      return Double(correct) / Double(data.count)
    }

    /// Everything a resumed run needs, as one safetensors file.
    func checkpoint() -> SafeTensorsFile {
      var tensors: [String: NDArray] = [:]
      for (name, array) in model.namedTensors() + optimizer.namedTensors() { tensors[name] = array }
      tensors["rng.shuffle"] = NDArray(shape: [4], int64: shuffle.state.map { Int64(bitPattern: $0) })
      tensors["rng.dropout"] = NDArray(shape: [4], int64: dropout.state.map { Int64(bitPattern: $0) })
      return SafeTensorsFile(tensors: tensors, metadata: ["step": "\(step)"])
    }

    func restore(_ file: SafeTensorsFile) throws {
      try model.load(file.tensors)
      try optimizer.load(file.tensors)
      func rng(_ name: String) throws -> RNG {
        guard case .int64(let v) = file.tensors[name]?.storage else { throw EngineError(.format, "no \(name)") }
        return try RNG(state: v.map { UInt64(bitPattern: $0) })
      }
      shuffle = try rng("rng.shuffle")
      dropout = try rng("rng.dropout")
      step = Int(file.metadata["step"] ?? "") ?? 0
    }
  }

  func testMLPLearnsDigitsAndResumesBitForBit() throws {
    guard FileManager.default.fileExists(atPath: "\(Self.digits)/train_x.npy") else {
      throw XCTSkip("digits data not at \(Self.digits)")
    }
    let train = try load("train")
    let test = try load("test")
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let start = Date()
    let full = try Run(seed: 1)
    for epoch in 1...8 {
      full.epoch(train)
      if epoch == 3 { try SafeTensors.write(full.checkpoint(), to: "\(dir)/ckpt-E003.safetensors") }
    }
    let accuracy = full.accuracy(test)
    print("digits MLP 64-128-10: test accuracy \(accuracy) after 8 epochs in \(Date().timeIntervalSince(start)) s")
    XCTAssertGreaterThan(accuracy, 0.9)

    // Resume from the epoch-3 checkpoint in fresh objects: the same end state, bit for bit.
    let resumed = try Run(seed: 99)
    try resumed.restore(try SafeTensors.read("\(dir)/ckpt-E003.safetensors"))
    for _ in 4...8 { resumed.epoch(train) }
    XCTAssertEqual(resumed.model.parameters.map(\.bitPattern), full.model.parameters.map(\.bitPattern))
    XCTAssertEqual(resumed.optimizer.moment1.map(\.bitPattern), full.optimizer.moment1.map(\.bitPattern))
    XCTAssertEqual(resumed.shuffle, full.shuffle)
    XCTAssertEqual(resumed.accuracy(test), accuracy)
  }
}
