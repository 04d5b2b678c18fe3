import Foundation

/// Processes as /proc lists them: enough to find a job's processes from its worker.
public enum JobProcess {
  public struct Entry: Sendable {
    public var pid: Int32
    public var parent: Int32
    public var group: Int32
  }

  public static func list() -> [Entry] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    var out: [Entry] = []
    for entry in entries {
      guard let pid = Int32(entry),
        let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { continue }
      // After "comm)": state, ppid, pgrp, …
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      if fields.count > 2, let parent = Int32(fields[1]), let group = Int32(fields[2]) {
        out.append(Entry(pid: pid, parent: parent, group: group))
      }
    }
    return out
  }
}
