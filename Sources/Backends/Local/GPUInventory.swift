import Foundation
import OrchCore
import SlurmSyntax
import Worker

/// One GPU the daemon may hand out. `index` is what jobs see in `CUDA_VISIBLE_DEVICES`: nvidia-smi's
/// index (PCI bus order; jobs get `CUDA_DEVICE_ORDER=PCI_BUS_ID` so CUDA counts the same way).
public struct GPUDevice: Codable, Sendable, Hashable {
  public var index: Int
  public var uuid: String?
  public var name: String
  public var memoryMiB: Int?
  /// The cores near it (`nvidia-smi topo -m`, CPU Affinity); nil when unknown.
  public var cpus: [Int]?

  public init(index: Int, uuid: String? = nil, name: String, memoryMiB: Int? = nil, cpus: [Int]? = nil) {
    self.index = index
    self.uuid = uuid
    self.name = name
    self.memoryMiB = memoryMiB
    self.cpus = cpus
  }

  /// The type names a request may use for it, lowercase: the whole name with spaces as `_`
  /// (SLURM's AutoDetect form), each word, and each dash-prefix of a word — so `a100`,
  /// `a100-sxm4-40gb` and `nvidia_a100-sxm4-40gb` all name an `NVIDIA A100-SXM4-40GB`, but `a10`
  /// does not.
  public var typeNames: Set<String> {
    let lower = name.lowercased()
    var names: Set<String> = [lower.split(separator: " ").joined(separator: "_")]
    for word in lower.split(separator: " ") {
      let pieces = word.split(separator: "-", omittingEmptySubsequences: false)
      for n in 1...pieces.count { names.insert(pieces.prefix(n).joined(separator: "-")) }
    }
    return names
  }

  public func matches(type: String?) -> Bool { type.map { typeNames.contains($0) } ?? true }
}

/// Where the daemon's GPUs come from, in order: `orch daemon --gpus LIST`, `ORCH_GPUS`, `nvidia-smi`,
/// `/proc/driver/nvidia/gpus/`. A list declares devices without looking at the hardware (tests,
/// machines without NVIDIA tools, or `none` to hand out no GPU at all).
public enum GPUInventory {
  public struct Found: Sendable {
    public var devices: [GPUDevice]
    public var source: String
  }

  static let smiQuery = ["--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader"]

  public static func detect(flag: String?, environment: [String: String]) throws(OrchError) -> Found {
    if let flag { return Found(devices: try parseList(flag, what: "--gpus"), source: "--gpus") }
    if let list = environment["ORCH_GPUS"] {
      return Found(devices: try parseList(list, what: "ORCH_GPUS"), source: "ORCH_GPUS")
    }
    if let smi = findExecutable("nvidia-smi", path: environment["PATH"]) {
      guard let run = runTool(smi, smiQuery) else {
        throw .failure("cannot run \(smi); declare the GPUs with `orch daemon --gpus LIST` (or --gpus none)")
      }
      // No driver or no device (nvidia-smi exits 6 or 9): a machine without GPUs.
      guard run.status == 0 else { return Found(devices: [], source: "nvidia-smi (\(firstLine(run.output)))") }
      var devices = try parseSmiCSV(run.output, tool: smi)
      if let topo = runTool(smi, ["topo", "-m"]), topo.status == 0 {
        let affinity = parseTopology(topo.output)
        for i in devices.indices { devices[i].cpus = affinity[devices[i].index] }
      }
      return Found(devices: devices, source: "nvidia-smi")
    }
    let proc = "/proc/driver/nvidia/gpus"
    if FileManager.default.fileExists(atPath: proc) {
      return Found(devices: procDevices(proc), source: proc)
    }
    return Found(devices: [], source: "none found")
  }

  /// `0,1,2`, `0-3`, `0:a100,1:a100,2:v100` (INDEX[-LAST][:TYPE]); `none` or empty for no GPU.
  public static func parseList(_ text: String, what: String) throws(OrchError) -> [GPUDevice] {
    let spec = text.trimmingSpaces
    if spec.isEmpty || spec.lowercased() == "none" { return [] }
    let bad = OrchError.badInput(
      "bad \(what) '\(spec)': expected GPU indices such as 0,1,2 or 0-3, each optionally with :TYPE (0:a100), or none")
    var devices: [GPUDevice] = []
    var seen: Set<Int> = []
    for item in spec.split(separator: ",", omittingEmptySubsequences: false) {
      let parts = item.split(separator: ":", omittingEmptySubsequences: false)
      guard (1...2).contains(parts.count) else { throw bad }
      let bounds = parts[0].split(separator: "-", omittingEmptySubsequences: false)
      guard (1...2).contains(bounds.count), let lo = GPURequest.smallNumber(bounds[0]),
        let hi = GPURequest.smallNumber(bounds[bounds.count - 1]),
        lo <= hi, hi < maxDevices, devices.count + (hi - lo) < maxDevices
      else { throw bad }
      var name = "fake GPU"
      if parts.count == 2 {
        guard GPURequest.isTypeName(String(parts[1])) else { throw bad }
        name = String(parts[1])
      }
      for index in lo...hi {
        guard seen.insert(index).inserted else {
          throw OrchError.badInput("bad \(what) '\(spec)': GPU \(index) is listed twice")
        }
        devices.append(GPUDevice(index: index, name: name))
      }
    }
    return devices.sorted { $0.index < $1.index }
  }

