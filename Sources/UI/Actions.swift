import Foundation
import Operations
import OrchCore
import Store

/// `POST /actions/cancel|retry|hold|release` with `csrf`, and `jobs` (comma ids) or `sweep`.
/// Each calls the Operations function its CLI verb calls, on a writable store opened for this
/// action only. Without `confirmed=1` (the page's script sets it after `confirm()`) the answer
/// is a page asking to confirm, which posts the same fields again.
enum Actions {
  static let names = ["cancel", "retry", "hold", "release"]

  static func handle(_ action: String, form: Query, state: UIState) throws -> Response {
    guard names.contains(action) else { return Page.notFound() }
    guard Secrets.equal(form.pairs.first { $0.0 == "csrf" }?.1 ?? "", state.csrf) else {
      return Page.error(status: .forbidden, "the form's CSRF token is missing or wrong: reload the page and try again")
    }
    var ids: [Int64] = []
    for part in (form["jobs"] ?? "").split(separator: ",") {
      guard let id = Int64(part.trimmingCharacters(in: .whitespaces)), id > 0 else {
        throw OrchError.badInput("jobs: expected comma-separated job ids, got '\(part)'")
      }
      ids.append(id)
    }
    let sweep = form["sweep"]
    guard !ids.isEmpty || sweep != nil else { throw OrchError.badInput("give jobs or a sweep") }
    if form["confirmed"] != "1" { return confirm(action, ids: ids, sweep: sweep, state: state) }
    let store = try state.home.openStore()
    let home = state.home
    let message: String
    switch action {
    case "cancel":
      var targets = ids
      if let sweep {
        targets += try storeCall { () throws(StoreError) in
          try store.jobs(JobFilter(states: [.pending, .running], sweep: sweep)).map(\.id)
        }
      }
      let outcome = try Operations.cancel(targets, store: store, home: home, wait: 5)
      message =
        "cancelled \(outcome.pending.count) pending and \(outcome.running.count) running job(s)"
        + (outcome.stillRunning.isEmpty ? "" : "; \(outcome.stillRunning.count) still ending")
    case "retry":
      let rows = try storeCall { () throws(StoreError) in
        try store.jobs(JobFilter(states: JobState.retryable, jobs: ids.isEmpty ? nil : ids, sweep: sweep))
      }
      let requeued = try Operations.retry(rows, store: store, home: home)
      message = "requeued \(requeued.count) job(s)"
    case "hold":
      let rows = try storeCall { () throws(StoreError) in
        try store.jobs(JobFilter(jobs: ids.isEmpty ? nil : ids, sweep: sweep))
      }
      message = "held \(try Operations.hold(rows, store: store).count) pending job(s)"
    default:
      let rows = try storeCall { () throws(StoreError) in
        try store.jobs(JobFilter(jobs: ids.isEmpty ? nil : ids, sweep: sweep))
      }
      message = "released \(try Operations.release(rows, store: store, home: home).count) job(s)"
    }
    let back =
      sweep.map { "/sweeps/\(Path.encode($0))" } ?? (ids.count == 1 ? "/jobs/\(ids[0])" : "/")
    return Page.document(
      title: action, csrf: state.csrf,
      body: "<p id=\"action-result\">\(html(message))</p><p><a href=\"\(html(back))\">back</a></p>")
  }

  static func confirm(_ action: String, ids: [Int64], sweep: String?, state: UIState) -> Response {
    let what =
      (ids.isEmpty
        ? ""
        : "job(s) " + ids.prefix(20).map(String.init).joined(separator: ", ")
          + (ids.count > 20 ? " …" : "")) + (sweep.map { (ids.isEmpty ? "" : " and ") + "sweep \($0)" } ?? "")
    let body = """
      <h1>Confirm: \(html(action))</h1><p>\(html(action)) \(html(what))?</p>
      <form method="post" action="/actions/\(html(action))">
      <input type="hidden" name="csrf" value="\(html(state.csrf))">
      <input type="hidden" name="jobs" value="\(ids.map(String.init).joined(separator: ","))">
      \(sweep.map { "<input type=\"hidden\" name=\"sweep\" value=\"\(html($0))\">" } ?? "")
      <input type="hidden" name="confirmed" value="1">
      <button type="submit">yes, \(html(action))</button> <a href="/">no</a></form>
      """
    return Page.document(title: "confirm \(action)", csrf: state.csrf, body: body)
  }
}
