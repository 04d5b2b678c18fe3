import Engine

/// Engine configs are checked against the engine's binding schema before anything is stored:
/// an unknown name fails with the entry's location and the closest valid name.
enum EngineBindings {
  static func check(_ selection: Submitter.Selection) throws(OrchError) {
    var seen = Set<String>()
    var failure: OrchError?
    selection.forEach { _, config in
      guard failure == nil, case .engine = config.kind, seen.insert(config.hash).inserted else { return }
      do { _ = try EngineSchema.validate(configJSON: config.canonicalJSON) } catch {
        failure = OrchError.badInput("config '\(config.key)': \(error)", at: config.location)
      }
    }
    if let failure { throw failure }
  }
}