  /// `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader`: one line per GPU,
  /// `0, GPU-…, NVIDIA A100-SXM4-40GB, 40960 MiB`. A line that is not that is an error: a daemon that
  /// guessed would hand out devices that do not exist, or miss some.
  public static func parseSmiCSV(_ text: String, tool: String = "nvidia-smi") throws(OrchError) -> [GPUDevice] {
    var devices: [GPUDevice] = []
    var seen: Set<Int> = []
    for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
      if line.isEmpty { continue }
      let fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard fields.count >= 4, let index = GPURequest.smallNumber(Substring(fields[0])), index < maxDevices,
        seen.insert(index).inserted
      else {
        throw .failure(
          "\(tool) printed an unexpected line \(n + 1): '\(UserText.escaped(line))' (expected index, uuid, name, memory); "
            + "declare the GPUs with `orch daemon --gpus LIST`")
      }
      let memoryField = fields[fields.count - 1]
      let memory = memoryField.split(separator: " ").first.flatMap { Int($0) }
      let name = fields[2..<(fields.count - 1)].joined(separator: ", ")
      devices.append(GPUDevice(index: index, uuid: fields[1].isEmpty ? nil : fields[1], name: name, memoryMiB: memory))
    }
    return devices.sorted { $0.index < $1.index }
  }

  /// `nvidia-smi topo -m`: each `GPUn` row's `CPU Affinity` column (`0-15,32-47`), by GPU index.
  public static func parseTopology(_ text: String) -> [Int: [Int]] {
    let lines = text.split(separator: "\n").map { stripEscapes(String($0)) }
    guard let header = lines.first(where: { $0.contains("CPU Affinity") }) else { return [:] }
    let columns = header.split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard let column = columns.firstIndex(of: "CPU Affinity") else { return [:] }
    var affinity: [Int: [Int]] = [:]
    for line in lines {
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard let label = fields.first, label.hasPrefix("GPU"),
        let index = GPURequest.smallNumber(Substring(label.dropFirst(3))),
        fields.count > column + 1,
        let cpus = GPURequest.indexList(Substring(fields[column + 1]), limit: 65536), !cpus.isEmpty
      else { continue }
      affinity[index] = cpus
    }
    return affinity
  }

  /// `/proc/driver/nvidia/gpus/<bus id>/information`: `Model:`, `Device Minor:`, `GPU UUID:`.
  static func procDevices(_ dir: String) -> [GPUDevice] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    var devices: [GPUDevice] = []
    for entry in entries.sorted() {
      guard let text = try? String(contentsOfFile: "\(dir)/\(entry)/information", encoding: .utf8) else { continue }
      var fields: [String: String] = [:]
      for line in text.split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        fields[line[..<colon].trimmingCharacters(in: .whitespaces)] =
          line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      }
      let index = fields["Device Minor"].flatMap { GPURequest.smallNumber(Substring($0)) } ?? devices.count
      guard index < maxDevices, !devices.contains(where: { $0.index == index }) else { continue }
      devices.append(GPUDevice(index: index, uuid: fields["GPU UUID"], name: fields["Model"] ?? "NVIDIA GPU"))
    }
    return devices.sorted { $0.index < $1.index }
  }

  /// Device indices are below this (a machine with more GPUs than this is not a workstation).
  static let maxDevices = 4096

  static func stripEscapes(_ s: String) -> String {
    s.replacingOccurrences(of: "\u{1b}\\[[0-9;]*m", with: "", options: .regularExpression)
  }

  static func firstLine(_ s: String) -> String {
    UserText.escaped(String(s.split(separator: "\n").first ?? "no output").trimmingCharacters(in: .whitespaces))
  }

  static func findExecutable(_ name: String, path: String?) -> String? {
    for dir in (path ?? "/usr/bin:/bin").split(separator: ":") where !dir.isEmpty {
      let candidate = "\(dir)/\(name)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  /// Runs a tool with a deadline (a wedged driver can hang nvidia-smi): nil if it cannot start or
  /// does not finish in time. Its output goes to a file, so no pipe can fill and block it.
  static func runTool(_ path: String, _ args: [String], timeout: Double = 20) -> (status: Int32, output: String)? {
    let file = NSTemporaryDirectory() + "/orch-gpu-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    guard FileManager.default.createFile(atPath: file, contents: nil), let handle = FileHandle(forWritingAtPath: file)
    else { return nil }
    defer {
      try? handle.close()
      unlink(file)
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.standardOutput = handle
    p.standardError = handle
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning {
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      return nil
    }
    p.waitUntilExit()
    let data = FileManager.default.contents(atPath: file) ?? Data()
    return (p.terminationStatus, String(decoding: data.prefix(1 << 20), as: UTF8.self))
  }
}
