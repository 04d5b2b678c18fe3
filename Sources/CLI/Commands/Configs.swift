import ArgumentParser
import Foundation
import OrchCore
import Registry

struct Configs: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the registered configs whose key matches a regex.",
    discussion: """
      The listing is the seed registries' (`python -m configs REGEX`); the numbers are array indices.
      Examples:
        orch configs blk4_shuffle
        orch configs '^train/digits' --sweeps experiments/sweeps --json
      """)

  @Argument(help: "A Python regex searched in each key (default: every key).") var regex: String = ".*"
  @Option(help: "The sweeps directory (or one sweep file).") var sweeps: String = "sweeps"
  @Flag(help: "Print JSON: index, key, file and hash of each config.") var json = false

  struct Item: Codable {
    var index: Int
    var key: String
    var file: String
    var hash: String
  }

  func run() throws {
    // The plain listing prints keys only: configs are not rendered or hashed for it.
    if !json, let text = try Registry.keyListing(path: sweeps, regex: regex) {
      return Output.print(String(decoding: text, as: UTF8.self))
    }
    let registry = try Registry.load(path: sweeps, keysOnly: !json)
    let matched = try registry.matching(regex)
    if json {
      try Output.json(
        matched.enumerated().map {
          Item(index: $0.offset, key: $0.element.key, file: $0.element.file, hash: $0.element.hash)
        })
    } else {
      Output.print(Registry.listing(matched, regex: regex))
    }
  }
}
