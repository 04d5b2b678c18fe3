import Foundation

/// The parts of a stored config (canonical JSON) the daemon needs to launch it.
struct JobConfig {
  var argv: [String]?
  var env: [String: String] = [:]
  var engine: String?

  static func parse(_ json: String) -> JobConfig {
    guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
      return JobConfig()
    }
    return JobConfig(
      argv: object["command"] as? [String], env: object["env"] as? [String: String] ?? [:],
      engine: object["engine"] as? String)
  }
}
