import Foundation
import Store
import XCTest

/// `orch results`, `compare` and `plot` against a fixture store: the demo sweep (2 widths × 3
/// learning rates × 4 seeds) submitted without a daemon, each job given known per-epoch and final
/// metrics as the daemon would record them.
final class ResultsCommandTests: XCTestCase {
  struct Job {
    var id: Int64
    var key: String
    var width: Int
    var lr: Double
    var seed: Int
    /// test_acc and train_loss per epoch 1…3; the final metrics are epoch 3's.
    var testAcc: [Double]
    var trainLoss: [Double]
  }

  static let epochs = 3

  /// Values with many significant digits, so a rounding anywhere shows.
  static func acc(width: Int, lr: Double, seed: Int, epoch: Int) -> Double {
    0.5 + lr * 3.1415926535 + Double(width) / 1000.123 + Double(seed) * 0.0123456789012 + Double(epoch) * 0.01 / 3
  }

  func fixture() throws -> (Cluster, [Job]) {
    let c = try Cluster()
    let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("sweeps/demo.yaml")
    try c.write("sweeps/demo.yaml", try String(contentsOf: demo, encoding: .utf8))
    let r = try c.run(["submit", "sweeps/demo.yaml", "--no-daemon", "--output-root", c.runs])
    XCTAssertEqual(r.code, 0, r.err)
    let store = try JobStore(path: c.home + "/orch.db")
    let rows = try store.jobs(JobFilter(sweep: "demo"))
    XCTAssertEqual(rows.count, 24)
    var jobs: [Job] = []
    for row in rows {
      // demo/digits/mlp_w{width}/lr{lr}/seed{seed}
      let parts = row.key.split(separator: "/")
      let width = Int(parts[2].dropFirst(5))!
      let lr = Double(parts[3].dropFirst(2))!
      let seed = Int(parts[4].dropFirst(4))!
      let acc = (1...Self.epochs).map { Self.acc(width: width, lr: lr, seed: seed, epoch: $0) }
      let loss = (1...Self.epochs).map { 2.0 / Double($0) + Double(seed) * 0.001 + lr }
      jobs.append(Job(id: row.id, key: row.key, width: width, lr: lr, seed: seed, testAcc: acc, trainLoss: loss))
    }
    try store.write("fixture") { db in
      for j in jobs {
        try db.execute(
          sql: """
            UPDATE jobs SET state = 'COMPLETED', attempt = 1, tries = 1, exit_code = 0, start_time = 100, end_time = 200,
              ready = 1 WHERE id = ?
            """, arguments: [j.id])
        try db.execute(
          sql:
            "INSERT INTO attempts(job_id, attempt, state, start_time, end_time) VALUES (?, 1, 'COMPLETED', 100, 200)",
          arguments: [j.id])
        var seq = 0
        for e in 0..<Self.epochs {
          seq += 1
          for (name, value) in [("test_acc", j.testAcc[e]), ("train_loss", j.trainLoss[e])] {
            try db.execute(
              sql: "INSERT INTO metrics VALUES (?, 1, ?, ?, ?, ?, ?, 0)",
              arguments: [j.id, seq, name, value, (e + 1) * 10, e + 1])
          }
          try db.execute(
            sql: "INSERT INTO events VALUES (?, 1, ?, 'metrics', '{}', ?)",
            arguments: [j.id, seq, 100.0 + Double(e + 1)])
        }
        seq += 1
        for (name, value) in [
          ("test_acc", j.testAcc[Self.epochs - 1]), ("train_loss", j.trainLoss[Self.epochs - 1]),
          ("test_acc_class_0", 0.25),
        ] {
          try db.execute(
            sql: "INSERT INTO metrics VALUES (?, 1, ?, ?, ?, NULL, NULL, 1)", arguments: [j.id, seq, name, value])
        }
      }
    }
    return (c, jobs)
  }

  static func meanSD(_ v: [Double]) -> (Double, Double) {
    let mean = v.reduce(0, +) / Double(v.count)
    let sd = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
    return (mean, sd)
  }

  func objects(_ text: String) throws -> [[String: Any]] {
    let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try XCTUnwrap(value as? [[String: Any]], text)
  }

  /// The key order of each object of a flat JSON array, from its text.
  func keyOrder(_ text: String) -> [[String]] { fields(text).map { $0.map(\.0) } }

