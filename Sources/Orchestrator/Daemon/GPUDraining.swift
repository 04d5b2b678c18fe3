import Foundation
import Store
import System
import Worker

/// The devices of an attempt whose worker was lost: its processes were killed, but a process in the
/// middle of a GPU call can take a while to die, and until it has, the device is not free.
struct DrainingGPUs {
  var jobID: Int64
  var attempt: Int
  var gpus: [Int]
  var shared: Bool

  /// How often the daemon looks for the attempt's processes while some of its devices wait.
  static let interval = 0.2
}

extension Daemon {
  /// Frees the devices of lost attempts none of whose processes are left.
  func checkDraining() {
    guard !draining.isEmpty else { return }
    var still: [DrainingGPUs] = []
    for d in draining {
      if AttemptProcesses.groups(home: home.path, jobID: d.jobID, attempt: d.attempt).isEmpty {
        pool.release(gpus: d.gpus, shared: d.shared, memory: nil)
        log.say("GPUs \(d.gpus.map(String.init).joined(separator: ",")) of job \(d.jobID) are free again")
        dirty = true
      } else {
        still.append(d)
      }
    }
    draining = still
  }

  /// Recovery's part for GPUs and memory: an adopted attempt keeps its devices and memory; a lost
  /// one's devices drain.
  func holdRecovered(_ attempt: RunningAttempt, adopted: Bool) {
    if adopted {
      pool.hold(gpus: attempt.gpus, shared: attempt.gpusShared, memory: attempt.memLimit)
    } else if !attempt.gpus.isEmpty {
      pool.hold(gpus: attempt.gpus, shared: attempt.gpusShared, memory: nil)
      draining.append(
        DrainingGPUs(jobID: attempt.jobID, attempt: attempt.attempt, gpus: attempt.gpus, shared: attempt.gpusShared))
    }
  }

  /// An adopted attempt ended: its memory is free, its devices too unless it was lost.
  func releaseAdopted(_ a: Adopted, lost: Bool) {
    if lost && !a.gpus.isEmpty {
      pool.release(gpus: [], shared: false, memory: a.memLimit)
      draining.append(DrainingGPUs(jobID: a.jobID, attempt: a.attempt, gpus: a.gpus, shared: a.gpusShared))
    } else {
      pool.release(gpus: a.gpus, shared: a.gpusShared, memory: a.memLimit)
    }
  }
}
