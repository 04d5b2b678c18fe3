/// A network built from a `ModelSpec`. Parameters, gradients and BatchNorm running statistics
/// are contiguous `[Float]`s laid out by `layout`/`bufferLayout`; every activation, gradient,
/// mask and im2col buffer lives in one arena allocated for `maxBatch` samples at init, so a
/// training step allocates nothing. Not thread-safe: one model per training loop.
public final class Model {
  public let spec: ModelSpec
  public let maxBatch: Int
  /// Trainable parameters: name → shape → offset.
  public let layout: ParameterLayout
  /// Non-trainable state (BatchNorm running mean/variance), saved in checkpoints.
  public let bufferLayout: ParameterLayout
  public var parameters: [Float]  // [layout.count]
  /// Written by each backward pass for trainable entries (clipping may rescale them);
  /// frozen entries stay zero.
  public var gradients: [Float]  // [layout.count]
  public var buffers: [Float]  // [bufferLayout.count]
  /// One flag per `layout` entry; frozen entries get no gradient, no update, and frozen
  /// BatchNorm layers run on their running statistics (which then stay unchanged).
  public private(set) var trainable: [Bool]
  /// Element ranges of the trainable entries, for optimizers and clipping.
  public private(set) var trainableRanges: [Range<Int>]

  private let ops: [Op]
  private let slots: [Slot]
  private let inits: [ParameterInit]
  private let bufferInits: [Float]
  private let outputSlot: Int
  /// The slot the head reads: the features a cosine classifier (or any head) sees.
  private let headInputSlot: Int
  private let probsOffset: Int
  private let slopeOffset: Int  // [maxBatch, classes]: dz'/dz of the margin loss
  private let colsOffset: Int
  private let colsCapacity: Int
  private let arena: UnsafeMutablePointer<Float>
  private let intArena: UnsafeMutablePointer<Int32>
  /// Bytes of the arena (activations, their gradients, masks, im2col buffer, pool indices) for
  /// `maxBatch` samples: the model's memory besides parameters, gradients and buffers.
  public let workspaceBytes: Int
  private var needsGrad: [Bool] = []
  private var accumulate: [[Bool]] = []
  private var lastBatch = 0
  private var lastTraining = false
  /// Whether the last `loss` was the angular-margin one, so `backward` applies its slope.
  private var lastMargin = false

  /// Builds the graph for `spec` and initialises the parameters from `rng`.
  /// Sizes past `EngineLimits` are errors found before anything is allocated (`ModelSpec.plan`).
  public init(spec: ModelSpec, maxBatch: Int, rng: inout RNG) throws {
    let (g, output, offsets) = try spec.graph(maxBatch: maxBatch)
    self.spec = spec
    self.maxBatch = maxBatch
    outputSlot = output.slot
    headInputSlot = g.ops.last!.inputs[0]
    (probsOffset, slopeOffset, colsOffset, colsCapacity) = offsets
    layout = g.layout
    bufferLayout = g.bufferLayout
    inits = g.inits
    bufferInits = g.bufferInits
    ops = g.ops
    slots = g.slots
    parameters = [Float](repeating: 0, count: g.layout.count)
    gradients = [Float](repeating: 0, count: g.layout.count)
    buffers = [Float](repeating: 0, count: g.bufferLayout.count)
    trainable = [Bool](repeating: true, count: g.layout.entries.count)
    trainableRanges = g.layout.ranges(selectedBy: trainable)
    arena = UnsafeMutableRawPointer.allocate(byteCount: max(1, g.arenaCount) * 4, alignment: 64)
      .bindMemory(to: Float.self, capacity: max(1, g.arenaCount))
    arena.initialize(repeating: 0, count: max(1, g.arenaCount))
    intArena = .allocate(capacity: max(1, g.intArenaCount))
    intArena.initialize(repeating: 0, count: max(1, g.intArenaCount))
    workspaceBytes =
      max(1, g.arenaCount) * MemoryLayout<Float>.size + max(1, g.intArenaCount) * MemoryLayout<Int32>.size
    makePlan()
    initializeParameters(rng: &rng)
  }

