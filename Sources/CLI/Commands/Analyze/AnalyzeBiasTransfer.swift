import Analysis
import ArgumentParser
import Foundation
import OrchCore

struct AnalyzeBiasTransfer: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bias-transfer",
    abstract: "Does a source's backdoor survive transfer? Patched vs clean prediction rates per source × transfer.",
    discussion: """
      The sweep's evaluation jobs that patch the test set (spurious.type square|gaussian) are \
      matched with the model they evaluate and that model's source (train.finetune_from; a source \
      trained without spurious.type is `clean`; transfer `none` is a model evaluated on its own \
      task: a source itself, or a target's scratch control).

      Example:
        orch analyze bias-transfer p200_bias_transfer
      """)
  @Argument(help: "The sweep name (see `orch history`).") var sweep: String
  @OptionGroup var output: AnalysisOutput

  func run() throws {
    try output.analyze(sweep, "bias-transfer") { set throws(OrchError) in try BiasTransfer.report(set) }
  }
}
