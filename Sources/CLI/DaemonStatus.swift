import Backends
import Foundation
import OrchCore
import Orchestrator
import Store
import Worker

/// `orch daemon --status`, and the resources a starting daemon takes.
enum DaemonStatus {
  /// The machine's resources for a daemon started with these flags. Without `--gpus`/`ORCH_GPUS`
  /// (or `--mem`) the last daemon's declaration holds, so a daemon restarted by `submit` hands out
  /// the same devices; `--gpus detect` looks at the hardware again.
  static func resources(home: OrchHome, cpus: [Int], gpus: String?, mem: String?) throws(OrchError) -> NodeResources {
    var environment = ProcessInfo.processInfo.environment
    let previous = NodeResources.load(home: home)
    var declared = gpus
    if gpus?.lowercased() == "detect" {
      declared = nil
      environment["ORCH_GPUS"] = nil
    } else if gpus == nil && environment["ORCH_GPUS"] == nil {
      declared = previous?.gpusDeclared
    }
    let memory = mem ?? previous?.memDeclared
    var node = try NodeResources.detect(cpus: cpus, gpusFlag: declared, memFlag: memory, environment: environment)
    node.gpusDeclared = declared
    node.memDeclared = memory
    return node
  }

  static func show(home: OrchHome) throws(OrchError) {
    var text: String
    if let pid = DaemonLock.holder(home: home) {
      text = "daemon: running (pid \(pid)) for \(home.path)\n"
    } else {
      text = "daemon: not running for \(home.path)\n"
    }
    guard let node = NodeResources.load(home: home) else {
      let now = try NodeResources.current(home: home)
      Output.print(
        text + "CPUs: \(CPUList.format(now.cpus))\n" + now.describe() + "(no daemon has run yet: what it would find)\n")
      return
    }
    let store = try home.openStore()
    let running = try storeCall { () throws(StoreError) in
      try store.read("while reading running jobs") { try JobStore.runningAttempts($0) }
    }
    var used: [Int: Int] = [:]
    for attempt in running { for g in attempt.gpus { used[g, default: 0] += 1 } }
    let memoryUsed = running.reduce(Int64(0)) { $0 + ($1.memLimit ?? 0) }
    text += "CPUs: \(CPUList.format(node.cpus))\n" + node.describe(used: used, memoryUsed: memoryUsed)
    Output.print(text)
  }
}
