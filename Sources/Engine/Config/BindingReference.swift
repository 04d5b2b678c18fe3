/// The binding reference (`orch bindings`, `docs/bindings.md`), generated from `EngineSchema` so it
/// cannot drift from what the engine checks.
extension BindingSpec {
  /// "int", "float", "choice", …
  public var typeName: String {
    switch kind {
    case .string: "string"
    case .int: "int"
    case .double: "float"
    case .bool: "bool"
    case .intList: "list of int"
    case .stringList: "list of string"
    case .choice: "choice"
    }
  }

  /// The options of a choice, nil for other kinds.
  public var choices: [String]? {
    if case .choice(let options) = kind { return options }
    return nil
  }

  /// The values accepted, as one line: the options of a choice, else the range.
  public var allowed: String {
    switch kind {
    case .choice(let options): options.joined(separator: ", ")
    case .bool: "true, false"
    case .string: "any string"
    default: rangeText
    }
  }

  /// The engines whose configs take it: `eval.*` only `engine: eval`; the data and transform
  /// bindings both (an eval config overrides the checkpoint's); the rest only `engine: train`.
  public var engines: [String] {
    if name.hasPrefix("eval.") { return ["eval"] }
    return EvalConfig.isOverride(name) ? ["train", "eval"] : ["train"]
  }

  /// One JSON object, keys in a fixed order: name, type, default, allowed, choices (a choice's
  /// only), meaning, engines.
  public var referenceJSON: String {
    var out = "{\"name\":\(ConfigValue.quote(name)),\"type\":\(ConfigValue.quote(typeName))"
    out += ",\"default\":\(defaultValue.json),\"allowed\":\(ConfigValue.quote(allowed))"
    if let choices { out += ",\"choices\":" + ConfigValue.list(choices.map { .string($0) }).json }
    out += ",\"meaning\":\(ConfigValue.quote(doc)),\"engines\":" + ConfigValue.list(engines.map { .string($0) }).json
    return out + "}"
  }
}

extension EngineSchema {
  /// Every binding the engine takes, in declaration order (training's, then `engine: eval`'s).
  public static var reference: [BindingSpec] { bindings + evalBindings }

  /// `docs/bindings.md`: `orch bindings --markdown` prints it, and a test fails when the checked-in
  /// file differs.
  public static var referenceMarkdown: String {
    var out = """
      # Engine bindings

      Every binding the training engine (`engine: train`) and the evaluation engine (`engine: eval`)
      take: its type, default, the values it accepts and what it means. Generated from `EngineSchema`
      (`Sources/Engine/Config/EngineSchema.swift`) by `orch bindings --markdown` (`make docs`); a test
      fails when this file is stale. `orch bindings REGEX` searches it in the terminal, `--json` for
      scripts; `orch show KEY` prints a config's bindings with these defaults filled in.

      The `select.*` bindings apply only when `select.from` is bound. An `engine: eval` config takes
      `eval.*` and overrides the checkpoint's `data.*`, `spurious.*`, `shift.*` and
      `train.eval_batch_size`; its model and training come from the checkpoint. A name outside the
      engine namespaces is not checked (it may be used in key templates); the namespaces are
      `\(namespaces.map { $0 + "*" }.joined(separator: "`, `"))`.


      """
    var current = ""
    for spec in reference {
      let namespace = String(spec.name.prefix { $0 != "." })
      if namespace != current {
        if !current.isEmpty { out += "\n" }
        current = namespace
        out += "## \(namespace).*\n\n| binding | type | default | allowed | meaning |\n|---|---|---|---|---|\n"
      }
      func cell(_ s: String) -> String {
        s.split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|")
      }
      out +=
        "| `\(spec.name)` | \(spec.typeName) | `\(cell(spec.defaultValue.json))` | \(cell(spec.allowed)) | \(cell(spec.doc)) |\n"
    }
    return out
  }
}
