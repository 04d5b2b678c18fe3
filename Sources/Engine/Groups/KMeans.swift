#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One k-means clustering: each point's cluster, the centroids and the inertia (sum of squared
/// distances of the points to their centroid).
public struct KMeansResult: Sendable, Equatable {
  public var labels: [Int]  // [N]
  public var centroids: [Float]  // [K, D]
  public var inertia: Double
  /// Lloyd iterations of the winning restart.
  public var iterations: Int
}

/// Lloyd's k-means with greedy k-means++ seeding, as scikit-learn's `KMeans(init="k-means++",
/// algorithm="lloyd")`: each restart seeds from `RNG(seed, stream: restart)`, iterates until the
/// centroids move by at most `tolerance` × the mean per-dimension variance of the data (summed
/// squared shift) or `maxIterations`, then reassigns once; the restart with the lowest inertia
/// wins (the first on ties). Deterministic for a given seed.
public enum KMeans {
  public static func fit(
    _ points: [Float],  // [N, D]
    dimension d: Int, clusters k: Int, restarts: Int = 10, maxIterations: Int = 300, tolerance: Double = 1e-4,
    seed: UInt64
  ) -> KMeansResult {
    precondition(d > 0 && points.count % d == 0, "points do not divide into rows of \(d)")
    let n = points.count / d
    precondition(k >= 1 && k <= n, "k-means needs 1 ≤ K ≤ N (K \(k), N \(n))")
    // sklearn's tolerance: relative to the mean variance of the dimensions.
    var meanVariance = 0.0
    for j in 0..<d {
      var s = 0.0
      var q = 0.0
      for i in 0..<n {
        let v = Double(points[i * d + j])
        s += v
        q += v * v
      }
      let m = s / Double(n)
      meanVariance += max(0, q / Double(n) - m * m)
    }
    let threshold = tolerance * meanVariance / Double(d)
    let squaredNorms = (0..<n).map { i in (0..<d).reduce(Float(0)) { $0 + points[i * d + $1] * points[i * d + $1] } }
    var best: KMeansResult?
    for restart in 0..<max(1, restarts) {
      var rng = RNG(seed: seed, stream: UInt64(restart))
      let initial = plusPlus(points, squaredNorms: squaredNorms, n: n, d: d, k: k, rng: &rng)
      let result = lloyd(
        points, squaredNorms: squaredNorms, n: n, d: d, k: k, centroids: initial, maxIterations: maxIterations,
        threshold: threshold)
      if best == nil || result.inertia < best!.inertia { best = result }
    }
    return best!
  }

  /// Squared distances of every point to every centroid, ‖x‖² − 2·x·c + ‖c‖² through one GEMM,
  /// clamped at 0 (rounding).
  static func distances(
    _ points: [Float],  // [N, D]
    squaredNorms: [Float],  // [N]
    centroids: [Float],  // [K, D]
    n: Int, d: Int, k: Int
  ) -> [Float] {  // [N, K]
    var out = [Float](repeating: 0, count: n * k)
    gemm(
      transA: false, transB: true, m: n, n: k, k: d, alpha: -2, a: points, lda: d, b: centroids, ldb: d, beta: 0,
      c: &out, ldc: k)
    for c in 0..<k {
      var norm: Float = 0
      for j in 0..<d { norm += centroids[c * d + j] * centroids[c * d + j] }
      for i in 0..<n { out[i * k + c] = max(0, out[i * k + c] + squaredNorms[i] + norm) }
    }
    return out
  }

  /// Greedy k-means++: the first centre uniformly, each next one the best (lowest total squared
  /// distance) of 2 + ⌊ln K⌋ candidates drawn with probability ∝ squared distance to the
  /// nearest centre so far.
  static func plusPlus(
    _ points: [Float], squaredNorms: [Float], n: Int, d: Int, k: Int, rng: inout RNG
  ) -> [Float] {  // [K, D]
    let trials = 2 + Int(log(Double(k)))
    var centroids = [Float](repeating: 0, count: k * d)
    let first = rng.below(n)
    for j in 0..<d { centroids[j] = points[first * d + j] }
    var closest = distances(points, squaredNorms: squaredNorms, centroids: Array(centroids[0..<d]), n: n, d: d, k: 1)
    for c in 1..<max(1, k) {
      // Cumulative weights for inverse-CDF sampling.
      var cumulative = [Double](repeating: 0, count: n)
      var running = 0.0
      for i in 0..<n {
        running += Double(closest[i])
        cumulative[i] = running
      }
      var candidates: [Int] = []
      for _ in 0..<trials {
        let r = rng.uniformDouble() * running
        var (low, high) = (0, n - 1)
        while low < high {
          let mid = (low + high) / 2
          if cumulative[mid] <= r { low = mid + 1 } else { high = mid }
        }
        candidates.append(low)
      }
      var chosen = candidates[0]
      var chosenClosest = closest
      var chosenPotential = Double.infinity
      for candidate in candidates {
        let row = Array(points[(candidate * d)..<((candidate + 1) * d)])
        let dist = distances(points, squaredNorms: squaredNorms, centroids: row, n: n, d: d, k: 1)
        var merged = closest
        var total = 0.0
        for i in 0..<n {
          merged[i] = min(merged[i], dist[i])
          total += Double(merged[i])
        }
        if total < chosenPotential {
          (chosen, chosenClosest, chosenPotential) = (candidate, merged, total)
        }
      }
      for j in 0..<d { centroids[c * d + j] = points[chosen * d + j] }
      closest = chosenClosest
    }
    return centroids
  }

