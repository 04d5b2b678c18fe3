import ArgumentParser
import Engine
import Foundation
import Store
import Worker

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
        orch analyze interpolate train/digits_rgb/cnn/finetune-lr0.02/seed0 train/digits_rgb/cnn/finetune-lr0.02/seed1
      """,
    subcommands: [
      AnalyzeBiasTransfer.self, AnalyzeInterpolate.self, AnalyzeBlockShuffle.self, AnalyzeTrajectory.self,
      AnalyzeInfluence.self, AnalyzeCounterfactual.self, AnalyzeGroups.self, AnalyzeEffectiveRobustness.self,
    ])
}

/// Output options shared by the analyses.
struct AnalysisOutput: ParsableArguments {
  @Flag(help: "Print the table as CSV.") var csv = false
  @Flag(help: "Print the table, summary and notes as JSON.") var json = false
  @Option(help: "Where the plot goes (.svg; a .png is written beside it when a converter is installed).")
  var plot: String?
  @Flag(name: .customLong("no-plot"), help: "Do not draw the plot.") var noPlot = false

  func validate() throws {
    if csv && json { throw ValidationError("give at most one of --csv and --json") }
  }

  /// Reads the sweep, builds the analysis's report and prints it (and its plot).
  func analyze(_ sweep: String, _ analysis: String, _ build: (AnalysisSet) throws(OrchError) -> Report)
    throws(OrchError)
  {
    let home = try OrchHome()
    let set = try AnalysisSet(store: try home.openStore(), sweep: sweep)
    try emit(try build(set), home: home, name: "\(analysis)-\(sweep)")
  }

  func emit(_ report: Report, home: OrchHome, name: String) throws(OrchError) {
    if csv {
      Output.print(report.csv())
    } else if json {
      Output.print(report.json())
    } else {
      Output.print(report.text())
    }
    guard !noPlot, !report.charts.isEmpty else { return }
    let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    var path = plot ?? home.path + "/analysis/\(safe).svg"
    if !path.hasPrefix("/") { path = FileManager.default.currentDirectoryPath + "/" + path }
    let written = try Chart.write(report.charts, to: path)
    FileHandle.standardError.write(Data("plot: \(written.joined(separator: ", "))\n".utf8))
  }
}

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

struct AnalyzeInterpolate: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "interpolate",
    abstract: "Loss and accuracy along θ(α) = (1−α)θ_A + αθ_B, as evaluation jobs; the barrier height.",
    discussion: """
      KEY_A and KEY_B are trained configs in the store (KEY means KEY@final; KEY@E010 names an \
      epoch). The evaluations are queued as sweep `interpolate` (keys interp/A/vs/B/alphaα); \
      those already completed are reused, so a second run only reads. Waits for them unless \
      --no-wait.

      Example:
        orch analyze interpolate train/glyphs_heldout/cnn/finetune-lr0.02/seed0 train/glyphs_heldout/cnn/finetune-lr0.02/seed1
      """)
  @Argument(help: "The first model: KEY or KEY@E###.") var a: String
  @Argument(help: "The second model.") var b: String
  @Option(help: "Points on the α grid, 0 and 1 included.") var points = 25
  @Flag(name: .customLong("no-wait"), help: "Queue the evaluations and return.") var noWait = false
  @OptionGroup var output: AnalysisOutput

  func validate() throws {
    guard (3...1001).contains(points) else { throw ValidationError("--points must be between 3 and 1001") }
  }

  static func reference(_ text: String) -> String {
    CheckpointReference.parse(text) == nil ? text + "@final" : text
  }

  /// The data set the model of `reference` (KEY@…) was trained on, for the charts' titles.
  static func dataset(of reference: String, store: JobStore) -> String? {
    let key = String(reference.prefix { $0 != "@" })
    guard let id = try? store.newestJob(key: key), let job = try? store.resultJobs(ids: [id]).first else { return nil }
    if case .string(let name)? = ResultsTable.bindings(job.config)["data.name"] { return name }
    if case .string(let name)? = EngineSchema.bindings.first(where: { $0.name == "data.name" })?.defaultValue {
      return name
    }
    return nil
  }

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    let refA = Self.reference(a)
    let refB = Self.reference(b)
    let alphas = Interpolation.alphas(points: points)
    let at = SourceLocation(file: "<orch analyze interpolate>", line: 1, column: 1)
    let configs = alphas.map { alpha in
      ConfigSpec(
        key: "interp/\(refA)/vs/\(refB)/alpha\(BindingValue.double(alpha).templateText)", file: "interpolate",
        bindings: [
          "eval.checkpoint": .string(refA), "eval.checkpoint_b": .string(refB), "eval.alpha": .double(alpha),
        ], kind: .engine("eval"), location: at)
    }
    let selection = Submitter.Selection(configs: configs, indices: nil)
    try EngineBindings.check(selection)
    let submitter = Submitter(store: store, outputRoot: home.defaultOutputRoot, force: false)
    let launch = LaunchSpec(
      env: ProcessInfo.processInfo.environment, cwd: FileManager.default.currentDirectoryPath,
      submitHost: ProcessInfo.processInfo.hostName)
    let result = try submitter.submit(
      sweep: "interpolate", source: "orch analyze interpolate", selected: selection, throttle: nil, dependency: nil,
      overrides: Submitter.Overrides(), launch: launch)
    if !result.jobs.isEmpty {
      FileHandle.standardError.write(
        Data(
          "queued \(result.jobs.count) evaluation(s) of \(configs.count) (the rest already completed): sweep interpolate\n"
            .utf8))
      try DaemonClient.ensureRunning(home)
      if noWait { return }
      _ = try Progress.wait(store: store, result: result, home: home, summaryToStderr: true)
    }
    let keys = Set(configs.map(\.key))
    let jobs = try storeCall { () throws(StoreError) in try store.storedJobs(JobFilter(sweep: "interpolate")) }
    var newest: [String: StoredJob] = [:]
    for j in jobs where keys.contains(j.row.key) && (newest[j.row.key]?.row.id ?? -1) < j.row.id {
      newest[j.row.key] = j
    }
    var points: [Interpolation.Point] = []
    var missing: [Double] = []
    for (alpha, config) in zip(alphas, configs) {
      if let j = newest[config.key], j.row.state == .completed, let loss = j.metrics["test_loss"],
        let acc = j.metrics["test_acc"]
      {
        points.append(Interpolation.Point(alpha: alpha, loss: loss, accuracy: acc))
      } else {
        missing.append(alpha)
      }
    }
    let report = Interpolation.report(
      a: refA, b: refB, points: points, missing: missing, dataset: Self.dataset(of: refA, store: store))
    try output.emit(report, home: home, name: "interpolate-\(refA)-vs-\(refB)")
    if points.isEmpty { throw ExitCode(1) }
  }
}

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
