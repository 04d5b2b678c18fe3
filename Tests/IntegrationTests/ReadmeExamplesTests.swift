import Foundation
import XCTest

/// Every command of every ```sh block in README.md and deploy/README.md runs as written against a
/// fresh ORCH_HOME with the real binaries: one block after another, each in its own fresh
/// ORCH_HOME and HOME, its commands in order (a command may use what an earlier one of its block
/// did: `orch logs 1_3` after the submit), each through `bash -e -o pipefail -c` with the block's
/// earlier `export`s, from a scratch directory that holds the package's `sweeps/` and `deploy/` and
/// has `.build/release` pointing at the binaries under test. A command fails the test when it exits
/// non-zero or outlives its time limit.
///
/// Not run, by rule (`ReadmeExamples.rule`), each printed with its reason:
/// - builds (`make …`, `swift build …`): minutes each; `make demo`, `make test` and
///   `make reproduce-*` are the long-running ones, exercised by running make itself;
/// - what changes the machine: `deploy/slurm-local/*.sh` (installs, restarts or stops the shared
///   SLURM other tests use), `systemctl`/`loginctl`/`journalctl` (the user's systemd services;
///   `journalctl -f` follows forever).
///
/// Commands that need a real SLURM (`--backend slurm`, a bare `sbatch`) run when one answers
/// (`RealSlurm.find`) and are skipped without one, together with the rest of their block, which
/// works on what they submitted. Whatever is still queued at the end of a block is cancelled.
final class ReadmeExamplesTests: XCTestCase {
  static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  func testEveryShellExampleOfTheReadmesRunsOnAFreshHome() throws {
    let slurm = try? RealSlurm.find()
    var ran = 0
    var excluded: [String] = []
    for file in ["README.md", "deploy/README.md"] {
      let text = try String(contentsOfFile: Self.package + "/" + file, encoding: .utf8)
      let blocks = ReadmeExamples.shellBlocks(text)
      XCTAssertFalse(blocks.isEmpty, "\(file) has no ```sh block")
      for (b, block) in blocks.enumerated() {
        let c = try Cluster("readme\(file.filter(\.isLetter))\(b)")
        try Self.prepare(c)
        defer { Self.cleanUp(c, slurm: slurm) }
        var env = slurm?.env ?? [:]
        env["HOME"] = c.root.appendingPathComponent("user").path
        env["PATH"] = Cluster.binDir + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        var exports: [String] = []
        var skipRest: String? = nil
        for command in block.commands {
          let at = "\(file):\(block.line + command.line)"
          let rule = ReadmeExamples.rule(command.text)
          if case .excluded(let reason) = rule {
            excluded.append(command.text)
            print("readme: not run \(at) `\(command.text)`: \(reason)")
            continue
          }
          if let reason = skipRest {
            print("readme: skipped \(at) `\(command.text)`: \(reason)")
            continue
          }
          switch rule {
          case .excluded:
            continue
          case .needsSlurm where slurm == nil:
            skipRest = "no real SLURM answers (and the rest of the block uses what it submitted)"
            print("readme: skipped \(at) `\(command.text)`: \(skipRest!)")
            continue
          case .needsSlurm, .run:
            break
          }
          let script = (exports + [command.text]).joined(separator: "\n")
          let r = try c.execute(
            "/usr/bin/timeout", ["-s", "KILL", "300", "/bin/bash", "-e", "-o", "pipefail", "-c", script], env: env)
          ran += 1
          print("readme: ran \(at) `\(command.text)`: exit \(r.code)")
          XCTAssertEqual(r.code, 0, "\(at): `\(command.text)` failed\nstdout:\n\(r.out)\nstderr:\n\(r.err)")
          if r.code != 0 { skipRest = "an earlier command of its block failed" }
          if command.text.hasPrefix("export ") { exports.append(command.text) }
        }
      }
    }
    // The blocks this test is about are there and were run.
    XCTAssertGreaterThanOrEqual(ran, 20)
    XCTAssertTrue(excluded.contains { $0.hasPrefix("make demo ") }, "\(excluded)")
  }

  /// The scratch directory stands for a clone of the package: `sweeps/`, `deploy/`, and
  /// `.build/release` (what `make release` would have built) → the binaries under test.
  static func prepare(_ c: Cluster) throws {
    let fm = FileManager.default
    try fm.removeItem(atPath: c.sweeps)
    try fm.createSymbolicLink(atPath: c.sweeps, withDestinationPath: package + "/sweeps")
    try fm.createSymbolicLink(
      atPath: c.root.appendingPathComponent("deploy").path, withDestinationPath: package + "/deploy")
    try fm.createDirectory(atPath: c.root.appendingPathComponent(".build").path, withIntermediateDirectories: true)
    try fm.createSymbolicLink(
      atPath: c.root.appendingPathComponent(".build/release").path, withDestinationPath: Cluster.binDir)
    try fm.createDirectory(atPath: c.root.appendingPathComponent("user").path, withIntermediateDirectories: true)
  }

