import Foundation
import XCTest

/// What happens to a running sbatch job as SLURM defines it: `--signal` before the time limit.
final class SbatchLifecycleTests: XCTestCase {
  func testSignalArrivesBeforeTheTimeLimit() throws {
    let c = try Cluster()
    try c.installShims()
    // B: the batch shell alone gets USR1 57 s before its 1-minute limit; it keeps running and
    // ends at the limit as before: SIGTERM, KillWait, TIMEOUT.
    try c.write(
      "shell.sbatch",
      """
      #!/bin/bash
      #SBATCH --time=1 --signal=B:USR1@57
      trap 'echo "shell got USR1 after $SECONDS s" >> shell-warned.txt' USR1
      while true; do sleep 0.1; done

      """)
    // Without B: the steps get it and the batch shell does not (an untrapped USR2 would kill it).
    // The srun step receives it once: srun does not relay what already reached the step.
    try c.write(
      "step.sbatch",
      """
      #!/bin/bash
      #SBATCH --time=1 --signal=USR2@58
      srun bash -c 'n=0; trap "n=\\$((n+1))" USR2; while [ $n -eq 0 ]; do sleep 0.1; done; sleep 1; echo "step got USR2 $n time(s) after $SECONDS s"'
      echo "shell still here"

      """)
    try c.startDaemon(cpus: "0-1", killWait: "1")
    let r = try c.shell("sbatch --parsable shell.sbatch && sbatch --parsable step.sbatch")
    XCTAssertEqual(r.code, 0, r.err)
    let ids = r.out.split(separator: "\n").compactMap { Int($0) }
    XCTAssertEqual(ids.count, 2, r.out)
    let (shell, step) = (ids[0], ids[1])

    XCTAssertEqual(try c.waitFinished(step, timeout: 30), ["\(step)": "COMPLETED 0:0"])
    let stepOut = c.read("slurm-\(step).out")
    let stepLine = try XCTUnwrap(stepOut.split(separator: "\n").first.map(String.init), stepOut)
    XCTAssertTrue(stepLine.hasPrefix("step got USR2 1 time(s) after "), stepOut)
    XCTAssertLessThan(Int(stepLine.split(separator: " ")[6]) ?? 99, 10, "about 2 s into a 60 s limit")
    XCTAssertTrue(stepOut.hasSuffix("shell still here\n"), stepOut)

    let warned = try XCTUnwrap(
      { () throws -> String? in
        var text = ""
        try c.waitUntil("the shell is warned", timeout: 30) {
          text = c.read("shell-warned.txt")
          return !text.isEmpty
        }
        return text
      }())
    XCTAssertTrue(warned.hasPrefix("shell got USR1 after "), warned)
    XCTAssertLessThan(Int(warned.split(separator: " ")[4]) ?? 99, 10, warned)
    XCTAssertEqual(try c.waitFinished(shell, timeout: 90), ["\(shell)": "TIMEOUT 0:15"])
    XCTAssertEqual(warned.split(separator: "\n").count, 1, "one warning, then the limit")
  }
}
