import Crypto
import Foundation

/// Training checkpoints: one safetensors file per saved epoch at
/// `<runDir>/checkpoints/ckpt-E{epoch:03d}.safetensors`, holding
///
/// - the model's parameters and BatchNorm buffers under their layout names (`fc1.weight`, …),
/// - `optimizer.moment1`, `optimizer.moment2`, `optimizer.steps`,
/// - `rng.shuffle`, `rng.dropout`, `rng.augment` (four int64 words each),
///
/// and metadata `format`, `epoch`, `step`, `config_hash`, `config` (resolved bindings JSON),
/// `metrics` (the epoch's metrics), `tensors_sha256` (digest of every tensor, so a damaged
/// file is detected even when its structure still parses).
public enum Checkpoint {
  public static let format = "orch-engine-checkpoint-1"
  static let rngNames = ["rng.shuffle", "rng.dropout", "rng.augment"]

  public static func directory(runDir: String) -> String { runDir + "/checkpoints" }

  public static func fileName(epoch: Int) -> String {
    let digits = String(epoch)
    return "ckpt-E" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits + ".safetensors"
  }

  public static func path(runDir: String, epoch: Int) -> String {
    directory(runDir: runDir) + "/" + fileName(epoch: epoch)
  }

  /// Epoch of a `ckpt-E…safetensors` file name.
  public static func epoch(ofFileName name: String) -> Int? {
    guard name.hasPrefix("ckpt-E"), name.hasSuffix(".safetensors") else { return nil }
    let digits = name.dropFirst(6).dropLast(12)
    guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
    return Int(digits)
  }

  /// Checkpoint files of a run directory, newest epoch first.
  public static func list(runDir: String) -> [(epoch: Int, path: String)] {
    let dir = directory(runDir: runDir)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return names.compactMap { name in epoch(ofFileName: name).map { ($0, dir + "/" + name) } }.sorted { $0.0 > $1.0 }
  }

  /// The newest checkpoint of a run directory that reads back whole: what `KEY@latest` means.
  public static func newestValid(runDir: String) -> (epoch: Int, path: String)? {
    for candidate in list(runDir: runDir) {
      if (try? read(candidate.path)) != nil { return candidate }
    }
    return nil
  }

  /// Digest over tensor names, dtypes, shapes and bytes in name order.
  static func digest(_ tensors: [String: NDArray]) -> String {
    var sha = SHA256()
    for name in tensors.keys.sorted() {
      let t = tensors[name]!
      sha.update(data: Array("\(name)|\(t.dtype.rawValue)|\(t.shape)|".utf8))
      switch t.storage {
      case .float32(let v): v.withUnsafeBytes { sha.update(bufferPointer: $0) }
      case .int64(let v): v.withUnsafeBytes { sha.update(bufferPointer: $0) }
      case .uint8(let v): v.withUnsafeBytes { sha.update(bufferPointer: $0) }
      }
    }
    return hex(sha.finalize())
  }

  /// A written checkpoint: where, its size and its file digest (for the checkpoint event).
  public struct Written: Sendable, Equatable {
    public var epoch: Int
    public var path: String
    public var bytes: Int
    public var sha256: String
  }

  static func write(
    _ tensors: [String: NDArray], metadata: [String: String], epoch: Int, runDir: String
  ) throws(EngineError) -> Written {
    var meta = metadata
    meta["format"] = format
    meta["epoch"] = String(epoch)
    meta["tensors_sha256"] = digest(tensors)
    let path = path(runDir: runDir, epoch: epoch)
    return try rethrowingEngineError("writing checkpoint \(path)") {
      try FileManager.default.createDirectory(atPath: directory(runDir: runDir), withIntermediateDirectories: true)
      let bytes = try SafeTensors.encode(SafeTensorsFile(tensors: tensors, metadata: meta))
      try writeFileAtomically(path, bytes)
      return Written(epoch: epoch, path: path, bytes: bytes.count, sha256: hex(SHA256.hash(data: bytes)))
    }
  }

  /// Reads and verifies a checkpoint: structure, format, digest of the tensors.
  public static func read(_ path: String) throws(EngineError) -> SafeTensorsFile {
    let file = try rethrowingEngineError { try SafeTensors.read(path) }
    let context = "reading checkpoint \(path)"
    guard file.metadata["format"] == format else {
      throw EngineError(
        .format, "not an engine checkpoint (format \(file.metadata["format"] ?? "missing"), expected \(format))",
        context: [context])
    }
    guard let expected = file.metadata["tensors_sha256"], expected == digest(file.tensors) else {
      throw EngineError(.format, "tensor data does not match its recorded digest (damaged file)", context: [context])
    }
    return file
  }
}
