import Foundation
import OrchCore
import System

/// The daemon's share of the SLURM backend: while jobs of this store run under SLURM, every
/// `interval` seconds (`ORCH_SLURM_COLLECT_INTERVAL`, default 10) it starts `orch collect` as a
/// child, so its loop never waits on `scontrol`; at most one runs at a time. With no SLURM job left
/// unfinished the timer stops and an idle daemon sleeps again; a submission's wake restarts it.
struct SlurmCollectTimer {
  var interval: Double =
    ProcessInfo.processInfo.environment["ORCH_SLURM_COLLECT_INTERVAL"].flatMap(Double.init) ?? 10
  var next: Double?
  var child: pid_t = 0
}

extension Daemon {
  /// At start and on every wake: collect soon if SLURM has unfinished jobs of this store.
  func scheduleSlurmCollect() {
    guard slurmCollect.next == nil, (try? store.hasActiveSlurmJobs()) == true else { return }
    slurmCollect.next = Posix.now() + min(1, slurmCollect.interval)
  }

  func tickSlurmCollect() {
    let now = Posix.now()
    guard let next = slurmCollect.next, now >= next else { return }
    if slurmCollect.child > 0 {
      var status: Int32 = 0
      if waitpid(slurmCollect.child, &status, WNOHANG) == 0 {
        slurmCollect.next = now + slurmCollect.interval
        return
      }
      slurmCollect.child = 0
    }
    guard (try? store.hasActiveSlurmJobs()) == true else {
      slurmCollect.next = nil
      return
    }
    slurmCollect.next = now + slurmCollect.interval
    let logFD = open(home.daemonLog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    defer { if logFD >= 0 { close(logFD) } }
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = home.path
    do {
      slurmCollect.child = try Spawn.start(
        argv: [DaemonClient.executablePath(), "collect"], env: env.map { "\($0.key)=\($0.value)" }, cwd: nil,
        stdout: logFD, stderr: logFD, events: -1)
    } catch {
      log.say("cannot start orch collect: \(error)")
    }
  }
}
