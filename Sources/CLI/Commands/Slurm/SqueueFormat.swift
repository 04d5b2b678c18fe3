import OrchCore

/// `squeue -O/--Format name[:[.]width],…`: the long field names, turned into the `%` format the
/// rest of squeue prints (each field 20 wide unless given, left-justified unless `.`).
enum SqueueFormat {
  static let letters: [String: Character] = [
    "jobid": "A", "jobarrayid": "i", "arrayjobid": "F", "arraytaskid": "K", "name": "j", "username": "u",
    "userid": "U", "statecompact": "t", "state": "T", "timeused": "M", "timelimit": "l", "numnodes": "D",
    "nodelist": "N", "reason": "r", "reasonlist": "R", "numcpus": "C", "partition": "P", "account": "a",
    "submittime": "V", "starttime": "S", "endtime": "e", "workdir": "Z", "command": "o", "prioritylong": "Q",
    "qos": "q", "minmemory": "m", "nice": "y", "dependency": "E",
  ]

  static func percent(_ spec: String) throws(OrchError) -> String {
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
