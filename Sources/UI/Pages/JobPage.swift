import Analysis
import Engine
import Foundation
import OrchCore
import Store

extension Pages {
  static func job(_ store: JobStore, id: Int64, state: UIState) throws -> Response {
    guard let job = try storeCall({ () throws(StoreError) in try store.resultJobs(ids: [id]) }).first else {
      return Page.notFound()
    }
    let row = job.row
    // Bindings first, then every other resolved setting (the defaults the sweep did not set).
    var bindingRows: [String] = []
    let bindings = ResultsTable.bindings(job.config)
    for name in bindings.keys.sorted(by: ResultsTable.bytewise) {
      bindingRows.append("<tr class=\"binding\"><td>\(html(name))</td><td>\(html(value(bindings[name])))</td></tr>")
    }
    // A command job's command and environment are what it runs, not settings: a line of their own.
    var commandLine = ""
    if case .map(let config)? = try? ConfigValue.parse(json: job.config) {
      if case .list(let words)? = config["command"] {
        commandLine +=
          "<p id=\"command\">command <code>\(html(words.map { shellWord(value($0)) }.joined(separator: " ")))</code>"
        if case .map(let env)? = config["env"], !env.isEmpty {
          let pairs = env.keys.sorted(by: ResultsTable.bytewise).map { "\($0)=\(shellWord(value(env[$0])))" }
          commandLine += " · env <code>\(html(pairs.joined(separator: " ")))</code>"
        }
        commandLine += "</p>"
      }
      let apart: Set<String> = commandLine.isEmpty ? ["bindings"] : ["bindings", "command", "env"]
      var flat: [(String, ConfigValue)] = []
      flatten(config.filter { !apart.contains($0.key) }, prefix: "", into: &flat)
      for (name, v) in flat where bindings[name] == nil {
        bindingRows.append("<tr class=\"default\"><td>\(html(name))</td><td>\(html(value(v)))</td></tr>")
      }
    }
    let files = try storeCall { () throws(StoreError) in try store.jobFiles(jobID: id) }
    let fileRows = (files.checkpoints.map { ("checkpoint", $0) } + files.artifacts.map { ("artifact", $0) }).map {
      kind, f -> String in
      let rel = Files.relative(f.path, runDir: row.runDir)
      let size = f.bytes ?? Files.size(f.path)
      let link =
        rel.map {
          "<a href=\"/jobs/\(id)/files/\(html($0.split(separator: "/").map { Path.encode(String($0)) }.joined(separator: "/")))\">\(html($0))</a>"
        }
        ?? html(f.path)
      return "<tr><td>\(kind)</td><td>\(html(f.name))</td><td>\(link)</td><td>\(html(Page.bytes(size)))</td></tr>"
    }
    let (logText, logEnd) = Files.logTail(store, row: row, home: state.home, limit: 64 * 1024)
    let body = """
      <h1>Job <span class="job-id">\(html(row.display))</span></h1>
      <p id="job" data-job="\(id)">key <code>\(html(row.key))</code> · sweep \
      \(row.sweep.map { "<a href=\"/sweeps/\(html(Path.encode($0)))\">\(html($0))</a>" } ?? "none") · \
      state <span class="state state-\(html(row.state.rawValue.lowercased()))">\(html(row.state.rawValue))</span> · \
      attempt \(row.attempt) of \(row.maxAttempts) · run directory <code>\(html(row.runDir))</code></p>
      <div class="toolbar">
      \(actionForm("cancel", "cancel", sweep: nil, jobs: [id], state: state, selected: false))
      \(actionForm("retry", "retry", sweep: nil, jobs: [id], state: state, selected: false))
      \(actionForm("hold", "hold", sweep: nil, jobs: [id], state: state, selected: false))
      \(actionForm("release", "release", sweep: nil, jobs: [id], state: state, selected: false))
      \(row.sweep.map { "<a class=\"button\" href=\"/sweeps/\(html(Path.encode($0)))/curves?jobs=\(id)\">curves</a>" } ?? "")
      </div>
      \(commandLine)
      <h2>Bindings</h2>
      \(Page.table(id: "bindings", header: ["name", "value"], rows: bindingRows))
      <h2>Attempts</h2>
      \(try attemptsTable(store, row: row))
      <h2>Log</h2>
      <pre id="log" data-job="\(id)" data-offset="\(logEnd)">\(html(logText))</pre>
      <h2>Checkpoints and artifacts</h2>
      \(Page.table(id: "artifacts", header: ["kind", "name", "file", "size"], rows: fileRows))
      <h2>Metrics</h2>
      \(try metricsTable(store, id: id))
      <div id="live" data-events="/events?job=\(id)"></div>
      """
    return Page.document(title: "job \(row.display)", csrf: state.csrf, body: body)
  }