  deinit {
    arena.deallocate()
    intArena.deallocate()
  }

  public var inputSize: Int { spec.inputSize }
  public var classes: Int { spec.classes }
  /// Number of parameter values (without alignment padding).
  public var parameterCount: Int { layout.entries.reduce(0) { $0 + $1.count } }

  /// Multiply-adds ×2 of the linear and convolution layers for one sample's forward pass.
  /// Saturates at `Int.max` (a model within the bounds may still have a large count).
  public var forwardFLOPsPerSample: Int {
    ops.reduce(0) { total, op in
      let factors: [Int]
      switch op {
      case .linear(let o): factors = [2, o.inFeatures, o.outFeatures]
      case .cosine(let o): factors = [2, o.inFeatures, o.outFeatures]
      case .conv(let o): factors = [2, o.shape.patchSize, o.shape.outChannels, o.shape.outHeight, o.shape.outWidth]
      default: return total
      }
      let flops = EngineLimits.product(factors, atMost: Int.max) ?? Int.max
      let (sum, overflow) = total.addingReportingOverflow(flops)
      return overflow ? Int.max : sum
    }
  }

  /// Re-draws every parameter from `rng` (entries in layout order) and resets running statistics.
  public func initializeParameters(rng: inout RNG) {
    parameters.withUnsafeMutableBufferPointer { p in
      for (entry, initializer) in zip(layout.entries, inits) {
        for i in entry.range {
          switch initializer {
          case .uniform(let bound): p[i] = rng.uniform(-bound, bound)
          case .normal(let std): p[i] = rng.normal() * std
          case .constant(let v): p[i] = v
          }
        }
      }
    }
    for (entry, value) in zip(bufferLayout.entries, bufferInits) {
      for i in entry.range { buffers[i] = value }
    }
  }

  // MARK: Trainable mask

  public func setTrainable(_ mask: [Bool]) {
    precondition(mask.count == layout.entries.count)
    trainable = mask
    trainableRanges = layout.ranges(selectedBy: mask)
    for (entry, on) in zip(layout.entries, mask) where !on {
      for i in entry.range { gradients[i] = 0 }
    }
    makePlan()
  }

  /// FIXED transfer: only the `head` stays trainable.
  public func freezeBackbone() {
    setTrainable(layout.entries.map { $0.name.hasPrefix("head.") })
  }

  /// Which slots need a gradient, and for each op whether its input gradients are written or
  /// added (a slot read by two ops, e.g. a residual input, receives the second one added).
  private func makePlan() {
    needsGrad = [Bool](repeating: false, count: slots.count)
    for op in ops where !op.inputs.isEmpty {
      needsGrad[op.output] = op.entries.contains { trainable[$0] } || op.inputs.contains { needsGrad[$0] }
    }
    accumulate = ops.map { [Bool](repeating: false, count: $0.inputs.count) }
    var written = Set<Int>()
    for (index, op) in ops.enumerated().reversed() where needsGrad[op.output] {
      for (k, input) in op.inputs.enumerated() where needsGrad[input] {
        accumulate[index][k] = written.contains(input)
        written.insert(input)
      }
    }
  }

  /// Convolutions running a max pool inside (for tests).
  var fusedPoolCount: Int {
    ops.filter { if case .conv(let o) = $0 { o.pool != nil } else { false } }.count
  }

  // MARK: Forward and backward

  private func value(_ slot: Int) -> UnsafeMutablePointer<Float> { arena + slots[slot].offset }
  private func grad(_ slot: Int) -> UnsafeMutablePointer<Float> { arena + slots[slot].gradOffset }
  private func gradIfNeeded(_ slot: Int) -> UnsafeMutablePointer<Float>? { needsGrad[slot] ? grad(slot) : nil }

