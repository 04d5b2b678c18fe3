import Analysis
import ArgumentParser
import Foundation
import OrchCore
import Registry

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
