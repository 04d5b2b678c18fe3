import Foundation
import XCTest

/// A real SLURM client, unmodified: submitit's SLURM executor against the shims on PATH. It
/// submits with `sbatch`, polls `sacct -o JobID,State,NodeList --parsable2`, wraps each task in
/// `srun --unbuffered --output … --error …`, reads the SLURM_* variables in the job and cancels
/// with `scancel`; on preemption its job requeues itself with `scontrol requeue`.
final class SubmititTests: XCTestCase {
  static let script = #"""
    import json, socket, subprocess, sys, time
    import submitit

    folder = sys.argv[1]

    def work(x):
        env = submitit.JobEnvironment()
        return {"square": x * x, "job_id": env.job_id, "array_job_id": env.array_job_id,
                "array_task_id": env.array_task_id, "global_rank": env.global_rank,
                "local_rank": env.local_rank, "node": env.node, "num_tasks": env.num_tasks,
                "num_nodes": env.num_nodes, "hostnames": env.hostnames}

    def sleeper(x):
        time.sleep(600)
        return x

    class Resumable(submitit.helpers.Checkpointable):
        def __init__(self):
            self.starts = 0

        def __call__(self, x):
            self.starts += 1
            if self.starts == 1:
                time.sleep(600)
            return [x, self.starts]

    def wait_until(what, condition, timeout=60):
        deadline = time.time() + timeout
        while not condition():
            if time.time() > deadline:
                raise SystemExit(f"timed out waiting until {what}")
            time.sleep(0.2)

    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    assert executor.cluster == "slurm", executor.cluster
    executor.update_parameters(timeout_min=5, slurm_array_parallelism=4)
    jobs = executor.map_array(work, range(10))
    results = [job.result() for job in jobs]
    array = jobs[0].job_id.split("_")[0]
    assert [r["square"] for r in results] == [x * x for x in range(10)], results
    for i, r in enumerate(results):
        assert r["job_id"] == f"{array}_{i}" and r["array_job_id"] == array, r
        assert r["array_task_id"] == str(i), r
        assert (r["global_rank"], r["local_rank"], r["node"], r["num_tasks"], r["num_nodes"]) == (0, 0, 0, 1, 1), r
        assert r["hostnames"] == [socket.gethostname().split(".")[0]], r
    # A result can be read before its task exits; sacct then shows it COMPLETED.
    wait_until("sacct shows every task COMPLETED",
               lambda: all(job.get_info(mode="force").get("State") == "COMPLETED" for job in jobs))

    # scancel of a running job, then of an array element: submitit reports both cancelled.
    single = executor.submit(sleeper, 1)
    pair = executor.map_array(sleeper, [1, 2])
    for job in [single] + pair:
        job._results_timeout_s = 0
    wait_until("the job runs", lambda: single.get_info(mode="force").get("State") == "RUNNING")
    subprocess.check_call(["scancel", single.job_id])
    pair[1].cancel()
    pair[0].cancel()
    cancelled = []
    for job in [single] + pair:
        wait_until(f"{job.job_id} is done", lambda: job.done(force_check=True))
        error = job.exception()
        assert isinstance(error, submitit.core.utils.UncompletedJobError), repr(error)
        assert "CANCELLED" in str(error), str(error)
        cancelled.append([job.job_id, job.state])

    # Preemption as submitit simulates it (scancel --signal TERM, then USR2): its handler
    # checkpoints and runs `scontrol requeue` on its own job, which starts again from the checkpoint.
    preempted = executor.submit(Resumable(), 7)
    wait_until("it runs", lambda: preempted.get_info(mode="force").get("State") == "RUNNING")
    time.sleep(1)
    preempted._interrupt()
    resumed = preempted.result()
    restarts = subprocess.check_output(
        ["sacct", "-j", preempted.job_id, "-X", "-n", "-P", "-o", "Restarts"], text=True).strip()
    print(json.dumps({"results": [r["square"] for r in results], "cancelled": cancelled,
                      "resumed": resumed, "restarts": restarts}))
    """#

  func testSubmititMapArrayAndScancel() throws {
    let c = try Cluster()
    try Self.installSubmitit(c)
    try c.installShims()
    try c.write("client.py", Self.script)
    try c.startDaemon(cpus: "0-1", killWait: "1")
    let r = try c.shell("python3 client.py \"$PWD/submitit-logs\"")
    XCTAssertEqual(r.code, 0, "stdout: \(r.out)\nstderr: \(r.err)")
    let report = try XCTUnwrap(
      try JSONSerialization.jsonObject(with: Data((r.out.split(separator: "\n").last ?? "").utf8)) as? [String: Any],
      r.out)
    XCTAssertEqual(report["results"] as? [Int], (0..<10).map { $0 * $0 })
    let cancelled = try XCTUnwrap(report["cancelled"] as? [[String]])
    XCTAssertEqual(cancelled.count, 3)
    for entry in cancelled { XCTAssertTrue(entry[1].hasPrefix("CANCELLED"), "\(entry)") }
    XCTAssertEqual(report["resumed"] as? [Int], [7, 2], "the requeued job resumed from its checkpoint")
    XCTAssertEqual(report["restarts"] as? String, "1")
  }

  /// submitit from PyPI, as CI installs it; the test is skipped only when pip cannot install it.
  static func installSubmitit(_ c: Cluster) throws {
    if try c.execute("/usr/bin/env", ["python3", "-c", "import submitit"], env: [:]).code == 0 { return }
    var last = try c.execute("/usr/bin/env", ["python3", "-m", "pip", "install", "--quiet", "submitit"], env: [:])
    if last.code != 0 {
      last = try c.execute(
        "/usr/bin/env", ["python3", "-m", "pip", "install", "--quiet", "--break-system-packages", "submitit"], env: [:])
    }
    if try c.execute("/usr/bin/env", ["python3", "-c", "import submitit"], env: [:]).code != 0 {
      throw XCTSkip("pip cannot install submitit: \(last.err.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
  }
}
