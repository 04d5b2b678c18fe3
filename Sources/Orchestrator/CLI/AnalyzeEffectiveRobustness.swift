import ArgumentParser
import Foundation

struct AnalyzeEffectiveRobustness: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "effective-robustness",
    abstract: "OOD vs ID accuracy: the baseline line of models trained from scratch, fine-tuned models' ER (95% CI).",
    discussion: """
      The sweep's evaluation jobs are grouped by the checkpoint they evaluate: one with no shift
      override is its ID accuracy (the reference test set), one with shift.tint_test 0 its tint OOD
      accuracy, one with shift.vflip true its flip OOD accuracy. Per shift, the line
      link(OOD) = a·link(ID) + b is fitted to the checkpoints of models without train.finetune_from,
      and each fine-tuned model's effective robustness OOD − link⁻¹(a·link(ID) + b) is given with its
      95% interval (n = the test set's size).

      Example:
        orch analyze effective-robustness p300_effective_robustness --shift all --csv
      """)
  @Argument(help: "The sweep name.") var sweep: String
  @Option(help: "tint, vflip or all.") var shift = "all"
  @Option(help: "The scale of the line: probit (the paper's) or logit.") var link = "probit"
  @OptionGroup var output: AnalysisOutput

  func validate() throws {
    guard shift == "all" || EffectiveRobustnessAnalysis.Shift(rawValue: shift) != nil else {
      throw ValidationError("--shift must be tint, vflip or all")
    }
    guard AccuracyLink(rawValue: link) != nil else { throw ValidationError("--link must be probit or logit") }
  }

  func run() throws {
    let home = try OrchHome()
    let set = try AnalysisSet(store: try home.openStore(), sweep: sweep)
    let shifts =
      EffectiveRobustnessAnalysis.Shift(rawValue: shift).map { [$0] } ?? EffectiveRobustnessAnalysis.Shift.allCases
    let report = try EffectiveRobustnessAnalysis.report(set, shifts: shifts, link: AccuracyLink(rawValue: link)!)
    try output.emit(report, home: home, name: "effective-robustness-\(sweep)")
  }
}
