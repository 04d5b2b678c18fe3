import Foundation
import GRDB
import Store
import XCTest

/// The daemon ↔ worker wire and the fd-3 event stream, through the real binaries: orders of any
/// size reach their worker, no event is lost between worker and store, and a job's event stream
/// cannot grow its worker or its journal without bound.
final class WireTests: XCTestCase {
  /// An order is bigger than a socket packet can be (~208 KiB): a 300 KB binding (in the config
  /// the order carries) and a 300 KB submitter environment both reach the worker and complete. A
  /// 200 KB environment variable reaches it too, and fails loudly: Linux runs nothing with one.
  func testOrdersOverTheSocketPacketLimitRunAndComplete() throws {
    let c = try Cluster()
    let blob = String(repeating: "b", count: 300_000)
    try c.write(
      "sweeps/big.yaml",
      """
      register:
        - key: big
          bindings: {blob: "\(blob)"}
          command: [sh, -c, "test $(wc -c < $ORCH_RUN_DIR/config.json) -gt 300000 && echo config-ok"]
        - key: env
          command: [sh, -c, "echo env=${{#BIG_A}}/${{#BIG_B}}/${{#BIG_C}}"]
        - key: huge
          env: {HUGE: "\(String(repeating: "h", count: 200_000))"}
          command: ["true"]
      """)
    try c.startDaemon()
    // Three variables of 100 kB: Linux refuses a single environment string over 128 KiB to any exec.
    let value = String(repeating: "e", count: 100_000)
    let r = try c.run(
      ["submit", "sweeps/big.yaml", "--output-root", c.runs], env: ["BIG_A": value, "BIG_B": value, "BIG_C": value])
    XCTAssertEqual(r.code, 0, r.err)
    try c.waitUntil("every job ends", timeout: 30) {
      try c.states().values.allSatisfy { ["COMPLETED", "FAILED"].contains($0) }
    }
    XCTAssertEqual(try c.states(), ["1_0": "COMPLETED", "1_1": "COMPLETED", "1_2": "FAILED"])
    let huge = try c.historyRows().first { $0["key"] as? String == "huge" }
    XCTAssertTrue((huge?["reason"] as? String)?.contains("Argument list too long") == true, "\(huge ?? [:])")
    XCTAssertTrue(c.read("runs/big/log.txt").contains("config-ok"), c.read("runs/big/log.txt"))
    XCTAssertTrue(c.read("runs/env/log.txt").contains("env=100000/100000/100000"), c.read("runs/env/log.txt"))
  }

