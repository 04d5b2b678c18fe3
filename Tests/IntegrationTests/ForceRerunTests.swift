import Foundation
import Store
import XCTest

/// `orch submit --force` is a fresh run: the new job trains from epoch 0 (it does not resume from
/// the completed run's final checkpoint), and the old run is kept, moved aside, with the store's
/// paths of the old job following it. A requeue after a crash still resumes (`EngineResumeTests`).
final class ForceRerunTests: XCTestCase {
  static let sweep = """
    register:
      - key: "f/mlp"
        engine: train
        bindings: {data.name: digits, model.arch: mlp, model.width: 32, train.epochs: 2, train.checkpoint_every: 1}
    """

  func testForceTrainsAgainFromScratchAndKeepsTheOldRunAside() throws {
    let c = try Cluster()
    try c.write("sweeps/f.yaml", Self.sweep)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/f.yaml", "--output-root", c.runs, "--wait"]).code, 0)
    let runDir = c.runs + "/f/mlp"
    let oldFinal = try Data(contentsOf: URL(fileURLWithPath: runDir + "/checkpoints/ckpt-E002.safetensors"))
    XCTAssertEqual(Self.epochs(try c.run(["metrics", "1_0", "--csv"]).out), [1, 2])

    let forced = try c.run(["submit", "sweeps/f.yaml", "--output-root", c.runs, "--force", "--wait"])
    XCTAssertEqual(forced.code, 0, forced.out + forced.err)
    XCTAssertTrue(forced.out.contains("old run moved aside: \(runDir) -> \(runDir).replaced-1_0"), forced.out)
    // The new job trained both epochs itself: their metrics were reported again.
    XCTAssertEqual(Self.epochs(try c.run(["metrics", "2_0", "--csv"]).out), [1, 2])
    XCTAssertFalse(c.read("runs/f/mlp/log.txt").contains("resumed"), c.read("runs/f/mlp/log.txt"))
    XCTAssertTrue(FileManager.default.fileExists(atPath: runDir + "/checkpoints/ckpt-E000.safetensors"))
    // The old run is whole where it was moved, and the store's paths of job 1_0 point there.
    let aside = runDir + ".replaced-1_0"
    XCTAssertEqual(
      try Data(contentsOf: URL(fileURLWithPath: aside + "/checkpoints/ckpt-E002.safetensors")), oldFinal)
    let store = try JobStore(path: c.home + "/orch.db")
    let old = try XCTUnwrap(try store.storedJobs(JobFilter(jobs: [1])).first)
    XCTAssertEqual(old.artifacts["predictions"], aside + "/predictions.npy", "\(old.artifacts)")
    let new = try XCTUnwrap(try store.storedJobs(JobFilter(jobs: [2])).first)
    XCTAssertEqual(new.artifacts["predictions"], runDir + "/predictions.npy", "\(new.artifacts)")
    let results = try c.run(["results", "f", "--json"]).out
    let rows = try JSONSerialization.jsonObject(with: Data(results.utf8)) as? [[String: Any]]
    XCTAssertEqual(rows?.map { $0["job"] as? Int }, [2], results)

    // Forcing again keeps both earlier runs.
    XCTAssertEqual(try c.run(["submit", "sweeps/f.yaml", "--output-root", c.runs, "--force", "--wait"]).code, 0)
    XCTAssertEqual(Self.epochs(try c.run(["metrics", "3_0", "--csv"]).out), [1, 2])
    XCTAssertTrue(FileManager.default.fileExists(atPath: runDir + ".replaced-2_0/checkpoints/ckpt-E002.safetensors"))
    XCTAssertTrue(FileManager.default.fileExists(atPath: aside + "/checkpoints/ckpt-E002.safetensors"))
  }

  /// A forced config whose run directory holds another key's run directory (`a` and `a/b`) moves
  /// only its own files.
  func testForceLeavesANestedKeysRunDirectoryInPlace() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/n.yaml",
      """
      register:
        - key: "n"
          command: [sh, -c, "echo outer > \\"$ORCH_RUN_DIR/out.txt\\""]
        - key: "n/inner"
          command: [sh, -c, "echo inner > \\"$ORCH_RUN_DIR/out.txt\\""]
      """)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/n.yaml", "--output-root", c.runs, "--wait"]).code, 0)
    let r = try c.run(["submit", "sweeps/n.yaml", "--match", "^n$", "--output-root", c.runs, "--force", "--wait"])
    XCTAssertEqual(r.code, 0, r.out + r.err)
    XCTAssertEqual(c.read("runs/n.replaced-1_0/out.txt"), "outer\n")
    XCTAssertEqual(c.read("runs/n/inner/out.txt"), "inner\n")
    XCTAssertEqual(c.read("runs/n/out.txt"), "outer\n")
    XCTAssertFalse(FileManager.default.fileExists(atPath: c.runs + "/n.replaced-1_0/inner"))
  }

  /// Epochs of the `train_loss` rows of `orch metrics --csv` (attempt,epoch,step,name,value,final).
  static func epochs(_ csv: String) -> [Int] {
    csv.split(separator: "\n").compactMap { line in
      let f = line.split(separator: ",", omittingEmptySubsequences: false)
      return f.count == 6 && f[3] == "train_loss" ? Int(f[1]) : nil
    }
  }
}
