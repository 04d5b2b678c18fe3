import Foundation
import Store
import XCTest

@testable import Operations
@testable import OrchCore
@testable import SlurmSyntax

/// The corpus under Fixtures/sbatch: realistic scripts, each parsed from disk as `sbatch NAME`
/// in that directory, and compared field by field with what SLURM's rules give.
final class SbatchParseTests: XCTestCase {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/sbatch").path
  let M = Int64(1) << 20
  let G = Int64(1) << 30

  func parse(_ name: String, _ options: [String] = [], env: [String: String] = [:]) throws -> SbatchRequest {
    try Sbatch.parse(
      arguments: options + [name], environment: env,
      readFile: { try String(contentsOfFile: $0, encoding: .utf8) }, cwd: Self.directory)
  }

  /// The request a bare `sbatch NAME` yields before the script's directives add anything.
  func base(_ name: String, interpreter: [String] = ["/bin/bash"]) throws -> SbatchRequest {
    let path = Self.directory + "/" + name
    var r = SbatchRequest()
    r.jobName = name
    r.submitDirectory = Self.directory
    r.workingDirectory = Self.directory
    r.scriptPath = path
    r.script = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    r.interpreter = interpreter
    return r
  }

  func rejection(_ name: String, file: StaticString = #filePath, line: UInt = #line) -> OrchError? {
    do {
      let r = try parse(name)
      XCTFail("expected an error, got \(r)", file: file, line: line)
    } catch let error as OrchError {
      XCTAssertEqual(error.kind, .badInput, file: file, line: line)
      XCTAssertFalse(error.description.contains("\n"), "one line", file: file, line: line)
      return error
    } catch {
      XCTFail("unexpected \(error)", file: file, line: line)
    }
    return nil
  }

