import Analysis
import Foundation
import NIOHTTP1

/// The one escape for every value that reaches HTML, text and attributes alike.
func html(_ s: String) -> String {
  var out = ""
  out.reserveCapacity(s.utf8.count)
  for c in s.unicodeScalars {
    switch c {
    case "&": out += "&amp;"
    case "<": out += "&lt;"
    case ">": out += "&gt;"
    case "\"": out += "&quot;"
    case "'": out += "&#39;"
    default: out.unicodeScalars.append(c)
    }
  }
  return out
}

/// A JSON string literal that is safe inside a `<script>` block too: `<` never appears raw. Inside
/// the literal these characters stand only as themselves, so replacing them keeps its value.
func jsonString(_ s: String) -> String {
  var out = ""
  for c in ResultsOutput.jsonString(s).unicodeScalars {
    switch c {
    case "<": out += "\\u003c"
    case ">": out += "\\u003e"
    case "&": out += "\\u0026"
    case "\u{2028}": out += "\\u2028"
    case "\u{2029}": out += "\\u2029"
    default: out.unicodeScalars.append(c)
    }
  }
  return out
}

func jsonNumber(_ v: Double?) -> String { ResultsOutput.jsonNumber(v) }

enum Page {
  static let securityHeaders: [(String, String)] = [
    (
      "Content-Security-Policy",
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
  ]

  static func response(_ status: HTTPResponseStatus = .ok, type: String, _ body: String) -> Response {
    var headers = Headers()
    headers["Content-Type"] = type
    for (name, value) in securityHeaders { headers[name] = value }
    return Response(status: status, headers: headers, text: body)
  }

  /// A whole page: title, navigation, the CSRF token for the script, the body.
  static func document(title: String, csrf: String, body: String, status: HTTPResponseStatus = .ok) -> Response {
    let text = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>\(html(title)) · orch</title>
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <meta name="csrf" content="\(html(csrf))">
      <link rel="stylesheet" href="/static/orch.css"><script src="/static/orch.js" defer></script></head>
      <body><nav><a href="/">orch</a> <a href="/slurm">SLURM</a></nav>
      <main>
      \(body)
      </main></body></html>

      """
    return response(status, type: "text/html; charset=utf-8", text)
  }

  static func error(status: HTTPResponseStatus, _ message: String) -> Response {
    document(
      title: "\(status.code)", csrf: "",
      body: "<h1>\(status.code) \(html(status.reasonPhrase))</h1><div class=\"error\">\(html(message))</div>",
      status: status)
  }

  static func notFound() -> Response { error(status: .notFound, "no such page or file") }

  static func table(id: String? = nil, header: [String], rows: [String]) -> String {
    let idAttr = id.map { " id=\"\(html($0))\"" } ?? ""
    return "<table\(idAttr)><thead><tr>" + header.map { "<th>\(html($0))</th>" }.joined() + "</tr></thead><tbody>"
      + rows.joined(separator: "\n") + "</tbody></table>"
  }

  static func time(_ t: Double?) -> String {
    guard let t else { return "" }
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return formatter.string(from: Date(timeIntervalSince1970: t))
  }

  static func duration(_ s: Double?) -> String {
    guard let s, s.isFinite, s >= 0 else { return "" }
    let t = Int(s.rounded())
    if t >= 86400 { return "\(t / 86400)d \(t % 86400 / 3600)h" }
    if t >= 3600 { return "\(t / 3600)h \(t % 3600 / 60)m" }
    if t >= 60 { return "\(t / 60)m \(t % 60)s" }
    return "\(t)s"
  }

  static func bytes(_ n: Int64?) -> String {
    guard let n else { return "" }
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var i = 0
    while v >= 1024 && i < units.count - 1 {
      v /= 1024
      i += 1
    }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
  }
}