  /// Each object's keys and raw value texts (the fixture's strings hold no `, "`), so numbers are
  /// read with `Double(String)`, exactly: JSONSerialization on Linux may miss the last digit.
  func fields(_ text: String) -> [[(String, String)]] {
    text.split(separator: "\n").filter { $0.contains("{") }.map { line in
      var out: [(String, String)] = []
      var rest = Substring(line)
      while let open = rest.range(of: "{\"") ?? rest.range(of: ", \"") {
        rest = rest[open.upperBound...]
        guard let close = rest.range(of: "\": ") else { break }
        let key = String(rest[..<close.lowerBound])
        rest = rest[close.upperBound...]
        let end = rest.range(of: ", \"")?.lowerBound ?? rest.lastIndex(of: "}") ?? rest.endIndex
        out.append((key, String(rest[..<end])))
      }
      return out
    }
  }

  /// The number under `key` in each object, read exactly from the text.
  func numbers(_ text: String, _ key: String) -> [Double?] {
    fields(text).map { object in object.first { $0.0 == key }.flatMap { Double($0.1) } }
  }

  func testGroupByMeanSDOverSeedsSortedAndAtFullPrecision() throws {
    let (c, jobs) = try fixture()
    let r = try c.run([
      "results", "demo", "--group-by", "model.width,optimizer.base_lr", "--sort", "-test_acc", "--json",
    ])
    XCTAssertEqual(r.code, 0, r.err)
    let groups = try objects(r.out)
    XCTAssertEqual(groups.count, 6)
    for order in keyOrder(r.out) {
      XCTAssertEqual(
        order,
        ["model.width", "optimizer.base_lr", "n", "train_loss_mean", "train_loss_sd", "test_acc_mean", "test_acc_sd"])
    }
    var previous = Double.infinity
    let exact = zip(numbers(r.out, "test_acc_mean"), numbers(r.out, "test_acc_sd"))
    for (g, (exactMean, exactSD)) in zip(groups, exact) {
      let width = try XCTUnwrap(g["model.width"] as? Int)
      let lr = try XCTUnwrap(g["optimizer.base_lr"] as? Double)
      let members = jobs.filter { $0.width == width && $0.lr == lr }.sorted { $0.id < $1.id }
      XCTAssertEqual(members.count, 4)
      XCTAssertEqual(g["n"] as? Int, 4)
      let (mean, sd) = Self.meanSD(members.map { $0.testAcc[Self.epochs - 1] })
      let gotMean = try XCTUnwrap(exactMean)
      let gotSD = try XCTUnwrap(exactSD)
      // The same sums in the same (job id) order: equal to the last bit.
      XCTAssertEqual(gotMean, mean)
      XCTAssertEqual(gotSD, sd)
      XCTAssertLessThanOrEqual(gotMean, previous, "sorted by -test_acc")
      previous = gotMean
    }
    // The terminal: the same groups, widths and rates as columns, mean ± sd rounded.
    let t = try c.run(["results", "demo", "--group-by", "model.width,optimizer.base_lr", "--sort", "-test_acc"])
    XCTAssertEqual(t.code, 0, t.err)
    let lines = t.out.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
    XCTAssertEqual(
      lines.first.map { $0.map(String.init) }, ["model.width", "optimizer.base_lr", "n", "train_loss", "test_acc"])
    XCTAssertEqual(lines.count, 7)
    for (line, g) in zip(lines.dropFirst(), groups) {
      XCTAssertEqual(String(line[0]), String(g["model.width"] as! Int))
      XCTAssertEqual(Double(line[1]), g["optimizer.base_lr"] as? Double)
      XCTAssertEqual(String(line[2]), "4")
      let mean = try XCTUnwrap(g["test_acc_mean"] as? Double)
      let sd = try XCTUnwrap(g["test_acc_sd"] as? Double)
      XCTAssertEqual(line.suffix(3).joined(separator: " "), String(format: "%.4g ± %.2g", mean, sd))
    }
  }

