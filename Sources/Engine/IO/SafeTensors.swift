import Foundation

/// Contents of a safetensors file: named tensors plus the `__metadata__` string map.
public struct SafeTensorsFile: Sendable, Equatable {
  public var tensors: [String: NDArray]
  public var metadata: [String: String]

  public init(tensors: [String: NDArray], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }
}

/// The safetensors format (8-byte little-endian header length, JSON header, raw data) for F32,
/// I64 and U8 tensors; files are readable by `safetensors.numpy.load_file`. Writes are atomic;
/// a corrupt or truncated file is an `EngineError` saying what is wrong.
public enum SafeTensors {
  /// Largest header accepted, as in the reference implementation.
  static let maxHeaderSize = 100_000_000

  public static func read(_ path: String) throws -> SafeTensorsFile {
    try withContext("reading \(path)") { try decode(try readFile(path, regularOnly: true)) }
  }

  public static func write(_ file: SafeTensorsFile, to path: String) throws {
    try withContext("writing \(path)") { try writeFileAtomically(path, try encode(file)) }
  }

  static func code(_ dtype: DType) -> String {
    switch dtype {
    case .float32: "F32"
    case .int64: "I64"
    case .uint8: "U8"
    }
  }

  public static func encode(_ file: SafeTensorsFile) throws -> [UInt8] {
    if file.tensors["__metadata__"] != nil {
      throw EngineError(.format, "'__metadata__' is reserved and cannot name a tensor")
    }
    // Widest elements first (then by name) keeps every tensor aligned in the file.
    let names = file.tensors.keys.sorted { a, b in
      let (x, y) = (file.tensors[a]!.dtype.byteSize, file.tensors[b]!.dtype.byteSize)
      return x != y ? x > y : a < b
    }
    var header = "{"
    var fields: [String] = []
    if !file.metadata.isEmpty {
      let entries = file.metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(file.metadata[$0]!))" }
      fields.append("\"__metadata__\":{\(entries.joined(separator: ","))}")
    }
    var offset = 0
    for name in names {
      let t = file.tensors[name]!
      let size = t.count * t.dtype.byteSize
      let shape = t.shape.map(String.init).joined(separator: ",")
      fields.append(
        "\(jsonString(name)):{\"dtype\":\"\(code(t.dtype))\",\"shape\":[\(shape)],"
          + "\"data_offsets\":[\(offset),\(offset + size)]}"
      )
      offset += size
    }
    header += fields.joined(separator: ",") + "}"
    var headerBytes = Array(header.utf8)
    headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)
    var out: [UInt8] = []
    out.reserveCapacity(8 + headerBytes.count + offset)
    let n = UInt64(headerBytes.count)
    out += (0..<8).map { UInt8((n >> (8 * UInt64($0))) & 0xFF) }
    out += headerBytes
    for name in names { out += file.tensors[name]!.bytes() }
    return out
  }

  public static func decode(_ bytes: [UInt8]) throws -> SafeTensorsFile {
    guard bytes.count >= 8 else {
      throw EngineError(.format, "truncated safetensors file: \(bytes.count) bytes, the header length alone takes 8")
    }
    let n = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
    guard n <= UInt64(maxHeaderSize) else {
      throw EngineError(.format, "corrupt safetensors file: header length \(n) exceeds \(maxHeaderSize)")
    }
    let headerEnd = 8 + Int(n)
    guard headerEnd <= bytes.count else {
      throw EngineError(
        .format, "truncated safetensors file: header needs \(n) bytes, file has \(bytes.count - 8) after the length")
    }
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd]))
    } catch {
      throw EngineError(.format, "corrupt safetensors header: not valid JSON")
    }
    guard let header = object as? [String: Any] else {
      throw EngineError(.format, "corrupt safetensors header: not a JSON object")
    }
    var metadata: [String: String] = [:]
    if let m = header["__metadata__"] {
      guard let map = m as? [String: Any] else {
        throw EngineError(.format, "corrupt safetensors header: __metadata__ is not an object")
      }
      for (k, v) in map {
        guard let s = v as? String else {
          throw EngineError(.format, "corrupt safetensors header: __metadata__['\(k)'] is not a string")
        }
        metadata[k] = s
      }
    }
    let dataLength = bytes.count - headerEnd
    var spans: [(begin: Int, end: Int, name: String)] = []
    var tensors: [String: NDArray] = [:]
    for (name, value) in header where name != "__metadata__" {
      func bad(_ what: String) -> EngineError {
        EngineError(.format, "corrupt safetensors header: tensor '\(name)' \(what)")
      }
      guard let info = value as? [String: Any] else { throw bad("is not an object") }
      guard let code = info["dtype"] as? String else { throw bad("has no dtype") }
      let dtype: DType
      switch code {
      case "F32": dtype = .float32
      case "I64": dtype = .int64
      case "U8": dtype = .uint8
      default: throw EngineError(.format, "tensor '\(name)' has unsupported dtype \(code) (supported: F32, I64, U8)")
      }
      guard let shape = integers(info["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
        throw bad("has no valid shape")
      }
      guard let offsets = integers(info["data_offsets"]), offsets.count == 2 else {
        throw bad("has no valid data_offsets")
      }
      let (begin, end) = (offsets[0], offsets[1])
      guard let count = NDArray.elementCount(shape, byteSize: dtype.byteSize) else {
        throw bad("has shape \(shape), too large for any file")
      }
      let size = count * dtype.byteSize
      guard begin >= 0, end >= begin, end - begin == size else {
        throw bad("has data_offsets [\(begin), \(end)] but shape \(shape) of \(code) needs \(size) bytes")
      }
      guard end <= dataLength else {
        throw EngineError(
          .format,
          "truncated safetensors file: tensor '\(name)' ends at byte \(end) of the data, which has \(dataLength)")
      }
      spans.append((begin, end, name))
      tensors[name] = bytes.withUnsafeBytes { raw in
        NDArray.fromBytes(
          UnsafeRawBufferPointer(rebasing: raw[(headerEnd + begin)..<(headerEnd + end)]), dtype: dtype, shape: shape)
      }
    }
    spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
    var covered = 0
    for span in spans {
      guard span.begin == covered else {
        throw EngineError(
          .format,
          "corrupt safetensors file: tensor '\(span.name)' starts at \(span.begin), expected \(covered)"
            + " (gap or overlap)"
        )
      }
      covered = span.end
    }
    guard covered == dataLength else {
      throw EngineError(
        .format, "corrupt safetensors file: tensors cover \(covered) data bytes, file has \(dataLength)")
    }
    return SafeTensorsFile(tensors: tensors, metadata: metadata)
  }

  private static func integers(_ value: Any?) -> [Int]? {
    guard let array = value as? [Any] else { return nil }
    var out: [Int] = []
    for element in array {
      // JSONSerialization yields NSNumber; reject fractions.
      guard !(element is String), let number = element as? NSNumber, let i = Int(exactly: number.doubleValue)
      else { return nil }
      out.append(i)
    }
    return out
  }

  static func jsonString(_ s: String) -> String { ConfigValue.quote(s) }

}
