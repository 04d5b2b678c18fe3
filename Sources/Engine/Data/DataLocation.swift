import Foundation

/// Where datasets named in `data.name` are found.
public enum DataLocation {
  /// Datasets shipped in the project's `data/` folder (`GeneratedDatasets.names` are generated
  /// there on first use).
  public static let builtins = ["digits", "mnist1d"]

  /// The data root, the one place this is decided: `ORCH_DATA_DIR` when set; otherwise the
  /// first `data` folder holding `digits` found walking up from the executable's directory
  /// (`.build/debug/orch-worker` → `<package>/data`), then from the working directory.
  public static func root(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    if let dir = environment["ORCH_DATA_DIR"], !dir.isEmpty { return dir }
    var starts: [String] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
      starts.append((exe as NSString).deletingLastPathComponent)
    } else if let arg0 = CommandLine.arguments.first, arg0.contains("/") {
      starts.append(((arg0 as NSString).standardizingPath as NSString).deletingLastPathComponent)
    }
    starts.append(FileManager.default.currentDirectoryPath)
    for start in starts {
      var dir = start
      while true {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir + "/data/digits", isDirectory: &isDirectory),
          isDirectory.boolValue
        {
          return dir + "/data"
        }
        let parent = (dir as NSString).deletingLastPathComponent
        if parent == dir || parent.isEmpty { break }
        dir = parent
      }
    }
    return nil
  }

  /// The directory of dataset `name`: a name containing `/` (or starting with `.` or `~`) is a
  /// path, relative to the working directory; a bare name is a folder of the data root, or, if
  /// the root has none, a directory of that name in the working directory.
  public static func resolve(
    _ name: String, environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(EngineError) -> String {
    func isDirectory(_ path: String) -> Bool {
      var flag: ObjCBool = false
      return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
    }
    if name.contains("/") || name.hasPrefix(".") || name.hasPrefix("~") {
      let path = (name as NSString).expandingTildeInPath
      guard isDirectory(path) else { throw EngineError(.io, "dataset directory \(path) does not exist") }
      return path
    }
    let root = root(environment: environment)
    if let root, GeneratedDatasets.names.contains(name) {
      return try GeneratedDatasets.materialize(name, root: root)
    }
    if let root, isDirectory(root + "/" + name) { return root + "/" + name }
    if isDirectory(name) { return name }
    guard let root else {
      throw EngineError(
        .io,
        "dataset '\(name)' not found: no data root (set ORCH_DATA_DIR to the folder holding \(builtins.joined(separator: ", ")))"
      )
    }
    let available = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
      isDirectory(root + "/" + $0)
    }.sorted()
    throw EngineError(
      .io, "dataset '\(name)' not found in \(root) (available: \(available.joined(separator: ", ")))")
  }
}
