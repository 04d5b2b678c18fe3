import Foundation
import NIOHTTP1
import OrchCore

/// What `orch analyze` wrote for a sweep. The store records no analyses: `analyze` writes its
/// plots to `$ORCH_HOME/analysis/<analysis>-<sweep>.svg` (and `influence-<sweep>-<target>/`), so
/// this page lists the SVG, PNG and CSV files there whose name carries the sweep's name, shows
/// the SVGs as images (an `<img>` never runs a script inside one) and the CSVs as tables.
enum Analyses {
  static func directory(_ state: UIState) -> String { state.home.path + "/analysis" }

  /// The sweep's name as `analyze` puts it in a file name.
  static func safe(_ sweep: String) -> String {
    String(sweep.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
  }

  /// Files (relative to the analysis directory, at most one folder deep) for this sweep.
  static func files(sweep: String, state: UIState) -> [String] {
    let root = directory(state)
    let name = safe(sweep)
    let fm = FileManager.default
    var out: [String] = []
    for entry in ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted() {
      guard entry.hasSuffix("-" + name) || entry.contains("-" + name + ".") || entry.contains("-" + name + "-")
      else { continue }
      var isDir: ObjCBool = false
      guard fm.fileExists(atPath: root + "/" + entry, isDirectory: &isDir) else { continue }
      if isDir.boolValue {
        for inner in ((try? fm.contentsOfDirectory(atPath: root + "/" + entry)) ?? []).sorted() where shown(inner) {
          out.append(entry + "/" + inner)
        }
      } else if shown(entry) {
        out.append(entry)
      }
    }
    return out
  }

  static func shown(_ name: String) -> Bool {
    [".svg", ".png", ".csv"].contains { name.lowercased().hasSuffix($0) }
  }

  static func page(sweep: String, state: UIState) throws -> Response {
    let found = files(sweep: sweep, state: state)
    let base = "/sweeps/\(Path.encode(sweep))/analyses/"
    var body = "<h1>Analyses · <a href=\"/sweeps/\(html(Path.encode(sweep)))\">\(html(sweep))</a></h1>\n"
    if found.isEmpty {
      body +=
        "<p>No analyses yet for this sweep: <code>orch analyze ANALYSIS \(html(sweep))</code> writes its plot to "
        + "<code>\(html(directory(state)))</code>.</p>"
    }
    func url(_ file: String) -> String {
      html(base + file.split(separator: "/").map { Path.encode(String($0)) }.joined(separator: "/"))
    }
    // `analyze` writes a PNG beside each SVG: one plot, shown once, the PNG a link under it.
    func pngTwin(_ file: String) -> String? {
      let png = file.lowercased().hasSuffix(".svg") ? String(file.dropLast(4)) + ".png" : nil
      return png.flatMap { found.contains($0) ? $0 : nil }
    }
    let twins = Set(found.compactMap(pngTwin))
    for file in found where !twins.contains(file) {
      body += "<section class=\"analysis\"><h2>\(html(file))</h2>"
      if file.lowercased().hasSuffix(".csv") {
        body += csvTable(directory(state) + "/" + file)
      } else {
        body += "<img class=\"plot\" src=\"\(url(file))\" alt=\"\(html(file))\">"
      }
      body += "<p class=\"files\"><a href=\"\(url(file))\">\(html(file))</a>"
      if let png = pngTwin(file) { body += " · <a class=\"png\" href=\"\(url(png))\">\(html(png))</a>" }
      body += "</p></section>\n"
    }
    return Page.document(title: "analyses of \(sweep)", csrf: state.csrf, body: body)
  }

  static func csvTable(_ path: String) -> String {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: true).prefix(1001)
    guard let head = lines.first else { return "" }
    func cells(_ line: Substring) -> [String] {
      line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    }
    return "<div class=\"scroll\">"
      + Page.table(
        header: cells(head),
        rows: lines.dropFirst().map { "<tr>" + cells($0).map { "<td>\(html($0))</td>" }.joined() + "</tr>" })
      + "</div>"
  }

  /// One listed file; the name must be one `files` lists (so nothing outside the directory).
  static func file(sweep: String, name: String, state: UIState) -> Response {
    guard files(sweep: sweep, state: state).contains(name) else { return Page.notFound() }
    let segments = name.split(separator: "/").map(String.init)
    guard let path = Files.resolve(runDir: directory(state), segments: segments),
      let handle = FileHandle(forReadingAtPath: path)
    else { return Page.notFound() }
    return Response(status: .ok, headers: Files.fileHeaders(path), body: .file(handle))
  }
}
