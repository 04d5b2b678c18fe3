import Foundation

/// Finds the processes of one attempt by the environment every job starts with (`ORCH_HOME`,
/// `SLURM_JOB_ID`, `ORCH_ATTEMPT`). Needed when a worker died between spawning a job and
/// journaling its process id: only the job's own environment still names it.
public enum AttemptProcesses {
  /// Process groups whose members carry this attempt's variables (a job may have left its group).
  public static func groups(home: String, jobID: Int64, attempt: Int) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    let wanted: Set<[UInt8]> = [
      Array("ORCH_HOME=\(home)".utf8), Array("SLURM_JOB_ID=\(jobID)".utf8), Array("ORCH_ATTEMPT=\(attempt)".utf8),
    ]
    var groups: Set<pid_t> = []
    for entry in entries where entry.first?.isNumber == true {
      guard let pid = pid_t(entry), pid != getpid(),
        let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ")
      else { continue }
      let found = environ.split(separator: 0).reduce(into: 0) { n, v in if wanted.contains(Array(v)) { n += 1 } }
      guard found == wanted.count else { continue }
      // Spawned jobs lead their own group; never signal a group this process belongs to.
      let group = getpgid(pid)
      if group > 1 && group != getpgrp() { groups.insert(group) }
    }
    return groups.sorted()
  }

  /// SIGKILL to every group of the attempt; returns whether any was found.
  @discardableResult
  public static func kill(home: String, jobID: Int64, attempt: Int) -> Bool {
    let found = groups(home: home, jobID: jobID, attempt: attempt)
    for group in found { Glibc.kill(-group, SIGKILL) }
    return !found.isEmpty
  }
}
