import Engine
import Foundation
import OrchCore
import Store

/// One job as the analyses see it: engine, bindings (references already resolved to checkpoint
/// paths), final metrics and artifacts.
public struct AnalysisJob {
  var stored: StoredJob
  /// `train`, `eval`, or nil for a command config.
  public var engine: String?
  var bindings: [String: ConfigValue]

  init(_ stored: StoredJob) {
    self.stored = stored
    if let (engine, bindings) = try? EngineSchema.parseJob(stored.config) {
      self.engine = engine
      self.bindings = bindings
    } else {
      engine = nil
      bindings = [:]
    }
  }

  var key: String { stored.row.key }
  var display: String { stored.row.display }
  var runDir: String { stored.row.runDir }
  var metrics: [String: Double] { stored.metrics }
  var completed: Bool { stored.row.state == .completed }

  public func string(_ name: String) -> String? {
    if case .string(let s)? = bindings[name], !s.isEmpty { return s }
    return nil
  }

  func int(_ name: String) -> Int? {
    switch bindings[name] {
    case .int(let i)?: return i
    case .double(let d)? where d == d.rounded(): return Int(d)
    default: return nil
    }
  }

  func double(_ name: String) -> Double? {
    switch bindings[name] {
    case .int(let i)?: return Double(i)
    case .double(let d)?: return d
    default: return nil
    }
  }

  func bool(_ name: String) -> Bool {
    if case .bool(let b)? = bindings[name] { return b }
    return false
  }

  /// The source checkpoint's epoch from a path `…/checkpoints/ckpt-E012.safetensors`; nil for a
  /// run directory (its newest checkpoint).
  static func checkpointEpoch(_ path: String) -> Int? {
    let name = (path as NSString).lastPathComponent
    guard name.hasPrefix("ckpt-E"), name.hasSuffix(".safetensors") else { return nil }
    return Int(name.dropFirst(6).dropLast(12))
  }

  /// The run directory holding a checkpoint path (or the path itself, when it names a run directory).
  static func runDir(ofCheckpoint path: String) -> String {
    let parent = (path as NSString).deletingLastPathComponent
    if checkpointEpoch(path) != nil, (parent as NSString).lastPathComponent == "checkpoints" {
      return (parent as NSString).deletingLastPathComponent
    }
    return path
  }
}

/// The jobs of one sweep (the newest job of each key), and a lookup of the jobs whose checkpoints
/// they name (sources of fine-tuning, evaluated models), in any sweep of the store.
public final class AnalysisSet {
  let sweep: String
  public let jobs: [AnalysisJob]
  /// Jobs of the sweep that did not complete, by state: analyses use completed jobs only.
  let unfinished: [String: Int]
  private let store: JobStore
  private var byRunDir: [String: AnalysisJob?] = [:]

  public init(store: JobStore, sweep: String) throws(OrchError) {
    self.store = store
    self.sweep = sweep
    let all = try storeCall { () throws(StoreError) in try store.storedJobs(JobFilter(sweep: sweep)) }
    if all.isEmpty {
      let known =
        (try? store.read("listing sweeps") { db in try String.fetchAll(db, sql: "SELECT name FROM sweeps ORDER BY id") })
        ?? []
      throw OrchError.badInput(
        "no jobs in sweep '\(sweep)'"
          + (known.isEmpty ? "" : " (sweeps in the store: \(known.joined(separator: ", ")))"))
    }
    // A key submitted again (--force) counts by its newest job.
    var newest: [String: Int] = [:]
    for (i, j) in all.enumerated() where (newest[j.row.key].map { all[$0].row.id } ?? -1) < j.row.id {
      newest[j.row.key] = i
    }
    let chosen = all.indices.filter { newest[all[$0].row.key] == $0 }.map { AnalysisJob(all[$0]) }
    var unfinished: [String: Int] = [:]
    for j in chosen where !j.completed { unfinished[j.stored.row.state.rawValue, default: 0] += 1 }
    self.unfinished = unfinished
    jobs = chosen.filter(\.completed)
    for j in jobs { byRunDir[j.runDir] = j }
  }

  /// The job that wrote (or will write) the checkpoint at `path`.
  func owner(ofCheckpoint path: String) throws(OrchError) -> AnalysisJob? {
    let dir = AnalysisJob.runDir(ofCheckpoint: path)
    if let known = byRunDir[dir] { return known }
    let found = try storeCall { () throws(StoreError) in try store.storedJob(runDir: dir) }.map(AnalysisJob.init)
    byRunDir[dir] = found
    return found
  }

  /// The source a training job was fine-tuned from, with the epoch of the checkpoint it loaded
  /// (the source's newest when the reference named its run directory); nil for random init.
  public func source(of job: AnalysisJob) throws(OrchError) -> (job: AnalysisJob?, epoch: Int?)? {
    guard let path = job.string("train.finetune_from") else { return nil }
    let source = try owner(ofCheckpoint: path)
    return (source, AnalysisJob.checkpointEpoch(path) ?? source?.int("train.epochs"))
  }

  /// Every metric a job reported (per epoch and final), in order.
  func metrics(of job: AnalysisJob) throws(OrchError) -> [MetricRow] {
    try storeCall { () throws(StoreError) in try store.metrics(jobID: job.stored.row.id) }
  }

  /// A note for the tables when part of the sweep is missing.
  var unfinishedNote: String? {
    guard !unfinished.isEmpty else { return nil }
    let parts = unfinished.keys.sorted().map { "\(unfinished[$0]!) \($0)" }
    return "not included (not COMPLETED): " + parts.joined(separator: ", ")
  }
}

/// Mean, sample standard deviation and count.
public struct Summary: Codable {
  public var mean: Double
  public var sd: Double
  public var n: Int

  init?(_ values: [Double]) {
    guard !values.isEmpty else { return nil }
    let n = values.count
    let mean = values.reduce(0, +) / Double(n)
    self.n = n
    self.mean = mean
    sd = n > 1 ? (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)).squareRoot() : 0
  }
}
