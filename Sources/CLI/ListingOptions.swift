import ArgumentParser
import Registry

/// `--json` of the listing commands (`@OptionGroup var output: JSONOutput`).
struct JSONOutput: ParsableArguments {
  @Flag(help: "Print JSON.") var json = false
}

/// `--csv` and `--json` of the commands that print a table of numbers.
struct TableOutput: ParsableArguments {
  @Flag(help: "Print CSV.") var csv = false
  @Flag(help: "Print JSON.") var json = false
}
