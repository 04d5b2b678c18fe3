import Foundation
import Worker

/// SLURM's `--output`/`--error` filename patterns: `%A` array master id, `%a` index, `%j` job id,
/// `%x` job name, `%u` user, `%N` short host, `%%` a literal `%`; a width such as `%4a` zero-pads,
/// to at most 10 digits as in SLURM (`%20a` pads to 10, however many digits the width has).
public enum OutputPattern {
  /// SLURM's `MAX_WIDTH`: a wider `%NNa` pads to this many digits.
  public static let maxWidth = 10

  public static func expand(_ pattern: String, job: JobIdentity, host: String, user: String) -> String {
    var out = ""
    var chars = pattern.makeIterator()
    while let c = chars.next() {
      guard c == "%" else {
        out.append(c)
        continue
      }
      var width = ""
      var spec = chars.next()
      while let d = spec, d.isASCII, d.isNumber {
        width.append(d)
        spec = chars.next()
      }
      guard let s = spec else {
        out.append("%" + width)
        break
      }
      let value: String?
      switch s {
      case "%": value = "%"
      case "A": value = String(job.arrayID)
      case "a": value = job.arrayIndex.map(String.init) ?? "4294967294"
      case "j": value = String(job.jobID)
      case "x": value = job.name
      case "u": value = user
      case "N", "n": value = s == "N" ? host : "0"
      case "s": value = "batch"
      case "t": value = "0"
      default: value = nil
      }
      guard let value else {
        out.append("%" + width + String(s))
        continue
      }
      let pad = width.isEmpty ? 0 : min(Int(width) ?? maxWidth, maxWidth)
      if pad > value.count, s != "x", s != "u", s != "N" {
        out += String(repeating: "0", count: pad - value.count) + value
      } else {
        out += value
      }
    }
    return out
  }
}

/// Where a job's stdout and stderr go: `<run dir>/log.txt` for sweep jobs, the sbatch patterns
/// (relative to the working directory) otherwise.
public enum OutputPaths {
  static let daemonUser = ProcessInfo.processInfo.environment["USER"] ?? "root"

  public static func resolve(launch: LaunchSpec, job: JobIdentity, host: String) -> (stdout: String, stderr: String?) {
    guard let output = launch.output else { return (job.runDir + "/log.txt", nil) }
    // The submitter's user; the daemon's own environment only as a fallback, read once (building
    // ProcessInfo's environment dictionary on every dispatch is measurable in the daemon's loop).
    let user = launch.env["USER"] ?? daemonUser
    func absolute(_ p: String) -> String { p.hasPrefix("/") ? p : launch.cwd + "/" + p }
    let out = absolute(OutputPattern.expand(output, job: job, host: host, user: user))
    let err = launch.error.map { absolute(OutputPattern.expand($0, job: job, host: host, user: user)) }
    return (out, err == out ? nil : err)
  }
}
