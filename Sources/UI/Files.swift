import Foundation
import NIOHTTP1
import OrchCore
import SlurmSyntax
import Store
import Worker

/// Logs and artifacts: only files inside the job's run directory as the store records it (the
/// log where the job's launch record puts it). Anything else is a 404, never an error that says
/// what exists.
enum Files {
  /// `path` relative to `runDir`, when it lies under it (textually; `artifact` checks the real path).
  static func relative(_ path: String, runDir: String) -> String? {
    let root = runDir.hasSuffix("/") ? runDir : runDir + "/"
    guard path.hasPrefix(root) else { return nil }
    let rel = String(path.dropFirst(root.count))
    return rel.isEmpty ? nil : rel
  }

  static func size(_ path: String) -> Int64? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return Int64(info.st_size)
  }

  static func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  /// The file `segments` names inside the run directory of job `id`, or nil: a segment that is
  /// empty, `.`, `..` or holds `/`, or a real path (symlinks followed) outside the real run
  /// directory, or anything but a regular file.
  static func resolve(runDir: String, segments: [String]) -> String? {
    guard !segments.isEmpty else { return nil }
    for s in segments where s.isEmpty || s == "." || s == ".." || s.contains("/") || s.contains("\0") {
      return nil
    }
    guard let root = realPath(runDir) else { return nil }
    guard let file = realPath(runDir + "/" + segments.joined(separator: "/")), file.hasPrefix(root + "/") else {
      return nil
    }
    var info = stat()
    guard stat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
    return file
  }

  static func artifact(_ store: JobStore, id: Int64, relative segments: [String]) throws -> Response {
    guard let row = try storeCall({ () throws(StoreError) in try store.jobs(JobFilter(jobs: [id])) }).first,
      let file = resolve(runDir: row.runDir, segments: segments),
      let handle = FileHandle(forReadingAtPath: file)
    else { return Page.notFound() }
    return Response(status: .ok, headers: fileHeaders(file), body: .file(handle))
  }

  /// A file a job wrote is shown, never run: no script, no same-origin access from it.
  static func fileHeaders(_ file: String) -> Headers {
    var headers = Headers()
    headers["Content-Type"] = contentType(file)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"
    if let n = size(file) { headers["Content-Length"] = String(n) }
    return headers
  }

  static func contentType(_ path: String) -> String {
    switch (path as NSString).pathExtension.lowercased() {
    case "txt", "log", "out", "err", "csv", "jsonl", "yaml", "yml", "json", "py", "sh": "text/plain; charset=utf-8"
    case "svg": "image/svg+xml"
    case "png": "image/png"
    case "jpg", "jpeg": "image/jpeg"
    default: "application/octet-stream"
    }
  }

  /// Where `orch logs` reads the job's stdout.
  static func logPath(_ store: JobStore, row: JobRow, home: OrchHome) -> String? {
    guard let text = try? store.launch(arrayID: row.arrayID), let launch = try? LaunchSpec.decode(text) else {
      return nil
    }
    let identity = JobIdentity(
      jobID: row.id, arrayID: row.arrayID, arrayIndex: row.arrayIndex, isArray: row.isArray, attempt: row.attempt,
      name: row.name, key: row.key, runDir: row.runDir, home: home.path)
    let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
    return OutputPaths.resolve(launch: launch, job: identity, host: host).stdout
  }

  /// The last `limit` bytes of the log (from a line start) and the log's size.
  static func logTail(_ store: JobStore, row: JobRow, home: OrchHome, limit: Int) -> (String, Int) {
    guard let path = logPath(store, row: row, home: home), let handle = FileHandle(forReadingAtPath: path) else {
      return ("", 0)
    }
    defer { try? handle.close() }
    let end = (try? handle.seekToEnd()).map(Int.init) ?? 0
    let start = max(0, end - limit)
    try? handle.seek(toOffset: UInt64(start))
    var data = (try? handle.read(upToCount: end - start)) ?? Data()
    if start > 0, let newline = data.firstIndex(of: 0x0A) { data = data[(newline + 1)...] }
    return (String(decoding: data, as: UTF8.self), start + (end - start))
  }

  /// `GET /jobs/ID/log?offset=N`: the log from byte N, as text (at most 1 MiB per request).
  static func log(_ store: JobStore, id: Int64, offset: Int, home: OrchHome) throws -> Response {
    guard let row = try storeCall({ () throws(StoreError) in try store.jobs(JobFilter(jobs: [id])) }).first else {
      return Page.notFound()
    }
    var headers = Headers()
    headers["Content-Type"] = "text/plain; charset=utf-8"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Cache-Control"] = "no-store"
    guard let path = logPath(store, row: row, home: home), let handle = FileHandle(forReadingAtPath: path) else {
      headers["X-Log-Offset"] = "0"
      return Response(status: .ok, headers: headers)
    }
    defer { try? handle.close() }
    let end = Int((try? handle.seekToEnd()) ?? 0)
    let start = min(max(offset, 0), end)
    try? handle.seek(toOffset: UInt64(start))
    let data = (try? handle.read(upToCount: min(end - start, 1 << 20))) ?? Data()
    headers["X-Log-Offset"] = String(start + data.count)
    return Response(status: .ok, headers: headers, body: .bytes([UInt8](data)))
  }
}