  /// Cancels what the block left queued or running (here and on SLURM), then stops its daemon.
  static func cleanUp(_ c: Cluster, slurm: RealSlurm?) {
    let env = slurm?.env ?? [:]
    if let r = try? c.run(["history", "--json"], env: env),
      let rows = try? JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]]
    {
      let active = rows.filter { !["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"].contains($0["state"] as? String) }
      let ids = Set(active.compactMap { ($0["arrayID"] as? Int).map(String.init) })
      if !ids.isEmpty { _ = try? c.run(["cancel"] + ids.sorted(), env: env) }
    }
    _ = try? c.run(["daemon", "--stop"], env: env)
    // The links go before the directory does, so nothing can follow them into the package.
    for link in ["sweeps", "deploy", ".build/release"] { unlink(c.root.appendingPathComponent(link).path) }
  }

  func testShellBlocksAreExtractedWithContinuationsAndComments() {
    let text = """
      # Title

      ```sh
      orch a    # a comment
      # only a comment

      orch b \\
        --flag x   # continued
      ```

      ```
      not shell
      ```
      ```sh
      orch c ; orch d
      ```
      """
    let blocks = ReadmeExamples.shellBlocks(text)
    XCTAssertEqual(blocks.map(\.line), [3, 14])
    XCTAssertEqual(blocks[0].commands.map(\.text), ["orch a    # a comment", "orch b \\\n  --flag x   # continued"])
    XCTAssertEqual(blocks[0].commands.map(\.line), [1, 4])
    XCTAssertEqual(blocks[1].commands.map(\.text), ["orch c ; orch d"])
    XCTAssertEqual(ReadmeExamples.rule("make reproduce-data"), .excluded(ReadmeExamples.builds))
    XCTAssertEqual(ReadmeExamples.rule("deploy/slurm-local/start.sh   # config"), .excluded(ReadmeExamples.machine))
    XCTAssertEqual(ReadmeExamples.rule("journalctl --user -u orch -f"), .excluded(ReadmeExamples.machine))
    XCTAssertEqual(ReadmeExamples.rule("orch submit sweeps/ --backend slurm"), .needsSlurm)
    XCTAssertEqual(ReadmeExamples.rule("sbatch --wrap 'echo hi' && squeue -t all"), .needsSlurm)
    XCTAssertEqual(ReadmeExamples.rule("orch shims ~/b && PATH=~/b:$PATH sbatch x.sbatch"), .run)
  }
}

/// The ```sh blocks of a markdown file and the rules for which of their commands a test runs.
enum ReadmeExamples {
  struct Command {
    var text: String
    /// Line within the block (1 = the first line after the fence).
    var line: Int
  }

  struct Block {
    /// Line of the opening fence in the file (1-based).
    var line: Int
    var commands: [Command]
  }

  enum Rule: Equatable {
    case run
    case needsSlurm
    case excluded(String)
  }

  static let builds = "builds the project (minutes); make runs it, not this test"
  static let machine = "changes the machine (the shared SLURM, systemd services) or follows forever"

  static func rule(_ command: String) -> Rule {
    if command.hasPrefix("make ") || command.hasPrefix("swift build") { return .excluded(builds) }
    if command.hasPrefix("deploy/slurm-local/")
      || ["systemctl", "loginctl", "journalctl"].contains(where: { command.hasPrefix($0 + " ") })
    {
      return .excluded(machine)
    }
    if command.contains("--backend slurm") || command.hasPrefix("sbatch ") { return .needsSlurm }
    return .run
  }

  static func shellBlocks(_ markdown: String) -> [Block] {
    var blocks: [Block] = []
    var current: Block? = nil
    var pending: Command? = nil
    let lines = markdown.components(separatedBy: "\n")
    var inOther = false
    for (i, line) in lines.enumerated() {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("```") {
        if var block = current {
          if let p = pending { block.commands.append(p) }
          blocks.append(block)
          current = nil
          pending = nil
        } else if inOther {
          inOther = false
        } else if trimmed == "```sh" || trimmed == "```bash" {
          current = Block(line: i + 1, commands: [])
        } else {
          inOther = true
        }
        continue
      }
      guard var block = current else { continue }
      var command: Command
      if let p = pending {
        command = p
        command.text += "\n" + line
      } else {
        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
        command = Command(text: line, line: i + 1 - block.line)
      }
      if line.hasSuffix("\\") {
        pending = command
      } else {
        block.commands.append(command)
        current = block
        pending = nil
      }
    }
    return blocks
  }
}
