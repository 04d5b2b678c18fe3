import Foundation
import XCTest

@testable import Backends
@testable import Operations
@testable import Orchestrator
@testable import SlurmSyntax

/// What orch reads about GPUs: sbatch's GPU options, `--gpus`/`ORCH_GPUS` device lists, nvidia-smi's
/// CSV and `topo -m` output, and SLURM's `GRES=…(IDX:…)`. Whatever the input, a value or the
/// parser's own error, never a trap; what comes back is usable (counts within range, devices
/// matched, cores chosen).
final class GPUFuzzTests: XCTestCase {
  func testGPUSpecifications() {
    Fuzz.run(
      "gpu-spec", seeds: ["gpu", "gpu:a100:2", "gres/gpu:1k", "v100:1", "none", "gpu:0,gpu:1"],
      tokens: [":", ",", "gres/", "gpu", "k", "p", "999999999", "-1"]
    ) {
      let text = Fuzz.text($0)
      for request in [try? GPURequest.parseGres(text), try? GPURequest.parseCount(text)] {
        guard let request = request ?? nil else { continue }
        XCTAssertGreaterThan(request.count, 0)
        XCTAssertLessThanOrEqual(request.count, GPURequest.maxCount + 1)
        _ = request.gresText
      }
      _ = try? Sbatch.parse(
        arguments: ["--gres=" + text, "-G", text, "--wrap", "true"], environment: [:], readFile: { _ in "" }, cwd: "/")
      _ = SlurmRecord.gpuIndices(text)
      let devices = (try? GPUInventory.parseList(text, what: "--gpus")) ?? []
      XCTAssertLessThanOrEqual(devices.count, 1_000_000)
      var pool = GPUPool(devices: devices, memory: nil)
      _ = pool.capacity(cpus: 1)
      pool.hold(gpus: devices.prefix(2).map(\.index), shared: false, memory: nil)
      _ = pool.cores(1, near: devices.prefix(1).map(\.index), free: [0, 1])
    }
  }

  func testNvidiaSmiOutput() {
    Fuzz.run(
      "nvidia-smi",
      seeds: [
        "0, GPU-a, NVIDIA A100-SXM4-40GB, 40960 MiB\n1, GPU-b, Tesla V100, PCIe, 16160 MiB\n",
        "\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\nGPU0\t X \tNV12\t0-15,32-47\t0\nGPU1\tNV12\t X \t16-31\t1\n",
      ], tokens: ["\t", ",", "\n", "GPU", "CPU Affinity", "-", "999999", " MiB"]
    ) {
      let text = Fuzz.text($0)
      if let devices = try? GPUInventory.parseSmiCSV(text) {
        XCTAssertEqual(Set(devices.map(\.index)).count, devices.count)
        for d in devices { _ = d.matches(type: "a100") }
      }
      _ = GPUInventory.parseTopology(text)
    }
  }
}