  /// One write(2) of 1,024 lines of 64 bytes (64 KiB: a full chunk of the event stream) gives
  /// 1,024 metrics: the daemon reads a whole message, header included.
  func testAFullChunkOfEventsArrivesWhole() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/chunk.yaml", Self.sweep(key: "chunk", lines: 1024, then: "dd if=lines bs=65536 count=1 2>/dev/null >&3"))
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/chunk.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the job completes") { try c.states()["1_0"] == "COMPLETED" }
    XCTAssertEqual(try metricRows(c, "1_0").count, 1024)
  }

  /// 100,000 events written in large blocks (the worker gets whole 64 KiB chunks of them): every
  /// one is recorded.
  func testEveryEventOfAFastStreamIsRecorded() throws {
    let c = try Cluster()
    try c.write("sweeps/many.yaml", Self.sweep(key: "many", lines: 100_000, then: "cat lines >&3"))
    try c.startDaemon()
    let submitted = try c.run(["submit", "sweeps/many.yaml", "--output-root", c.runs, "--wait"])
    XCTAssertEqual(submitted.code, 0, submitted.err)
    XCTAssertEqual(try c.states()["1_0"], "COMPLETED")
    let rows = try metricRows(c, "1_0")
    XCTAssertEqual(rows.count, 100_000)
    let values = rows.compactMap { Double($0.split(separator: ",", omittingEmptySubsequences: false)[4]) }
    XCTAssertEqual(Set(values).count, 100_000)
  }

  /// A sweep whose job writes `lines` metric lines of exactly 64 bytes to the file `lines` (a
  /// 64 KiB chunk of them holds no partial line, and any byte cut from one breaks its JSON), then
  /// runs `then`.
  static func sweep(key: String, lines: Int, then: String) -> String {
    #"""
    register:
      - key: \#(key)
        command: [sh, -c, "awk 'BEGIN {{ for (i = 1; i <= \#(lines); i++) {{ s = sprintf(\"{{\\\"type\\\":\\\"metric\\\",\\\"name\\\":\\\"m\\\",\\\"value\\\":%d,\\\"pad\\\":\\\"\", i); while (length(s) < 61) s = s \"x\"; printf \"%s\\\"}}\\n\", s }} }}' > lines && test $(wc -c < lines) -eq \#(lines * 64) && \#(then)"]
    """#
  }

  /// 50 MB on fd 3 without a newline: the line is dropped (and counted), the pool worker's memory
  /// and journal stay small, and the events after it still arrive.
  func testAnUnterminatedFloodKeepsTheWorkerAndJournalSmall() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/flood.yaml",
      #"""
      register:
        - key: flood
          command: [sh, -c, "echo $$ > job.pid; echo $PPID > worker.pid; head -c 50000000 /dev/zero | tr '\\0' x >&3; printf '\\n{{\"type\":\"metric\",\"name\":\"after\",\"value\":1}}\\n' >&3; touch written; while [ ! -e go ]; do sleep 0.05; done"]
      """#)
    try c.startDaemon()
    // The job waits for `go` once it has written everything; if the test stops before, so does the job.
    var completed = false
    defer {
      if !completed, let job = Int32(c.read("job.pid").trimmingCharacters(in: .whitespacesAndNewlines)) {
        kill(-job, SIGKILL)
      }
    }
    XCTAssertEqual(try c.run(["submit", "sweeps/flood.yaml", "--output-root", c.runs]).code, 0)
    // The worker's peak resident size (an idle one has ~20 MB) until the job has written it all,
    // by when its worker has read it all.
    try c.waitUntil("the job started") { !c.read("worker.pid").isEmpty }
    let worker = c.read("worker.pid").trimmingCharacters(in: .whitespacesAndNewlines)
    var peak = 0
    try c.waitUntil("the job wrote the flood (or its worker grew past the bound)", timeout: 120) {
      let status = try String(contentsOfFile: "/proc/\(worker)/status", encoding: .utf8)
      peak = Self.kilobytes(status, "VmHWM") ?? 0
      return FileManager.default.fileExists(atPath: c.root.path + "/written") || peak >= 40_000
    }
    XCTAssertLessThan(peak, 40_000, "pool worker peak RSS \(peak) kB")
    guard peak < 40_000 else { return }
    try c.waitUntil("the event after the flood arrives") {
      try self.metricRows(c, "1_0").contains { $0.contains(",after,") }
    }
    try c.write("go", "")
    try c.waitUntil("the job completes") { try c.states()["1_0"] == "COMPLETED" }
    completed = true
    let journals = try FileManager.default.contentsOfDirectory(atPath: c.home + "/workers")
      .filter { $0.hasSuffix(".journal") }
    let journalBytes = try journals.reduce(0) {
      $0 + ((try FileManager.default.attributesOfItem(atPath: c.home + "/workers/" + $1)[.size] as? Int) ?? 0)
    }
    XCTAssertLessThan(journalBytes, 1 << 20, "journals \(journals)")
    let warnings = try events(c, type: "warning")
    XCTAssertEqual(warnings.count, 1, "\(warnings)")
    XCTAssertTrue(warnings.first?.contains("\"dropped_bytes\":50000001") == true, "\(warnings)")
    XCTAssertTrue(c.read("runs/flood/log.txt").contains("1 event line(s) (50000001 bytes) dropped"))
  }

  /// `seq` must be an integer of 64 bits: a line with a larger one, or with 1e30, is dropped and
  /// counted, not clamped onto another event's number.
  func testSeqOutsideInt64IsRefusedNotClamped() throws {
    let c = try Cluster()
    try c.write(
      "sweeps/seq.yaml",
      #"""
      register:
        - key: seq
          command: [sh, -c, "printf '%s\\n' '{{\"type\":\"metric\",\"name\":\"big\",\"value\":1,\"seq\":9223372036854775808}}' '{{\"type\":\"metric\",\"name\":\"huge\",\"value\":2,\"seq\":1e30}}' '{{\"type\":\"metric\",\"name\":\"ok\",\"value\":3,\"seq\":7}}' >&3"]
      """#)
    try c.startDaemon()
    XCTAssertEqual(try c.run(["submit", "sweeps/seq.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the job completes") { try c.states()["1_0"] == "COMPLETED" }
    XCTAssertEqual(try metricRows(c, "1_0"), ["1,,,ok,3.0,0"])
    XCTAssertEqual(try events(c, type: "warning").count, 2)
  }

  /// A message cut in transit (a packet longer than the daemon reads) is not lost: the daemon
  /// reads the worker's journal back. A stand-in worker journals 4,000 events and the job's end,
  /// sends the events as one 167 kB packet (over the 96 KiB a packet may be), then the report:
  /// every event is recorded, the attempt once.
  func testACutMessageIsReadBackFromTheJournal() throws {
    let c = try Cluster()
    let worker = c.root.appendingPathComponent("fake/orch-worker").path
    try c.write(
      "fake/orch-worker",
      #"""
      #!/usr/bin/env python3
      import os, socket, struct, sys, time
      journal = open(sys.argv[sys.argv.index("--journal") + 1], "ab", buffering=0)
      control = socket.socket(fileno=3)
      def field(*values): return b"".join(str(v).encode() + b"\0" for v in values)
      def record(message): journal.write(struct.pack("<I", len(message)) + message)
      while True:
          packet = control.recv(1 << 20)
          if not packet: break
          kind, job, attempt = packet.split(b"\0")[:3]
          if kind != b"O": continue
          job, attempt = int(job), int(attempt)
          lines = b"".join(b'{"type":"metric","name":"m","value":%d}\n' % i for i in range(4000))
          events = field("E", job, attempt, 0) + lines
          now = time.time()
          report = field("R", job, attempt, "COMPLETED", 0, "", "", os.getpid(), now, now)
          record(field("S", job, attempt, os.getpid()))
          record(events)
          record(report)
          control.send(events)
          control.send(report)
      """#)
    chmod(worker, 0o755)
    try c.write(
      "sweeps/one.yaml",
      """
      register:
        - key: one
          command: ["true"]
      """)
    try c.startDaemon(cpus: "0", env: ["ORCH_WORKER": worker])
    XCTAssertEqual(try c.run(["submit", "sweeps/one.yaml", "--output-root", c.runs]).code, 0)
    try c.waitUntil("the job completes") { try c.states()["1_0"] == "COMPLETED" }
    XCTAssertEqual(try metricRows(c, "1_0").count, 4000)
    let attempts = try c.run(["history", "-j", "1_0", "--attempts", "--json"])
    let rows = try JSONSerialization.jsonObject(with: Data(attempts.out.utf8)) as? [[String: Any]]
    XCTAssertEqual(rows?.map { $0["state"] as? String }, ["COMPLETED"], attempts.out)
  }

  // MARK: - Helpers

  /// `orch metrics ID --csv` without its header.
  func metricRows(_ c: Cluster, _ id: String) throws -> [String] {
    let r = try c.run(["metrics", id, "--csv"])
    XCTAssertEqual(r.code, 0, r.err)
    return r.out.split(separator: "\n").dropFirst().map(String.init)
  }

  /// Payloads of the stored events of a type.
  func events(_ c: Cluster, type: String) throws -> [String] {
    let store = try JobStore(path: c.home + "/orch.db")
    return try store.read("reading events") { db in
      try String.fetchAll(db, sql: "SELECT payload FROM events WHERE type = ? ORDER BY seq", arguments: [type])
    }
  }

  static func kilobytes(_ status: String, _ field: String) -> Int? {
    status.split(separator: "\n").first { $0.hasPrefix(field + ":") }.flatMap { Int($0.filter(\.isNumber)) }
  }
}
