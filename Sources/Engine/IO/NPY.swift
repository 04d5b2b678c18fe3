import Foundation

/// NumPy `.npy` files: float32 (`<f4`), int64 (`<i8`) and uint8 (`|u1`), C order, format
/// versions 1–3. Anything else (Fortran order, other dtypes, big-endian, truncated data) is an
/// `EngineError` naming the file and what was found.
public enum NPY {
  static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

  public static func read(_ path: String) throws -> NDArray {
    try withContext("reading \(path)") { try decode(try readFile(path)) }
  }

  /// Writes atomically (temporary file, fsync, rename).
  public static func write(_ array: NDArray, to path: String) throws {
    try withContext("writing \(path)") { try writeFileAtomically(path, encode(array)) }
  }

  public static func decode(_ bytes: [UInt8]) throws -> NDArray {
    guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
      throw EngineError(.format, "not a .npy file (missing \\x93NUMPY magic)")
    }
    let major = bytes[6]
    let headerLength: Int
    let headerStart: Int
    switch major {
    case 1:
      headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
      headerStart = 10
    case 2, 3:
      guard bytes.count >= 12 else { throw EngineError(.format, "truncated .npy header") }
      headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
      headerStart = 12
    default:
      throw EngineError(.format, "unsupported .npy format version \(major).\(bytes[7])")
    }
    let dataStart = headerStart + headerLength
    guard dataStart <= bytes.count else {
      throw EngineError(
        .format, "truncated .npy header: needs \(headerLength) bytes, file has \(bytes.count - headerStart)")
    }
    guard let header = String(validating: bytes[headerStart..<dataStart], as: UTF8.self) else {
      throw EngineError(.format, ".npy header is not valid text")
    }
    let (descr, fortran, shape) = try parseHeader(header)
    if fortran {
      throw EngineError(
        .format,
        "Fortran-order arrays are not supported (fortran_order: True, shape \(shape)); save with np.ascontiguousarray")
    }
    let dtype: DType
    switch descr {
    case "<f4": dtype = .float32
    case "<i8": dtype = .int64
    case "|u1", "<u1", "u1": dtype = .uint8
    default:
      throw EngineError(.format, "unsupported dtype '\(descr)' (supported: float32 '<f4', int64 '<i8', uint8 '|u1')")
    }
    let count = shape.reduce(1, *)
    let needed = count * dtype.byteSize
    let available = bytes.count - dataStart
    guard available >= needed else {
      throw EngineError(
        .format, "truncated data: shape \(shape) of \(dtype.rawValue) needs \(needed) bytes, file has \(available)")
    }
    guard available == needed else {
      throw EngineError(.format, "\(available - needed) unexpected bytes after the data of shape \(shape)")
    }
    return bytes.withUnsafeBytes { raw in
      NDArray.fromBytes(UnsafeRawBufferPointer(rebasing: raw[dataStart...]), dtype: dtype, shape: shape)
    }
  }

  /// Version 1.0 (2.0 if the header needs it), header padded to 64 bytes as numpy does.
  public static func encode(_ array: NDArray) -> [UInt8] {
    let descr: String
    switch array.dtype {
    case .float32: descr = "<f4"
    case .int64: descr = "<i8"
    case .uint8: descr = "|u1"
    }
    let shape =
      array.shape.count == 1 ? "(\(array.shape[0]),)" : "(\(array.shape.map(String.init).joined(separator: ", ")))"
    var header = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }".utf8)
    let v1 = header.count + 11 < 65536
    let prefix = v1 ? 10 : 12
    let total = (prefix + header.count + 1 + 63) / 64 * 64
    header += [UInt8](repeating: 0x20, count: total - prefix - header.count - 1) + [0x0A]
    var out = magic + [v1 ? 1 : 2, 0]
    let n = header.count
    out += v1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : (0..<4).map { UInt8((n >> (8 * $0)) & 0xFF) }
    out += header
    out += array.bytes()
    return out
  }

  /// Parses numpy's header dict literal: `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
  static func parseHeader(_ header: String) throws -> (descr: String, fortran: Bool, shape: [Int]) {
    func value(of key: String) throws -> Substring {
      guard let k = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\""),
        let colon = header[k.upperBound...].firstIndex(of: ":")
      else { throw EngineError(.format, "malformed .npy header (no '\(key)'): \(header.trimmed)") }
      return header[header.index(after: colon)...].drop(while: { $0 == " " })
    }
    let d = try value(of: "descr")
    guard let quote = d.first, quote == "'" || quote == "\"",
      let end = d.dropFirst().firstIndex(of: quote)
    else { throw EngineError(.format, "malformed .npy header ('descr' is not a string): \(header.trimmed)") }
    let descr = String(d[d.index(after: d.startIndex)..<end])
    let f = try value(of: "fortran_order")
    let fortran: Bool
    if f.hasPrefix("True") {
      fortran = true
    } else if f.hasPrefix("False") {
      fortran = false
    } else {
      throw EngineError(.format, "malformed .npy header ('fortran_order' is not True/False): \(header.trimmed)")
    }
    let s = try value(of: "shape")
    guard s.first == "(", let close = s.firstIndex(of: ")") else {
      throw EngineError(.format, "malformed .npy header ('shape' is not a tuple): \(header.trimmed)")
    }
    var shape: [Int] = []
    for part in s[s.index(after: s.startIndex)..<close].split(separator: ",") {
      let text = part.trimmingSpaces.replacing("L", with: "")
      if text.isEmpty { continue }
      guard let n = Int(text), n >= 0 else {
        throw EngineError(.format, "malformed .npy header (shape entry '\(text)'): \(header.trimmed)")
      }
      shape.append(n)
    }
    return (descr, fortran, shape)
  }
}

extension StringProtocol {
  var trimmingSpaces: String {
    String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
  }
  var trimmed: String {
    String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
  }
}
