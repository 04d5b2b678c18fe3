import Foundation

/// What sinfo reports of this machine beyond orch's own numbers: its memory, load, kernel and boot
/// time, read where slurmd reads them (/proc, uname).
public enum SinfoMachine {
  /// A `/proc/meminfo` field in MB (`MemTotal`: sinfo's RealMemory, `MemFree`: its FREE_MEM).
  public static func memoryMB(_ field: String) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
      let kb = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    else { return nil }
    return kb / 1024
  }

  /// The one-minute load average (`%O`, `cpu_load` × 100).
  public static var load: Double {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").first.flatMap { Double($0) } ?? 0
  }

  public static var current: SinfoJSON.Machine {
    var names = utsname()
    uname(&names)
    func field<T>(_ value: T) -> String {
      withUnsafeBytes(of: value) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
    }
    let stat = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
    let boot = stat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Int($0.dropFirst(6)) } ?? 0
    return SinfoJSON.Machine(
      architecture: field(names.machine),
      operatingSystem: "\(field(names.sysname)) \(field(names.release)) \(field(names.version))", bootTime: boot)
  }
}
