import Foundation
import OrchCore
import SlurmSyntax
import System
import Worker

/// What this machine gives jobs: CPUs, GPUs and memory. The daemon works it out at start and writes
/// it to `ORCH_HOME/node.json`, so `submit`/`sbatch` refuse what it can never run and `daemon
/// --status` shows it; before any daemon has run, the CLI works it out the same way.
public struct NodeResources: Codable, Sendable {
  public var cpus: [Int]
  public var gpus: [GPUDevice]
  public var gpuSource: String
  /// Bytes of memory jobs' `--mem` may add up to; nil = not counted.
  public var memory: Int64?
  public var memorySource: String
  /// What `--gpus`/`--mem` declared (nil: detected), kept for the next daemon.
  public var gpusDeclared: String?
  public var memDeclared: String?

  public static let fileName = "node.json"

  /// The reserve kept back from the machine's memory by default: a tenth, at least 512 MiB and at
  /// most 8 GiB (the daemon, its workers, the desktop).
  static func reserve(of total: Int64) -> Int64 { min(max(total / 10, 512 << 20), 8 << 30) }

  public static func detect(
    cpus: [Int], gpusFlag: String?, memFlag: String?, environment: [String: String]
  ) throws(OrchError) -> NodeResources {
    let found = try GPUInventory.detect(flag: gpusFlag, environment: environment)
    var memory: Int64?
    var source: String
    if let memFlag {
      do { memory = try MemorySpec.parseBytes(memFlag) } catch {
        throw .badInput("bad --mem '\(memFlag)': \(error.message)")
      }
      source = memory == nil ? "--mem 0 (not counted)" : "--mem"
    } else if let total = machineMemory() {
      memory = total - reserve(of: total)
      source = "machine memory \(total >> 20)M minus a \(reserve(of: total) >> 20)M reserve"
    } else {
      source = "unknown (not counted)"
    }
    return NodeResources(cpus: cpus, gpus: found.devices, gpuSource: found.source, memory: memory, memorySource: source)
  }

  /// The smaller of MemTotal and this process's cgroup limit (a container's memory), in bytes.
  static func machineMemory() -> Int64? {
    var total: Int64?
    if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
      let kb = line.split(separator: " ").dropFirst().first.flatMap({ Int64($0) }), kb > 0, kb < Int64.max >> 10
    {
      total = kb << 10
    }
    if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
      let limit = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0
    {
      total = min(total ?? limit, limit)
    }
    return total
  }

  public static func load(home: OrchHome) -> NodeResources? {
    guard let data = FileManager.default.contents(atPath: home.path + "/" + fileName) else { return nil }
    return try? JSONDecoder().decode(NodeResources.self, from: data)
  }

  /// Written whole and renamed into place, so a reader never sees half of it.
  public func save(home: OrchHome) throws(OrchError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    guard let data = try? encoder.encode(self) else { throw .failure("cannot encode \(Self.fileName)") }
    let path = home.path + "/" + Self.fileName
    let temporary = path + ".\(getpid())"
    do {
      try Posix.writeFile(temporary, String(decoding: data, as: UTF8.self) + "\n", mode: 0o600)
    } catch {
      throw .failure("\(error)")
    }
    guard rename(temporary, path) == 0 else {
      unlink(temporary)
      throw .failure("cannot write \(path): \(Posix.errorText())")
    }
  }

  /// The last daemon's record, else what this machine has now (`ORCH_GPUS`, nvidia-smi).
  public static func current(home: OrchHome) throws(OrchError) -> NodeResources {
    if let saved = load(home: home) { return saved }
    return try detect(
      cpus: Posix.allowedCPUs(), gpusFlag: nil, memFlag: nil, environment: ProcessInfo.processInfo.environment)
  }

  /// Why a job asking for this can never run here (nil when it can), for SLURM's
  /// `Requested node configuration is not available`.
  public func unavailable(gpus request: GPURequest?, memory bytes: Int64?) -> String? {
    if let request, request.count > 0 {
      let matching = gpus.filter { $0.matches(type: request.type) }.count
      if request.count > matching {
        let what = request.type.map { "GPUs of type \($0)" } ?? "GPUs"
        return "asks for \(request.count) \(what); this machine has \(matching) (\(gpuSource))"
      }
    }
    if let bytes, let memory, bytes > memory {
      return "asks for \(bytes >> 20)M of memory; jobs here have \(memory >> 20)M (\(memorySource))"
    }
    return nil
  }

  /// `daemon --status`'s lines about GPUs and memory.
  public func describe(used: [Int: Int] = [:], memoryUsed: Int64 = 0) -> String {
    var text = "GPUs: \(gpus.count) (\(gpuSource))\n"
    for gpu in gpus {
      var line = "  GPU \(gpu.index): \(gpu.name)"
      if let m = gpu.memoryMiB { line += ", \(m) MiB" }
      if let uuid = gpu.uuid { line += ", \(uuid)" }
      if let cpus = gpu.cpus { line += ", near CPUs \(CPUList.format(cpus))" }
      let jobs = used[gpu.index] ?? 0
      line += jobs == 0 ? ", idle" : ", \(jobs) job\(jobs == 1 ? "" : "s")"
      text += line + "\n"
    }
    if let memory {
      text += "Memory for jobs: \(memory >> 20)M (\(memorySource)), \(memoryUsed >> 20)M held by running jobs\n"
    } else {
      text += "Memory for jobs: \(memorySource)\n"
    }
    return text
  }
}

extension CPUList {
  /// `0-3,6`.
  public static func format(_ cpus: [Int]) -> String {
    var parts: [String] = []
    var i = 0
    let sorted = Array(Set(cpus)).sorted()
    while i < sorted.count {
      var j = i
      while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
      parts.append(i == j ? "\(sorted[i])" : "\(sorted[i])-\(sorted[j])")
      i = j + 1
    }
    return parts.joined(separator: ",")
  }
}
