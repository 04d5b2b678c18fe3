import Analysis
import ArgumentParser
import Foundation
import OrchCore

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
  @Option(help: "tint, vflip or all.") var shift = ShiftChoice.all
  @Option(help: "The scale of the line: probit (the paper's) or logit.") var link = AccuracyLink.probit
  @OptionGroup var output: AnalysisOutput

  func run() throws {
    let home = try OrchHome()
    let set = try AnalysisSet(store: try home.openStore(), sweep: sweep)
    let report = try EffectiveRobustnessAnalysis.report(set, shifts: shift.shifts, link: link)
    try output.emit(report, home: home, name: "effective-robustness-\(sweep)")
  }
}
