import Analysis
import ArgumentParser
import Foundation
import OrchCore
import Store
import Worker

struct Plot: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Learning curves of a sweep's jobs as one SVG (and a PNG beside it when rsvg-convert is installed).",
    discussion: """
      Reads the per-epoch metric of every job (the newest of each key, its latest attempt) and draws
      one line per combination of the bindings that vary, except --mean-over's: with --mean-over
      train.seed the line is the mean over the seeds at each x and a shaded band ±1 sample sd.
      --color picks the colour by a binding's value (the other bindings then differ by dash
      pattern; the legend names both); --facet draws one chart per value of a binding. --where
      takes the expression of `orch results`. --live redraws the file every few seconds until
      every job of the sweeps has ended. Each line carries its points at full precision in its
      data-points attribute (x,mean[,sd];…).

      Examples:
        orch plot demo --metric test_acc --color optimizer.base_lr \\
          --mean-over train.seed
        orch plot demo --metric train_loss --x step --facet model.width -o curves.svg
      """)

  @Argument(help: "The sweep names.") var sweeps: [String]
  @Option(help: "The metric to draw (per epoch, as the job reports it).") var metric: String
  @Option(help: "The x axis: epoch, step or time (seconds since the attempt started).") var x: String = "epoch"
  @Option(help: "Colour lines by this binding's value.") var color: String?
  @Option(help: "One chart per value of this binding.") var facet: String?
  @Option(name: .customLong("mean-over"), help: "Average lines over this binding (e.g. train.seed).")
  var meanOver: String?
  @Option(name: .customLong("where"), help: "Only the jobs where this holds (as in `orch results`).")
  var condition: String?
  @Flag(help: "Redraw every 5 s until every job has ended.") var live = false
  @Option(name: .shortAndLong, help: "The SVG to write (default: <sweep>-<metric>.svg).") var output: String?

  func validate() throws {
    if sweeps.isEmpty { throw ValidationError("give a sweep name (see `orch history`)") }
    if CurvePlot.XAxis(rawValue: x) == nil { throw ValidationError("--x must be epoch, step or time, not '\(x)'") }
  }

  func run() throws {
    for s in sweeps { try UserText.check(s, "sweep name") }
    try UserText.check(metric, "metric name")
    let filter = try condition.map { (text: String) throws(OrchError) in try ResultsFilter.parse(text) }
    let axis = CurvePlot.XAxis(rawValue: x) ?? .epoch
    let path =
      output
      ?? (sweeps.joined(separator: "+") + "-" + metric + ".svg").replacingOccurrences(of: "/", with: "_")
    let home = try OrchHome()
    let store = try home.openStore()
    while true {
      var rows = try ResultsTable.rows(store: store, sweeps: CurvePlot.distinct(sweeps), choice: .last)
      if let filter { rows = try ResultsTable.filter(rows, filter) }
      let bindings = Set(rows.flatMap(\.bindings.keys))
      for (option, name) in [("--color", color), ("--facet", facet), ("--mean-over", meanOver)] {
        if let name, !bindings.contains(name) {
          throw OrchError.badInput(
            "\(option): no binding '\(name)' in the selected jobs; there are: "
              + ResultsTable.suggestions(name, known: bindings))
        }
      }
      let curves = try CurvePlot.curves(store: store, rows: rows, metric: metric, x: axis)
      let unfinished = rows.filter { $0.state == "PENDING" || $0.state == "RUNNING" }.count
      if curves.isEmpty && !live {
        let names = Set(
          try storeCall { () throws(StoreError) in try store.metricPoints(jobIDs: rows.prefix(50).map(\.job)) }
            .values.flatMap { $0.filter { !$0.final }.map(\.name) })
        throw OrchError.badInput(
          "no job of \(sweeps.joined(separator: ", ")) reported '\(metric)' per \(axis.rawValue)"
            + (names.isEmpty ? "" : "; reported: " + ResultsTable.metricOrder(names).prefix(12).joined(separator: ", "))
        )
      }
      let lines = CurvePlot.lines(curves, facet: facet, meanOver: meanOver)
      let title = "\(metric) — \(sweeps.joined(separator: ", "))"
      let charts = CurvePlot.charts(
        lines, metric: metric, x: axis, color: color, facet: facet, meanOver: meanOver, title: title)
      let written = try Chart.write(
        charts.isEmpty ? [Chart(title: title, xLabel: x, yLabel: metric, series: [])] : charts,
        to: path, columns: 2)
      if !live || unfinished == 0 {
        Output.print(
          "\(lines.count) line(s) from \(curves.count) job(s): " + written.joined(separator: " ") + "\n")
        return
      }
      FileHandle.standardError.write(
        Data("\r\(lines.count) line(s), \(unfinished) job(s) unfinished: \(path)\u{1B}[K".utf8))
      sleep(5)
    }
  }
}
