// The layer graph a `Model` runs: a straight list of ops over activation slots, built once
// per architecture together with the parameter layout and every workspace offset.

/// How a parameter entry is initialised.
enum ParameterInit: Sendable {
  case uniform(Float)  // U(−bound, bound)
  case normal(Float)  // N(0, std²)
  case constant(Float)
}

/// An activation buffer: `size` floats per sample at `offset` in the arena, its gradient at
/// `gradOffset`. Both span `maxBatch` samples.
struct Slot: Sendable {
  var size: Int
  var offset: Int
  var gradOffset: Int
}

/// A value during graph building: its slot and per-sample shape ([H, W, C] or [F]).
struct Value {
  var slot: Int
  var shape: [Int]
  var size: Int { shape.reduce(1, *) }
}

struct LinearOp: Sendable {
  var input: Int, output: Int
  var weight: Int, bias: Int?  // parameter offsets
  var weightEntry: Int, biasEntry: Int?
  var inFeatures: Int, outFeatures: Int
}

/// A cosine classifier: y = scale · x̂ · Ŵᵀ (`cosineForward`), with its saved normalisations and
/// backward scratch in the arena.
struct CosineOp: Sendable {
  var input: Int, output: Int
  var weight: Int, weightEntry: Int
  var inFeatures: Int, outFeatures: Int
  var scale: Float
  var xHat: Int, xNorm: Int, wHat: Int, wNorm: Int  // arena offsets: [B, in], [B], [out, in], [out]
  var dxHat: Int, dwHat: Int  // arena offsets: [B, in], [out, in]
}

struct ConvOp: Sendable {
  var input: Int, output: Int
  var weight: Int, bias: Int?
  var weightEntry: Int, biasEntry: Int?
  var shape: Conv2dShape
  /// A ReLU directly after the convolution, run inside it (`conv2dForward(relu:)`) in place of
  /// a separate op: the output slot holds the activation.
  var relu = false
  /// A max pool after the ReLU, run inside the convolution on each chunk; `output` is then the
  /// pool's output, and the convolution's own output lives only in a one-chunk workspace.
  var pool: FusedPoolOp?
}

/// A tiled max pool fused into the convolution before it.
struct FusedPoolOp: Sendable {
  var shape: PoolShape
  var argmax: Int  // offset in the Int32 arena; indices relative to the chunk
  var workspace = -1  // arena offset: one chunk of the convolution's output
  var gradWorkspace = -1  // arena offset: its gradient
}

struct BatchNormOp: Sendable {
  var input: Int, output: Int
  var gamma: Int, beta: Int  // parameter offsets
  var gammaEntry: Int, betaEntry: Int
  var runningMean: Int, runningVar: Int  // buffer offsets
  var stats: Int  // arena offset of [mean C, invStd C]
  var pixels: Int, channels: Int
  var momentum: Float
}

struct PoolOp: Sendable {
  var input: Int, output: Int
  var argmax: Int  // offset in the Int32 arena
  var shape: PoolShape
}

enum Op: Sendable {
  case linear(LinearOp)
  case cosine(CosineOp)
  case conv(ConvOp)
  case batchNorm(BatchNormOp)
  case relu(slot: Int)  // in place: its backward needs only the output
  case tanh(slot: Int)  // in place: its backward needs only the output
  case dropout(input: Int, output: Int, mask: Int, p: Float)  // mask offset in the arena
  case maxPool(PoolOp)
  case globalAvgPool(input: Int, output: Int, pixels: Int, channels: Int)
  case add(a: Int, b: Int, output: Int)

  /// Slots read whose gradient this op produces (empty for in-place ops).
  var inputs: [Int] {
    switch self {
    case .linear(let o): [o.input]
    case .cosine(let o): [o.input]
    case .conv(let o): [o.input]
    case .batchNorm(let o): [o.input]
    case .maxPool(let o): [o.input]
    case .globalAvgPool(let input, _, _, _): [input]
    case .add(let a, let b, _): [a, b]
    case .dropout(let input, _, _, _): [input]
    case .relu, .tanh: []
    }
  }

