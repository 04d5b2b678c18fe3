import Foundation
import XCTest

/// `orch ui` in a real browser: a daemon runs the demo sweep (engine jobs, for curves), a sweep
/// whose jobs wait on a gate file (progress), one job whose log grows after a gate (log following),
/// a key holding `<script>` (escaping) and an sbatch array (the SLURM view); `orch ui --port 0`
/// serves the store, and `Browser/ui_check.py` drives headless Chromium through selenium over every
/// page. The gates are opened by the script once the page that must see the change is open, so
/// nothing depends on timing. Screenshots go to $ORCH_UI_SCREENSHOTS when set (relative to the package;
/// `ORCH_UI_SCREENSHOTS=docs/ui swift test --filter BrowserUITests` made docs/ui). Skips when Chromium,
/// chromedriver or selenium is missing.
final class BrowserUITests: XCTestCase {
  static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Browser/ui_check.py").path
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  func requireBrowser(_ c: Cluster) throws {
    let env = ProcessInfo.processInfo.environment
    let chromium = env["ORCH_UI_CHROMIUM"] ?? "/usr/bin/chromium"
    let driver = env["ORCH_UI_CHROMEDRIVER"] ?? "/usr/bin/chromedriver"
    var missing: [String] = []
    if !FileManager.default.isExecutableFile(atPath: chromium) { missing.append("chromium (\(chromium))") }
    if !FileManager.default.isExecutableFile(atPath: driver) { missing.append("chromium-driver (\(driver))") }
    let selenium = try c.execute("/usr/bin/env", ["python3", "-c", "import selenium"], env: [:])
    if selenium.code != 0 { missing.append("the selenium Python package") }
    if !missing.isEmpty {
      throw XCTSkip(
        "needs \(missing.joined(separator: ", ")): apt-get install chromium chromium-driver; "
          + "python3 -m pip install selenium (.ci/run installs them)")
    }
  }

