import Foundation
import XCTest

/// `deploy/check-system.sh`, which `make build`/`make release` (so `make demo` and `make test`) and
/// `.ci/run` call first: a missing system package is installed when root; otherwise the apt-get
/// line is printed and make stops before building. The package query, the user id and apt-get are
/// simulated through the script's environment, so nothing is uninstalled.
final class SystemCheckTests: XCTestCase {
  static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
  static let script = package + "/deploy/check-system.sh"

  private var dir = ""
  /// Installed packages are files here; the fake apt-get creates them and logs its arguments.
  private var installed: String { dir + "/installed" }
  private var aptLog: String { dir + "/apt-get.log" }
  private var fakeApt: String { dir + "/apt-get" }

  override func setUpWithError() throws {
    dir = NSTemporaryDirectory() + "orch-check-system-\(getpid())-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: installed, withIntermediateDirectories: true)
    try """
    #!/bin/sh
    echo "$*" >> \(aptLog)
    [ "$1" = install ] || exit 0
    [ -e \(dir)/apt-fails ] && exit 100
    shift
    for p in "$@"; do case "$p" in -*) ;; *) [ -e \(dir)/apt-forgets ] || touch \(installed)/"$p" ;; esac; done
    """.write(toFile: fakeApt, atomically: true, encoding: .utf8)
    chmod(fakeApt, 0o755)
    for p in ["libsqlite3-dev", "libpcre2-dev", "python3"] {
      FileManager.default.createFile(atPath: installed + "/" + p, contents: nil)
    }
  }

  override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

  private func check(uid: Int, _ args: [String] = [], env extra: [String: String] = [:]) throws -> Cluster.Result {
    var env = [
      "ORCH_CHECK_INSTALLED": "test -e '\(installed)'/\"$1\"", "ORCH_CHECK_UID": String(uid),
      "ORCH_CHECK_APT_GET": fakeApt,
    ]
    env.merge(extra) { _, new in new }
    return try runProgram(Self.script, args, cwd: dir, env: env)
  }

  private var aptCalls: [String] {
    ((try? String(contentsOfFile: aptLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
  }

  func testNotRootAMissingPackagePrintsTheAptGetLineAndFails() throws {
    let r = try check(uid: 1000)
    XCTAssertEqual(r.code, 1, r.err)
    XCTAssertEqual(r.out, "")
    XCTAssertEqual(
      r.err,
      "check-system: missing system package(s): libopenblas-dev. Install them, then run make again:\n"
        + "  sudo apt-get install -y libopenblas-dev\n")
    XCTAssertEqual(aptCalls, [], "nothing is installed without root")

    // Every missing one, in order, on the one line.
    try FileManager.default.removeItem(atPath: installed + "/python3")
    let two = try check(uid: 1000)
    XCTAssertEqual(two.code, 1)
    XCTAssertTrue(two.err.hasSuffix("\n  sudo apt-get install -y libopenblas-dev python3\n"), two.err)
  }

  func testRootInstallsWhatIsMissing() throws {
    let r = try check(uid: 0)
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(aptCalls, ["update -qq", "install -y -qq libopenblas-dev"])
    XCTAssertTrue(FileManager.default.fileExists(atPath: installed + "/libopenblas-dev"))
    // Nothing missing: nothing run, nothing printed.
    let again = try check(uid: 0)
    XCTAssertEqual(again.code, 0)
    XCTAssertEqual(again.out + again.err, "")
    XCTAssertEqual(aptCalls.count, 2)
    // The package list from the arguments, or from ORCH_SYSTEM_PACKAGES.
    XCTAssertEqual(try check(uid: 1000, ["python3"]).code, 0)
    XCTAssertEqual(try check(uid: 1000, env: ["ORCH_SYSTEM_PACKAGES": "python3 extra"]).code, 1)
  }

  func testRootFailsWhenAptGetFailsOrInstallsNothing() throws {
    FileManager.default.createFile(atPath: dir + "/apt-fails", contents: nil)
    let failed = try check(uid: 0)
    XCTAssertEqual(failed.code, 1)
    XCTAssertTrue(failed.err.hasSuffix("check-system: apt-get install -y libopenblas-dev failed\n"), failed.err)
    try FileManager.default.removeItem(atPath: dir + "/apt-fails")
    FileManager.default.createFile(atPath: dir + "/apt-forgets", contents: nil)
    let forgot = try check(uid: 0)
    XCTAssertEqual(forgot.code, 1)
    XCTAssertTrue(
      forgot.err.hasSuffix("check-system: still missing after apt-get install: libopenblas-dev\n"), forgot.err)
  }

  /// The default query is dpkg's: a package it does not have installed is missing.
  func testTheDefaultQueryIsDpkgs() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg-query") else {
      throw XCTSkip("no dpkg-query here")
    }
    let env = ["ORCH_CHECK_UID": "1000", "ORCH_CHECK_INSTALLED": "", "ORCH_CHECK_APT_GET": fakeApt]
    XCTAssertEqual(try runProgram(Self.script, ["bash", "coreutils"], cwd: dir, env: env).code, 0)
    let r = try runProgram(Self.script, ["bash", "orch-no-such-package"], cwd: dir, env: env)
    XCTAssertEqual(r.code, 1)
    XCTAssertTrue(r.err.hasSuffix("\n  sudo apt-get install -y orch-no-such-package\n"), r.err)
  }

  /// `make demo`, `make test` and `make build` stop before building (swift is never run).
  func testMakeStopsBeforeBuildingWhenAPackageIsMissing() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/make") else { throw XCTSkip("no make here") }
    let swiftLog = dir + "/swift.log"
    let fakeSwift = dir + "/swift"
    try "#!/bin/sh\necho \"$*\" >> \(swiftLog)\n".write(toFile: fakeSwift, atomically: true, encoding: .utf8)
    chmod(fakeSwift, 0o755)
    let env = [
      "ORCH_CHECK_INSTALLED": "test -e '\(installed)'/\"$1\"", "ORCH_CHECK_UID": "1000",
      "ORCH_CHECK_APT_GET": fakeApt,
    ]
    for target in ["demo", "test", "build", "release"] {
      let r = try runProgram(
        "/usr/bin/make", ["-s", "-C", Self.package, target, "SWIFT=\(fakeSwift)"], cwd: dir, env: env)
      XCTAssertNotEqual(r.code, 0, target)
      XCTAssertTrue(r.err.contains("  sudo apt-get install -y libopenblas-dev\n"), "\(target): \(r.err)")
      XCTAssertFalse(FileManager.default.fileExists(atPath: swiftLog), "\(target) built: \(r.out)")
    }
    // With the package there, make goes on to build (here: the fake swift).
    FileManager.default.createFile(atPath: installed + "/libopenblas-dev", contents: nil)
    let r = try runProgram(
      "/usr/bin/make", ["-s", "-C", Self.package, "build", "SWIFT=\(fakeSwift)"], cwd: dir, env: env)
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(try String(contentsOfFile: swiftLog, encoding: .utf8), "build\n")
  }
}
