import Foundation

/// CAML's cluster-aware margins (Basu et al., "Mitigating Biases in Blackbox Feature Extractors
/// for Image Classification Tasks"), prepared once before training:
///
/// 1. the reference (ERM) model of `caml.reference` runs on the training inputs; its head's input
///    (the post-activation hidden features) is L2-normalised per sample;
/// 2. k-means (`caml.clusters` K, `caml.restarts` k-means++ restarts seeded by `caml.seed`,
///    lowest inertia) clusters them;
/// 3. the margin table is P(y = j | cluster) from the training labels.
///
/// Each training step then gives sample i (cluster c, label y) the angular margin
/// m = 1 − (P[c, y] + σ·ε), ε ~ N(0, 1) drawn afresh per sample and step: "N(P, σ)" is a Gaussian
/// *draw* with mean P and standard deviation σ (`torch.normal(mean=P, std=σ)` in the published
/// code), not a kernel value. A sample typical of its cluster (P near 1) gets a small margin, one
/// whose label is rare in its cluster (P near 0) a margin near 1 rad. With `caml.margin_on: all`
/// every class j gets m_j = 1 − (P[c, j] + σ·ε_j), as the published code applies it.
public struct CAMLMargins: Sendable {
  public let clusterCount: Int
  public let classes: Int
  /// k-means cluster of each training sample.
  public let clusters: [Int]  // [N train]
  /// P(y = j | cluster c) at [c, j]; a cluster without samples (impossible after k-means) is uniform.
  public let table: [Float]  // [K, classes]
  public let inertia: Double
  /// NMI of the clusters with the training targets and (when present) bias labels (samples with
  /// bias ≥ 0).
  public let nmiTarget: Double
  public let nmiBias: Double?
  public let sigma: Float
  public let marginOn: MarginTarget
  /// Which checkpoint the features came from.
  public let referencePath: String

  /// The reference model's L2-normalised head inputs for every sample of `split`.
  public static func features(of model: Model, split: Split, sampleSize: Int) -> [Float] {  // [N, H]
    let h = model.headInputSize
    var out = [Float](repeating: 0, count: split.count * h)
    var unused = RNG(seed: 0)
    var norms = [Float](repeating: 0, count: model.maxBatch)
    split.inputs.withUnsafeBufferPointer { x in
      out.withUnsafeMutableBufferPointer { o in
        var start = 0
        while start < split.count {
          let m = min(model.maxBatch, split.count - start)
          model.forward(input: x.baseAddress! + start * sampleSize, batch: m, training: false, rng: &unused)
          let rows = o.baseAddress! + start * h
          model.copyHeadInput(to: rows)
          norms.withUnsafeMutableBufferPointer {
            normalizeRows(rows, norms: $0.baseAddress!, rows, rows: m, columns: h)
          }
          start += m
        }
      }
    }
    return out
  }

  /// Loads the reference model named by `config.camlReference`, clusters its features of
  /// `dataset.train` and builds the table.
  public static func prepare(config: TrainConfig, dataset: Dataset) throws(EngineError) -> CAMLMargins {
    let path = try Evaluator.resolve(config.camlReference, binding: "caml.reference")
    let context = "loading caml.reference \(path)"
    let file = try rethrowingEngineError(context) { () throws -> SafeTensorsFile in
      let file = try SafeTensors.read(path)
      return file.metadata["format"] == Checkpoint.format ? try Checkpoint.read(path) : file
    }
    let bindings = try Evaluator.sourceBindings(file, path: path)
    let reference = try rethrowingEngineError(context) {
      try EngineSchema.validate(bindings.filter { EngineSchema.isEngineName($0.key) && !$0.key.hasPrefix("eval.") })
    }
    let spec = reference.modelSpec(inputShape: dataset.sampleShape, classes: dataset.classes)
    var unusedInit = RNG(seed: 0)
    let model = try rethrowingEngineError(context) { () throws -> Model in
      let model = try Model(spec: spec, maxBatch: max(1, min(512, dataset.train.count)), rng: &unusedInit)
      try model.load(file.tensors)
      return model
    }
    let k = config.camlClusters
    let n = dataset.train.count
    guard k <= n else {
      throw EngineError(.config, "caml.clusters \(k) exceeds the \(n) training samples")
    }
    for (what, columns) in [("reference model's features", model.headInputSize), ("k-means distances", k)]
    where EngineLimits.product([n, columns], atMost: EngineLimits.maxWorkspaceElements) == nil {
      throw EngineError(
        .config,
        "the \(what) of the \(n) training samples (\(n)×\(columns)) pass \(EngineLimits.maxWorkspaceBytes >> 30) GiB")
    }
    let feats = features(of: model, split: dataset.train, sampleSize: dataset.sampleSize)
    let fit = KMeans.fit(
      feats, dimension: model.headInputSize, clusters: k, restarts: config.camlRestarts, seed: config.camlSeed)
    let c = dataset.classes
    var counts = [Float](repeating: 0, count: k * c)
    for (cluster, label) in zip(fit.labels, dataset.train.labels) { counts[cluster * c + label] += 1 }
    var table = counts
    for row in 0..<k {
      let total = counts[(row * c)..<((row + 1) * c)].reduce(0, +)
      for j in 0..<c { table[row * c + j] = total > 0 ? counts[row * c + j] / total : 1 / Float(c) }
    }
    return CAMLMargins(
      clusterCount: k, classes: c, clusters: fit.labels, table: table, inertia: fit.inertia,
      nmiTarget: normalizedMutualInformation(fit.labels, dataset.train.labels),
      nmiBias: dataset.train.bias.map { bias in
        // Samples without a group (bias −1) are left out, as from the group accuracies.
        let kept = bias.indices.filter { bias[$0] >= 0 }
        return normalizedMutualInformation(kept.map { fit.labels[$0] }, kept.map { bias[$0] })
      }, sigma: Float(config.camlSigma),
      marginOn: config.camlMarginOn, referencePath: path)
  }

  /// Margins of one batch: samples `indices` (training-set indices) with `labels`; `rng` draws
  /// the Gaussian noise.
  public func fill(
    _ margins: UnsafeMutablePointer<Float>,  // [B, classes]
    indices: ArraySlice<Int>,  // [B]
    labels: UnsafePointer<Int>,  // [B]
    rng: inout RNG
  ) {
    for (b, i) in indices.enumerated() {
      let row = margins + b * classes
      let p = table[(clusters[i] * classes)...]
      switch marginOn {
      case .target:
        row.update(repeating: 0, count: classes)
        let y = labels[b]
        row[y] = 1 - (p[p.startIndex + y] + sigma * rng.normal())
      case .all:
        for j in 0..<classes { row[j] = 1 - (p[p.startIndex + j] + sigma * rng.normal()) }
      }
    }
  }

  /// "P(y|cluster): c0 [0.95 0.05] (2400) c1 …" for the log.
  public var summary: String {
    (0..<clusterCount).map { cl in
      let row = (0..<classes).map { String(format: "%.3f", table[cl * classes + $0]) }.joined(separator: " ")
      return "c\(cl) [\(row)] (\(clusters.filter { $0 == cl }.count))"
    }.joined(separator: " ")
  }
}