  func testCorpusHasAtLeastFifteenScripts() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory)
    XCTAssertGreaterThanOrEqual(names.count, 15)
  }

  func testArrayWithStep() throws {
    var e = try base("array_steps.sbatch")
    e.jobName = "sweep"
    e.array = ArraySpec(indices: [0, 4, 8, 12])
    e.output = "logs/%x_%A_%a.out"
    e.cpusPerTask = 2
    e.cpusPerTaskGiven = true
    e.memoryPerNode = 4 * G
    e.timeLimit = 5400
    XCTAssertEqual(try parse("array_steps.sbatch"), e)
  }

  func testArrayListAndThrottleWithPaddedPatterns() throws {
    var e = try base("array_list_throttle.sbatch")
    e.array = ArraySpec(indices: [0, 6] + Array(16...32), throttle: 4)
    e.output = "out/task_%A_%4a.log"
    e.error = "err/task_%A_%4a.err"
    e.timeLimit = 45 * 60
    XCTAssertEqual(try parse("array_list_throttle.sbatch"), e)
  }

  func testPythonShebangAndMemPerCPU() throws {
    var e = try base("python_train.sbatch", interpreter: ["/usr/bin/env", "python3"])
    e.jobName = "py-train"
    e.cpusPerTask = 4
    e.cpusPerTaskGiven = true
    e.memoryPerCPU = 2 * G
    e.timeLimit = 2 * 86_400
    let r = try parse("python_train.sbatch")
    XCTAssertEqual(r, e)
    XCTAssertEqual(r.memoryLimit, 8 * G)
  }

  func testAfterokOnWholeArray() throws {
    var e = try base("dependency_afterok_array.sbatch")
    e.jobName = "collect"
    e.dependency = DependencySpec(terms: [.init(kind: .afterok, jobID: 1001)])
    e.killOnInvalidDependency = true
    e.output = "collect.log"
    XCTAssertEqual(try parse("dependency_afterok_array.sbatch"), e)
  }

  func testDependencyAlternatives() throws {
    var e = try base("dependency_or.sbatch", interpreter: ["/bin/sh"])
    e.dependency = DependencySpec(
      terms: [.init(kind: .afterok, jobID: 12), .init(kind: .afternotok, jobID: 13, arrayIndex: 2)], isOr: true)
    XCTAssertEqual(try parse("dependency_or.sbatch"), e)
  }

  func testEveryDependencyType() throws {
    var e = try base("dependency_every_type.sbatch")
    e.jobName = "report"
    e.dependency = DependencySpec(terms: [
      .init(kind: .after, jobID: 10, delayMinutes: 5),
      .init(kind: .afterany, jobID: 11), .init(kind: .afterany, jobID: 12),
      .init(kind: .afterok, jobID: 14, elements: ElementRange(first: 1, last: 2)),
      .init(kind: .afternotok, jobID: 15), .init(kind: .aftercorr, jobID: 13), .init(kind: .singleton),
    ])
    e.killOnInvalidDependency = false
    XCTAssertEqual(try parse("dependency_every_type.sbatch"), e)
  }

  func testBareDependencyIdsMeanAfterany() throws {
    var e = try base("dependency_bare.sbatch")
    e.dependency = DependencySpec(terms: [
      .init(kind: .afterany, jobID: 21), .init(kind: .afterany, jobID: 22, arrayIndex: 3),
    ])
    XCTAssertEqual(try parse("dependency_bare.sbatch"), e)
  }

  func testQuotedOutputPatternsAndAppend() throws {
    var e = try base("output_patterns.sbatch")
    e.jobName = "patterns"
    e.output = "run %x (%u@%N) %j %%.out"
    e.error = "errs/%A-%a.err"
    e.openMode = .append
    XCTAssertEqual(try parse("output_patterns.sbatch"), e)
  }

  func testQuotesEscapesAndComments() throws {
    var e = try base("quotes_comments.sbatch")
    e.jobName = "quoted name#1"
    e.workingDirectory = Self.directory + "/$HOME/runs"
    e.cpusPerTask = 3
    e.cpusPerTaskGiven = true
    XCTAssertEqual(try parse("quotes_comments.sbatch"), e)
  }

  func testDirectivesAfterTheFirstCommandAreIgnored() throws {
    var e = try base("directives_after_command.sbatch")
    e.cpusPerTask = 2
    e.cpusPerTaskGiven = true
    e.memoryPerNode = 512 * M
    XCTAssertEqual(try parse("directives_after_command.sbatch"), e)
  }

  func testExportList() throws {
    var e = try base("export_list.sbatch")
    e.jobName = "exported"
    e.export = .init(inheritAll: true, variables: [.init("OMP_PROC_BIND", "close"), .init("DATA_DIR")])
    XCTAssertEqual(try parse("export_list.sbatch"), e)
  }

  func testExportNoneRequeueAndBatchSignal() throws {
    var e = try base("export_none_requeue.sbatch")
    e.export = .none
    e.requeue = true
    e.signal = .init(batchOnly: true, number: SIGUSR1, seconds: 120)
    e.timeLimit = 600
    XCTAssertEqual(try parse("export_none_requeue.sbatch"), e)
  }

  func testClusterOptionsAreAcceptedAndGPUIsRequested() throws {
    // The script names partition gpu: a machine whose one partition is configured so takes it.
    setenv("ORCH_PARTITION", "gpu", 1)
    defer { unsetenv("ORCH_PARTITION") }
    var e = try base("gpu_cluster_options.sbatch")
    e.ntasksGiven = true
    e.gpus = GPURequest(count: 1)
    XCTAssertEqual(try parse("gpu_cluster_options.sbatch"), e)
  }

  func testSeveralOptionsPerDirective() throws {
    var e = try base("multiple_per_line.sbatch", interpreter: ["/bin/bash", "-l"])
    e.jobName = "multi"
    e.cpusPerTask = 2
    e.cpusPerTaskGiven = true
    e.memoryPerNode = G
    e.timeLimit = 600
    e.requeue = false
    e.signal = .init(number: SIGUSR1)
    e.openMode = .truncate
    e.workingDirectory = Self.directory + "/work/run1"
    e.parsable = true
    e.wait = true
    e.hold = true
    XCTAssertEqual(try parse("multiple_per_line.sbatch"), e)
  }

  func testMemPerCPUTimesCPUsAndMinuteRounding() throws {
    var e = try base("mem_per_cpu.sbatch")
    e.cpusPerTask = 3
    e.cpusPerTaskGiven = true
    e.memoryPerCPU = 1500 * M
    e.timeLimit = 60
    let r = try parse("mem_per_cpu.sbatch")
    XCTAssertEqual(r, e)
    XCTAssertEqual(r.memoryLimit, 4500 * M)
  }

  func testWordOutsideAnOptionIsAnInvalidDirective() {
    let error = rejection("invalid_mail_user.sbatch")
    XCTAssertEqual(error?.message, "sbatch: error: Invalid directive found in batch script: e-mail>")
    XCTAssertEqual(error?.location, SourceLocation(file: "invalid_mail_user.sbatch", line: 3, column: 27))
  }

  func testBadValueNamesFileAndLine() {
    let error = rejection("invalid_time.sbatch")
    XCTAssertEqual(
      error?.message,
      "sbatch: error: Invalid --time specification: bad time 'forever': expected min, min:sec, h:m:s, d-h, d-h:m or d-h:m:s"
    )
    XCTAssertEqual(error?.location, SourceLocation(file: "invalid_time.sbatch", line: 3, column: 9))
  }

  func testUnknownOptionInDirective() {
    let error = rejection("unknown_option.sbatch")
    XCTAssertEqual(error?.message, "sbatch: unrecognized option '--partitions=debug'")
    XCTAssertEqual(error?.location, SourceLocation(file: "unknown_option.sbatch", line: 3, column: 9))
    if let error {
      XCTAssertEqual(
        Sbatch.diagnostic(for: error),
        "unknown_option.sbatch:3:9: sbatch: unrecognized option '--partitions=debug'\nTry \"sbatch --help\" for more information"
      )
    }
  }

  func testScriptWithoutShebang() {
    let error = rejection("no_shebang.sh")
    XCTAssertEqual(
      error?.message,
      "sbatch: error: This does not look like a batch script. The first line must start with #! followed by the path to an interpreter."
    )
  }

  func testUnmatchedQuote() {
    let error = rejection("unmatched_quote.sbatch")
    XCTAssertEqual(error?.message, "sbatch: error: Unmatched `\"` in [#SBATCH --job-name=\"unterminated]")
    XCTAssertEqual(error?.location, SourceLocation(file: "unmatched_quote.sbatch", line: 2, column: 9))
  }

  /// Directives form one argument vector, so a value missing at the end of a line is taken from
  /// the next directive line, as in SLURM.
  func testMissingValueTakesTheNextLinesWord() {
    let error = rejection("value_spills_to_next_line.sbatch")
    XCTAssertEqual(error?.message, "sbatch: error: Invalid directive found in batch script: 4")
    XCTAssertEqual(error?.location, SourceLocation(file: "value_spills_to_next_line.sbatch", line: 3, column: 12))
  }

  func testCommandLineOverridesCorpusDirectives() throws {
    let r = try parse("array_steps.sbatch", ["-a", "1-3", "--mem=8G", "-J", "cli", "-t", "0"])
    XCTAssertEqual(r.array, ArraySpec(indices: [1, 2, 3]))
    XCTAssertEqual(r.jobName, "cli")
    XCTAssertEqual(r.memoryPerNode, 8 * G)
    XCTAssertNil(r.timeLimit)
    XCTAssertEqual(r.output, "logs/%x_%A_%a.out")
  }

  func testConfigTemplateMatchesPerElementSerialization() throws {
    var request = SbatchRequest()
    request.jobName = "a \"quoted\" name"
    request.scriptArguments = ["x", "\"index\":1"]
    request.interpreter = ["/bin/bash"]
    request.workingDirectory = "/tmp/w"
    let template = SbatchSubmit.configTemplate(request, scriptPath: "/s/1.sh", digest: "ab")
    for index in [nil, 0, 7, 1000] {
      XCTAssertEqual(template(index), SbatchSubmit.config(request, index: index, scriptPath: "/s/1.sh", digest: "ab"))
    }
  }
}