  /// Starts `orch ui --port 0` with its output in files; returns it and the URL it printed.
  func startUI(_ c: Cluster) throws -> (Process, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Cluster.binDir + "/orch")
    p.arguments = ["ui", "--port", "0"]
    var env = ProcessInfo.processInfo.environment
    env["ORCH_HOME"] = c.home
    p.environment = env
    let out = c.root.appendingPathComponent("ui.out")
    let err = c.root.appendingPathComponent("ui.err")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    p.standardOutput = try FileHandle(forWritingTo: out)
    p.standardError = try FileHandle(forWritingTo: err)
    try p.run()
    var url = ""
    try c.waitUntil("orch ui prints its URL", timeout: 30) {
      if !p.isRunning {
        XCTFail("orch ui exited \(p.terminationStatus): \(c.read("ui.err"))")
        throw CancellationError()
      }
      let line = c.read("ui.out").split(separator: "\n").first { $0.hasPrefix("orch ui: http://127.0.0.1:") }
      url = line.map { String($0.dropFirst("orch ui: ".count)) } ?? ""
      return !url.isEmpty
    }
    XCTAssertTrue(url.contains("?token="), url)
    return (p, url)
  }

  func testPagesInHeadlessChromium() throws {
    let c = try Cluster()
    try requireBrowser(c)
    try c.startDaemon()
    let liveGate = c.root.appendingPathComponent("gate-live").path
    let tailGate = c.root.appendingPathComponent("gate-tail").path
    // Whatever happens below, the gated jobs end (and never outlive the test).
    defer {
      for gate in [liveGate, tailGate] { FileManager.default.createFile(atPath: gate, contents: nil) }
      try? c.waitUntil("the gated jobs end", timeout: 60) {
        try !c.states().values.contains { ["PENDING", "RUNNING"].contains($0) }
      }
    }
    // Key, binding and log line that would run as scripts if a page did not escape them.
    let xssKey = "xss/<script>alert(1)</script>"
    try c.write(
      "sweeps/xss.yaml",
      """
      register:
        - key: "\(xssKey)"
          command: [sh, -c, "echo '<script>alert(2)</script> in the log'"]
          bindings: {note: "<img src=x onerror=window.__xss=1><script>window.__xss=1</script>"}
      """)
    // Bounded waits (300 s) so a job never outlives a test that failed before opening its gate.
    func gated(_ gate: String, before: String, after: String) -> String {
      "echo '\(before)'; i=0; while [ ! -e '\(gate)' ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done; "
        + "echo '\(after)'; sleep 1"
    }
    try c.write(
      "sweeps/live.yaml",
      """
      register:
        - key: "live/lr{lr}/seed{seed}"
          command: [sh, -c, "\(gated(liveGate, before: "live: waiting", after: "live: through"))"]
          axes:
            - grid: {lr: [0.1, 0.3, 0.7], seed: range(0, 2)}
      """)
    try c.write(
      "sweeps/tail.yaml",
      """
      register:
        - key: "tail/follow"
          command: [sh, -c, "\(gated(tailGate, before: "tail: waiting for the gate", after: "tail: through the gate"))"]
      """)
    // The demo sweep (24 engine jobs, 10 epochs each) for the sweep table, the filter and the curves.
    for sweep in [Self.repository + "/sweeps/demo.yaml", "sweeps/xss.yaml"] {
      let r = try c.run(["submit", sweep, "--output-root", c.runs])
      XCTAssertEqual(r.code, 0, r.err)
    }
    let slurmJob = try c.run(["sbatch", "--array=0-2", "--job-name=ui-array", "--wrap", "echo element"])
    XCTAssertEqual(slurmJob.code, 0, slurmJob.err)
    let slurmID = slurmJob.out.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    try c.waitUntil("the demo, xss and sbatch jobs end", timeout: 300) {
      let states = try c.states()
      return states.count == 28 && states.values.allSatisfy { $0 == "COMPLETED" }
    }
    // A plot of the sweep where the analyses page looks: $ORCH_HOME/analysis/<name>-<sweep>.svg.
    try FileManager.default.createDirectory(atPath: c.home + "/analysis", withIntermediateDirectories: true)
    let plot = try c.run([
      "plot", "demo", "--metric", "test_acc", "--color", "optimizer.base_lr", "--mean-over", "train.seed", "-o",
      c.home + "/analysis/plot-demo.svg",
    ])
    XCTAssertEqual(plot.code, 0, plot.err)
    // The live jobs hold both cores until their gate opens; the tail job waits behind them.
    for sweep in ["live", "tail"] {
      let r = try c.run(["submit", "sweeps/\(sweep).yaml", "--output-root", c.runs])
      XCTAssertEqual(r.code, 0, r.err)
    }
    let (ui, url) = try startUI(c)
    defer {
      ui.terminate()
      ui.waitUntilExit()
    }
    var env = ["PYTHONUNBUFFERED": "1"]
    let shots =
      ProcessInfo.processInfo.environment["ORCH_UI_SCREENSHOTS"] ?? c.root.appendingPathComponent("shots").path
    env["ORCH_UI_SCREENSHOTS"] = shots.hasPrefix("/") ? shots : Self.repository + "/" + shots
    var args = [
      "python3", Self.script, url, "--live", "live", "--gate", liveGate, "--tail", "tail", "--tail-gate", tailGate,
      "--curves", "demo", "--color", "optimizer.base_lr", "--where", "optimizer.base_lr == 0.05", "--where-rows", "8",
      "--xss", "xss", "--xss-key", xssKey, "--analysis", "plot-demo.svg",
    ]
    args += ["--slurm-job", try XCTUnwrap(slurmID.flatMap { Int($0) }).description, "--slurm-name", "ui-array"]
    let r = try c.execute("/usr/bin/env", args, env: env)
    XCTAssertEqual(r.code, 0, "ui_check.py failed:\n\(r.out)\n\(r.err)\norch ui's stderr:\n\(c.read("ui.err"))")
    XCTAssertTrue(r.out.hasSuffix("OK\n"), r.out)
    // What the pages showed is what the store holds: every gated job ran to the end.
    XCTAssertEqual(Set(try c.states(sweep: "live").values), ["COMPLETED"])
    XCTAssertEqual(Set(try c.states(sweep: "tail").values), ["COMPLETED"])
    XCTAssertTrue(ui.isRunning, "orch ui exited: \(c.read("ui.err"))")
  }
}
