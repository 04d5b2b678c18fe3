import OrchCore

/// A job's GPU request: how many devices, of which type (nil: any). orch runs a job as one task on
/// one node, so `--gres=gpu:N` (per node), `--gpus=N` (per job), `--gpus-per-node=N` and
/// `--gpus-per-task=N` all mean N devices for the job.
public struct GPURequest: Sendable, Hashable, Codable {
  public var count: Int
  /// Lowercase; nil = any GPU.
  public var type: String?

  public init(count: Int, type: String? = nil) {
    self.count = count
    self.type = type
  }

  /// The most GPUs one job may ask for: far beyond any machine, small enough for every sum.
  public static let maxCount = 1 << 20

  /// SLURM's message for a GPU specification it cannot parse (its `ESLURM_INVALID_GRES`).
  public static let invalidGres = "Invalid generic resource (gres) specification"

  /// `--gres=LIST`: comma-separated `[gres/]NAME[:TYPE][:COUNT]`, COUNT an integer with an optional
  /// suffix k, m, g, t or p (powers of 1024), 1 when omitted; `none` asks for nothing. Returns the
  /// `gpu` entry (nil when there is none, or its count is 0); any other name is not a resource
  /// orch has, which SLURM rejects with the same message.
  public static func parseGres(_ text: String) throws(OrchError) -> GPURequest? {
    let spec = text.trimmingSpaces
    if spec.lowercased() == "none" { return nil }
    var found: GPURequest?
    var seen = false
    for item in spec.split(separator: ",", omittingEmptySubsequences: false) {
      var parts = item.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
      guard var name = parts.first else { throw .badInput(invalidGres) }
      if name.hasPrefix("gres/") { name.removeFirst(5) }
      guard name == "gpu", parts.count <= 3, !seen else { throw .badInput(invalidGres) }
      seen = true
      parts.removeFirst()
      var count = 1
      var type: String?
      if let last = parts.last, let n = countValue(last) {
        count = n
        parts.removeLast()
      } else if parts.count == 2 {
        throw .badInput(invalidGres)
      }
      if let t = parts.first {
        guard isTypeName(t) else { throw .badInput(invalidGres) }
        type = t.lowercased()
      }
      found = count == 0 ? nil : GPURequest(count: count, type: type)
    }
    return found
  }

  /// `--gpus`, `--gpus-per-node`, `--gpus-per-task`: `[TYPE:]COUNT`. A count of 0 asks for nothing.
  public static func parseCount(_ text: String) throws(OrchError) -> GPURequest? {
    let parts = text.trimmingSpaces.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    guard parts.count <= 2, let last = parts.last, let count = countValue(last) else { throw .badInput(invalidGres) }
    var type: String?
    if parts.count == 2 {
      guard isTypeName(parts[0]) else { throw .badInput(invalidGres) }
      type = parts[0].lowercased()
    }
    return count == 0 ? nil : GPURequest(count: count, type: type)
  }

  /// A count as SLURM reads it: digits, then an optional k/m/g/t/p multiplier; over `maxCount` is
  /// refused here, before anything multiplies it.
  static func countValue(_ text: String) -> Int? {
    var digits = Substring(text)
    var shift = 0
    if let last = digits.last, last.isLetter {
      switch last.lowercased() {
      case "k": shift = 10
      case "m": shift = 20
      case "g": shift = 30
      case "t": shift = 40
      case "p": shift = 50
      default: return nil
      }
      digits = digits.dropLast()
    }
    guard !digits.isEmpty, digits.count <= 9, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
      let n = Int(digits)
    else { return nil }
    // Past any machine: kept as one more than the most, which every check refuses.
    guard n <= maxCount >> shift else { return maxCount + 1 }
    return n << shift
  }

  /// A GPU type as it may appear in a specification: a letter or digit, then letters, digits,
  /// `-`, `_`, `.`; never a count.
  public static func isTypeName(_ text: String) -> Bool {
    func alphanumeric(_ c: Unicode.Scalar) -> Bool {
      ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
    }
    guard let first = text.unicodeScalars.first, alphanumeric(first), text.count <= 64, countValue(text) == nil else {
      return false
    }
    return text.unicodeScalars.allSatisfy { alphanumeric($0) || "-_.".unicodeScalars.contains($0) }
  }

  /// The request of several options at once (`--gres` with `--gpus`, …): on one node with one
  /// task they must agree, else the job would be asking for two different things.
  public static func combine(_ requests: [GPURequest?]) throws(OrchError) -> GPURequest? {
    let given = requests.compactMap { $0 }
    guard let first = given.first else { return nil }
    for other in given.dropFirst()
    where other.count != first.count || (other.type ?? first.type) != (first.type ?? other.type) {
      throw .badInput(invalidGres)
    }
    return GPURequest(count: first.count, type: given.compactMap(\.type).first)
  }

  /// How SLURM prints it in `TresPerNode`/`--gres`: `gpu:2`, `gpu:a100:2`.
  public var gresText: String { "gpu:" + (type.map { "\($0):" } ?? "") + "\(count)" }
}

extension GPURequest {
  /// `0-3,8,10-11` with at most `limit` numbers in all (checked before a range is expanded).
  public static func indexList(_ text: Substring, limit: Int) -> [Int]? {
    var out: [Int] = []
    for part in text.split(separator: ",") {
      let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
      guard (1...2).contains(bounds.count), let lo = smallNumber(bounds[0]),
        let hi = smallNumber(bounds[bounds.count - 1]),
        lo <= hi, out.count + (hi - lo) < limit
      else { return nil }
      out += Array(lo...hi)
    }
    return out.isEmpty ? nil : out
  }

  public static func smallNumber(_ s: Substring) -> Int? {
    guard !s.isEmpty, s.count <= 6, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return Int(s)
  }
}
