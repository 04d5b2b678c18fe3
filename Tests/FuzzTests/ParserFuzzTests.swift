import Foundation
import Worker
import XCTest

@testable import Operations
@testable import Registry
@testable import SlurmSyntax

/// The SLURM-syntax parsers of `orch submit` and `orch sbatch`: whatever the input, a parser
/// returns a value or throws its own error, within the hang limit, and what it returns can be used
/// (expanded, printed, multiplied into a job's limits) without a trap.
final class ParserFuzzTests: XCTestCase {
  /// `--array` / `SBATCH_ARRAY_INX`: indices, ranges, steps, throttles.
  func testArraySpec() {
    Fuzz.run(
      "array-spec", seeds: ["0-15", "1,3,5-7%2", "0-15:4", "0-4000000"], tokens: ["%", ":", "-", ",", "4000000"]
    ) {
      _ = try ArraySpec.parse(Fuzz.text($0)).description
    }
  }

  /// `--time` as `orch submit` and `#SBATCH --time` read it, and the squeue/sacct forms of the result.
  func testTimeFormat() {
    Fuzz.run("time-format", seeds: ["30", "1:30", "2-12:00:00", "UNLIMITED"], tokens: [":", "-", "999999999"]) {
      let text = Fuzz.text($0)
      if let seconds = try? TimeSpec.parseSeconds(text) {
        _ = TimeFormat.squeueTime(seconds)
        _ = TimeFormat.sacctElapsed(seconds)
        _ = TimeFormat.squeueTimeLimit(minutes: seconds / 60)
      }
      let request = try Sbatch.parse(
        arguments: ["--time=" + text, "--wrap", "true"], environment: [:], readFile: { _ in "" }, cwd: "/")
      _ = TimeFormat.sacctTimelimit(minutes: request.timeLimit.map { $0 / 60 })
    }
  }

  /// `sbatch --begin` and `scontrol update StartTime=`: a time or an error, and a time that
  /// prints as scontrol prints it.
  func testBeginTime() {
    Fuzz.run(
      "begin-time", seeds: ["now+60", "16:00 tomorrow", "2030-01-02T03:04:05"],
      tokens: ["now", "+", "weeks", "noon", "tomorrow", "-", ":", "/", ".", "T", "PM", "999999999"]
    ) {
      let text = Fuzz.text($0)
      if let t = try? BeginTime.parse(text, now: 1_796_554_800) { _ = SlurmClock.format(t) }
      _ = try Sbatch.parse(
        arguments: ["--begin=" + text, "--wrap", "true"], environment: [:], readFile: { _ in "" }, cwd: "/")
    }
  }

  /// `orch submit --after` and `orch sbatch --dependency` (bare ids meaning afterok and afterany),
  /// then evaluated against an array as the daemon does.
  func testDependencySpec() {
    let target = (0..<4).map { DependencyRule.Element(index: $0, state: .running, secondsSinceStart: 600) }
    Fuzz.run(
      "dependency-spec", seeds: ["afterok:12", "after:3+5?afterany:4_[0-3]", "12:13_2", "singleton"],
      tokens: ["after", "afterok", "afternotok", "aftercorr", "singleton", "_[", "]", "+", "?", "2147483647"]
    ) {
      let text = Fuzz.text($0)
      for spec in [try? DependencySpec.parse(text, option: "--after"), try? SbatchValues.dependency(text)] {
        guard let spec else { continue }
        _ = try DependencySpec.parse(spec.description)
        _ = DependencyRule.evaluate(spec, ownIndex: 1, target: { _ in target })
      }
    }
  }

  /// The sbatch command line: one argument per line of the input, the script named or wrapped.
  func testSbatchOptions() {
    Fuzz.run(
      "sbatch-options",
      seeds: [
        "--array=0-3%2\n-c\n2\n--mem-per-cpu=1G\njob.sh", "-Hc2\n--wrap\ntrue",
        "--dependency=afterok:1_[0-3]\n--signal=B:USR1@60\n-t\n1-00:00\njob.sh\nan argument",
      ],
      tokens: ["--", "-c", "--mem-per-cpu=", "--mem=", "--time=", "--array=", "--signal=", "-d", "T", "G", "\n"]
    ) {
      let arguments = Fuzz.text($0).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      try Self.use(
        Sbatch.parse(arguments: arguments, environment: [:], readFile: { _ in "#!/bin/sh\ntrue\n" }, cwd: "/home/u"))
    }
  }

  /// `#SBATCH` directives: the whole input is the script.
  func testSbatchDirectives() {
    Fuzz.run(
      "sbatch-directives",
      seeds: [
        "#!/bin/bash\n#SBATCH --array=0-3 -c 2\n#SBATCH --mem-per-cpu=1G # per CPU\ntrue\n",
        "#!/bin/sh\n#SBATCH -J \"a name\" -o 'logs/%x-%4a.out'\n#SBATCH -d afterok:1\necho\n",
      ],
      tokens: ["#SBATCH ", "\n", "\"", "'", "\\", "#", "--mem-per-cpu=", "-c"]
    ) { input in
      let script = Fuzz.text(input)
      try Self.use(Sbatch.parse(arguments: ["job.sh"], environment: [:], readFile: { _ in script }, cwd: "/home/u"))
    }
  }

  /// `--mem`, `--mem-per-cpu` and `orch submit --mem`, with the CPU count the limit multiplies by.
  func testMemorySize() {
    Fuzz.run("memory-size", seeds: ["512", "4G", "8000000T", "0"], tokens: ["K", "M", "G", "T", "9"]) {
      let text = Fuzz.text($0)
      _ = try? MemorySpec.parseBytes(text)
      for cpus in ["1", "2", "1000"] {
        let request = try? Sbatch.parse(
          arguments: ["-c", cpus, "--mem-per-cpu=" + text, "--wrap", "true"], environment: [:],
          readFile: { _ in "" }, cwd: "/")
        _ = request?.memoryLimit
      }
    }
  }

  /// `--output`/`--error` patterns, expanded as a job starts.
  func testOutputPattern() {
    let job = JobIdentity(
      jobID: 7, arrayID: 4, arrayIndex: 3, isArray: true, attempt: 1, name: "n", key: "k", runDir: "/r", home: "/h")
    Fuzz.run("output-pattern", seeds: ["slurm-%A_%a.out", "%x-%4j-%%.log"], tokens: ["%", "a", "j", "99999999999"]) {
      _ = OutputPattern.expand(Fuzz.text($0), job: job, host: "node", user: "u")
    }
  }

  /// What submission reads from a parsed request.
  static func use(_ request: SbatchRequest) throws {
    _ = request.memoryLimit
    _ = request.array?.description
    if let dependency = request.dependency { _ = try DependencySpec.parse(dependency.description) }
    _ = request.timeLimit.map { TimeFormat.squeueTimeLimit(minutes: $0 / 60) }
  }
}