  /// Runs the network on `batch` samples of `input`; the logits stay in the workspace until the
  /// next call. `rng` drives dropout (training only).
  public func forward(input: UnsafePointer<Float>, batch: Int, training: Bool, rng: inout RNG) {
    precondition(batch >= 1 && batch <= maxBatch, "batch \(batch) outside 1...\(maxBatch)")
    precondition(parameters.count == layout.count && buffers.count == bufferLayout.count, "parameters resized")
    value(0).update(from: input, count: batch * slots[0].size)
    let cols = arena + colsOffset
    parameters.withUnsafeBufferPointer { pb in
      buffers.withUnsafeMutableBufferPointer { bb in
        let p = pb.baseAddress!
        let buf = bb.baseAddress ?? UnsafeMutablePointer(arena)
        for op in ops {
          switch op {
          case .linear(let o):
            linearForward(
              y: value(o.output), x: value(o.input), w: p + o.weight, b: o.bias.map { p + $0 },
              batch: batch, inFeatures: o.inFeatures, outFeatures: o.outFeatures)
          case .cosine(let o):
            cosineForward(
              y: value(o.output), xHat: arena + o.xHat, xNorm: arena + o.xNorm, wHat: arena + o.wHat,
              wNorm: arena + o.wNorm, x: value(o.input), w: p + o.weight, batch: batch, inFeatures: o.inFeatures,
              outFeatures: o.outFeatures, scale: o.scale)
          case .conv(let o):
            if let pool = o.pool {
              conv2dForward(
                y: arena + pool.workspace, x: value(o.input), w: p + o.weight, b: o.bias.map { p + $0 },
                shape: o.shape, batch: batch, cols: cols, colsCapacity: colsCapacity, relu: true,
                pool: FusedMaxPool(shape: pool.shape, y: value(o.output), argmax: intArena + pool.argmax))
            } else {
              conv2dForward(
                y: value(o.output), x: value(o.input), w: p + o.weight, b: o.bias.map { p + $0 },
                shape: o.shape, batch: batch, cols: cols, colsCapacity: colsCapacity, relu: o.relu)
            }
          case .batchNorm(let o):
            let stats = arena + o.stats
            batchNormForward(
              y: value(o.output), mean: stats, invStd: stats + o.channels, runningMean: buf + o.runningMean,
              runningVar: buf + o.runningVar, x: value(o.input), gamma: p + o.gamma, beta: p + o.beta,
              rows: batch * o.pixels, channels: o.channels, training: training && trainable[o.gammaEntry],
              momentum: o.momentum)
          case .relu(let s):
            reluForward(y: value(s), x: value(s), count: batch * slots[s].size)
          case .tanh(let s):
            tanhForward(y: value(s), x: value(s), count: batch * slots[s].size)
          case .dropout(let input, let output, let mask, let prob):
            let n = batch * slots[output].size
            if training {
              dropoutForward(y: value(output), mask: arena + mask, x: value(input), count: n, p: prob, rng: &rng)
            } else {
              value(output).update(from: value(input), count: n)
            }
          case .maxPool(let o):
            maxPool2dForward(
              y: value(o.output), argmax: intArena + o.argmax, x: value(o.input), shape: o.shape, batch: batch)
          case .globalAvgPool(let input, let output, let pixels, let channels):
            globalAvgPoolForward(y: value(output), x: value(input), batch: batch, pixels: pixels, channels: channels)
          case .add(let a, let b, let output):
            addForward(y: value(output), a: value(a), b: value(b), count: batch * slots[output].size)
          }
        }
      }
    }
    lastBatch = batch
    lastTraining = training
  }

  /// Mean softmax cross-entropy of the last forward's logits; keeps the softmax for `backward`.
  public func loss(labels: UnsafePointer<Int>, labelSmoothing: Float = 0) -> Float {
    lastMargin = false
    return softmaxCrossEntropyForward(
      probs: arena + probsOffset, logits: value(outputSlot), labels: labels, batch: lastBatch,
      classes: spec.classes, labelSmoothing: labelSmoothing)
  }

  /// The CAML loss of the last forward's cosine logits with per-entry angular margins
  /// (`angularMarginCrossEntropyForward`); `backward` then differentiates it. Needs a cosine head.
  public func marginLoss(
    labels: UnsafePointer<Int>,  // [B]
    margins: UnsafePointer<Float>  // [B, classes] radians
  ) -> Float {
    precondition(spec.cosineScale > 0, "the margin loss needs a cosine head")
    lastMargin = true
    return angularMarginCrossEntropyForward(
      probs: arena + probsOffset, slope: arena + slopeOffset, logits: value(outputSlot), labels: labels,
      margins: margins, batch: lastBatch, classes: spec.classes, scale: spec.cosineScale)
  }

