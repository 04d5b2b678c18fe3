import ArgumentParser
import Engine
import Foundation
import OrchCore
import Registry

struct BindingsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bindings",
    abstract: "List the engine's bindings: type, default, allowed values and meaning.",
    discussion: """
      Generated from the engine's schema, as docs/bindings.md is (`--markdown` prints that page).
      Examples:
        orch bindings                  every binding
        orch bindings '^optimizer\\.'   one namespace
        orch bindings 'learning rate'  the regex is searched in names and meanings
        orch bindings --json
      """)

  @Argument(help: "A Python regex searched in each binding's name and meaning (default: every binding).")
  var regex: String?
  @Flag(help: "Print JSON: an array of {name, type, default, allowed, choices, meaning, engines}.") var json = false
  @Flag(help: "Print docs/bindings.md (every binding, grouped by namespace).") var markdown = false

  func run() throws {
    if markdown {
      guard regex == nil, !json else {
        throw OrchError.badInput("--markdown prints every binding; it takes no regex and no --json")
      }
      Output.print(EngineSchema.referenceMarkdown)
      return
    }
    var specs = EngineSchema.reference
    if let regex {
      let pattern = try PyRegex(regex)
      let scratch = PyRegex.Scratch()
      specs = specs.filter { pattern.search($0.name, scratch: scratch) || pattern.search($0.doc, scratch: scratch) }
    }
    if json {
      Output.print("[" + specs.map(\.referenceJSON).joined(separator: ",\n ") + "]\n")
      return
    }
    guard !specs.isEmpty else {
      throw OrchError.badInput("no binding matches '\(regex ?? "")' (`orch bindings` lists them all)")
    }
    let rows = specs.map { [$0.name, $0.typeName, Self.text($0.defaultValue), $0.allowed, $0.doc] }
    Output.print(Output.table(["NAME", "TYPE", "DEFAULT", "ALLOWED", "MEANING"], rows))
  }

  /// A value as a sweep file would bind it: a string bare (`""` when empty), anything else as JSON.
  static func text(_ value: ConfigValue) -> String {
    if case .string(let s) = value { return s.isEmpty ? "\"\"" : s }
    return value.json
  }

  /// `orch show`'s bindings: `name = value` lines in name order: the config's own bindings and, for an engine config, the
  /// engine's default for each binding it leaves out, marked `(default)`.
  static func resolved(_ config: ConfigSpec) -> [String] {
    var lines = config.sortedBindings.map { (name: $0.name, text: "\($0.name) = \($0.value.templateText)") }
    if case .engine(let engine) = config.kind {
      let bound = Set(lines.map(\.name))
      // As `EngineSchema.validate` resolves them: select.* only with select.from; an eval config
      // takes eval.* (the rest comes from its checkpoint).
      let specs =
        engine == "eval"
        ? EngineSchema.evalBindings
        : EngineSchema.bindings.filter { !$0.name.hasPrefix("select.") || bound.contains("select.from") }
      for spec in specs where !bound.contains(spec.name) {
        lines.append((spec.name, "\(spec.name) = \(text(spec.defaultValue))  (default)"))
      }
      lines.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }
    return lines.map(\.text)
  }
}
