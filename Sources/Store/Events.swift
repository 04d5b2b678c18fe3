import GRDB

/// A worker event, decoded by whoever read it (the Worker library owns the wire format).
public struct EventRecord: Sendable {
  public struct Metric: Sendable {
    public var name: String
    public var value: Double
    public var step: Int?
    public var epoch: Int?
    public var final: Bool
    public init(name: String, value: Double, step: Int?, epoch: Int?, final: Bool) {
      self.name = name
      self.value = value
      self.step = step
      self.epoch = epoch
      self.final = final
    }
  }
  public struct Checkpoint: Sendable {
    public var epoch: Int
    public var path: String
    public var bytes: Int64?
    public var sha256: String?
    public init(epoch: Int, path: String, bytes: Int64?, sha256: String?) {
      self.epoch = epoch
      self.path = path
      self.bytes = bytes
      self.sha256 = sha256
    }
  }

  public var seq: Int
  public var type: String
  public var payload: String
  public var time: Double
  public var metrics: [Metric] = []
  public var checkpoint: Checkpoint?
  public var artifact: (name: String, path: String)?

  public init(seq: Int, type: String, payload: String, time: Double) {
    self.seq = seq
    self.type = type
    self.payload = payload
    self.time = time
  }
}

extension JobStore {
  /// Stores events idempotently by (job, attempt, seq): an event seen twice adds nothing.
  /// Returns how many were new.
  @discardableResult
  public static func ingest(_ db: Database, jobID: Int64, attempt: Int, events: [EventRecord]) throws -> Int {
    let insertEvent = try db.cachedStatement(
      sql: "INSERT OR IGNORE INTO events(job_id, attempt, seq, type, payload, time) VALUES (?, ?, ?, ?, ?, ?)")
    let insertMetric = try db.cachedStatement(
      sql: """
        INSERT OR IGNORE INTO metrics(job_id, attempt, seq, name, value, step, epoch, final) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """)
    let upsertCheckpoint = try db.cachedStatement(
      sql: """
        INSERT INTO checkpoints(job_id, epoch, attempt, path, bytes, sha256, time) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(job_id, epoch) DO UPDATE SET attempt = excluded.attempt, path = excluded.path,
          bytes = excluded.bytes, sha256 = excluded.sha256, time = excluded.time
        """)
    let upsertArtifact = try db.cachedStatement(
      sql: """
        INSERT INTO artifacts(job_id, name, attempt, path, time) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(job_id, name) DO UPDATE SET attempt = excluded.attempt, path = excluded.path, time = excluded.time
        """)
    var added = 0
    for event in events {
      try insertEvent.execute(arguments: [jobID, attempt, event.seq, event.type, event.payload, event.time])
      guard db.changesCount == 1 else { continue }
      added += 1
      for m in event.metrics {
        try insertMetric.execute(arguments: [jobID, attempt, event.seq, m.name, m.value, m.step, m.epoch, m.final])
      }
      if let c = event.checkpoint {
        try upsertCheckpoint.execute(arguments: [jobID, c.epoch, attempt, c.path, c.bytes, c.sha256, event.time])
      }
      if let a = event.artifact {
        try upsertArtifact.execute(arguments: [jobID, a.name, attempt, a.path, event.time])
      }
    }
    return added
  }
}
