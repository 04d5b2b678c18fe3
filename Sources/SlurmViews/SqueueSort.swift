import Foundation
import SlurmSyntax
import Store

/// `squeue -S/--sort`: format letters, each ascending unless a `-` comes before it (`+` undoes
/// a `-`; the last sign before a letter wins), commas optional (`-t,i` is `-ti`). The first key is
/// the primary one; jobs equal in every key keep squeue's default order. Letters squeue cannot sort
/// by, and any other character, are an error naming the character.
public enum SqueueSort {
  public struct Key: Equatable, Sendable {
    public var letter: Character
    public var descending: Bool
  }

  /// The letters squeue 22.05 sorts by (found by trying each one on the real tool).
  static let letters = Set("bcdefghijlmnptuvzBCDGHIJLMNOPQSTUV")

  public static func parse(_ spec: String) throws(SortError) -> [Key] {
    var keys: [Key] = []
    var descending = false
    for c in spec {
      switch c {
      case ",": continue
      case "-": descending = true
      case "+": descending = false
      default:
        guard letters.contains(c) else { throw SortError(character: c) }
        keys.append(Key(letter: c, descending: descending))
        descending = false
      }
    }
    return keys
  }

  public struct SortError: Error, Sendable {
    public var character: Character
    public var message: String { "squeue: error: Invalid sort specification: \(character)" }
  }

  /// The records in the order of `keys`, stable.
  public static func sorted(
    _ records: [SqueueRecord], by keys: [Key], now: Double, host: String, user: String
  ) -> [SqueueRecord] {
    guard !keys.isEmpty else { return records }
    let values = records.map { record in keys.map { value(record, $0.letter, now: now, host: host, user: user) } }
    let order = records.indices.sorted { a, b in
      for (k, key) in keys.enumerated() {
        let x = values[a][k]
        let y = values[b][k]
        if x == y { continue }
        return key.descending ? y < x : x < y
      }
      return a < b
    }
    return order.map { records[$0] }
  }

  /// A sort value: numbers and times by magnitude, states in SLURM's order, the rest as printed.
  enum Value: Comparable {
    case number(Double)
    case text(String)
  }

  static func value(_ r: SqueueRecord, _ letter: Character, now: Double, host: String, user: String) -> Value {
    let row = r.first
    func time(_ t: Double?) -> Value { .number(t ?? 0) }
    switch letter {
    case "i": return .number(Double(r.collapsed ? row.arrayID : row.id))
    case "F": return .number(Double(row.arrayID))
    case "C", "c": return .number(Double(row.cpus))
    case "D": return .number(1)
    case "p", "Q": return .number(Double(SlurmSchedule.priority(row, r.schedule)))
    case "l": return .number(row.timeLimit.map(Double.init) ?? .infinity)
    case "M":
      guard let start = row.startTime, row.state != .pending else { return .number(0) }
      return .number((row.endTime ?? now) - start)
    case "L":
      guard let limit = row.timeLimit else { return .number(.infinity) }
      let used = row.startTime.map { (row.endTime ?? now) - $0 } ?? 0
      return .number(Double(limit) - used)
    case "S": return time(row.startTime ?? r.schedule?.beginTime)
    case "V": return time(row.submitTime)
    case "e": return time(row.endTime)
    case "t", "T": return .number(Double(rank(row.state)))
    case "U": return .number(Double(getuid()))
    default: return .text(r.field(letter, now: now, host: host, user: user))
    }
  }

  /// SLURM's job state order (`enum job_states`), which squeue's default sort and `-S t` use.
  public static func rank(_ state: JobState) -> Int {
    switch state {
    case .pending: 0
    case .running: 1
    case .completed: 3
    case .cancelled: 4
    case .failed: 5
    case .timeout: 6
    case .outOfMemory: 11
    }
  }
}
