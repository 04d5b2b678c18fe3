import Foundation
import XCTest

@testable import Backends
@testable import OrchCore
@testable import Registry
@testable import SlurmSyntax

final class SweepFuzzTests: XCTestCase {
  /// A sweep file loaded, expanded and listed as `orch configs` does: a bad one is a bad-input
  /// OrchError whose text carries no raw control character, and every key it registers is a safe run
  /// directory. Configs are capped at 10,000 here: a legal 10⁷-config sweep is slow, not a hang.
  func testSweepYAML() throws {
    let dir = NSTemporaryDirectory() + "orch-fuzz-sweep-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/fuzz.yaml"
    Fuzz.run(
      "sweep-yaml",
      tokens: [
        "&a ", "*a", "<<: *a", "? ", "- ", ": ", "register:", "defaults:", "key: ", "derive: ", "command: ",
        "engine: train", "bindings: ", "axes: ", "grid: ", "zip: ", "list: ", "when: ", "if: ", "set: ", "rename: ",
        "suffix: ", "resources: ", "range(", "{key}", "{{", "}}", "\"\\u202E\"", "\\x85", "!!str ", "|\n  ", "\n  ",
        "\n    ", "[[[[", "]]]]",
      ]
    ) { input in
      try Data(input).write(to: URL(fileURLWithPath: path))
      try SweepFile.$maxConfigs.withValue(10_000) {
        do throws(OrchError) {
          let registry = try Registry.load(path: path)
          _ = Registry.listing(try registry.matching(".*"), regex: ".*")
          for c in registry.configs { precondition(unsafeKeyProblem(Array(c.key.utf8)) == nil, "unsafe key \(c.key)") }
        } catch {
          precondition(error.kind == .badInput, "not bad input: \(error)")
          precondition(!error.description.unicodeScalars.contains { UserText.problem($0) != nil }, "raw: \(error)")
          throw error
        }
      }
    }
  }

  /// A sweep name, partition and ORCH_HOME as the SLURM backend's script holds them: either refused
  /// (bad input, one clean line) or read back literally by sbatch's directive parser and by bash,
  /// which runs only the worker (a stub printing its arguments).
  func testSlurmScriptNames() throws {
    let dir = NSTemporaryDirectory() + "orch-fuzz-slurm-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let worker = dir + "/worker 'stub'"
    try "#!/bin/sh\nprintf '%s\\n' \"$@\"\n".write(toFile: worker, atomically: true, encoding: .utf8)
    chmod(worker, 0o755)
    let script = dir + "/array.sbatch"
    Fuzz.run(
      "slurm-script-name", tokens: ["#SBATCH ", "$(", "`", ";", "#", "%", "%%", "\u{301}", "hetjob", "\\\"", "'\\''"]
    ) { input in
      let text = Fuzz.text(input)
      // The text as the name and partition, then as a directory in ORCH_HOME.
      for (name, home) in [(text, dir + "/home"), ("n", dir + "/home/" + text)] {
        let options = SlurmOptions(partition: name, parallelism: 2)
        do throws(OrchError) {
          try SlurmSubmitter.checkScriptInput(names: [name], options: options, home: home, worker: worker)
        } catch {
          precondition(error.kind == .badInput, "not bad input: \(error)")
          precondition(!error.description.unicodeScalars.contains { UserText.problem($0) != nil }, "raw: \(error)")
          continue
        }
        let manifest = home + "/slurm/l/manifest.jsonl"
        let body = SlurmSubmitter.scriptText(
          name: name, count: 3, offset: 7, manifest: manifest, dir: home + "/slurm/l", cpus: 2, timeLimit: 90,
          memLimit: nil, options: options, worker: worker)
        let tokens = try SbatchScript.directiveTokens(body, file: script).map { Array($0.text.utf8) }
        let expected = [
          "--job-name=" + name, "--array=0-2%2", "--cpus-per-task=2",
          "--output=" + SlurmSubmitter.literalPattern(home + "/slurm/l") + "/slurm-%A_%a.out", "--time=0-00:01:30",
          "--partition=" + name,
        ].map { Array($0.utf8) }
        precondition(tokens == expected, "sbatch reads \(tokens) from\n\(body)")
        try body.write(toFile: script, atomically: false, encoding: .utf8)
        let ran = try Self.bash(script)
        precondition(ran.err.isEmpty, "bash: \(ran.err)\n\(body)")
        let args = ["slurm-task", "--manifest", manifest, "--offset", "7"].map { $0 + "\n" }.joined()
        precondition(Array(ran.out.utf8) == Array(args.utf8), "bash ran \(ran.out)\n\(body)")
      }
    }
  }

  static func bash(_ script: String) throws -> (out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = [script]
    p.environment = ["PATH": "/nonexistent"]
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }
}
