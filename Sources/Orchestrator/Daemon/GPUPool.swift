import Backends
import Foundation
import Store
import Worker

/// The daemon's GPUs and memory as the claim sees them: which devices are held, by one job alone
/// or by sharing jobs (`gpus_shared: true`), and how much of the memory for jobs running jobs'
/// `--mem` hold. A value: a step works on a copy and keeps it only once its transaction commits.
struct GPUPool {
  var devices: [GPUDevice]
  /// Devices held by one job alone.
  var exclusive: Set<Int> = []
  /// Device → how many sharing jobs hold it.
  var shared: [Int: Int] = [:]
  /// Bytes jobs may hold in all; nil = memory is not counted.
  var memory: Int64?
  var memoryUsed: Int64 = 0

  init(devices: [GPUDevice], memory: Int64?) {
    self.devices = devices
    self.memory = memory
  }

  func isFree(_ index: Int, shared sharing: Bool) -> Bool {
    !exclusive.contains(index) && (sharing || (shared[index] ?? 0) == 0)
  }

  /// How many devices of each type a job could take now, as the claim's JSON (`""`: any type).
  func counts(shared sharing: Bool) -> String {
    var counts: [String: Int] = [:]
    for device in devices where isFree(device.index, shared: sharing) {
      counts["", default: 0] += 1
      for name in device.typeNames { counts[name, default: 0] += 1 }
    }
    guard let data = try? JSONEncoder().encode(counts) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
  }

  func capacity(cpus: Int) -> ClaimCapacity {
    ClaimCapacity(
      cpus: cpus, memory: memory.map { max(0, $0 - memoryUsed) }, freeGPUs: counts(shared: false),
      shareableGPUs: counts(shared: true))
  }

  /// Picks `job`'s devices (the claim has checked there are enough): the lowest free indices of its
  /// type; a sharing job takes the least shared first.
  func choose(for job: ClaimedJob) -> [Int] {
    guard job.gpus > 0 else { return [] }
    let candidates = devices.filter { $0.matches(type: job.gpuType) && isFree($0.index, shared: job.gpusShared) }
      .sorted { ((shared[$0.index] ?? 0), $0.index) < ((shared[$1.index] ?? 0), $1.index) }
    return candidates.prefix(job.gpus).map(\.index).sorted()
  }

  mutating func hold(gpus: [Int], shared sharing: Bool, memory bytes: Int64?) {
    for g in gpus {
      if sharing { shared[g, default: 0] += 1 } else { exclusive.insert(g) }
    }
    memoryUsed += bytes ?? 0
  }

  mutating func release(gpus: [Int], shared sharing: Bool, memory bytes: Int64?) {
    for g in gpus {
      if sharing {
        let n = (shared[g] ?? 0) - 1
        shared[g] = n > 0 ? n : nil
      } else {
        exclusive.remove(g)
      }
    }
    memoryUsed = max(0, memoryUsed - (bytes ?? 0))
  }

  /// Cores for a job given `gpus`: free cores near those GPUs first (`nvidia-smi topo -m`), then
  /// any free ones, each group in order.
  func cores(_ count: Int, near gpus: [Int], free: [Int]) -> [Int] {
    let near = Set(devices.filter { gpus.contains($0.index) }.flatMap { $0.cpus ?? [] })
    guard !near.isEmpty else { return Array(free.prefix(count)) }
    return Array((free.filter { near.contains($0) } + free.filter { !near.contains($0) }).prefix(count))
  }

  /// How many jobs hold each device (for `daemon --status`).
  var usage: [Int: Int] {
    var used = shared
    for g in exclusive { used[g, default: 0] += 1 }
    return used
  }
}

/// The variables SLURM's gres/gpu plugin sets for a batch job, with global device indices (orch has
/// no device cgroup, as SLURM without `ConstrainDevices`). A job on a machine with GPUs that asked
/// for none gets an empty `CUDA_VISIBLE_DEVICES`, so it cannot land on another job's device.
enum GPUEnvironment {
  static let names = [
    "CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "SLURM_JOB_GPUS", "SLURM_GPUS_ON_NODE", "ROCR_VISIBLE_DEVICES",
  ]

  static func apply(_ env: inout [String], gpus: [Int], machineHasGPUs: Bool) {
    guard machineHasGPUs || !gpus.isEmpty else { return }
    let list = gpus.map(String.init).joined(separator: ",")
    let keepOrder = env.contains { $0.hasPrefix("CUDA_DEVICE_ORDER=") }
    env.removeAll { entry in names.contains { entry.hasPrefix($0 + "=") } }
    env.append("CUDA_VISIBLE_DEVICES=\(list)")
    env.append("GPU_DEVICE_ORDINAL=\(list)")
    env.append("ROCR_VISIBLE_DEVICES=\(list)")
    guard !gpus.isEmpty else { return }
    env.append("SLURM_JOB_GPUS=\(list)")
    env.append("SLURM_GPUS_ON_NODE=\(gpus.count)")
    // nvidia-smi numbers GPUs in PCI bus order; CUDA by default fastest first.
    if !keepOrder { env.append("CUDA_DEVICE_ORDER=PCI_BUS_ID") }
  }
}
