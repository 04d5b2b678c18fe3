import Analysis
import ArgumentParser
import Foundation

struct AnalyzeCounterfactual: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "counterfactual",
    abstract:
      "Target accuracy after removing the top, bottom or random K source classes (see `orch derive counterfactual`).",
    discussion: "Example:\n  orch analyze counterfactual p310_counterfactual")
  @Argument(help: "The counterfactual sweep's name.") var sweep: String
  @Option(help: "The final metric to compare.") var metric = "test_acc"
  @OptionGroup var output: AnalysisOutput

  func run() throws {
    try output.analyze(sweep, "counterfactual") { set in Counterfactual.report(set, metric: metric) }
  }
}
