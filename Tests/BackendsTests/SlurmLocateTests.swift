import Foundation
import XCTest

@testable import Backends
@testable import OrchCore

/// Where the SLURM backend finds sbatch, scontrol and scancel: `--slurm-bin`, `ORCH_SLURM_BIN`, or
/// `PATH` without orch's own executables (links to this one, or any file holding orch's marker).
final class SlurmLocateTests: XCTestCase {
  private var root = ""
  private let names = ["sbatch", "scontrol", "scancel"]

  override func setUpWithError() throws {
    root = NSTemporaryDirectory() + "orch-locate-\(getpid())-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
  }

  override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

  private func dir(_ name: String) throws -> String {
    let d = root + "/" + name
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
  }

  private func executable(_ path: String, _ text: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
  }

  /// `orch shims`: links to the running executable (here the test bundle, which holds orch's code).
  private func shims() throws -> String {
    let d = try dir("shims")
    let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    for n in names { XCTAssertEqual(symlink(own, d + "/" + n), 0) }
    return d
  }

  private func realSlurm(_ name: String = "real") throws -> String {
    let d = try dir(name)
    for n in names { try executable(d + "/" + n, "#!/bin/sh\necho \(n)\n") }
    return d
  }

  private func failure(_ body: () throws(OrchError) -> SlurmCommands) -> String {
    do {
      let found = try body()
      XCTFail("found \(found)")
      return ""
    } catch {
      XCTAssertEqual(error.kind, .failure)
      XCTAssertFalse(error.message.contains("\n"), error.message)
      return error.message
    }
  }

  func testOrchsShimsEarlierOnPathAreSkipped() throws {
    let shims = try shims()
    let real = try realSlurm()
    let found = try SlurmCommands.locate(environment: ["PATH": "\(shims):/nonexistent:\(real)"])
    XCTAssertEqual(found.sbatch, real + "/sbatch")
    XCTAssertEqual(found.scontrol, real + "/scontrol")
    XCTAssertEqual(found.scancel, real + "/scancel")
    XCTAssertEqual(found.skipped, names.map { shims + "/" + $0 })
    // Nothing skipped when SLURM comes first.
    XCTAssertEqual(try SlurmCommands.locate(environment: ["PATH": "\(real):\(shims)"]).skipped, [])
  }

  func testACopyOfOrchIsRecognisedByItsMarker() throws {
    let copies = try dir("copies")
    // Any file holding the marker, e.g. a copy of another orch build: no link to this executable.
    for n in names {
      try executable(copies + "/" + n, "#!/bin/sh\n# \(SlurmCommands.marker)\nexit 1\n")
      XCTAssertTrue(SlurmCommands.isOrch(copies + "/" + n))
    }
    let real = try realSlurm()
    XCTAssertFalse(SlurmCommands.isOrch(real + "/sbatch"))
    XCTAssertFalse(SlurmCommands.isOrch(root + "/missing"))
    XCTAssertFalse(SlurmCommands.isOrch(copies))
    let found = try SlurmCommands.locate(environment: ["PATH": "\(copies):\(real)"])
    XCTAssertEqual(found.sbatch, real + "/sbatch")
    XCTAssertEqual(found.skipped.count, 3)
  }

  func testOnlyOrchOnPathFailsNamingTheWayOut() throws {
    let shims = try shims()
    let message = failure { () throws(OrchError) in try SlurmCommands.locate(environment: ["PATH": shims]) }
    XCTAssertTrue(message.contains("PATH has only orch's own (\(shims)/sbatch)"), message)
    XCTAssertTrue(message.contains("--slurm-bin DIR") && message.contains("ORCH_SLURM_BIN"), message)
    let none = failure { () throws(OrchError) in try SlurmCommands.locate(environment: ["PATH": root]) }
    XCTAssertEqual(none, "the SLURM backend needs `sbatch`, which is not on PATH (is SLURM installed?)")
  }

  func testSlurmBinAndTheEnvironmentNameTheDirectory() throws {
    let shims = try shims()
    let real = try realSlurm()
    let other = try realSlurm("other")
    // --slurm-bin wins over ORCH_SLURM_BIN, which wins over PATH.
    var found = try SlurmCommands.locate(
      binDir: real, environment: ["PATH": other, "ORCH_SLURM_BIN": other])
    XCTAssertEqual([found.sbatch, found.scontrol, found.scancel], names.map { real + "/" + $0 })
    found = try SlurmCommands.locate(environment: ["PATH": "\(shims):\(real)", "ORCH_SLURM_BIN": other + "/"])
    XCTAssertEqual(found.sbatch, other + "/sbatch")
    XCTAssertEqual(found.skipped, [])
    // An empty ORCH_SLURM_BIN is unset.
    found = try SlurmCommands.locate(environment: ["PATH": real, "ORCH_SLURM_BIN": ""])
    XCTAssertEqual(found.sbatch, real + "/sbatch")
    // The named directory is the only place looked in; orch there is refused, not skipped.
    var message = failure { () throws(OrchError) in try SlurmCommands.locate(binDir: shims, environment: ["PATH": real])
    }
    XCTAssertEqual(message, "\(shims)/sbatch (--slurm-bin) is orch itself, not SLURM's `sbatch`")
    message = failure { () throws(OrchError) in
      try SlurmCommands.locate(environment: ["PATH": real, "ORCH_SLURM_BIN": root])
    }
    XCTAssertEqual(message, "the SLURM backend needs `sbatch`, which is not in ORCH_SLURM_BIN \(root)")
  }
}
