import Foundation
import SlurmSyntax
import Store

/// One `Key=Value …` record of `scontrol show job -o` or of the job-completion log
/// (`jobcomp/filetxt`), and what it says about orch's jobs.
struct SlurmRecord {
  var fields: [String: String] = [:]

  init(line: Substring) {
    var last: String?
    for token in line.split(separator: " ") {
      if let eq = token.firstIndex(of: "=") {
        let key = String(token[..<eq])
        fields[key] = String(token[token.index(after: eq)...])
        last = key
      } else if let key = last {
        // A value with spaces (`JobState=CANCELLED by 0`, a path): the rest belongs to it.
        fields[key, default: ""] += " " + token
      }
    }
  }

  subscript(_ key: String) -> String? { fields[key] }

  /// The array job id and the element indices the record covers (one, or a collapsed pending
  /// range such as `2-9%2`); nil for a job that is not an array element.
  var elements: (array: String, indices: [Int])? {
    guard let array = self["ArrayJobId"], let task = self["ArrayTaskId"], !task.isEmpty else { return nil }
    if let index = Int(task) { return (array, [index]) }
    guard let spec = try? ArraySpec.parse(task) else { return nil }
    return (array, spec.indices)
  }

  /// The state in orch's vocabulary, with SLURM's reason, exit code, signal, start and end.
  var observation: SlurmObservation? {
    guard let raw = self["JobState"]?.split(separator: " ").first,
      let state = Self.state(String(raw))
    else { return nil }
    var o = SlurmObservation(state: state)
    let reason = self["Reason"].flatMap { $0 == "None" || $0 == "(null)" ? nil : $0 }
    if let exit = self["ExitCode"] {
      let parts = exit.split(separator: ":").compactMap { Int32($0) }
      if parts.count == 2 {
        o.exitCode = parts[0]
        o.signal = parts[1] == 0 ? nil : parts[1]
      }
    }
    o.gpus = Self.gpuIndices(self["GRES"])
    if state.isTerminal {
      o.reason = reason ?? (state == .failed && (o.exitCode ?? 0) != 0 ? "NonZeroExitCode" : nil)
      o.startTime = Self.time(self["StartTime"])
      o.endTime = Self.time(self["EndTime"])
    } else {
      o.exitCode = nil
      o.signal = nil
      o.reason = state == .pending ? reason ?? "Priority" : nil
      if state == .running { o.startTime = Self.time(self["StartTime"]) }
    }
    return o
  }

  /// SLURM's job states (squeue(1) JOB STATE CODES) in orch's vocabulary.
  /// `gpu:2(IDX:0-1)`, `gpu:a100:2(IDX:0,2)`: the GPU indices SLURM allocated (nil if none are named).
  static func gpuIndices(_ text: String?) -> [Int]? {
    guard let text, text.hasPrefix("gpu"), let open = text.range(of: "(IDX:"),
      let close = text[open.upperBound...].firstIndex(of: ")")
    else { return nil }
    return GPURequest.indexList(text[open.upperBound..<close], limit: 4096)
  }

  static func state(_ slurm: String) -> JobState? {
    switch slurm {
    case "PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "PREEMPTED", "SPECIAL_EXIT":
      return .pending
    case "RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING", "RESIZING", "SUSPENDED", "STOPPED":
      return .running
    case "COMPLETED": return .completed
    case "CANCELLED", "REVOKED": return .cancelled
    case "TIMEOUT", "DEADLINE": return .timeout
    case "OUT_OF_MEMORY": return .outOfMemory
    case "FAILED", "NODE_FAIL", "BOOT_FAIL": return .failed
    default: return nil
    }
  }

  /// `2026-11-22T22:59:41` (the controller's local time); nil for `Unknown`, `None`, `N/A`.
  static func time(_ text: String?) -> Double? {
    guard let text, text.count == 19 else { return nil }
    let parts = text.split(whereSeparator: { "-T:".contains($0) }).compactMap { Int32($0) }
    guard parts.count == 6 else { return nil }
    var t = tm()
    t.tm_year = parts[0] - 1900
    t.tm_mon = parts[1] - 1
    t.tm_mday = parts[2]
    t.tm_hour = parts[3]
    t.tm_min = parts[4]
    t.tm_sec = parts[5]
    t.tm_isdst = -1
    let seconds = mktime(&t)
    return seconds < 0 ? nil : Double(seconds)
  }
}
