import OrchCore
import Store

extension DependencySpec {
  /// The terms as store rows, every target checked inside the submission's transaction: the job
  /// must exist, and so must every element a term names (`12_3`, each of `12_[0-99]`), so a term
  /// can never wait on, or be lifted by, an element that was never there. The one check behind
  /// `orch submit --after` and `orch sbatch --dependency` (which words any failure as SLURM's
  /// "Job dependency problem"). A range is checked against the elements it covers, never expanded.
  public func rows(in tx: Submission) throws -> [DependencyRow] {
    try terms.map { term in
      guard let id = term.jobID else {
        return DependencyRow(kind: term.kind.rawValue, targetArray: nil, targetElements: nil)
      }
      if try tx.arrayExists(Int64(id)) {
        if let elements = term.elements, let missing = try tx.firstMissingElement(array: Int64(id), range: elements) {
          throw OrchError.badInput(
            "dependency on \(term): job \(id) has no element \(missing)"
              + (elements.count > 1 ? " (of the \(elements.count) that \(id)_[\(elements)] names)" : ""))
        }
        return DependencyRow(
          kind: term.kind.rawValue, targetArray: Int64(id), targetElements: term.elements,
          delayMinutes: term.delayMinutes)
      }
      // A plain id may name one element by its own job id (`13` for element 1 of array 12).
      if term.elements == nil, let owner = try tx.arrayOf(job: Int64(id)) {
        return DependencyRow(
          kind: term.kind.rawValue, targetArray: owner.array, targetIndex: owner.index,
          delayMinutes: term.delayMinutes)
      }
      throw OrchError.badInput("dependency on job \(term) which does not exist")
    }
  }
}
