import Analysis
import ArgumentParser
import Foundation
import OrchCore

struct AnalyzeTrajectory: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "trajectory",
    abstract: "Target accuracy when fine-tuning from each source checkpoint E000…E_final (unshuffled data).",
    discussion: "Example:\n  orch analyze trajectory p200_what_is_transferred")
  @Argument(help: "The sweep name.") var sweep: String
  @Option(help: "The final metric to compare.") var metric = "test_acc"
  @OptionGroup var output: AnalysisOutput

  func run() throws {
    try output.analyze(sweep, "trajectory") { set throws(OrchError) in
      try WhatIsTransferred.trajectory(set, metric: metric)
    }
  }
}
