import Analysis
import ArgumentParser
import Foundation

struct AnalyzeGroups: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "groups",
    abstract: "Worst-group and mean-of-groups accuracy per method over seeds, and the NMI of CAML's clusters.",
    discussion: """
      Works on any sweep trained on data with {split}_bias.npy group labels: the methods are the \
      sweep's configs with the seeds (train.seed, caml.seed) and per-seed references set aside.

      Example:
        orch analyze groups p300_caml
      """)
  @Argument(help: "The sweep name.") var sweep: String
  @OptionGroup var output: AnalysisOutput

  func run() throws {
    try output.analyze(sweep, "groups") { set in GroupsAnalysis.report(set) }
  }
}
