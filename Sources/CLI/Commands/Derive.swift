import ArgumentParser
import Foundation

struct Derive: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Register new configs computed from a sweep's results, as a sweep file.",
    subcommands: [DeriveCounterfactual.self])
}
