import Foundation
import XCTest

/// Several jobs starting together on a generated dataset nobody has used yet: one generates it,
/// the others wait for it, and all train on the same files. (Two of three source jobs of
/// `make reproduce-transfer` failed here: one saw the directory before its files were there.)
final class GeneratedDatasetRaceTests: XCTestCase {
  func testConcurrentFirstUsesGenerateOnceAndAllTrainOnTheSameData() throws {
    let c = try Cluster()
    let dataRoot = c.root.appendingPathComponent("data").path
    let dataset = dataRoot + "/glyphs_heldout"
    try FileManager.default.createDirectory(atPath: dataRoot, withIntermediateDirectories: true)
    let binary = Cluster.binDir + "/orch-worker"
    var env = ProcessInfo.processInfo.environment
    env["ORCH_DATA_DIR"] = dataRoot
    env["OPENBLAS_NUM_THREADS"] = "1"
    env.removeValue(forKey: "ORCH_EVENTS_FD")

    let runDirs = (0..<4).map { c.root.appendingPathComponent("run\($0)").path }
    var processes: [Process] = []
    for runDir in runDirs {
      try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
      try #"{"engine":"train","bindings":{"data.name":"glyphs_heldout","model.arch":"linear","train.epochs":1}}"#
        .write(toFile: runDir + "/config.json", atomically: true, encoding: .utf8)
      FileManager.default.createFile(atPath: runDir + "/log", contents: nil)
      let p = Process()
      p.executableURL = URL(fileURLWithPath: binary)
      p.arguments = ["engine", "--run-dir", runDir]
      p.environment = env
      p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: runDir + "/log"))
      p.standardError = p.standardOutput
      processes.append(p)
    }
    for p in processes { try p.run() }
    // Every directory that was ever the dataset while the jobs ran: a job reads the one it found,
    // so it must never be replaced under it.
    var seen = Set<UInt64>()
    let deadline = Date().addingTimeInterval(300)
    while processes.contains(where: \.isRunning) && Date() < deadline {
      var info = stat()
      if stat(dataset, &info) == 0 { seen.insert(UInt64(info.st_ino)) }
      usleep(1000)
    }
    for p in processes where p.isRunning { kill(p.processIdentifier, SIGKILL) }
    for p in processes { p.waitUntilExit() }

    for (p, runDir) in zip(processes, runDirs) {
      let log = (try? String(contentsOfFile: runDir + "/log", encoding: .utf8)) ?? ""
      XCTAssertEqual(p.terminationStatus, 0, "\(runDir): \(log)")
      XCTAssertEqual(p.terminationReason, .exit, "\(runDir): \(log)")
    }
    var info = stat()
    XCTAssertEqual(stat(dataset, &info), 0)
    XCTAssertEqual(seen, [UInt64(info.st_ino)], "the dataset directory was replaced while jobs used it")
    // Same data, same seed: the same predictions, byte for byte.
    let predictions = runDirs.map { try? Data(contentsOf: URL(fileURLWithPath: $0 + "/predictions.npy")) }
    XCTAssertNotNil(predictions[0])
    for p in predictions.dropFirst() { XCTAssertEqual(p, predictions[0]) }
    let entries = try FileManager.default.contentsOfDirectory(atPath: dataRoot).sorted()
    XCTAssertEqual(entries, [".glyphs_heldout.lock", "glyphs_heldout"], "no temporary directory left")
  }
}
