import Foundation

/// NumPy `.npy` files: float32 (`<f4`), int64 (`<i8`) and uint8 (`|u1`), C order, format
/// versions 1–3. Anything else (Fortran order, other dtypes, big-endian, truncated data) is an
/// `EngineError` naming the file and what was found.
public enum NPY {
  static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

  public static func read(_ path: String) throws -> NDArray {
    try withContext("reading \(path)") { try decode(try readFile(path, regularOnly: true)) }
  }

  /// Writes atomically (temporary file, fsync, rename).
  public static func write(_ array: NDArray, to path: String) throws {
    try withContext("writing \(path)") { try writeFileAtomically(path, encode(array)) }
  }

  public static func decode(_ bytes: [UInt8]) throws -> NDArray {
    let (dtype, shape, dataStart) = try layout(bytes, fileSize: bytes.count)
    return bytes.withUnsafeBytes { raw in
      NDArray.fromBytes(UnsafeRawBufferPointer(rebasing: raw[dataStart...]), dtype: dtype, shape: shape)
    }
  }

  /// Element type, shape and data offset of a `.npy` file of `fileSize` bytes whose first bytes
  /// are `prefix` (at least the whole header, when the file has one), with every check of the
  /// format and of the data's size.
  static func layout(_ prefix: [UInt8], fileSize: Int) throws -> (dtype: DType, shape: [Int], dataStart: Int) {
    guard prefix.count >= 10, Array(prefix[0..<6]) == magic else {
      throw EngineError(.format, "not a .npy file (missing \\x93NUMPY magic)")
    }
    let major = prefix[6]
    let headerLength: Int
    let headerStart: Int
    switch major {
    case 1:
      headerLength = Int(prefix[8]) | Int(prefix[9]) << 8
      headerStart = 10
    case 2, 3:
      guard prefix.count >= 12 else { throw EngineError(.format, "truncated .npy header") }
      headerLength = (0..<4).reduce(0) { $0 | Int(prefix[8 + $1]) << (8 * $1) }
      headerStart = 12
    default:
      throw EngineError(.format, "unsupported .npy format version \(major).\(prefix[7])")
    }
    let dataStart = headerStart + headerLength
    guard dataStart <= prefix.count else {
      throw EngineError(
        .format, "truncated .npy header: needs \(headerLength) bytes, file has \(fileSize - headerStart)")
    }
    guard let header = String(validating: prefix[headerStart..<dataStart], as: UTF8.self) else {
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
    guard let count = NDArray.elementCount(shape, byteSize: dtype.byteSize) else {
      throw EngineError(.format, "shape \(shape) of \(dtype.rawValue) is too large for any file")
    }
    let needed = count * dtype.byteSize
    let available = fileSize - dataStart
    guard available >= needed else {
      throw EngineError(
        .format, "truncated data: shape \(shape) of \(dtype.rawValue) needs \(needed) bytes, file has \(available)")
    }
    guard available == needed else {
      throw EngineError(.format, "\(available - needed) unexpected bytes after the data of shape \(shape)")
    }
    return (dtype, shape, dataStart)
  }

  /// The elements of a `.npy` file as Float (uint8 and int64 by value), read into the result a
  /// chunk of `chunkBytes` at a time rather than through a copy of the whole file: a dataset's
  /// images are held once, as floats. When `transpose(shape)` is true for a 4-D array, its axes
  /// [N, C, H, W] are reordered to [N, H, W, C] on the way in (`shape` stays the file's). Same
  /// checks and errors as `read`.
  public static func readFloats(
    _ path: String, chunkBytes: Int = 1 << 22, transpose: ([Int]) -> Bool = { _ in false }
  ) throws -> (shape: [Int], values: [Float]) {
    try withContext("reading \(path)") {
      let file = try ReadOnlyFile(path)
      let (dtype, shape, dataStart) = try layout(of: file)
      let count = shape.reduce(1, *)  // checked against the file's size by `layout`
      let swap = shape.count == 4 && transpose(shape)
      let rows = shape.isEmpty ? 1 : shape[0]
      let rowCount = rows == 0 ? 0 : count / rows  // elements per row of the first axis
      let rowBytes = rowCount * dtype.byteSize
      let values = try [Float](unsafeUninitializedCapacity: count) { out, done in
        let dst = out.baseAddress!
        if dtype == .float32 && !swap {
          try file.read(at: dataStart, into: UnsafeMutableRawBufferPointer(out))
        } else if count > 0 {
          let chunkRows = max(1, chunkBytes / max(1, rowBytes))
          var scratch = [UInt8](repeating: 0, count: chunkRows * rowBytes)
          var row = 0
          while row < rows {
            let n = min(chunkRows, rows - row)
            try scratch.withUnsafeMutableBytes { raw in
              try file.read(
                at: dataStart + row * rowBytes, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<(n * rowBytes)]))
              let rowDst = dst + row * rowCount
              switch dtype {
              case .float32:
                convertRows(
                  raw.baseAddress!.assumingMemoryBound(to: Float.self), rowDst, rows: n, shape: shape, swap: swap
                ) { $0 }
              case .uint8:
                convertRows(
                  raw.baseAddress!.assumingMemoryBound(to: UInt8.self), rowDst, rows: n, shape: shape, swap: swap
                ) { Float($0) }
              case .int64:
                convertRows(
                  raw.baseAddress!.assumingMemoryBound(to: Int64.self), rowDst, rows: n, shape: shape, swap: swap
                ) { Float($0) }
              }
            }
            row += n
          }
        }
        done = count
      }
      return (shape, values)
    }
  }

  /// The header of an open `.npy` file, with every check of `layout`: reads only the header
  /// (at most the file's size, whatever the header claims).
  static func layout(of file: ReadOnlyFile) throws -> (dtype: DType, shape: [Int], dataStart: Int) {
    // The header is at most a few KiB (numpy pads it to 64 bytes); read more if it says so.
    var prefix = try file.read(at: 0, count: min(file.size, 4096))
    if prefix.count >= 12, prefix[6] >= 1 {
      let needed =
        prefix[6] == 1
        ? 10 + (Int(prefix[8]) | Int(prefix[9]) << 8)
        : 12 + (0..<4).reduce(0) { $0 | Int(prefix[8 + $1]) << (8 * $1) }
      if needed > prefix.count && needed <= file.size { prefix = try file.read(at: 0, count: needed) }
    }
    return try layout(prefix, fileSize: file.size)
  }

  /// The shape in a `.npy` file's header (reads only the header); nil if the file is not a
  /// readable `.npy` file whose size matches its header.
  static func readShape(_ path: String) -> [Int]? {
    guard let file = try? ReadOnlyFile(path) else { return nil }
    return try? layout(of: file).shape
  }

  /// Converts `rows` rows of the first axis to Float, reordering [C, H, W] to [H, W, C] if `swap`.
  @inline(__always)
  static func convertRows<T>(
    _ src: UnsafePointer<T>,  // [rows, …]
    _ dst: UnsafeMutablePointer<Float>,  // [rows, …]
    rows: Int, shape: [Int], swap: Bool, _ float: (T) -> Float
  ) {
    let rowCount = shape.dropFirst().reduce(1, *)
    if swap {
      let (c, hw) = (shape[1], shape[2] * shape[3])
      for r in 0..<rows {
        for ch in 0..<c {
          let plane = src + r * rowCount + ch * hw
          let out = dst + r * rowCount + ch
          for p in 0..<hw { out[p * c] = float(plane[p]) }
        }
      }
    } else {
      for i in 0..<(rows * rowCount) { dst[i] = float(src[i]) }
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
  public var trimmingSpaces: String {
    String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
  }
  var trimmed: String {
    String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
  }
}
