import Foundation
import XCTest

/// GPUs and memory as scheduled resources, with fake devices (`ORCH_GPUS`, `--gpus`): what can be
/// checked without a GPU — assignment, exclusivity, the variables, refusal, recovery, memory
/// admission. Overlap is judged from each job's recorded devices and start/end, never from timing.
final class GPUTests: XCTestCase {
  /// Each job writes `DEVICES START END` (its CUDA_VISIBLE_DEVICES, `date +%s.%N` around a sleep).
  static let recorder =
    "s=$(date +%s.%N); sleep 0.3; echo \"$CUDA_VISIBLE_DEVICES $(date +%s.%N) $s $SLURM_JOB_GPUS $SLURM_GPUS_ON_NODE $GPU_DEVICE_ORDINAL\" > $ORCH_RUN_DIR/gpu.txt"

  struct Use {
    var devices: [Int]
    var start: Double
    var end: Double
    var fields: [String]
  }

  /// Every job's record under the run root.
  func uses(_ c: Cluster) throws -> [Use] {
    var out: [Use] = []
    let files = FileManager.default.enumerator(atPath: c.runs)?.compactMap { $0 as? String } ?? []
    for file in files where file.hasSuffix("gpu.txt") {
      let fields = try String(contentsOfFile: c.runs + "/" + file, encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", omittingEmptySubsequences: false)
        .map(String.init)
      let devices = fields[0].split(separator: ",").compactMap { Int($0) }
      out.append(Use(devices: devices, start: Double(fields[2])!, end: Double(fields[1])!, fields: fields))
    }
    return out
  }

  /// No two jobs' intervals overlap on any device.
  func assertDisjointPerDevice(_ uses: [Use], file: StaticString = #filePath, line: UInt = #line) {
    var byDevice: [Int: [Use]] = [:]
    for u in uses { for d in u.devices { byDevice[d, default: []].append(u) } }
    for (device, list) in byDevice {
      let sorted = list.sorted { $0.start < $1.start }
      for (a, b) in zip(sorted, sorted.dropFirst()) {
        XCTAssertLessThanOrEqual(
          a.end, b.start, "two jobs on GPU \(device) at once: \(a) and \(b)", file: file, line: line)
      }
    }
  }

  /// Sweep NAME: COUNT jobs asking for GPUS each (the name is in the command: configs of two such
  /// sweeps must not share a config hash, or the second would be skipped as already queued).
  func writeSweep(_ c: Cluster, name: String, count: Int, gpus: Int, extra: String = "") throws {
    let script = (Self.recorder + "; : \(name)").replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
      of: "\"", with: "\\\"")
    try c.write(
      "sweeps/\(name).yaml",
      """
      register:
        - key: "\(name)/j{i}"
          bindings: {i: 0}
          axes: {i: range(0, \(count))}
          resources: {gpus: \(gpus)\(extra)}
          command: [sh, -c, "\(script)"]
      """)
  }

  func testNineOneGPUJobsAndTwoGPUJobsNeverShareADevice() throws {
    let c = try Cluster()
    try writeSweep(c, name: "one", count: 9, gpus: 1)
    try writeSweep(c, name: "two", count: 3, gpus: 2)
    try c.startDaemon(env: ["ORCH_GPUS": "0,1,2"])
    for name in ["one", "two"] {
      let r = try c.run(["submit", "sweeps/\(name).yaml", "--output-root", c.runs])
      XCTAssertEqual(r.code, 0, r.err)
    }
    try c.waitUntil("12 jobs done") { try c.states().values.filter { $0 == "COMPLETED" }.count == 12 }
    let all = try uses(c)
    XCTAssertEqual(all.count, 12)
    for u in all {
      XCTAssertTrue(u.devices.allSatisfy { (0...2).contains($0) }, "\(u)")
      XCTAssertEqual(Set(u.devices).count, u.devices.count, "a device twice: \(u)")
      // SLURM_JOB_GPUS and GPU_DEVICE_ORDINAL name the same devices; SLURM_GPUS_ON_NODE counts them.
      XCTAssertEqual(u.fields[3], u.fields[0])
      XCTAssertEqual(u.fields[4], String(u.devices.count))
      XCTAssertEqual(u.fields[5], u.fields[0])
    }
    XCTAssertEqual(all.filter { $0.devices.count == 1 }.count, 9)
    XCTAssertEqual(all.filter { $0.devices.count == 2 }.count, 3)
    assertDisjointPerDevice(all)
    // The assignment is recorded on each attempt.
    let history = try c.run(["history", "--attempts"])
    XCTAssertTrue(history.out.contains("GPUS"), history.out)
  }