  /// Gradients of the mean loss into `gradients`; call after `forward` and `loss` with the
  /// same labels and smoothing.
  public func backward(labels: UnsafePointer<Int>, labelSmoothing: Float = 0) {
    guard needsGrad[outputSlot] else { return }
    let batch = lastBatch
    let training = lastTraining
    if lastMargin {
      angularMarginCrossEntropyBackward(
        dLogits: grad(outputSlot), probs: arena + probsOffset, slope: arena + slopeOffset, labels: labels,
        batch: batch, classes: spec.classes)
    } else {
      softmaxCrossEntropyBackward(
        dLogits: grad(outputSlot), probs: arena + probsOffset, labels: labels, batch: batch,
        classes: spec.classes, labelSmoothing: labelSmoothing)
    }
    let cols = arena + colsOffset
    parameters.withUnsafeBufferPointer { pb in
      gradients.withUnsafeMutableBufferPointer { gb in
        let p = pb.baseAddress!
        let g = gb.baseAddress!
        for (index, op) in ops.enumerated().reversed() where needsGrad[op.output] {
          let acc = accumulate[index]
          switch op {
          case .linear(let o):
            linearBackward(
              dx: gradIfNeeded(o.input), dw: trainable[o.weightEntry] ? g + o.weight : nil,
              db: o.biasEntry.flatMap { trainable[$0] ? g + o.bias! : nil }, dy: grad(o.output),
              x: value(o.input), w: p + o.weight, batch: batch, inFeatures: o.inFeatures,
              outFeatures: o.outFeatures, accumulateDx: acc.first ?? false)
          case .cosine(let o):
            cosineBackward(
              dx: gradIfNeeded(o.input), dw: trainable[o.weightEntry] ? g + o.weight : nil, dxHat: arena + o.dxHat,
              dwHat: arena + o.dwHat, dy: grad(o.output), xHat: arena + o.xHat, xNorm: arena + o.xNorm,
              wHat: arena + o.wHat, wNorm: arena + o.wNorm, batch: batch, inFeatures: o.inFeatures,
              outFeatures: o.outFeatures, scale: o.scale, accumulateDx: acc.first ?? false)
          case .conv(let o):
            let dx = gradIfNeeded(o.input)
            let dw = trainable[o.weightEntry] ? g + o.weight : nil
            let db = o.biasEntry.flatMap { trainable[$0] ? g + o.bias! : nil }
            if let pool = o.pool {
              let fused = FusedMaxPool(
                shape: pool.shape, y: value(o.output), argmax: intArena + pool.argmax, dy: grad(o.output))
              conv2dReLUBackward(
                dx: dx, dw: dw, db: db, dy: arena + pool.gradWorkspace, y: arena + pool.workspace, x: value(o.input),
                w: p + o.weight, shape: o.shape, batch: batch, cols: cols, colsCapacity: colsCapacity,
                accumulateDx: acc.first ?? false, pool: fused)
            } else if o.relu {
              conv2dReLUBackward(
                dx: dx, dw: dw, db: db, dy: grad(o.output), y: value(o.output), x: value(o.input), w: p + o.weight,
                shape: o.shape, batch: batch, cols: cols, colsCapacity: colsCapacity, accumulateDx: acc.first ?? false)
            } else {
              conv2dBackward(
                dx: dx, dw: dw, db: db, dy: grad(o.output), x: value(o.input), w: p + o.weight, shape: o.shape,
                batch: batch, cols: cols, colsCapacity: colsCapacity, accumulateDx: acc.first ?? false)
            }
          case .batchNorm(let o):
            let stats = arena + o.stats
            batchNormBackward(
              dx: gradIfNeeded(o.input), dgamma: trainable[o.gammaEntry] ? g + o.gamma : nil,
              dbeta: trainable[o.betaEntry] ? g + o.beta : nil, dy: grad(o.output), x: value(o.input),
              gamma: p + o.gamma, mean: stats, invStd: stats + o.channels, rows: batch * o.pixels,
              channels: o.channels, training: training && trainable[o.gammaEntry], accumulateDx: acc.first ?? false)
          case .relu(let s):
            reluBackward(dx: grad(s), dy: grad(s), y: value(s), count: batch * slots[s].size)
          case .tanh(let s):
            tanhBackward(dx: grad(s), dy: grad(s), y: value(s), count: batch * slots[s].size)
          case .dropout(let input, let output, let mask, _):
            if needsGrad[input] {
              let n = batch * slots[output].size
              if training {
                dropoutBackward(dx: grad(input), dy: grad(output), mask: arena + mask, count: n, accumulate: acc[0])
              } else {
                passGradient(dx: grad(input), dy: grad(output), count: n, accumulate: acc[0])
              }
            }
          case .maxPool(let o):
            if needsGrad[o.input] {
              maxPool2dBackward(
                dx: grad(o.input), dy: grad(o.output), argmax: intArena + o.argmax, shape: o.shape,
                batch: batch, accumulate: acc[0])
            }
          case .globalAvgPool(let input, let output, let pixels, let channels):
            if needsGrad[input] {
              globalAvgPoolBackward(
                dx: grad(input), dy: grad(output), batch: batch, pixels: pixels, channels: channels,
                accumulate: acc[0])
            }
          case .add(let a, let b, let output):
            let n = batch * slots[output].size
            if needsGrad[a] { passGradient(dx: grad(a), dy: grad(output), count: n, accumulate: acc[0]) }
            if needsGrad[b] { passGradient(dx: grad(b), dy: grad(output), count: n, accumulate: acc[1]) }
          }
        }
      }
    }
  }