  var output: Int {
    switch self {
    case .linear(let o): o.output
    case .cosine(let o): o.output
    case .conv(let o): o.output
    case .batchNorm(let o): o.output
    case .maxPool(let o): o.output
    case .globalAvgPool(_, let output, _, _): output
    case .add(_, _, let output): output
    case .dropout(_, let output, _, _): output
    case .relu(let s), .tanh(let s): s
    }
  }

  var entries: [Int] {
    switch self {
    case .linear(let o): [o.weightEntry] + (o.biasEntry.map { [$0] } ?? [])
    case .cosine(let o): [o.weightEntry]
    case .conv(let o): [o.weightEntry] + (o.biasEntry.map { [$0] } ?? [])
    case .batchNorm(let o): [o.gammaEntry, o.betaEntry]
    default: []
    }
  }
}

/// Builds ops, the parameter and buffer layouts, and the arena offsets for `maxBatch` samples.
struct Graph {
  let maxBatch: Int
  var layout = ParameterLayout()
  var inits: [ParameterInit] = []
  var bufferLayout = ParameterLayout()
  var bufferInits: [Float] = []
  var slots: [Slot] = []
  var ops: [Op] = []
  var arenaCount = 0
  var intArenaCount = 0
  var colsNeeded = 0  // floats for one sample's largest im2col

  /// 1 MiB of columns per chunk (measured ~1.4× faster on the 32→64 conv than 8 MiB chunks). The
  /// bench machine's L2 is 512 KiB per core, so the columns pass through L3 between im2col and the
  /// GEMM; smaller chunks (per layer, down to one sample) measured no faster there (bench/RESULTS.md,
  /// "Issue 19: engine CNN (session 3)"). The chunking is part of the results: OpenBLAS's sums
  /// depend on m, so changing this changes the bits of a training step.
  static let colsLimit = 1 << 18

  init(maxBatch: Int) {
    self.maxBatch = maxBatch
  }

  /// Floats and Int32s of the workspace (4 bytes each), at most `EngineLimits.maxWorkspaceElements`.
  var workspaceElements: Int { arenaCount + intArenaCount }

  /// The workspace would pass its bound with `what` (the product of `factors` elements).
  func tooLarge(_ factors: [Int], _ what: String) -> EngineError {
    let product = factors.map(String.init).joined(separator: "×")
    return EngineError(
      .config,
      "the model's workspace for a batch of \(maxBatch) (activations, their gradients and scratch) passes"
        + " \(EngineLimits.maxWorkspaceBytes >> 30) GiB at \(what) (\(product) elements); lower train.batch_size,"
        + " train.eval_batch_size or the model's size (model.width, model.depth, model.kernel_size)")
  }

  /// Arena offset of `factors`' product of floats, 16-float aligned; the workspace bound is
  /// checked before anything can overflow.
  mutating func allocate(_ factors: [Int], _ what: @autoclosure () -> String) throws(EngineError) -> Int {
    let offset = (arenaCount + 15) / 16 * 16
    let room = EngineLimits.maxWorkspaceElements - intArenaCount - offset
    guard room >= 0, let n = EngineLimits.product(factors, atMost: room) else { throw tooLarge(factors, what()) }
    arenaCount = offset + n
    return offset
  }

  /// Offset in the Int32 arena of `factors`' product of entries.
  mutating func allocateInts(_ factors: [Int], _ what: @autoclosure () -> String) throws(EngineError) -> Int {
    let offset = intArenaCount
    guard let n = EngineLimits.product(factors, atMost: EngineLimits.maxWorkspaceElements - workspaceElements)
    else { throw tooLarge(factors, what()) }
    intArenaCount += n
    return offset
  }

