import Analysis
import ArgumentParser
import Foundation
import OrchCore

struct AnalyzeInfluence: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "influence",
    abstract: "Class × target-example influences of the sources' classes, saved as .npy, with the class order as CSV.",
    discussion: """
      The sweep's training jobs on --target that were fine-tuned from a source; each source's \
      classes come from its data.class_subset_seed / data.classes / data.exclude_classes. Writes \
      influence.npy (float32 [classes, target test examples]) and order.csv (rank, class, mean \
      influence; most positive first) to --out (default $ORCH_HOME/analysis/influence-SWEEP-TARGET).

      Example:
        orch analyze influence p300_influence --target digits_rgb
      """)
  @Argument(help: "The sweep name.") var sweep: String
  @Option(help: "The target dataset (data.name of the transferred models).") var target: String
  @Option(help: "Per-example value: margin (correct logit − best other) or correct (0/1).") var value = "margin"
  @Option(help: "Directory for influence.npy and order.csv.") var out: String?
  @OptionGroup var output: AnalysisOutput

  func run() throws {
    guard let kind = InfluenceAnalysis.Value(rawValue: value) else {
      throw OrchError.badInput("--value must be margin or correct, not '\(value)'")
    }
    let home = try OrchHome()
    let set = try AnalysisSet(store: try home.openStore(), sweep: sweep)
    let result = try InfluenceAnalysis.compute(set, target: target, value: kind)
    var directory = out ?? home.path + "/analysis/influence-\(sweep)-\(target)"
    if !directory.hasPrefix("/") { directory = FileManager.default.currentDirectoryPath + "/" + directory }
    let files = try InfluenceAnalysis.write(result, to: directory)
    try output.emit(
      InfluenceAnalysis.report(set, target: target, value: kind, result: result), home: home,
      name: "influence-\(sweep)-\(target)")
    FileHandle.standardError.write(Data("wrote \(files.joined(separator: ", "))\n".utf8))
  }
}
