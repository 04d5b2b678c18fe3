import Backends
import Store

/// GPUs (and memory) as SLURM's `scontrol show job` and `sacct -o AllocTRES,ReqTRES` write them.
public enum TRESText {
  /// `,gres/gpu=N` appended to `TRES=`.
  public static func scontrolGPU(_ a: GPUAllocation?) -> String {
    guard let a, a.count > 0 else { return "" }
    return ",gres/gpu=\(a.count)" + (a.type.map { ",gres/gpu:\($0)=\(a.count)" } ?? "")
  }

  /// What a job asks for, as scontrol's `TRES=` and squeue's `tres_req_str` write it.
  public static func requested(cpus: Int, memoryMB: Int, gpus: GPUAllocation?) -> String {
    "cpu=\(cpus)" + (memoryMB > 0 ? ",mem=\(megabytes(Int64(memoryMB)))" : "") + ",node=1,billing=\(cpus)"
      + scontrolGPU(gpus)
  }

  /// Megabytes as SLURM prints a memory request (`100M`, `2G`); `0` for none.
  public static func megabytes(_ mb: Int64) -> String { mb > 0 ? memory(mb << 20) : "0" }

  /// A job's GPUs as a gres request, `gpu:[TYPE:]N`; nil without GPUs.
  public static func gres(_ a: GPUAllocation?) -> String? {
    guard let a, a.count > 0 else { return nil }
    return "gpu:" + (a.type.map { "\($0):" } ?? "") + "\(a.count)"
  }

  /// `TresPerNode=gres:gpu:2`, and once devices are assigned `GRES=gpu:2(IDX:0-1)` (scontrol -d).
  public static func scontrolGres(_ a: GPUAllocation?, started: Bool) -> [String] {
    guard let a, let request = gres(a) else { return [] }
    var out = ["TresPerNode=gres:\(request)"]
    if started && !a.assigned.isEmpty { out.append("GRES=\(request)(IDX:\(CPUList.format(a.assigned)))") }
    return out
  }

  /// `billing=1,cpu=1,gres/gpu=1,mem=4G,node=1`: sacct's names in alphabetical order.
  public static func sacct(_ r: JobRow, _ a: GPUAllocation?, allocated: Bool) -> String {
    var parts = ["billing=\(r.cpus)", "cpu=\(r.cpus)"]
    if let a, a.count > 0 {
      parts.append("gres/gpu=\(a.count)")
      if let type = a.type { parts.append("gres/gpu:\(type)=\(a.count)") }
    }
    if let mem = a?.memLimit { parts.append("mem=\(memory(mem))") }
    parts.append("node=1")
    return parts.joined(separator: ",")
  }

  /// Bytes in the largest unit that keeps them whole, as sacct prints memory (`4G`, `1536M`).
  public static func memory(_ bytes: Int64) -> String {
    var value = bytes >> 20
    var unit = "M"
    for next in ["G", "T", "P"] where value > 0 && value % 1024 == 0 {
      value /= 1024
      unit = next
    }
    return "\(value)\(unit)"
  }
}
