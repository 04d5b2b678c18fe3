import ArgumentParser
import Foundation
import OrchCore
import Registry
import SlurmSyntax

struct Show: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a config's resolved bindings and command.",
    discussion: "Example:\n  orch show train/digits/mlp/randinit-lr0.1")

  @Argument(help: "The config key.") var key: String
  @Option(help: "The sweeps directory (or one sweep file).") var sweeps: String = "sweeps"
  @Flag(help: "Print the canonical JSON instead.") var json = false

  func run() throws {
    let registry = try Registry.load(path: sweeps)
    guard let config = registry.configs.first(where: { $0.key == key }) else {
      let near = registry.configs.map(\.key).filter { $0.contains(key) || key.contains($0) }.prefix(5)
      throw OrchError.badInput(
        "no config '\(key)' in \(sweeps)" + (near.isEmpty ? "" : "; similar: " + near.joined(separator: ", ")))
    }
    if json {
      Output.print(config.canonicalJSON + "\n")
      return
    }
    var text = "key: \(config.key)\nfile: \(config.file) (\(config.location))\nhash: \(config.hash)\nbindings:\n"
    for line in BindingsCommand.resolved(config) { text += "  \(line)\n" }
    switch config.kind {
    case .command(let argv, let env):
      text += "command: \(argv.map(Self.quote).joined(separator: " "))\n"
      for name in env.keys.sorted() { text += "env: \(name)=\(env[name]!)\n" }
    case .engine(let name):
      text += "engine: \(name)\n"
    }
    let r = config.resources
    text += "resources: cpus=\(r.cpus) time=\(r.timeLimit.map { TimeFormat.sacctElapsed($0) } ?? "UNLIMITED") "
    text +=
      "mem=\(r.memLimit.map { "\($0 / 1_048_576)M" } ?? "unlimited") max_attempts=\(r.maxAttempts) priority=\(r.priority)\n"
    Output.print(text)
  }

  static func quote(_ s: String) -> String {
    s.isEmpty || s.contains(where: { " \"'$\\".contains($0) })
      ? "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" : s
  }
}