  mutating func newSlot(_ shape: [Int], gradient: Bool = true) throws(EngineError) -> Value {
    guard let size = EngineLimits.product(shape, atMost: EngineLimits.maxWorkspaceElements) else {
      throw tooLarge(shape, "an activation of shape \(shape) per sample")
    }
    let what = "an activation of shape \(shape)"
    let offset = try allocate([size, maxBatch], what)
    let slot = Slot(
      size: size, offset: offset, gradOffset: gradient ? try allocate([size, maxBatch], "the gradient of \(what)") : -1)
    slots.append(slot)
    return Value(slot: slots.count - 1, shape: shape)
  }

  mutating func param(
    _ name: String, _ shape: [Int], _ initializer: ParameterInit
  ) throws(EngineError) -> (offset: Int, entry: Int) {
    let offset: Int
    do {
      offset = try layout.add(name, shape)
    } catch {
      throw EngineError(
        .config,
        error.message + "; lower model.width, model.depth, model.kernel_size, model.channel_growth or"
          + " model.blocks_per_stage (the class count sizes the head)")
    }
    inits.append(initializer)
    return (offset, layout.entries.count - 1)
  }

  mutating func buffer(_ name: String, _ shape: [Int], _ value: Float) throws(EngineError) -> Int {
    bufferInits.append(value)
    return try bufferLayout.add(name, shape)
  }

  /// The network input: never differentiated, so it has no gradient buffer.
  mutating func input(_ shape: [Int]) throws(EngineError) -> Value { try newSlot(shape, gradient: false) }

  /// PyTorch's default Linear init: weights and bias U(±1/√fan_in).
  mutating func linear(_ x: Value, _ outFeatures: Int, name: String) throws(EngineError) -> Value {
    let inFeatures = x.size
    let bound = 1 / Float(inFeatures).squareRoot()
    let w = try param("\(name).weight", [outFeatures, inFeatures], .uniform(bound))
    let b = try param("\(name).bias", [outFeatures], .uniform(bound))
    let y = try newSlot([outFeatures])
    ops.append(
      .linear(
        LinearOp(
          input: x.slot, output: y.slot, weight: w.offset, bias: b.offset, weightEntry: w.entry,
          biasEntry: b.entry, inFeatures: inFeatures, outFeatures: outFeatures)))
    return y
  }

  /// Cosine classifier without bias; Xavier-uniform weights (bound √(6/(fan_in + fan_out))), as
  /// the CAML reference code initialises its normalised classifier.
  mutating func cosine(_ x: Value, _ outFeatures: Int, scale: Float, name: String) throws(EngineError) -> Value {
    let inFeatures = x.size
    let w = try param("\(name).weight", [outFeatures, inFeatures], .uniform(0))
    let bound = (6 / Float(inFeatures + outFeatures)).squareRoot()
    inits[w.entry] = .uniform(bound)
    let y = try newSlot([outFeatures])
    let rows = [maxBatch, inFeatures]
    let weights = [outFeatures, inFeatures]
    let what = "the cosine head's scratch"
    ops.append(
      .cosine(
        CosineOp(
          input: x.slot, output: y.slot, weight: w.offset, weightEntry: w.entry, inFeatures: inFeatures,
          outFeatures: outFeatures, scale: scale, xHat: try allocate(rows, what), xNorm: try allocate([maxBatch], what),
          wHat: try allocate(weights, what), wNorm: try allocate([outFeatures], what),
          dxHat: try allocate(rows, what), dwHat: try allocate(weights, what))))
    return y
  }

  /// The classifier: linear, or cosine when the spec asks for it.
  mutating func head(_ x: Value, _ spec: ModelSpec) throws(EngineError) -> Value {
    spec.cosineScale > 0
      ? try cosine(x, spec.classes, scale: spec.cosineScale, name: "head")
      : try linear(x, spec.classes, name: "head")
  }

