import Foundation
import NIOHTTP1
import OrchCore

/// Every request: the token first, then the route. Paths are split and decoded here, once, so no
/// route sees a percent-encoded `..` it did not check.
struct UIResponder {
  let state: UIState

  func respond(to request: Request) -> Response {
    let query = Form.parse(request.query ?? "")
    if let given = query.first(where: { $0.0 == "token" })?.1 {
      guard Secrets.equal(given, state.token) else { return Self.unauthorized() }
      // The token moves into an HttpOnly cookie and out of the address bar (and its history).
      let rest = query.filter { $0.0 != "token" }
      let location = request.path + (rest.isEmpty ? "" : "?" + Form.encode(rest))
      var headers = Headers()
      headers["Location"] = location
      headers["Set-Cookie"] = "orch_token=\(state.token); Path=/; HttpOnly; SameSite=Strict"
      return Response(status: .seeOther, headers: headers)
    }
    guard authorized(request) else { return Self.unauthorized() }
    do {
      return try route(request, query: query)
    } catch let error as OrchError {
      return Page.error(status: .badRequest, error.message)
    } catch {
      return Page.error(status: .internalServerError, "\(error)")
    }
  }

  func authorized(_ request: Request) -> Bool {
    if let auth = request.headers.first(name: "Authorization"), auth.hasPrefix("Bearer ") {
      return Secrets.equal(String(auth.dropFirst(7)), state.token)
    }
    for header in request.headers["Cookie"] {
      for part in header.split(separator: ";") {
        let pair = part.trimmingCharacters(in: .whitespaces)
        if pair.hasPrefix("orch_token="), Secrets.equal(String(pair.dropFirst(11)), state.token) { return true }
      }
    }
    return false
  }

  static func unauthorized() -> Response {
    Page.error(
      status: .unauthorized,
      "This page needs orch ui's access token. Open the URL `orch ui` printed (it ends in ?token=…).")
  }

  func route(_ request: Request, query: [(String, String)]) throws -> Response {
    guard let parts = Path.routed(request.path) else { return Page.notFound() }
    let q = Query(query)
    let isGet = request.method == .GET
    if parts.first == "actions" {
      guard request.method == .POST else { return Page.error(status: .methodNotAllowed, "actions take POST only") }
      guard parts.count == 2 else { return Page.notFound() }
      let body = String(decoding: request.body, as: UTF8.self)
      return try Actions.handle(parts[1], form: Query(Form.parse(body)), state: state)
    }
    guard isGet else { return Page.error(status: .methodNotAllowed, "this page takes GET") }
    switch (parts.count, parts.first) {
    case (0, _): return try state.read { try Pages.overview($0, state: state) }
    case (2, "static"): return Assets.serve(parts[1])
    case (1, "slurm"): return try state.read { try Pages.slurm($0, state: state) }
    case (1, "events"): return try Events.stream(q, state: state)
    case (2, "sweeps"): return try state.read { try Pages.sweep($0, name: parts[1], q: q, state: state) }
    case (3, "sweeps") where parts[2] == "curves":
      return try state.read { try Curves.page($0, sweep: parts[1], q: q, state: state) }
    case (3, "sweeps") where parts[2] == "analyses":
      return try Analyses.page(sweep: parts[1], state: state)
    case (_, "sweeps") where parts.count >= 4 && parts[2] == "analyses":
      return Analyses.file(sweep: parts[1], name: parts[3...].joined(separator: "/"), state: state)
    case (_, "jobs") where parts.count >= 2:
      guard let id = Int64(parts[1]), id > 0 else { return Page.notFound() }
      if parts.count == 2 { return try state.read { try Pages.job($0, id: id, state: state) } }
      if parts.count == 3 && parts[2] == "attempts" {
        return try state.read { try Pages.attemptsFragment($0, id: id) }
      }
      if parts.count == 3 && parts[2] == "log" {
        return try state.read { try Files.log($0, id: id, offset: q.int("offset") ?? 0, home: state.home) }
      }
      if parts.count >= 4 && parts[2] == "files" {
        return try state.read { try Files.artifact($0, id: id, relative: Array(parts[3...])) }
      }
      return Page.notFound()
    default: return Page.notFound()
    }
  }
}

/// A request's query or form, first value of each name.
struct Query {
  let pairs: [(String, String)]
  init(_ pairs: [(String, String)]) { self.pairs = pairs }
  subscript(_ name: String) -> String? {
    pairs.first { $0.0 == name }?.1.trimmingCharacters(in: .whitespaces).nilIfEmpty
  }
  func int(_ name: String) -> Int? { self[name].flatMap { Int($0) } }
}

extension String {
  var nilIfEmpty: String? { isEmpty ? nil : self }
}

enum Path {
  /// The path's segments, each percent-decoded; nil for a segment that decodes to `.`, `..`, or
  /// holds `/` or NUL (so an encoded traversal is refused, not resolved).
  static func components(_ path: String) -> [String]? {
    var out: [String] = []
    for raw in path.split(separator: "/", omittingEmptySubsequences: true) {
      guard let segment = String(raw).removingPercentEncoding else { return nil }
      if segment == "." || segment == ".." || segment.contains("/") || segment.contains("\0") { return nil }
      out.append(segment)
    }
    return out
  }

  /// As `components`, but the segment after `sweeps` is a sweep's name, which may hold an encoded
  /// `/` (`sbatch/<name>`): it is only looked up in the store, never joined into a file path.
  static func routed(_ path: String) -> [String]? {
    let raw = path.split(separator: "/", omittingEmptySubsequences: true)
    guard raw.count >= 2, raw[0] == "sweeps" else { return components(path) }
    guard let name = String(raw[1]).removingPercentEncoding, !name.contains("\0"),
      let rest = components(raw.dropFirst(2).joined(separator: "/"))
    else { return nil }
    return ["sweeps", name] + rest
  }

  static func encode(_ segment: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
  }
}

enum Form {
  /// `application/x-www-form-urlencoded` (and query strings): `+` is a space.
  static func parse(_ text: String) -> [(String, String)] {
    text.split(separator: "&").compactMap { pair in
      let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      func decode(_ s: Substring) -> String? { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
      guard let k = kv.first.flatMap(decode) else { return nil }
      return (k, kv.count > 1 ? decode(kv[1]) ?? "" : "")
    }
  }

  static func encode(_ pairs: [(String, String)]) -> String {
    pairs.map { Path.encode($0.0) + "=" + Path.encode($0.1) }.joined(separator: "&")
  }
}
