import Analysis
import Engine
import Foundation
import OrchCore
import Store

extension Pages {
  static let pageSize = 200

  /// `orch results` in the page: the same rows, `--where` language, sort and group-by, paginated.
  static func sweep(_ store: JobStore, name: String, q: Query, state: UIState) throws -> Response {
    let jobs = try storeCall { () throws(StoreError) in try store.resultJobs(sweep: name) }
    guard !jobs.isEmpty else { return Page.error(status: .notFound, "no jobs in sweep '\(name)'") }
    var errors: [String] = []
    var filter: ResultsFilter?
    var sortKeys: [ResultsTable.SortKey] = []
    var groupNames: [String] = []
    do {
      if let text = q["where"] { filter = try ResultsFilter.parse(text) }
    } catch { errors.append(error.message) }
    do {
      if let text = q["sort"] { sortKeys = try ResultsTable.SortKey.parse(text) }
    } catch { errors.append(error.message) }
    if let text = q["group_by"] {
      groupNames = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
    var rows = ResultsTable.bindingRows(jobs, parsed: state.bindings)
    // Metrics for every row only when something filters, sorts or groups on them; otherwise for
    // the shown page alone (a 10,000-job sweep's first page reads 200 jobs' metrics).
    let needAll = filter != nil || !sortKeys.isEmpty || !groupNames.isEmpty
    if needAll { rows = try ResultsTable.withMetrics(store: store, rows, choice: .last) }
    if let f = filter {
      do { rows = try ResultsTable.filter(rows, f) } catch { errors.append(error.message) }
    }
    let allBindings = Set(rows.flatMap(\.bindings.keys))
    for g in groupNames where !allBindings.contains(g) && !rows.isEmpty {
      errors.append(
        "group_by: no binding '\(g)' in the selected jobs; there are: "
          + ResultsTable.suggestions(g, known: allBindings))
      groupNames = []
    }
    let known = Set(["sweep", "key", "state", "job"]).union(allBindings).union(rows.flatMap(\.metrics.keys))
    for key in sortKeys where !known.contains(key.name) && !rows.isEmpty {
      errors.append(
        "sort: no binding or metric '\(key.name)' in the selected jobs; there are: "
          + ResultsTable.suggestions(key.name, known: known))
      sortKeys = []
    }
    let total = rows.count
    let pages = max(1, (total + pageSize - 1) / pageSize)
    let page = min(max(q.int("page") ?? 1, 1), pages)
    var table: String
    let bindingNames = ResultsTable.varying(rows)
    if !groupNames.isEmpty {
      let metrics = ResultsTable.metricOrder(Set(rows.flatMap(\.metrics.keys)).filter { !$0.contains("_class_") })
      var groups = ResultsTable.group(rows, by: groupNames, metrics: metrics)
      groups = ResultsTable.sort(groups, by: sortKeys) { $0.value($1) }
      let cells = groups.map { g -> String in
        "<tr class=\"group\">" + groupNames.map { "<td>\(html(value(g.bindings[$0])))</td>" }.joined()
          + "<td>\(g.n)</td>"
          + metrics.map { m -> String in
            guard let mean = g.mean[m] else { return "<td></td>" }
            let sd = g.sd[m].map { " ± " + ResultsOutput.rounded($0, digits: 2) } ?? ""
            return "<td>\(html(ResultsOutput.rounded(mean) + sd))</td>"
          }.joined() + "</tr>"
      }
      table = Page.table(id: "runs", header: groupNames + ["n"] + metrics, rows: cells)
    } else {
      if !sortKeys.isEmpty { rows = ResultsTable.sort(rows, by: sortKeys) { $0.value($1) } }
      var shown = Array(rows.dropFirst((page - 1) * pageSize).prefix(pageSize))
      if !needAll { shown = try ResultsTable.withMetrics(store: store, shown, choice: .last) }
      let metrics = ResultsTable.metricOrder(Set(shown.flatMap(\.metrics.keys)).filter { !$0.contains("_class_") })
      let cells = shown.map { r -> String in
        "<tr data-job=\"\(r.job)\"><td><input type=\"checkbox\" class=\"select\" value=\"\(r.job)\"></td>"
          + "<td><a href=\"/jobs/\(r.job)\">\(html(r.display))</a></td><td>\(html(r.key))</td>"
          + bindingNames.map { "<td>\(html(value(r.bindings[$0])))</td>" }.joined()
          + metrics.map { m in "<td class=\"metric\">\(html(r.metrics[m].map(ResultsOutput.rounded) ?? ""))</td>" }
          .joined()
          + "<td class=\"state state-\(html(r.state.lowercased()))\">\(html(r.state))</td></tr>"
      }
      table = Page.table(
        id: "runs", header: ["", "job", "key"] + bindingNames + metrics + ["state"], rows: cells)
    }
    let encoded = html(Path.encode(name))
    func link(_ p: Int) -> String {
      var pairs = q.pairs.filter { $0.0 != "page" }
      pairs.append(("page", String(p)))
      return html("/sweeps/\(Path.encode(name))?" + Form.encode(pairs))
    }
    var nav = "<div class=\"pages\">page \(page) of \(pages) · \(total) row(s) "
    if page > 1 { nav += "<a class=\"page-prev\" href=\"\(link(page - 1))\">← previous</a> " }
    if page < pages { nav += "<a class=\"page-next\" href=\"\(link(page + 1))\">next →</a>" }
    nav += "</div>"
    let counts = StateCounts(
      try storeCall { () throws(StoreError) in try store.sweepSummaries(sweep: name) }.first?.counts ?? [:])
    let body = """
      <h1>Sweep \(html(name))</h1>
      <p class="sweep-counts" data-sweep="\(html(name))">pending <span class="count-pending">\(counts.pending)</span> · \
      running <span class="count-running">\(counts.running)</span> · done <span class="count-done">\(counts.done)</span> · \
      failed <span class="count-failed">\(counts.failed)</span> · \
      cancelled <span class="count-cancelled">\(counts.cancelled)</span> · \
      <a href="/sweeps/\(encoded)/analyses">analyses</a></p>
      <form id="filter" method="get" action="/sweeps/\(encoded)">
      <label>where <input name="where" size="40" value="\(html(q["where"] ?? ""))" placeholder="lr < 0.1 and state == 'COMPLETED'"></label>
      <label>group by <input name="group_by" value="\(html(q["group_by"] ?? ""))" placeholder="model.width"></label>
      <label>sort <input name="sort" value="\(html(q["sort"] ?? ""))" placeholder="-test_acc"></label>
      <button type="submit">apply</button></form>
      \(errors.map { "<div class=\"error\">\(html($0))</div>" }.joined(separator: "\n"))
      <div class="toolbar">
      <a id="compare-curves" class="button" href="/sweeps/\(encoded)/curves" data-base="/sweeps/\(encoded)/curves">compare curves of the selected</a>
      \(actionForm("cancel", "cancel selected", sweep: nil, state: state, selected: true))
      \(actionForm("retry", "retry selected (failed)", sweep: nil, state: state, selected: true))
      \(actionForm("hold", "hold selected", sweep: nil, state: state, selected: true))
      \(actionForm("release", "release selected", sweep: nil, state: state, selected: true))
      \(actionForm("cancel", "cancel the whole sweep", sweep: name, state: state, selected: false))
      \(actionForm("retry", "retry the sweep's failed", sweep: name, state: state, selected: false))
      </div>
      \(nav)
      \(table)
      \(nav)
      <div id="live" data-events="/events?sweep=\(encoded)"></div>
      """
    return Page.document(title: name, csrf: state.csrf, body: body)
  }

  /// A form posting an action; `selected` ones take the checked rows' ids from the script.
  static func actionForm(
    _ action: String, _ label: String, sweep: String?, jobs: [Int64]? = nil, state: UIState, selected: Bool
  )
    -> String
  {
    var fields = "<input type=\"hidden\" name=\"csrf\" value=\"\(html(state.csrf))\">"
    if let sweep { fields += "<input type=\"hidden\" name=\"sweep\" value=\"\(html(sweep))\">" }
    let ids = jobs.map { $0.map(String.init).joined(separator: ",") } ?? ""
    fields += "<input type=\"hidden\" name=\"jobs\" value=\"\(ids)\"\(selected ? " class=\"selected-jobs\"" : "")>"
    fields += "<input type=\"hidden\" name=\"confirmed\" value=\"0\">"
    return "<form class=\"action\" method=\"post\" action=\"/actions/\(action)\" data-confirm=\"\(html(label))?\">"
      + fields + "<button type=\"submit\">\(html(label))</button></form>"
  }

  static func value(_ v: ConfigValue?) -> String { ResultsOutput.terminalValue(v) }
}