  /// He-normal weights (std √(2/fan_in)), zero bias; `kernel`/`stride` apply to the width axis
  /// only when the input has height 1.
  mutating func conv(
    _ x: Value, _ outChannels: Int, kernel: Int, stride: Int, bias: Bool, name: String
  ) throws(EngineError) -> Value {
    let (h, w, c) = (x.shape[0], x.shape[1], x.shape[2])
    let kh = h == 1 ? 1 : kernel
    let sh = h == 1 ? 1 : stride
    // The weight's size is checked first: it bounds the patch and the channels the shape multiplies.
    let weight = try param("\(name).weight", [outChannels, kh, kernel, c], .constant(0))
    let shape = Conv2dShape(
      inChannels: c, outChannels: outChannels, inHeight: h, inWidth: w, kernelHeight: kh,
      kernelWidth: kernel, strideHeight: sh, strideWidth: stride, padHeight: kh / 2, padWidth: kernel / 2)
    inits[weight.entry] = .normal((2 / Float(shape.patchSize)).squareRoot())
    let b = bias ? try param("\(name).bias", [outChannels], .constant(0)) : nil
    let y = try newSlot([shape.outHeight, shape.outWidth, outChannels])
    if !shape.isPointwise {
      let columns = [shape.outHeight, shape.outWidth, shape.patchSize]
      guard let n = EngineLimits.product(columns, atMost: EngineLimits.maxWorkspaceElements) else {
        throw tooLarge(columns, "the im2col columns of \(name) for one sample")
      }
      colsNeeded = max(colsNeeded, n)
    }
    ops.append(
      .conv(
        ConvOp(
          input: x.slot, output: y.slot, weight: weight.offset, bias: b?.offset, weightEntry: weight.entry,
          biasEntry: b?.entry, shape: shape)))
    return y
  }

  mutating func batchNorm(_ x: Value, name: String, momentum: Float) throws(EngineError) -> Value {
    let c = x.shape.last!
    let gamma = try param("\(name).weight", [c], .constant(1))
    let beta = try param("\(name).bias", [c], .constant(0))
    let rm = try buffer("\(name).running_mean", [c], 0)
    let rv = try buffer("\(name).running_var", [c], 1)
    let y = try newSlot(x.shape)
    ops.append(
      .batchNorm(
        BatchNormOp(
          input: x.slot, output: y.slot, gamma: gamma.offset, beta: beta.offset, gammaEntry: gamma.entry,
          betaEntry: beta.entry, runningMean: rm, runningVar: rv, stats: try allocate([2, c], "\(name)'s statistics"),
          pixels: x.size / c, channels: c, momentum: momentum)))
    return y
  }

  /// A ReLU right after a convolution (the `cnn` blocks without BatchNorm) is fused into it.
  mutating func activation(_ x: Value, _ kind: Activation) -> Value {
    if kind == .relu, case .conv(var conv)? = ops.last, conv.output == x.slot, !conv.relu {
      conv.relu = true
      ops[ops.count - 1] = .conv(conv)
      return x
    }
    ops.append(kind == .relu ? .relu(slot: x.slot) : .tanh(slot: x.slot))
    return x
  }

  /// Not in place: a preceding tanh needs its own output in the backward pass.
  mutating func dropout(_ x: Value, _ p: Float) throws(EngineError) -> Value {
    guard p > 0 else { return x }
    let y = try newSlot(x.shape)
    let mask = try allocate([x.size, maxBatch], "a dropout mask of shape \(x.shape)")
    ops.append(.dropout(input: x.slot, output: y.slot, mask: mask, p: p))
    return y
  }