  func testRowsCarryVaryingBindingsThenMetricsInTheFixedShape() throws {
    let (c, jobs) = try fixture()
    let r = try c.run(["results", "demo", "--json"])
    XCTAssertEqual(r.code, 0, r.err)
    let rows = try objects(r.out)
    XCTAssertEqual(rows.count, 24)
    for order in keyOrder(r.out) {
      XCTAssertEqual(
        order,
        [
          "sweep", "key", "job", "state", "model.width", "optimizer.base_lr", "train.seed", "train_loss", "test_acc",
        ])
    }
    for (row, acc) in zip(rows, numbers(r.out, "test_acc")) {
      let id = try XCTUnwrap(row["job"] as? Int)
      let job = try XCTUnwrap(jobs.first { $0.id == Int64(id) })
      XCTAssertEqual(row["sweep"] as? String, "demo")
      XCTAssertEqual(row["key"] as? String, job.key)
      XCTAssertEqual(row["state"] as? String, "COMPLETED")
      XCTAssertEqual(row["model.width"] as? Int, job.width)
      XCTAssertEqual(row["train.seed"] as? Int, job.seed)
      XCTAssertEqual(acc, job.testAcc[Self.epochs - 1], "to the last digit")
    }
    // CSV: the same columns, the same values to the last digit.
    let csv = try c.run(["results", "demo", "--csv", "--params", "train.seed", "--metrics", "test_acc"])
    XCTAssertEqual(csv.code, 0, csv.err)
    let lines = csv.out.split(separator: "\n")
    XCTAssertEqual(lines.first, "sweep,key,job,state,train.seed,test_acc")
    for line in lines.dropFirst() {
      let cells = line.split(separator: ",")
      let job = try XCTUnwrap(jobs.first { $0.id == Int64(cells[2])! })
      XCTAssertEqual(Double(cells[5]), job.testAcc[Self.epochs - 1])
    }
  }

  func testWhereSortBestAndBestEpoch() throws {
    let (c, jobs) = try fixture()
    let threshold = 0.75
    let r = try c.run([
      "results", "demo", "--where", "test_acc > \(threshold) and model.width == 128 and not train.seed == 3",
      "--sort", "-test_acc", "--json",
    ])
    XCTAssertEqual(r.code, 0, r.err)
    let expected = jobs.filter { $0.testAcc[Self.epochs - 1] > threshold && $0.width == 128 && $0.seed != 3 }
      .sorted { $0.testAcc[Self.epochs - 1] > $1.testAcc[Self.epochs - 1] }
    XCTAssertFalse(expected.isEmpty)
    XCTAssertEqual(try objects(r.out).compactMap { $0["job"] as? Int }, expected.map { Int($0.id) })

    let best = try c.run(["results", "demo", "--best", "--sort", "-test_acc", "--group-by", "model.width", "--json"])
    XCTAssertEqual(best.code, 0, best.err)
    let winners = try objects(best.out)
    XCTAssertEqual(winners.count, 2)
    for w in winners {
      let width = w["model.width"] as? Int
      let top = jobs.filter { $0.width == width }.max { $0.testAcc[Self.epochs - 1] < $1.testAcc[Self.epochs - 1] }
      XCTAssertEqual(w["job"] as? Int, top.map { Int($0.id) })
    }

    // Best epoch by train_loss (lowest): epoch 3 here, and its metrics are that epoch's.
    let epoch = try c.run([
      "results", "demo", "--best-epoch", "--epoch-metric", "train_loss", "--metrics", "epoch,test_acc", "--json",
    ])
    XCTAssertEqual(epoch.code, 0, epoch.err)
    for (row, acc) in zip(try objects(epoch.out), numbers(epoch.out, "test_acc")) {
      let job = try XCTUnwrap(jobs.first { Int64(row["job"] as! Int) == $0.id })
      XCTAssertEqual(row["epoch"] as? Double, 3)
      XCTAssertEqual(acc, job.testAcc[1 + 1])
    }
  }

  /// A metric named like a binding gets its own key (`metric:NAME`): no object repeats a key.
  func testAMetricNamedLikeABindingIsWrittenMetricColonName() throws {
    let (c, jobs) = try fixture()
    let store = try JobStore(path: c.home + "/orch.db")
    try store.write("fixture") { db in
      for j in jobs {
        try db.execute(
          sql: "INSERT INTO metrics VALUES (?, 1, 99, 'model.width', ?, NULL, NULL, 1)",
          arguments: [j.id, Double(j.seed)])
      }
    }
    let r = try c.run(["results", "demo", "--json", "--metrics", "model.width", "--where", "metric:model.width >= 2"])
    XCTAssertEqual(r.code, 0, r.err)
    let orders = keyOrder(r.out)
    XCTAssertEqual(orders.count, 12)
    for order in orders {
      XCTAssertEqual(
        order, ["sweep", "key", "job", "state", "model.width", "optimizer.base_lr", "train.seed", "metric:model.width"])
    }
    XCTAssertEqual(Set(numbers(r.out, "metric:model.width")), [2, 3])
  }

