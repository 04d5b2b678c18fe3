import Analysis
import ArgumentParser
import Engine
import Foundation
import Operations
import OrchCore
import Registry
import Store
import Worker

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