  /// 2×2 max pool (1×2 on height-1 signals). Right after a convolution with its ReLU it is fused
  /// into it: the convolution's output slot, allocated last, is given back, so the pre-pool
  /// activation and its gradient take one chunk of workspace (`allocateFusedWorkspaces`) instead of
  /// the whole batch.
  mutating func maxPool(_ x: Value) throws(EngineError) -> Value {
    let (h, w, c) = (x.shape[0], x.shape[1], x.shape[2])
    let shape = PoolShape(channels: c, inHeight: h, inWidth: w, kernelHeight: h == 1 ? 1 : 2, kernelWidth: 2)
    if case .conv(var conv)? = ops.last, conv.relu, conv.pool == nil, conv.output == x.slot,
      x.slot == slots.count - 1, slots[x.slot].gradOffset + x.size * maxBatch == arenaCount, shape.fits(conv.shape)
    {
      arenaCount = slots.removeLast().offset
      let y = try newSlot([shape.outHeight, shape.outWidth, c])
      conv.output = y.slot
      conv.pool = FusedPoolOp(
        shape: shape, argmax: try allocateInts([shape.outputSize, maxBatch], "the max pool indices of \(y.shape)"))
      ops[ops.count - 1] = .conv(conv)
      return y
    }
    let y = try newSlot([shape.outHeight, shape.outWidth, c])
    let argmax = try allocateInts([shape.outputSize, maxBatch], "the max pool indices of \(y.shape)")
    ops.append(.maxPool(PoolOp(input: x.slot, output: y.slot, argmax: argmax, shape: shape)))
    return y
  }

  /// The one-chunk workspaces of the fused convolution + pool ops, once the column buffer's
  /// capacity (which sets the chunks) is known.
  mutating func allocateFusedWorkspaces(colsCapacity: Int) throws(EngineError) {
    for (index, op) in ops.enumerated() {
      guard case .conv(var conv) = op, var pool = conv.pool else { continue }
      let size = [conv.shape.chunkSamples(batch: maxBatch, colsCapacity: colsCapacity), conv.shape.outputSize]
      let what = "a pooled convolution's chunk"
      pool.workspace = try allocate(size, what)
      pool.gradWorkspace = try allocate(size, what)
      conv.pool = pool
      ops[index] = .conv(conv)
    }
  }

  mutating func globalAvgPool(_ x: Value) throws(EngineError) -> Value {
    let c = x.shape.last!
    let y = try newSlot([c])
    ops.append(.globalAvgPool(input: x.slot, output: y.slot, pixels: x.size / c, channels: c))
    return y
  }

  mutating func add(_ a: Value, _ b: Value) throws(EngineError) -> Value {
    precondition(a.shape == b.shape)
    let y = try newSlot(a.shape)
    ops.append(.add(a: a.slot, b: b.slot, output: y.slot))
    return y
  }

  func flatten(_ x: Value) -> Value { Value(slot: x.slot, shape: [x.size]) }

  /// Floats for the shared im2col buffer: whole batch if small, else chunks of ≤ `colsLimit`.
  var colsCapacity: Int {
    guard colsNeeded > 0 else { return 0 }
    let chunk = max(Self.colsLimit, colsNeeded)
    let (whole, overflow) = colsNeeded.multipliedReportingOverflow(by: maxBatch)
    return overflow ? chunk : min(whole, chunk)
  }
}