  func testBadExpressionsAreClearErrorsWithExitTwo() throws {
    let (c, _) = try fixture()
    for (expression, message) in [
      ("test_ac > 0.9", "no binding or metric 'test_ac'"),
      ("test_acc >", "expected a name, a number or a string"),
      ("test_acc = 0.9", "'=' is not an operator"),
      ("(((test_acc > 0.9)", "expected ')'"),
      ("'unterminated", "unterminated string"),
      (String(repeating: "(", count: 200) + "x", "nested deeper than"),
      ("test_acc > 1e999", "is not a number"),
    ] {
      let r = try c.run(["results", "demo", "--where", expression])
      XCTAssertEqual(r.code, 2, "\(expression): \(r.out) \(r.err)")
      XCTAssertTrue(r.err.contains(message), "\(expression): \(r.err)")
      XCTAssertTrue(r.out.isEmpty)
    }
    let unknown = try c.run(["results", "demo", "--group-by", "model.widht"])
    XCTAssertEqual(unknown.code, 2)
    XCTAssertTrue(unknown.err.contains("model.width"), unknown.err)
  }

  func testCompareShowsOnlyTheBindingsThatDiffer() throws {
    let (c, jobs) = try fixture()
    let a = try XCTUnwrap(jobs.first { $0.width == 64 && $0.lr == 0.1 && $0.seed == 0 })
    let b = try XCTUnwrap(jobs.first { $0.width == 128 && $0.lr == 0.1 && $0.seed == 0 })
    let r = try c.run(["compare", a.key, b.key, "--json"])
    XCTAssertEqual(r.code, 0, r.err)
    XCTAssertEqual(keyOrder(r.out).first, ["sweep", "key", "job", "state", "model.width", "train_loss", "test_acc"])
    XCTAssertEqual(try objects(r.out).count, 2)
    XCTAssertEqual(numbers(r.out, "test_acc"), [a.testAcc[2], b.testAcc[2]])
    let t = try c.run(["compare", a.key, b.key])
    XCTAssertEqual(t.code, 0, t.err)
    XCTAssertTrue(t.out.contains("model.width"), t.out)
    XCTAssertFalse(t.out.contains("optimizer.base_lr"), t.out)
  }

  /// `orch plot demo --metric test_acc --color optimizer.base_lr --mean-over train.seed`: one line
  /// per (width, rate) whose points are the per-epoch means over the 4 seeds of the stored values.
  func testPlotDrawsOneLinePerGroupWithTheStoredMeans() throws {
    let (c, jobs) = try fixture()
    let out = c.root.appendingPathComponent("demo.svg").path
    let r = try c.run([
      "plot", "demo", "--metric", "test_acc", "--color", "optimizer.base_lr", "--mean-over", "train.seed", "-o", out,
    ])
    XCTAssertEqual(r.code, 0, r.err)
    let svg = try String(contentsOfFile: out, encoding: .utf8)
    var lines: [String: [[Double]]] = [:]
    for element in svg.components(separatedBy: "<polyline").dropFirst() {
      guard let series = attribute(element, "data-series"), let points = attribute(element, "data-points") else {
        continue
      }
      lines[series] = points.split(separator: ";").map { $0.split(separator: ",").compactMap { Double($0) } }
    }
    XCTAssertEqual(lines.count, 6, svg)
    for width in [64, 128] {
      for lr in [0.02, 0.05, 0.1] {
        let points = try XCTUnwrap(lines["model.width=\(width) optimizer.base_lr=\(lr)"], "\(lines.keys)")
        let members = jobs.filter { $0.width == width && $0.lr == lr }.sorted { $0.id < $1.id }
        XCTAssertEqual(points.count, Self.epochs)
        for (e, p) in points.enumerated() {
          let (mean, sd) = Self.meanSD(members.map { $0.testAcc[e] })
          XCTAssertEqual(p[0], Double(e + 1))
          XCTAssertEqual(p[1], mean, accuracy: abs(mean) * 1e-15)
          XCTAssertEqual(p[2], sd, accuracy: abs(sd) * 1e-12)
        }
      }
    }
    XCTAssertTrue(svg.contains("optimizer.base_lr = 0.05"), "the legend names the colour values")
    XCTAssertTrue(svg.contains("mean over train.seed"), "the chart says what the band is")
  }

  func attribute(_ element: String, _ name: String) -> String? {
    guard let start = element.range(of: " \(name)=\"") else { return nil }
    let rest = element[start.upperBound...]
    guard let end = rest.firstIndex(of: "\"") else { return nil }
    return String(rest[..<end]).replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(
      of: "&lt;", with: "<"
    ).replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
  }
}