  static func lloyd(
    _ points: [Float], squaredNorms: [Float], n: Int, d: Int, k: Int, centroids initial: [Float],
    maxIterations: Int, threshold: Double
  ) -> KMeansResult {
    var centroids = initial  // [K, D]
    var labels = [Int](repeating: 0, count: n)
    func assign() -> [Float] {
      let dist = distances(points, squaredNorms: squaredNorms, centroids: centroids, n: n, d: d, k: k)
      for i in 0..<n {
        var bestC = 0
        for c in 1..<max(1, k) where dist[i * k + c] < dist[i * k + bestC] { bestC = c }
        labels[i] = bestC
      }
      return dist
    }
    var iterations = 0
    while iterations < maxIterations {
      let dist = assign()
      iterations += 1
      var sums = [Double](repeating: 0, count: k * d)
      var counts = [Int](repeating: 0, count: k)
      for i in 0..<n {
        counts[labels[i]] += 1
        for j in 0..<d { sums[labels[i] * d + j] += Double(points[i * d + j]) }
      }
      var next = centroids
      for c in 0..<k {
        if counts[c] == 0 {
          // An empty cluster takes the point farthest from its own centroid.
          let far = (0..<n).max { dist[$0 * k + labels[$0]] < dist[$1 * k + labels[$1]] }!
          for j in 0..<d { next[c * d + j] = points[far * d + j] }
        } else {
          for j in 0..<d { next[c * d + j] = Float(sums[c * d + j] / Double(counts[c])) }
        }
      }
      var shift = 0.0
      for i in 0..<(k * d) {
        let delta = Double(next[i] - centroids[i])
        shift += delta * delta
      }
      centroids = next
      if shift <= threshold { break }
    }
    let dist = assign()
    var inertia = 0.0
    for i in 0..<n { inertia += Double(dist[i * k + labels[i]]) }
    return KMeansResult(labels: labels, centroids: centroids, inertia: inertia, iterations: iterations)
  }
}

/// Normalised mutual information with the arithmetic-mean normaliser, as scikit-learn's default
/// `normalized_mutual_info_score`: MI / ((H(a) + H(b)) / 2) in nats; 1 when both labelings have a
/// single class, 0 when the MI is 0.
public func normalizedMutualInformation(_ a: [Int], _ b: [Int]) -> Double {
  precondition(a.count == b.count, "labelings of different lengths")
  let n = a.count
  let classesA = Array(Set(a)).sorted()
  let classesB = Array(Set(b)).sorted()
  if classesA.count == classesB.count && classesA.count <= 1 { return 1 }
  let indexA = Dictionary(uniqueKeysWithValues: classesA.enumerated().map { ($1, $0) })
  let indexB = Dictionary(uniqueKeysWithValues: classesB.enumerated().map { ($1, $0) })
  var table = [Double](repeating: 0, count: classesA.count * classesB.count)  // [A, B]
  for (x, y) in zip(a, b) { table[indexA[x]! * classesB.count + indexB[y]!] += 1 }
  let total = Double(n)
  let rows = (0..<classesA.count).map { r in (0..<classesB.count).reduce(0.0) { $0 + table[r * classesB.count + $1] } }
  let columns = (0..<classesB.count).map { c in (0..<classesA.count).reduce(0.0) { $0 + table[$1 * classesB.count + c] }
  }
  var mi = 0.0
  for r in 0..<classesA.count {
    for c in 0..<classesB.count where table[r * classesB.count + c] > 0 {
      let nij = table[r * classesB.count + c]
      mi += nij / total * log(nij * total / (rows[r] * columns[c]))
    }
  }
  mi = max(0, mi)
  if mi == 0 { return 0 }
  func entropy(_ counts: [Double]) -> Double {
    counts.reduce(0.0) { $0 - ($1 > 0 ? $1 / total * log($1 / total) : 0) }
  }
  return mi / ((entropy(rows) + entropy(columns)) / 2)
}