extension Graph {
  /// The op list of `spec`; a model past `EngineLimits` (parameters, workspace) is an error
  /// naming the layer where it passes, before any size overflows or anything is allocated.
  static func build(_ spec: ModelSpec, maxBatch: Int) throws(EngineError) -> (Graph, output: Value) {
    var g = Graph(maxBatch: maxBatch)
    switch spec.architecture {
    case .linear:
      let x = try g.input([spec.inputSize])
      let logits = try g.head(x, spec)
      return (g, logits)
    case .mlp:
      var h = try g.input([spec.inputSize])
      for i in 1...spec.depth {
        h = try g.linear(h, spec.width, name: "fc\(i)")
        if spec.batchNorm { h = try g.batchNorm(h, name: "bn\(i)", momentum: spec.batchNormMomentum) }
        h = g.activation(h, spec.activation)
        h = try g.dropout(h, spec.dropout)
        try g.checkOps()
      }
      let logits = try g.head(h, spec)
      return (g, logits)
    case .cnn:
      let (height, width, channels) = spec.imageShape
      var h = try g.input([height, width, channels])
      var outChannels = spec.width
      for i in 1...spec.depth {
        h = try g.conv(
          h, outChannels, kernel: spec.kernelSize, stride: spec.convStride, bias: !spec.batchNorm, name: "conv\(i)")
        if spec.batchNorm { h = try g.batchNorm(h, name: "bn\(i)", momentum: spec.batchNormMomentum) }
        h = g.activation(h, spec.activation)
        if spec.pool && i < spec.depth && h.shape[1] >= 2 { h = try g.maxPool(h) }
        if i < spec.depth {
          outChannels = try Self.channels(outChannels, times: spec.channelGrowth, block: "conv\(i + 1)")
        }
        try g.checkOps()
      }
      h = spec.globalPool ? try g.globalAvgPool(h) : g.flatten(h)
      h = try g.dropout(h, spec.dropout)
      let logits = try g.head(h, spec)
      return (g, logits)
    case .resnet:
      let (height, width, channels) = spec.imageShape
      let m = spec.batchNormMomentum
      var h = try g.input([height, width, channels])
      h = try g.conv(h, spec.width, kernel: 3, stride: 1, bias: false, name: "stem.conv")
      h = try g.batchNorm(h, name: "stem.bn", momentum: m)
      h = g.activation(h, spec.activation)
      var outChannels = spec.width
      for s in 1...spec.depth {
        if s > 1 { outChannels = try Self.channels(outChannels, times: 2, block: "stage\(s)") }
        for b in 0..<spec.blocksPerStage {
          let name = "stage\(s).block\(b)"
          let stride = s > 1 && b == 0 && h.shape[1] >= 2 ? 2 : 1
          var r = try g.conv(h, outChannels, kernel: 3, stride: stride, bias: false, name: "\(name).conv1")
          r = try g.batchNorm(r, name: "\(name).bn1", momentum: m)
          r = g.activation(r, spec.activation)
          r = try g.conv(r, outChannels, kernel: 3, stride: 1, bias: false, name: "\(name).conv2")
          r = try g.batchNorm(r, name: "\(name).bn2", momentum: m)
          var shortcut = h
          if stride != 1 || h.shape[2] != outChannels {
            shortcut = try g.conv(
              h, outChannels, kernel: 1, stride: stride, bias: false, name: "\(name).shortcut.conv")
            shortcut = try g.batchNorm(shortcut, name: "\(name).shortcut.bn", momentum: m)
          }
          h = g.activation(try g.add(r, shortcut), spec.activation)
          try g.checkOps()
        }
      }
      h = try g.globalAvgPool(h)
      let logits = try g.head(h, spec)
      return (g, logits)
    }
  }

  /// A graph of more than `EngineLimits.maxOps` ops is an error, checked once per layer or block.
  func checkOps() throws(EngineError) {
    guard ops.count <= EngineLimits.maxOps else {
      throw EngineError(
        .config,
        "the model has more than \(EngineLimits.maxOps) layers (\(ops.count) ops so far); lower model.depth or"
          + " model.blocks_per_stage")
    }
  }

  /// `channels · factor`, the channels of the next block; past the parameter bound it is an error
  /// (a layer of that many channels could not be built anyway), never an overflow.
  static func channels(_ channels: Int, times factor: Int, block: String) throws(EngineError) -> Int {
    guard let next = EngineLimits.product([channels, factor], atMost: EngineLimits.maxParameters) else {
      throw EngineError(
        .config,
        "\(block) would have \(channels)×\(factor) channels, more than the model's \(EngineLimits.maxParameters)"
          + " parameters (2^28) allow; lower model.width, model.depth or model.channel_growth")
    }
    return next
  }
}