  /// Logits of the last forward pass.
  public func copyLogits(to out: UnsafeMutablePointer<Float>) {  // [B, K]
    out.update(from: value(outputSlot), count: lastBatch * spec.classes)
  }

  public var logits: [Float] {  // [B, K]
    Array(UnsafeBufferPointer(start: value(outputSlot), count: lastBatch * spec.classes))
  }

  /// Values per sample the head reads (the penultimate features).
  public var headInputSize: Int { slots[headInputSlot].size }

  /// The head's input of the last forward pass (post-activation hidden features of an mlp).
  public func copyHeadInput(to out: UnsafeMutablePointer<Float>) {  // [B, headInputSize]
    out.update(from: value(headInputSlot), count: lastBatch * headInputSize)
  }

  /// Correct predictions of the last forward pass.
  public func correct(labels: UnsafePointer<Int>) -> Int {
    countCorrect(logits: value(outputSlot), labels: labels, batch: lastBatch, classes: spec.classes)
  }

  /// Forward in training mode, loss, backward: gradients are left in `gradients`.
  /// With `margins` ([B, classes]) the loss is the angular-margin one (`marginLoss`); accuracy is
  /// still that of the plain logits.
  public func trainBatch(
    input: UnsafePointer<Float>, labels: UnsafePointer<Int>, batch: Int, labelSmoothing: Float = 0,
    margins: UnsafePointer<Float>? = nil, rng: inout RNG
  ) -> BatchResult {
    forward(input: input, batch: batch, training: true, rng: &rng)
    let l =
      margins.map { marginLoss(labels: labels, margins: $0) } ?? loss(labels: labels, labelSmoothing: labelSmoothing)
    backward(labels: labels, labelSmoothing: labelSmoothing)
    return BatchResult(loss: l, correct: correct(labels: labels), count: batch)
  }

  /// Forward in evaluation mode; plain (unsmoothed) cross-entropy. Logits available afterwards.
  public func evaluateBatch(input: UnsafePointer<Float>, labels: UnsafePointer<Int>, batch: Int) -> BatchResult {
    var unused = RNG(seed: 0)
    forward(input: input, batch: batch, training: false, rng: &unused)
    return BatchResult(loss: loss(labels: labels), correct: correct(labels: labels), count: batch)
  }

