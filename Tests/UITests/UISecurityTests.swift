import Foundation
import Store
import XCTest

/// `orch ui`'s rules, each against the real process: the access token, CSRF on actions, files
/// only from a job's run directory, and every value HTML-escaped.
final class UISecurityTests: XCTestCase {
  static let oneJob = """
    register:
      - key: "plain/{i}"
        axes:
          - grid: {i: [0, 1]}
        command: [sh, -c, "echo hello"]
    """

  func testEveryRequestNeedsTheToken() throws {
    let h = try UIHarness()
    try h.submit("plain", Self.oneJob)
    try h.startUI()
    XCTAssertEqual(h.token.count, 64, "a generated token is 32 random bytes in hex: \(h.printed)")
    for path in ["/", "/sweeps/plain", "/jobs/1", "/events", "/static/orch.js", "/slurm"] {
      XCTAssertEqual(try h.request("GET", path).status, 401, "\(path) without a token")
    }
    XCTAssertEqual(try h.request("GET", "/?token=wrong").status, 401)
    XCTAssertEqual(try h.request("GET", "/?token=" + h.token.dropLast() + "0").status, 401)
    XCTAssertEqual(try h.request("GET", "/", headers: ["Cookie": "orch_token=wrong"]).status, 401)
    XCTAssertEqual(try h.request("GET", "/", headers: ["Authorization": "Bearer wrong"]).status, 401)
    XCTAssertFalse(try h.request("GET", "/").body.contains("<table id=\"sweeps\">"))

    // The right token in the query: a cookie (HttpOnly, SameSite=Strict) and the URL without it.
    let first = try h.request("GET", "/sweeps/plain?token=\(h.token)&page=1")
    XCTAssertEqual(first.status, 303)
    XCTAssertEqual(first.headers["location"], "/sweeps/plain?page=1")
    let cookie = first.headers["set-cookie"] ?? ""
    XCTAssertTrue(cookie.hasPrefix("orch_token=\(h.token);"), cookie)
    XCTAssertTrue(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), cookie)
    let byCookie = try h.request("GET", "/", headers: ["Cookie": "orch_token=\(h.token)"])
    XCTAssertEqual(byCookie.status, 200)
    XCTAssertTrue(byCookie.body.contains("<table id=\"sweeps\">"))
    XCTAssertTrue(byCookie.body.contains("<tr data-sweep=\"plain\">"))
    XCTAssertEqual(try h.request("GET", "/", headers: ["Authorization": "Bearer \(h.token)"]).status, 200)
  }

  func testGivenTokenIsTheOneAndOtherHostsPrintIt() throws {
    let h = try UIHarness()
    try h.submit("plain", Self.oneJob)
    let mine = "0123456789abcdef0123456789abcdef"
    try h.startUI(["--token", mine])
    XCTAssertEqual(h.token, mine)
    XCTAssertEqual(try h.request("GET", "/", headers: ["Authorization": "Bearer \(mine)"]).status, 200)

    let other = try UIHarness("other")
    try other.submit("plain", Self.oneJob)
    try other.startUI(["--host", "0.0.0.0"])
    XCTAssertTrue(other.printed.contains("?token="), other.printed)
    XCTAssertEqual(other.token.count, 64)
    XCTAssertTrue(other.token.allSatisfy(\.isHexDigit))
    XCTAssertEqual(try other.request("GET", "/").status, 401)
    XCTAssertEqual(try other.get("/").status, 200)
  }

  func testActionsNeedPostAndTheCSRFToken() throws {
    let h = try UIHarness()
    try h.submit("plain", Self.oneJob)
    try h.startUI()
    let store = try JobStore(path: h.home + "/orch.db")
    let ids = try store.jobs(JobFilter(sweep: "plain")).map(\.id)
    XCTAssertEqual(ids.count, 2)
    let cookie = ["Cookie": "orch_token=\(h.token)"]
    func state(_ id: Int64) throws -> JobState? { try store.jobs(JobFilter(jobs: [id])).first?.state }

    XCTAssertEqual(try h.request("GET", "/actions/cancel?jobs=\(ids[0])&confirmed=1", headers: cookie).status, 405)
    let none = try h.request("POST", "/actions/cancel", headers: cookie, body: "jobs=\(ids[0])&confirmed=1")
    XCTAssertEqual(none.status, 403)
    let wrong = try h.request(
      "POST", "/actions/cancel", headers: cookie,
      body: "csrf=\(String(repeating: "0", count: 64))&jobs=\(ids[0])&confirmed=1")
    XCTAssertEqual(wrong.status, 403)
    XCTAssertEqual(try state(ids[0]), .pending, "a refused action changes nothing")
    // The token alone is not enough, and the CSRF token alone is not either.
    let csrf = try h.csrf()
    XCTAssertEqual(
      try h.request("POST", "/actions/cancel", body: "csrf=\(csrf)&jobs=\(ids[0])&confirmed=1").status, 401)
    XCTAssertEqual(try state(ids[0]), .pending)

    // Without confirmation: a page asking for it, nothing done.
    let ask = try h.request("POST", "/actions/cancel", headers: cookie, body: "csrf=\(csrf)&jobs=\(ids[0])")
    XCTAssertEqual(ask.status, 200)
    XCTAssertTrue(ask.body.contains("name=\"confirmed\" value=\"1\""))
    XCTAssertEqual(try state(ids[0]), .pending)

    let done = try h.request(
      "POST", "/actions/cancel", headers: cookie, body: "csrf=\(csrf)&jobs=\(ids[0])&confirmed=1")
    XCTAssertEqual(done.status, 200, done.body)
    XCTAssertEqual(try state(ids[0]), .cancelled)
    XCTAssertEqual(try state(ids[1]), .pending, "only the named job")

    // Hold, release and retry go through the same operations.
    XCTAssertEqual(
      try h.request("POST", "/actions/hold", headers: cookie, body: "csrf=\(csrf)&jobs=\(ids[1])&confirmed=1").status,
      200)
    XCTAssertEqual(try store.jobs(JobFilter(jobs: [ids[1]])).first?.reason, "JobHeldUser")
    XCTAssertEqual(
      try h.request("POST", "/actions/release", headers: cookie, body: "csrf=\(csrf)&jobs=\(ids[1])&confirmed=1")
        .status, 200)
    XCTAssertNotEqual(try store.jobs(JobFilter(jobs: [ids[1]])).first?.reason, "JobHeldUser")
    let retry = try h.request("POST", "/actions/retry", headers: cookie, body: "csrf=\(csrf)&sweep=plain&confirmed=1")
    XCTAssertEqual(retry.status, 200, retry.body)
    XCTAssertEqual(try state(ids[0]), .pending, "the cancelled job is queued again")
  }

  func testFilesComeOnlyFromTheRunDirectory() throws {
    let h = try UIHarness()
    try h.submit("plain", Self.oneJob)
    try h.startUI()
    let store = try JobStore(path: h.home + "/orch.db")
    guard let job = try store.jobs(JobFilter(sweep: "plain")).first else { return XCTFail("no job") }
    let fm = FileManager.default
    try fm.createDirectory(atPath: job.runDir + "/sub", withIntermediateDirectories: true)
    try "artifact bytes\n".write(toFile: job.runDir + "/sub/out.txt", atomically: true, encoding: .utf8)
    let secret = h.root.path + "/secret.txt"
    try "SECRET-7f3a\n".write(toFile: secret, atomically: true, encoding: .utf8)
    try fm.createSymbolicLink(atPath: job.runDir + "/link.txt", withDestinationPath: secret)
    try fm.createSymbolicLink(atPath: job.runDir + "/linkdir", withDestinationPath: h.root.path)

    let good = try h.get("/jobs/\(job.id)/files/sub/out.txt")
    XCTAssertEqual(good.status, 200)
    XCTAssertEqual(good.body, "artifact bytes\n")
    // From the run directory up to the secret: runs/plain/0 → ../../../secret.txt.
    let up = String(repeating: "../", count: job.runDir.dropFirst(h.root.path.count).split(separator: "/").count)
    let attempts = [
      "/jobs/\(job.id)/files/\(up)secret.txt",
      "/jobs/\(job.id)/files/sub/../\(up)secret.txt",
      "/jobs/\(job.id)/files/" + up.replacingOccurrences(of: "..", with: "%2e%2e") + "secret.txt",
      "/jobs/\(job.id)/files/" + up.replacingOccurrences(of: "../", with: "%2e%2e%2f") + "secret.txt",
      "/jobs/\(job.id)/files/" + up.replacingOccurrences(of: "../", with: "..%2F") + "secret.txt",
      "/jobs/\(job.id)/files/\(secret)",
      "/jobs/\(job.id)/files/" + secret.replacingOccurrences(of: "/", with: "%2F"),
      "/jobs/\(job.id)/files/link.txt",
      "/jobs/\(job.id)/files/linkdir/secret.txt",
    ]
    for path in attempts {
      let r = try h.get(path)
      XCTAssertEqual(r.status, 404, path)
      XCTAssertFalse(r.body.contains("SECRET-7f3a"), path)
    }
  }

  func testValuesAreEscaped() throws {
    let h = try UIHarness()
    try h.submit(
      "esc",
      """
      register:
        - key: "esc/t{i}"
          axes:
            - zip: {i: [0, 1], tag: ["<script>alert(1)</script>", "plain\\"'&"]}
          command: [sh, -c, "echo hi"]
      """)
    try h.startUI()
    let store = try JobStore(path: h.home + "/orch.db")
    let jobs = try store.jobs(JobFilter(sweep: "esc"))
    guard let job = jobs.first else { return XCTFail("no job") }
    // A log line and a metric name with markup, as a job could write them.
    try FileManager.default.createDirectory(atPath: job.runDir, withIntermediateDirectories: true)
    try "line one\n<script>alert('log')</script>\n".write(
      toFile: job.runDir + "/log.txt", atomically: true, encoding: .utf8)
    try store.write("fixture") { db in
      try db.execute(
        sql: "UPDATE jobs SET state = 'COMPLETED', attempt = 1, start_time = 1, end_time = 2 WHERE id = ?",
        arguments: [job.id])
      try db.execute(
        sql: "INSERT INTO attempts(job_id, attempt, state, start_time, end_time) VALUES (?, 1, 'COMPLETED', 1, 2)",
        arguments: [job.id])
      for e in 1...2 {
        try db.execute(
          sql: "INSERT INTO metrics(job_id, attempt, seq, name, value, epoch) VALUES (?, 1, ?, '<b>acc</b>', ?, ?)",
          arguments: [job.id, e, 0.5 + Double(e) / 10, e])
      }
    }
    let pages = [
      "/", "/sweeps/esc",
      "/sweeps/esc?where=" + "tag == '<script>'".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
      "/sweeps/esc?where=%3Cscript%3E%20%3D%3D", "/jobs/\(job.id)", "/sweeps/esc/curves?jobs=\(job.id)",
      "/sweeps/esc/curves?jobs=\(job.id)&color=tag&mean_over=i", "/slurm", "/sweeps/esc/analyses",
    ]
    for path in pages {
      let r = try h.get(path)
      XCTAssertEqual(r.status, 200, "\(path): \(r.body)")
      XCTAssertFalse(r.body.contains("<script>alert"), "\(path) shows markup raw")
      XCTAssertFalse(r.body.contains("<b>acc"), "\(path) shows markup raw")
      XCTAssertFalse(r.body.contains("plain\"'&"), "\(path) shows quotes raw")
    }
    let sweep = try h.get("/sweeps/esc").body
    XCTAssertTrue(sweep.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), sweep)
    XCTAssertTrue(sweep.contains("plain&quot;&#39;&amp;"), sweep)
    let page = try h.get("/jobs/\(job.id)").body
    XCTAssertTrue(page.contains("&lt;script&gt;alert(&#39;log&#39;)&lt;/script&gt;"), page)
    XCTAssertTrue(page.contains("&lt;b&gt;acc&lt;/b&gt;"), page)
    let bad = try h.get(
      "/sweeps/esc?where=" + "<script> ==".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
    XCTAssertTrue(bad.body.contains("<div class=\"error\">"), bad.body)
    // The log as text/plain is the file's bytes (never HTML).
    let log = try h.get("/jobs/\(job.id)/log?offset=0")
    XCTAssertEqual(log.headers["content-type"], "text/plain; charset=utf-8")
    XCTAssertEqual(log.body, "line one\n<script>alert('log')</script>\n")
    XCTAssertEqual(try h.get("/jobs/\(job.id)/log?offset=9").body, "<script>alert('log')</script>\n")
  }
}
