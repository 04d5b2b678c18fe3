import OrchCore

/// squeue's output syntax: the header of each `%` letter, and `-O/--Format name[:[.]width],…`, the
/// long field names turned into the `%` format the rest of squeue prints (each field 20 wide unless
/// given, left-justified unless `.`).
public enum SqueueFormat {
  public static let header: [Character: String] = [
    "i": "JOBID", "A": "JOBID", "F": "ARRAY_JOB_ID", "K": "ARRAY_TASK_ID", "j": "NAME", "u": "USER", "t": "ST",
    "T": "STATE", "M": "TIME", "l": "TIME_LIMIT", "D": "NODES", "R": "NODELIST(REASON)", "r": "REASON",
    "N": "NODELIST", "C": "CPUS", "P": "PARTITION", "a": "ACCOUNT", "V": "SUBMIT_TIME", "S": "START_TIME",
    "e": "END_TIME", "Z": "WORK_DIR", "o": "COMMAND", "Q": "PRIORITY", "y": "NICE", "E": "DEPENDENCY", "q": "QOS",
    "m": "MIN_MEMORY", "c": "MIN_CPUS", "L": "TIME_LEFT", "p": "PRIORITY", "g": "GROUP", "G": "GROUP", "U": "UID",
    "h": "OVER_SUBSCRIBE", "B": "EXEC_HOST", "b": "TRES_PER_NODE", "d": "MIN_TMP_DISK", "O": "CONTIGUOUS",
    "X": "CORE_SPEC", "H": "SOCKETS_PER_NODE", "I": "CORES_PER_SOCKET", "J": "THREADS_PER_CORE", "z": "S:C:T",
    "f": "FEATURES", "k": "COMMENT", "v": "RESERVATION", "w": "WCKEY", "W": "LICENSES", "Y": "SCHEDNODES",
    "n": "REQ_NODES", "x": "EXC_NODES",
  ]

  static let letters: [String: Character] = [
    "jobid": "A", "jobarrayid": "i", "arrayjobid": "F", "arraytaskid": "K", "name": "j", "username": "u",
    "userid": "U", "statecompact": "t", "state": "T", "timeused": "M", "timelimit": "l", "numnodes": "D",
    "nodelist": "N", "reason": "r", "reasonlist": "R", "numcpus": "C", "partition": "P", "account": "a",
    "submittime": "V", "starttime": "S", "endtime": "e", "workdir": "Z", "command": "o", "prioritylong": "Q",
    "qos": "q", "minmemory": "m", "nice": "y", "dependency": "E", "mincpus": "c", "timeleft": "L", "priority": "p",
    "groupname": "g", "groupid": "G", "oversubscribe": "h", "batchhost": "B", "tres-per-node": "b",
    "reservation": "v", "wckey": "w", "licenses": "W", "feature": "f", "comment": "k", "schednodes": "Y",
    "reqnodes": "n", "mintmpdisk": "d", "contiguous": "O", "corespec": "X", "sockets": "H", "cores": "I",
    "threads": "J",
  ]

  public static func percent(_ spec: String) throws(OrchError) -> String {
    var out = ""
    for item in spec.split(separator: ",") {
      let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
      let name = parts[0].lowercased()
      guard let letter = letters[name] else {
        throw .badInput("squeue: error: Invalid job format specification: \(item)")
      }
      var width = "20"
      var right = ""
      if parts.count > 1 {
        var w = parts[1]
        if w.hasPrefix(".") {
          right = "."
          w = w.dropFirst()
        }
        if !w.isEmpty {
          guard let n = Int(w), n >= 0, n <= 10_000 else {
            throw .badInput("squeue: error: Invalid job format specification: \(item)")
          }
          width = String(n)
        }
      }
      out += "%\(right)\(width)\(letter)"
    }
    return out
  }
}
