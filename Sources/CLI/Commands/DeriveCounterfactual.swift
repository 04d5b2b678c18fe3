import Analysis
import ArgumentParser
import Foundation
import OrchCore
import Registry

struct DeriveCounterfactual: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "counterfactual",
    abstract:
      "Retrain the source without the top, bottom or random K classes of an influence ordering, and transfer it.",
    discussion: """
      Writes a sweep file (default sweeps/p310_counterfactual.yaml) with, per seed, the sweep's \
      source config on every class but the K removed (data.exclude_classes) and its transfer to \
      --target, plus a baseline with nothing removed; submit it, then `orch analyze counterfactual`.

      Example:
        orch analyze influence p300_influence --target digits_rgb --out influence/
        orch derive counterfactual p300_influence --target digits_rgb --order influence/order.csv --k 8:24:8 --remove all
        orch submit sweeps/p310_counterfactual.yaml --wait && orch analyze counterfactual p310_counterfactual
      """)
  @Argument(help: "The influence sweep's name.") var sweep: String
  @Option(help: "The target dataset (data.name of the transferred models).") var target: String
  @Option(help: "The class order: order.csv of `orch analyze influence`.") var order: String
  @Option(help: "How many classes to remove: K or MIN:MAX:STEP.") var k: String
  @Option(help: "top, bottom, random, or all three.") var remove = "all"
  @Option(help: "Training seeds per config (random removal draws a new set per seed).") var seeds = 2
  @Option(help: "The sweep file to write.") var out = "sweeps/p310_counterfactual.yaml"
  @Flag(help: "Overwrite --out if it exists.") var force = false

  func run() throws {
    let removals: [Counterfactual.Removal]
    if remove == "all" {
      removals = Counterfactual.Removal.allCases
    } else {
      removals = try remove.split(separator: ",").map { name throws(OrchError) in
        guard let r = Counterfactual.Removal(rawValue: String(name)) else {
          throw OrchError.badInput("--remove '\(name)': expected top, bottom, random or all")
        }
        return r
      }
    }
    guard seeds >= 1 else { throw OrchError.badInput("--seeds must be at least 1") }
    if FileManager.default.fileExists(atPath: out) && !force {
      throw OrchError.badInput("\(out) exists; --force overwrites it")
    }
    let home = try OrchHome()
    let set = try AnalysisSet(store: try home.openStore(), sweep: sweep)
    guard
      let model = set.jobs.first(where: {
        $0.engine == "train" && $0.string("data.name") == target && $0.string("train.finetune_from") != nil
      }), let source = try set.source(of: model)?.job
    else {
      throw OrchError.badInput(
        "no completed training job of sweep '\(sweep)' on '\(target)' was fine-tuned from a source")
    }
    let classes = try InfluenceAnalysis.sourceClasses(source)
    let ranking = try Counterfactual.readOrder(order, classes: classes)
    let ks = try Counterfactual.parseK(k, classes: classes)
    // Written into a YAML comment: a newline in an argument must not start a line of YAML.
    let command = UserText.escaped((["orch"] + CommandLine.arguments.dropFirst()).joined(separator: " "))
    let (text, count) = try Counterfactual.sweepFile(
      set,
      Counterfactual.Options(
        sweep: sweep, target: target, order: ranking, ks: ks, removals: removals, seeds: seeds, command: command))
    // What is written must load: the registry checks it as it would any sweep file, before it
    // takes the place of --out.
    let temporary = out + ".tmp"
    do {
      let directory = (out as NSString).deletingLastPathComponent
      if !directory.isEmpty {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      }
      try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
    } catch {
      throw OrchError.failure("cannot write \(out): \(error)")
    }
    let registry: Registry
    do { registry = try Registry.load(path: temporary) } catch {
      try? FileManager.default.removeItem(atPath: temporary)
      throw error
    }
    guard rename(temporary, out) == 0 else {
      throw OrchError.failure("cannot write \(out): \(String(cString: strerror(errno)))")
    }
    Output.print(Registry.listing(registry.configs, regex: ""))
    FileHandle.standardError.write(Data("wrote \(count) configs to \(out)\n".utf8))
  }
}
