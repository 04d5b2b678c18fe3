import Analysis
import ArgumentParser
import Foundation
import OrchCore

struct AnalyzeBlockShuffle: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "block-shuffle",
    abstract: "Target accuracy vs data.block_shuffle, random init vs fine-tuned from the source's final checkpoint.",
    discussion: "Example:\n  orch analyze block-shuffle p200_what_is_transferred")
  @Argument(help: "The sweep name.") var sweep: String
  @Option(help: "The final metric to compare.") var metric = "test_acc"
  @OptionGroup var output: AnalysisOutput

  func run() throws {
    try output.analyze(sweep, "block-shuffle") { set throws(OrchError) in
      try WhatIsTransferred.blockShuffle(set, metric: metric)
    }
  }
}
