import OrchCore

/// Class influences of the data-based transfer paper (Jain et al.): M source models, model m
/// trained on the classes where `masks[m, c]` is true, each transferred to a target task with a
/// per-target-example value `f[m, t]` (margin or correctness). The influence of source class c on
/// target example t is
///
///     I[c, t] = mean(f[m, t] over m with masks[m, c]) − mean(f[m, t] over m without it),
///
/// computed in Double by summing over models in order. A class present in every model or in none
/// has no influence to estimate: that is an error naming it, rather than a NaN that would
/// silently spread into every average over classes.
struct InfluenceMatrix: Sendable, Equatable {
  let classes: Int
  let targets: Int
  /// I[c, t].
  let values: [Double]  // [classes, targets]

  /// `masks` [models, classes] and `f` [models, targets], row-major.
  init(masks: [Bool], values f: [Double], models: Int, classes: Int, targets: Int) throws(OrchError) {
    guard models > 0, classes > 0, targets > 0 else {
      throw .badInput("influences need at least one model, class and target (got \(models), \(classes), \(targets))")
    }
    guard masks.count == models * classes else {
      throw .badInput("class masks hold \(masks.count) entries, expected \(models) models × \(classes) classes")
    }
    guard f.count == models * targets else {
      throw .badInput("values hold \(f.count) entries, expected \(models) models × \(targets) targets")
    }
    var with = [Double](repeating: 0, count: classes * targets)  // [classes, targets]: Σ f over models with c
    var without = [Double](repeating: 0, count: classes * targets)  // [classes, targets]: Σ f over models without c
    var present = [Int](repeating: 0, count: classes)  // [classes]
    for m in 0..<models {
      let row = m * targets
      for c in 0..<classes {
        let out = c * targets
        if masks[m * classes + c] {
          present[c] += 1
          for t in 0..<targets { with[out + t] += f[row + t] }
        } else {
          for t in 0..<targets { without[out + t] += f[row + t] }
        }
      }
    }
    let always = (0..<classes).filter { present[$0] == models }
    let never = (0..<classes).filter { present[$0] == 0 }
    guard always.isEmpty && never.isEmpty else {
      var parts: [String] = []
      if !always.isEmpty { parts.append("in every model: classes \(always)") }
      if !never.isEmpty { parts.append("in no model: classes \(never)") }
      throw .badInput(
        "influence is undefined for a class in every model or in none (\(parts.joined(separator: "; "))"
          + " of \(models) models); train more models or leave those classes out")
    }
    var values = [Double](repeating: 0, count: classes * targets)
    for c in 0..<classes {
      let (n1, n0) = (Double(present[c]), Double(models - present[c]))
      for t in 0..<targets { values[c * targets + t] = with[c * targets + t] / n1 - without[c * targets + t] / n0 }
    }
    self.classes = classes
    self.targets = targets
    self.values = values
  }

  /// `masks[m][c]` and `f[m][t]` as nested arrays (every row the same length).
  init(masks: [[Bool]], values f: [[Double]]) throws(OrchError) {
    guard masks.count == f.count else {
      throw .badInput("\(masks.count) class masks but \(f.count) rows of values: one of each per model")
    }
    let classes = masks.first?.count ?? 0
    let targets = f.first?.count ?? 0
    guard masks.allSatisfy({ $0.count == classes }), f.allSatisfy({ $0.count == targets }) else {
      throw .badInput("class masks (or value rows) of different lengths")
    }
    try self.init(
      masks: masks.flatMap { $0 }, values: f.flatMap { $0 }, models: masks.count, classes: classes, targets: targets)
  }

  /// The [models, classes] masks of models that trained on the class ids in `kept[m]` (e.g.
  /// `Engine.ClassSubset.randomHalf(classes:seed:)` of each model's `data.class_subset_seed`).
  static func masks(kept: [[Int]], classes: Int) throws(OrchError) -> [Bool] {
    var masks = [Bool](repeating: false, count: kept.count * classes)  // [models, classes]
    for (m, ids) in kept.enumerated() {
      for c in ids {
        guard c >= 0 && c < classes else { throw .badInput("model \(m) lists class \(c), outside 0..<\(classes)") }
        masks[m * classes + c] = true
      }
    }
    return masks
  }

  func influence(of c: Int, on t: Int) -> Double { values[c * targets + t] }

  /// Each class's influence averaged over `targets` (all when nil), in Double. [classes]
  func meanInfluence(over subset: [Int]? = nil) -> [Double] {
    let ts = subset ?? Array(0..<targets)
    return (0..<classes).map { c in ts.reduce(0.0) { $0 + values[c * targets + $1] } / Double(max(1, ts.count)) }
  }

  /// Classes from the most positive mean influence to the most negative (ties by class id): the
  /// counterfactual removes the first K ("top") or the last K ("bottom").
  func classOrder(over subset: [Int]? = nil) -> [Int] {
    let mean = meanInfluence(over: subset)
    return (0..<classes).sorted { mean[$0] != mean[$1] ? mean[$0] > mean[$1] : $0 < $1 }
  }
}