  /// The attempts table alone: the page re-reads it when the job's state changes.
  static func attemptsTable(_ store: JobStore, row: JobRow) throws -> String {
    let attempts = try storeCall { () throws(StoreError) in try store.attempts(jobID: row.id) }
    let rows = attempts.map { a in
      "<tr><td>\(a.attempt)</td><td>\(html(a.state))</td><td>\(a.exitCode.map(String.init) ?? "")</td>"
        + "<td>\(a.signal.map(String.init) ?? "")</td><td>\(html(a.reason ?? ""))</td>"
        + "<td>\(html(row.backend == "slurm" ? "slurm \(row.slurmID ?? "")" : "local"))</td>"
        + "<td>\(html(a.cpus ?? ""))</td><td>\(html(a.gpus ?? ""))</td>"
        + "<td>\(html(Page.time(a.startTime)))</td><td>\(html(Page.time(a.endTime)))</td></tr>"
    }
    return Page.table(
      id: "attempts",
      header: ["attempt", "state", "exit code", "signal", "reason", "node", "cores", "GPUs", "start", "end"],
      rows: rows)
  }

  static func attemptsFragment(_ store: JobStore, id: Int64) throws -> Response {
    guard let job = try storeCall({ () throws(StoreError) in try store.resultJobs(ids: [id]) }).first else {
      return Page.notFound()
    }
    var response = Page.response(type: "text/html; charset=utf-8", try attemptsTable(store, row: job.row))
    response.headers["Cache-Control"] = "no-store"
    return response
  }

  /// A word as a shell would need it written (single-quoted unless plain).
  static func shellWord(_ word: String) -> String {
    let plain =
      !word.isEmpty
      && word.unicodeScalars.allSatisfy {
        CharacterSet.alphanumerics.contains($0) || "-_./=:,@%+".unicodeScalars.contains($0)
      }
    return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  static func flatten(_ map: [String: ConfigValue], prefix: String, into out: inout [(String, ConfigValue)]) {
    for key in map.keys.sorted(by: ResultsTable.bytewise) {
      guard let v = map[key] else { continue }
      if case .map(let inner) = v, !inner.isEmpty {
        flatten(inner, prefix: prefix + key + ".", into: &out)
      } else {
        out.append((prefix + key, v))
      }
    }
  }

  /// The latest attempt's metrics, one row per epoch (or step), one column per name.
  static func metricsTable(_ store: JobStore, id: Int64) throws -> String {
    let all = try storeCall { () throws(StoreError) in try store.metrics(jobID: id) }
    let last = all.map(\.attempt).max()
    var names: [String] = []
    var order: [String] = []
    var cells: [String: [String: Double]] = [:]
    for m in all where m.attempt == last {
      let at = m.final ? "final" : m.epoch.map { "epoch \($0)" } ?? m.step.map { "step \($0)" } ?? "seq \(m.seq)"
      if cells[at] == nil { order.append(at) }
      if !names.contains(m.name) { names.append(m.name) }
      cells[at, default: [:]][m.name] = m.value
    }
    names = ResultsTable.metricOrder(names)
    let shown = order.count > 2000 ? Array(order.suffix(2000)) : order
    let rows = shown.map { at in
      "<tr data-at=\"\(html(at))\"><td>\(html(at))</td>"
        + names.map { "<td>\(html(cells[at]?[$0].map(ResultsOutput.rounded) ?? ""))</td>" }.joined() + "</tr>"
    }
    // An engine job reports ~36 names: the table scrolls inside its box, not the page.
    return "<div class=\"scroll\">" + Page.table(id: "metrics", header: [""] + names, rows: rows) + "</div>"
  }
}
