import ArgumentParser
import Foundation

struct Analyze: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Analyses of the seed papers over the store: a table (terminal, --csv, --json) and a plot (SVG, PNG).",
    discussion: """
      Each reads the completed jobs of a sweep (the newest job of each key) and writes its plot to \
      --plot (default $ORCH_HOME/analysis/<analysis>-<sweep>.svg, plus .png where rsvg-convert or \
      ImageMagick is installed).

      Examples:
        orch analyze bias-transfer p200_bias_transfer
        orch analyze block-shuffle p200_what_is_transferred --csv > blocks.csv
        orch analyze trajectory p200_what_is_transferred --json
        orch analyze interpolate train/digits_rgb/cnn/finetune-lr0.02/seed0 \\
          train/digits_rgb/cnn/finetune-lr0.02/seed1
      """,
    subcommands: [
      AnalyzeBiasTransfer.self, AnalyzeInterpolate.self, AnalyzeBlockShuffle.self, AnalyzeTrajectory.self,
      AnalyzeInfluence.self, AnalyzeCounterfactual.self, AnalyzeGroups.self, AnalyzeEffectiveRobustness.self,
    ])
}
