import OrchCore

/// A job id as typed to `scancel`, `scontrol` or `orch cancel`: `12` (the job, or every element
/// of array 12), `12_3` (one element), `12_[1-3,5]` (several elements).
public enum JobSelector: Sendable, Hashable, CustomStringConvertible {
  case job(Int)
  /// Array id and its selected indices, sorted and unique.
  case elements(Int, [Int])

  public static func parse(_ s: String) throws(OrchError) -> JobSelector {
    let text = SlurmText.trimmed(s)
    if text.isEmpty {
      throw .badInput("empty job id; expected 12, 12_3 or 12_[1-3,5]")
    }
    let (idText, rest) = SlurmText.splitOnce(text, "_")
    let stepParts = idText.split(separator: ".", omittingEmptySubsequences: false)
    if stepParts.count == 2 && stepParts.allSatisfy({ SlurmText.isDigits($0) }) {
      throw .badInput("job id '\(text)' names a job step; steps are not supported, expected 12, 12_3 or 12_[1-3,5]")
    }
    let id = try jobID(idText, in: text, what: "job id")
    guard let rest else { return .job(id) }
    if rest.isEmpty {
      throw .badInput("job id '\(text)' has nothing after '_'; expected an index such as 12_3 or 12_[1-3,5]")
    }
    if rest.hasPrefix("[") {
      guard rest.hasSuffix("]"), rest.count >= 2 else {
        throw .badInput("job id '\(text)' has a malformed bracket list; expected 12_[1-3,5]")
      }
      let inner = String(rest.dropFirst().dropLast())
      if inner.contains("%") {
        throw .badInput(
          "job id '\(text)' has a '%' throttle; a throttle belongs to sbatch --array, expected 12_[1-3,5]")
      }
      if inner.contains("[") || inner.contains("]") {
        throw .badInput("job id '\(text)' has nested brackets; expected 12_[1-3,5]")
      }
      let indices = try ArraySpec.parseIndexList(inner, whole: text, label: "job id")
      return .elements(id, indices)
    }
    guard SlurmText.isDigits(rest), let index = Int(rest) else {
      throw .badInput(
        "job id '\(text)' has array index '\(rest)'; expected a whole number ≥ 0 (12_3) or a bracket list (12_[1-3,5])")
    }
    return .elements(id, [index])
  }

  public var jobID: Int {
    switch self {
    case .job(let id), .elements(let id, _): id
    }
  }

  /// `12`, `12_3`, or `12_[1-3,5]`; parses back to `self`.
  public var description: String {
    switch self {
    case .job(let id): "\(id)"
    case .elements(let id, let indices) where indices.count == 1: "\(id)_\(indices[0])"
    case .elements(let id, let indices): "\(id)_[\(ArraySpec.compress(indices))]"
    }
  }

  /// SLURM job ids start at 1; 0 is never a job.
  static func jobID(_ text: String, in whole: String, what: String) throws(OrchError) -> Int {
    if text.isEmpty {
      throw .badInput("\(what) '\(whole)' has no job number; expected a whole number ≥ 1 such as 12")
    }
    if text.hasPrefix("-") {
      throw .badInput("\(what) '\(whole)' is negative; job ids are whole numbers ≥ 1")
    }
    guard SlurmText.isDigits(text) else {
      throw .badInput("\(what) '\(whole)' is not a job id; expected a whole number ≥ 1 such as 12")
    }
    guard let id = Int(text) else {
      throw .badInput("\(what) '\(whole)' is too large for a job id")
    }
    if id == 0 {
      throw .badInput("\(what) '\(whole)' is 0; job ids start at 1")
    }
    return id
  }
}
