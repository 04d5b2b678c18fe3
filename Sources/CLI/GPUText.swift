import Store

/// How listings write a job's GPUs.
enum GPUText {
  /// `orch queue`: a running job's devices (`gpu:0,2`), a pending one's request (`gpu:a100:2`).
  static func queue(_ a: GPUAllocation, running: Bool) -> String {
    guard a.count > 0 else { return "" }
    if running && !a.assigned.isEmpty { return "gpu:" + a.assigned.map(String.init).joined(separator: ",") }
    return request(a)
  }

  static func request(_ a: GPUAllocation) -> String {
    "gpu:" + (a.type.map { "\($0):" } ?? "") + "\(a.count)" + (a.shared ? "(shared)" : "")
  }
}
