/// Accuracy per group, a group being a (label, bias) pair: what `*_worst_group_acc` (the lowest
/// group accuracy) and `*_mean_group_acc` (the unweighted mean over the groups present) report.
/// Samples with a negative bias label belong to no group.
public struct GroupAccuracy: Sendable, Equatable {
  /// (label, bias) → (correct, total).
  public private(set) var tallies: [GroupKey: (correct: Int, total: Int)] = [:]

  public struct GroupKey: Sendable, Hashable, Comparable {
    public var label: Int
    public var bias: Int

    public static func < (a: GroupKey, b: GroupKey) -> Bool { (a.label, a.bias) < (b.label, b.bias) }
  }

  public init() {}

  public mutating func add(label: Int, bias: Int, correct: Bool) {
    guard bias >= 0 else { return }
    let key = GroupKey(label: label, bias: bias)
    var t = tallies[key] ?? (0, 0)
    t.total += 1
    if correct { t.correct += 1 }
    tallies[key] = t
  }

  /// Accuracy of each group present, in (label, bias) order.
  public var accuracies: [(group: GroupKey, accuracy: Double)] {
    tallies.keys.sorted().map { ($0, Double(tallies[$0]!.correct) / Double(tallies[$0]!.total)) }
  }

  public var worst: Double? { accuracies.map(\.accuracy).min() }

  public var mean: Double? {
    let a = accuracies.map(\.accuracy)
    return a.isEmpty ? nil : a.reduce(0, +) / Double(a.count)
  }

  public static func == (a: GroupAccuracy, b: GroupAccuracy) -> Bool {
    a.tallies.keys == b.tallies.keys && a.tallies.allSatisfy { b.tallies[$0.key]! == $0.value }
  }
}