  /// One device, two cores: GPU jobs run one at a time though a core is free.
  func testOneDeviceSerialisesGPUJobsWhileCPUJobsRun() throws {
    let c = try Cluster()
    try writeSweep(c, name: "g", count: 4, gpus: 1)
    try c.write(
      "sweeps/cpu.yaml",
      """
      register:
        - key: cpu
          command: [sh, -c, "echo \\"[$CUDA_VISIBLE_DEVICES]\\" > $ORCH_RUN_DIR/env.txt"]
      """)
    try c.startDaemon(env: ["ORCH_GPUS": "0"])
    XCTAssertEqual(try c.run(["submit", "sweeps/g.yaml", "--output-root", c.runs]).code, 0)
    XCTAssertEqual(try c.run(["submit", "sweeps/cpu.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("5 jobs done") { try c.states().values.filter { $0 == "COMPLETED" }.count == 5 }
    let all = try uses(c)
    XCTAssertEqual(all.map(\.devices), Array(repeating: [0], count: 4))
    assertDisjointPerDevice(all)
    // A job that asked for no GPU sees none.
    XCTAssertEqual(c.read("runs/cpu/env.txt"), "[]\n")
  }

  func testSharedGPUJobsMayShareADevice() throws {
    let c = try Cluster()
    try writeSweep(c, name: "s", count: 2, gpus: 1, extra: ", gpus_shared: true")
    try c.startDaemon(env: ["ORCH_GPUS": "0"])
    XCTAssertEqual(try c.run(["submit", "sweeps/s.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("2 jobs done") { try c.states().values.filter { $0 == "COMPLETED" }.count == 2 }
    XCTAssertEqual(try uses(c).map(\.devices), [[0], [0]])
  }

  func testImpossibleRequestsAreRefusedAtSubmitWithNothingQueued() throws {
    let c = try Cluster()
    try writeSweep(c, name: "big", count: 1, gpus: 4)
    try writeSweep(c, name: "typed", count: 1, gpus: 1, extra: ", gpu_type: h100")
    try c.startDaemon(env: ["ORCH_GPUS": "0,1:a100,2:a100"])
    for name in ["big", "typed"] {
      let r = try c.run(["submit", "sweeps/\(name).yaml", "--output-root", c.runs])
      XCTAssertEqual(r.code, 2, r.out)
      XCTAssertTrue(r.err.contains("Requested node configuration is not available"), r.err)
    }
    let flag = try c.run(["submit", "sweeps/typed.yaml", "--gpus", "a100:3", "--output-root", c.runs])
    XCTAssertEqual(flag.code, 2)
    XCTAssertTrue(flag.err.contains("Requested node configuration is not available"), flag.err)
    try c.write("job.sh", "#!/bin/sh\n#SBATCH --gres=gpu:4\ntrue\n")
    let (s, _) = try c.sbatch(["job.sh"])
    XCTAssertNotEqual(s.code, 0)
    XCTAssertEqual(s.err, "sbatch: error: Batch job submission failed: Requested node configuration is not available\n")
    XCTAssertEqual(try c.historyRows().count, 0)
    // Two of type a100 exist: this one is taken.
    let ok = try c.run(["submit", "sweeps/typed.yaml", "--gpus", "a100:2", "--output-root", c.runs])
    XCTAssertEqual(ok.code, 0, ok.err)
    try c.waitUntil("typed job done") { try c.states().values.first == "COMPLETED" }
    XCTAssertEqual(try uses(c).map(\.devices), [[1, 2]])
  }

  func testSbatchGresJobSeesSlurmsVariables() throws {
    let c = try Cluster()
    try c.write(
      "gpu.sbatch",
      """
      #!/bin/sh
      #SBATCH --gres=gpu:1
      echo "CUDA=$CUDA_VISIBLE_DEVICES JOB=$SLURM_JOB_GPUS ORD=$GPU_DEVICE_ORDINAL ON=$SLURM_GPUS_ON_NODE"

      """)
    try c.startDaemon(env: ["ORCH_GPUS": "0,1,2"])
    let (r, id) = try c.sbatch(["--wait", "gpu.sbatch"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(r.err, "")
    let jobID = try XCTUnwrap(id)
    XCTAssertEqual(c.read("slurm-\(jobID).out"), "CUDA=0 JOB=0 ORD=0 ON=1\n")
    let show = try c.run(["scontrol", "show", "job", "\(jobID)"]).out
    XCTAssertTrue(show.contains("gres/gpu=1"), show)
    XCTAssertTrue(show.contains("TresPerNode=gres:gpu:1"), show)
    XCTAssertTrue(show.contains("GRES=gpu:1(IDX:0)"), show)
    let sacct = try c.run(["sacct", "-X", "-n", "-P", "-o", "AllocTRES", "-j", "\(jobID)"]).out
    XCTAssertEqual(sacct, "billing=1,cpu=1,gres/gpu=1,node=1\n")
  }

  /// A daemon killed while GPU jobs run: the next one adopts them with their devices, and gives
  /// none of those devices to a queued job until they end.
  func testRestartKeepsAssignments() throws {
    let c = try Cluster()
    let marker = c.root.appendingPathComponent("go").path
    try c.write(
      "sweeps/hold.yaml",
      """
      register:
        - key: "hold/j{i}"
          bindings: {i: 0}
          axes: {i: range(0, 2)}
          resources: {gpus: 1}
          command: [sh, -c, "s=$(date +%s.%N); while [ ! -e \(marker) ]; do sleep 0.05; done; echo \\"$CUDA_VISIBLE_DEVICES $(date +%s.%N) $s\\" > $ORCH_RUN_DIR/gpu.txt"]
      """)
    try writeSweep(c, name: "late", count: 2, gpus: 1)
    try c.startDaemon(env: ["ORCH_GPUS": "0,1"])
    XCTAssertEqual(try c.run(["submit", "sweeps/hold.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("both hold jobs run") { try c.states().values.filter { $0 == "RUNNING" }.count == 2 }
    c.stopDaemon(kill9: true)
    try c.startDaemon(env: ["ORCH_GPUS": "0,1"])
    XCTAssertEqual(try c.run(["submit", "sweeps/late.yaml", "--output-root", c.runs]).code, 0)
    let status = try c.run(["daemon", "--status"]).out
    XCTAssertTrue(status.contains("GPU 0: fake GPU, 1 job"), status)
    XCTAssertTrue(status.contains("GPU 1: fake GPU, 1 job"), status)
    // The late jobs wait: both devices are the adopted jobs'.
    usleep(500_000)
    XCTAssertEqual(try c.states().values.filter { $0 == "PENDING" }.count, 2)
    let queue = try c.run(["queue", "-r"]).out
    XCTAssertTrue(queue.contains("GPUS"), queue)
    XCTAssertTrue(queue.contains("gpu:0 ") && queue.contains("gpu:1 "), queue)
    XCTAssertTrue(queue.contains("GPUs on this machine: 0,1 (ORCH_GPUS)"), queue)
    FileManager.default.createFile(atPath: marker, contents: nil)
    try c.waitUntil("4 jobs done") { try c.states().values.filter { $0 == "COMPLETED" }.count == 4 }
    let all = try uses(c)
    XCTAssertEqual(all.count, 4)
    assertDisjointPerDevice(all)
  }

  /// A lost attempt (daemon and worker killed, the job left running): the next daemon kills it and
  /// hands its device to the requeued attempt only once it is gone — the new attempt starts after
  /// the lost one's last heartbeat. The heartbeat is renamed into place: killed between `>`'s
  /// truncation and `date`'s write, the file was empty and the test failed on reading it.
  func testLostAttemptsDeviceIsFreedOnceItsProcessesAreGone() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/lost.yaml",
      """
      register:
        - key: lost
          resources: {gpus: 1}
          command: [sh, -c, "if test -e first.done; then echo \\"$CUDA_VISIBLE_DEVICES $(date +%s.%N)\\" > second.txt; exit 0; fi; touch first.done; echo $CUDA_VISIBLE_DEVICES > first.txt; while :; do date +%s.%N > beat.tmp; mv beat.tmp heartbeat.txt; sleep 0.05; done"]
      """)
    try c.startDaemon(env: ["ORCH_GPUS": "0"])
    XCTAssertEqual(
      try c.run(["submit", "sweeps/lost.yaml", "--max-attempts", "2", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the job runs") { !c.read("heartbeat.txt").isEmpty }
    c.stopDaemon(kill9: true)
    for pid in RecoveryTests.workerPIDs(home: c.home) { kill(pid, SIGKILL) }
    try c.waitUntil("the workers are gone") { !RecoveryTests.workerProcessesExist(home: c.home) }
    try c.startDaemon(env: ["ORCH_GPUS": "0"])
    try c.waitUntil("the requeued attempt completes") { try c.states()["1_0"] == "COMPLETED" }
    let second = c.read("second.txt").split(separator: " ")
    XCTAssertEqual(c.read("first.txt"), "0\n")
    XCTAssertEqual(second.first, "0")
    let lastBeat = try XCTUnwrap(Double(c.read("heartbeat.txt").trimmingCharacters(in: .whitespacesAndNewlines)))
    let started = try XCTUnwrap(Double(second.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
    XCTAssertLessThan(lastBeat, started, "the requeued attempt got GPU 0 while the lost one still ran")
    let attempts = try c.run(["history", "--attempts", "--json"])
    let rows = try JSONSerialization.jsonObject(with: Data(attempts.out.utf8)) as! [[String: Any]]
    XCTAssertEqual(rows.map { $0["gpus"] as? String }, ["0", "0"])
    XCTAssertEqual(rows.first?["reason"] as? String, "WorkerLost")
  }

  /// `--mem` is admitted against the daemon's `--mem`: jobs wait rather than run over it, and none
  /// is killed.
  func testMemoryAdmissionMakesJobsWaitAndKillsNone() throws {
    let c = try Cluster()
    let script = "s=$(date +%s.%N); sleep 0.3; echo \\\"x $(date +%s.%N) $s\\\" > $ORCH_RUN_DIR/gpu.txt"
    try c.write(
      "sweeps/mem.yaml",
      """
      register:
        - key: "mem/j{i}"
          bindings: {i: 0}
          axes: {i: range(0, 4)}
          resources: {mem: 600M}
          command: [sh, -c, "\(script)"]
      """)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Cluster.binDir + "/orch")
    p.arguments = ["daemon", "--foreground", "--cpus", "0-1", "--mem", "1G"]
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = c.home
    p.environment = env
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    c.daemon = p
    try c.waitUntil("daemon answers", timeout: 20) {
      (try? c.run(["queue"]).code) == 0 && FileManager.default.fileExists(atPath: c.home + "/orch.sock")
    }
    let r = try c.run(["submit", "sweeps/mem.yaml", "--output-root", c.runs])
    XCTAssertEqual(r.code, 0, r.err)
    try c.waitUntil("4 jobs done") { try c.states().values.filter { $0 == "COMPLETED" }.count == 4 }
    // 600M + 600M is over 1G: the four ran one at a time on two cores.
    let all = try uses(c).sorted { $0.start < $1.start }
    XCTAssertEqual(all.count, 4)
    for (a, b) in zip(all, all.dropFirst()) { XCTAssertLessThanOrEqual(a.end, b.start) }
    // A job that can never fit is refused at submit.
    let big = try c.run(["submit", "sweeps/mem.yaml", "--mem", "2G", "--force", "--output-root", c.runs])
    XCTAssertEqual(big.code, 2)
    XCTAssertTrue(big.err.contains("Requested node configuration is not available"), big.err)
  }

  /// `orch run -k` runs outside the daemon, which alone hands out devices: a GPU config is refused
  /// there (exit 2, nothing recorded) with the submit command to use instead.
  func testForegroundRunOfAGPUConfigIsRefused() throws {
    let c = try Cluster()
    try writeSweep(c, name: "fg", count: 1, gpus: 1)
    let r = try c.run(["run", "-k", "fg/j0", "--sweeps", "sweeps"], env: ["ORCH_GPUS": "0"])
    XCTAssertEqual(r.code, 2, r.out + r.err)
    XCTAssertTrue(r.err.contains("only the daemon assigns: submit it instead"), r.err)
    XCTAssertEqual(try c.historyRows().count, 0)
  }

  /// `orch daemon --gpus` declares devices; `--status` shows them and a restarted daemon keeps them.
  func testDaemonGpusFlagAndStatus() throws {
    let c = try Cluster()
    XCTAssertEqual(try c.run(["daemon", "--gpus", "0-2", "--mem", "4G"]).code, 0)
    var status = try c.run(["daemon", "--status"]).out
    XCTAssertTrue(status.contains("GPUs: 3 (--gpus)"), status)
    XCTAssertTrue(status.contains("GPU 2: fake GPU, idle"), status)
    XCTAssertTrue(status.contains("Memory for jobs: 4096M (--mem)"), status)
    XCTAssertEqual(try c.run(["daemon", "--stop"]).code, 0)
    XCTAssertEqual(try c.run(["daemon"]).code, 0)
    status = try c.run(["daemon", "--status"]).out
    XCTAssertTrue(status.contains("GPUs: 3 (--gpus)"), status)
    let bad = try c.run(["daemon", "--gpus", "0,x"])
    XCTAssertEqual(bad.code, 2)
    XCTAssertTrue(bad.err.contains("bad --gpus '0,x'"), bad.err)
  }
}

/// The inventory read from a fake `nvidia-smi` on PATH printing the real tool's formats.
final class FakeNvidiaSmiTests: XCTestCase {
  func fakeTool(_ c: Cluster, csv: String, status: Int = 0, topo: String? = nil) throws -> [String: String] {
    var script = "#!/bin/sh\nif [ \"$1\" = topo ]; then\n"
    script += topo.map { "printf '\($0)'\nexit 0\n" } ?? "exit 1\n"
    script += "fi\nprintf '\(csv)'\nexit \(status)\n"
    try c.write("bin/nvidia-smi", script)
    chmod(c.root.appendingPathComponent("bin/nvidia-smi").path, 0o755)
    let path = c.root.appendingPathComponent("bin").path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "")
    return ["PATH": path]
  }

  static let twoA100 =
    "0, GPU-0a1b2c3d-0000-1111-2222-333344445555, NVIDIA A100-SXM4-40GB, 40960 MiB\\n1, GPU-9f8e7d6c-0000-1111-2222-333344445555, NVIDIA A100-SXM4-40GB, 40960 MiB\\n"
  /// `nvidia-smi topo -m` of a two-socket machine: GPU0 near CPU 1, GPU1 near CPU 0.
  static let topo =
    "\\tGPU0\\tGPU1\\tCPU Affinity\\tNUMA Affinity\\tGPU NUMA ID\\nGPU0\\t X \\tNV12\\t1\\t1\\t\\tN/A\\nGPU1\\tNV12\\t X \\t0\\t0\\t\\tN/A\\n\\nLegend:\\n\\n  X    = Self\\n"

  func testInventoryFromNvidiaSmi() throws {
    let c = try Cluster()
    let env = try fakeTool(c, csv: Self.twoA100, topo: Self.topo)
    let r = try c.run(["daemon", "--status"], env: env)
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertTrue(r.out.contains("GPUs: 2 (nvidia-smi)"), r.out)
    XCTAssertTrue(
      r.out.contains(
        "GPU 0: NVIDIA A100-SXM4-40GB, 40960 MiB, GPU-0a1b2c3d-0000-1111-2222-333344445555, near CPUs 1, idle"), r.out)
    XCTAssertTrue(r.out.contains("GPU 1: NVIDIA A100-SXM4-40GB, 40960 MiB"), r.out)
  }

  func testMachineWithoutGPUs() throws {
    let c = try Cluster()
    let env = try fakeTool(c, csv: "No devices were found\\n", status: 6)
    let r = try c.run(["daemon", "--status"], env: env)
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertTrue(r.out.contains("GPUs: 0 (nvidia-smi (No devices were found))"), r.out)
    // And a GPU request is refused there, nothing queued.
    try c.write(
      "sweeps/g.yaml", "register:\n  - key: g\n    resources: {gpus: 1}\n    command: [true]\n")
    let s = try c.run(["submit", "sweeps/g.yaml", "--no-daemon"], env: env)
    XCTAssertEqual(s.code, 2)
    XCTAssertTrue(s.err.contains("Requested node configuration is not available"), s.err)
    XCTAssertEqual(try c.historyRows().count, 0)
  }

  func testUnexpectedOutputIsAnErrorNotAGuess() throws {
    let c = try Cluster()
    let env = try fakeTool(c, csv: "0, GPU-aaaa\\n")
    let r = try c.run(["daemon", "--status"], env: env)
    XCTAssertEqual(r.code, 1)
    XCTAssertTrue(r.err.contains("printed an unexpected line 1: '0, GPU-aaaa'"), r.err)
  }

  /// With the topology known, a GPU job's cores are the ones near its GPU.
  func testCoresNearTheGPU() throws {
    let c = try Cluster()
    let env = try fakeTool(c, csv: Self.twoA100, topo: Self.topo)
    try c.write(
      "sweeps/g.yaml",
      "register:\n  - key: g\n    resources: {gpus: 1}\n    command: [sh, -c, \"echo $CUDA_VISIBLE_DEVICES $ORCH_CPUS > $ORCH_RUN_DIR/out.txt\"]\n"
    )
    try c.startDaemon(env: env)
    XCTAssertEqual(try c.run(["submit", "sweeps/g.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("done") { try c.states().values.first == "COMPLETED" }
    XCTAssertEqual(c.read("runs/g/out.txt"), "0 1\n")
  }
}

extension FakeNvidiaSmiTests {
  /// `deploy/gpu-check.sh` against a fake nvidia-smi with two GPUs (whose `-L`, like the real one,
  /// lists every GPU whatever CUDA_VISIBLE_DEVICES says): it passes, and it fails when jobs are
  /// not given their own devices (every job told to use GPU 0, as before issue 17).
  func testGpuCheckScript() throws {
    let c = try Cluster()
    let script = """
      #!/bin/sh
      case "$*" in
        *index,uuid*) printf '0, GPU-fake-0, Fake GPU, 1024 MiB\\n1, GPU-fake-1, Fake GPU, 1024 MiB\\n' ;;
        *query-gpu=index*) printf '0\\n1\\n' ;;
        -L) printf 'GPU 0: Fake GPU (UUID: GPU-fake-0)\\nGPU 1: Fake GPU (UUID: GPU-fake-1)\\n' ;;
        *) exit 1 ;;
      esac

      """
    try c.write("bin/nvidia-smi", script)
    chmod(c.root.appendingPathComponent("bin/nvidia-smi").path, 0o755)
    let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
    let path =
      c.root.appendingPathComponent("bin").path + ":" + Cluster.binDir + ":"
      + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    let ok = try c.execute("/bin/bash", [package + "/deploy/gpu-check.sh", "1"], env: ["PATH": path])
    XCTAssertEqual(ok.code, 0, ok.out + ok.err)
    XCTAssertTrue(ok.out.contains("gpu-check: OK (4 jobs on 2 GPUs"), ok.out)
    // Every job's bash made to use GPU 0 (BASH_ENV runs before its command), as when jobs were
    // not given their own devices: the check fails.
    try c.write("force.sh", "export CUDA_VISIBLE_DEVICES=0\n")
    let forced = try c.execute(
      "/bin/bash", [package + "/deploy/gpu-check.sh", "1"],
      env: ["PATH": path, "BASH_ENV": c.root.appendingPathComponent("force.sh").path])
    XCTAssertEqual(forced.code, 1, forced.out + forced.err)
    XCTAssertTrue(forced.err.contains("ran on it at the same time"), forced.err)
    XCTAssertTrue(forced.err.contains("asked for 2 GPU(s), its CUDA_VISIBLE_DEVICES names ['GPU-fake-0']"), forced.err)
  }
}