  // MARK: Named tensors

  /// Parameters then buffers, each under its layout name.
  public func namedTensors() -> [(name: String, array: NDArray)] {
    (layout.arrays(of: parameters) + bufferLayout.arrays(of: buffers)).map { (name: $0.0, array: $0.1) }
  }

  /// Copies tensors by name into parameters and buffers; entries for which `include` is false
  /// are left as they are (a new head in transfer). Missing names, other dtypes and shape
  /// mismatches are errors.
  public func load(_ tensors: [String: NDArray], include: (String) -> Bool = { _ in true }) throws {
    func copy(_ entry: LayoutEntry, into target: inout [Float]) throws {
      guard let array = tensors[entry.name] else {
        throw EngineError(.format, "no tensor named '\(entry.name)'")
      }
      guard array.shape == entry.shape else {
        throw EngineError(.shape, "tensor '\(entry.name)' has shape \(array.shape), the model expects \(entry.shape)")
      }
      guard case .float32(let values) = array.storage else {
        throw EngineError(.format, "tensor '\(entry.name)' is \(array.dtype.rawValue), expected float32")
      }
      target.replaceSubrange(entry.range, with: values)
    }
    for entry in layout.entries where include(entry.name) { try copy(entry, into: &parameters) }
    for entry in bufferLayout.entries where include(entry.name) { try copy(entry, into: &buffers) }
  }
}

/// What a model of a spec needs, computed without allocating it.
public struct ModelPlan: Sendable, Equatable {
  /// Parameter floats (with alignment padding): each of parameters, gradients and optimizer
  /// moments is this long.
  public var parameterCount: Int
  /// BatchNorm running statistics.
  public var bufferCount: Int
  /// Bytes of the activation workspace for `maxBatch` samples (`Model.workspaceBytes`).
  public var workspaceBytes: Int
}

extension ModelSpec {
  /// The sizes of the model for batches of up to `maxBatch`, checked against `EngineLimits`: a
  /// spec past them is an error naming the layer, thrown before any size overflows. Cheap (no
  /// allocation), so a submission can check a config's model without its data.
  public func plan(maxBatch: Int) throws(EngineError) -> ModelPlan {
    let (g, _, _) = try graph(maxBatch: maxBatch)
    return ModelPlan(
      parameterCount: g.layout.count, bufferCount: g.bufferLayout.count,
      workspaceBytes: max(1, g.arenaCount) * MemoryLayout<Float>.size + max(1, g.intArenaCount)
        * MemoryLayout<Int32>.size)
  }

  /// The graph with every arena offset the model adds to it: probabilities, margin slopes,
  /// im2col columns (offset, capacity).
  func graph(maxBatch: Int) throws(EngineError) -> (
    Graph, output: Value, offsets: (probs: Int, slope: Int, cols: Int, colsCapacity: Int)
  ) {
    do throws(EngineError) {
      try validate()
      guard maxBatch >= 1 else { throw EngineError(.config, "maxBatch must be at least 1, got \(maxBatch)") }
      var (g, output) = try Graph.build(self, maxBatch: maxBatch)
      guard output.size == classes else {
        throw EngineError(.config, "model output has \(output.size) values per sample, expected \(classes)")
      }
      let logits = [maxBatch, classes]
      let probs = try g.allocate(logits, "the softmax of the logits")
      let slope = try g.allocate(logits, "the margin loss's slopes")
      let colsCapacity = g.colsCapacity
      let cols = try g.allocate([colsCapacity], "the im2col columns")
      try g.allocateFusedWorkspaces(colsCapacity: colsCapacity)
      return (g, output, (probs, slope, cols, colsCapacity))
    } catch {
      throw error.context.isEmpty
        ? error.adding(context: "building model \(architecture.rawValue) for input \(inputShape), \(classes) classes")
        : error
    }
  }
}

/// Outcome of one batch: mean loss, correct predictions, batch size.
public struct BatchResult: Sendable, Equatable {
  public var loss: Float
  public var correct: Int
  public var count: Int
}
