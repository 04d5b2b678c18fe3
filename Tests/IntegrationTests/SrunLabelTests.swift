import Foundation
import XCTest

/// `srun -l` relays the task's lines through srun; a process the task leaves behind holding its
/// stdout must not keep srun (and so the batch script) waiting once the task has exited. (A
/// zombie does not count as running: the worker reaps orphans only when it gets to them.)
final class SrunLabelTests: XCTestCase {
  func testLabelledStepEndsWithItsTask() throws {
    let c = try Cluster()
    try c.installShims()
    try c.write(
      "labels.sbatch",
      """
      #!/bin/bash
      srun -l bash -c 'echo a; sleep 60 & echo $! > bg.pid; echo b; printf tail'
      state=$(ps -o stat= -p "$(cat bg.pid)")
      if [[ -n $state && $state != Z* ]]; then echo "background still running"; kill "$(cat bg.pid)"; fi

      """)
    try c.startDaemon()
    let r = try c.shell("sbatch --wait labels.sbatch")
    XCTAssertEqual(r.code, 0, r.err)
    let id = Int(r.out.split(separator: " ").last!.trimmingCharacters(in: .whitespacesAndNewlines))!
    XCTAssertEqual(c.read("slurm-\(id).out"), "0: a\n0: b\n0: tail\nbackground still running\n")
  }
}
