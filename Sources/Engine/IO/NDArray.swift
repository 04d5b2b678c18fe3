/// Element types the engine reads and writes (`.npy` and safetensors).
public enum DType: String, Sendable, Hashable, CaseIterable {
  case float32, int64, uint8

  public var byteSize: Int {
    switch self {
    case .float32: 4
    case .int64: 8
    case .uint8: 1
    }
  }
}

/// Host array with its elements in C order; the exchange type of the IO layer.
public struct NDArray: Sendable, Equatable {
  public enum Storage: Sendable, Equatable {
    case float32([Float])
    case int64([Int64])
    case uint8([UInt8])
  }

  public var shape: [Int]
  public var storage: Storage

  public init(shape: [Int], float32 values: [Float]) {
    precondition(
      shape.reduce(1, *) == values.count, "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
    self.shape = shape
    storage = .float32(values)
  }

  public init(shape: [Int], int64 values: [Int64]) {
    precondition(
      shape.reduce(1, *) == values.count, "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
    self.shape = shape
    storage = .int64(values)
  }

  public init(shape: [Int], uint8 values: [UInt8]) {
    precondition(
      shape.reduce(1, *) == values.count, "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
    self.shape = shape
    storage = .uint8(values)
  }

  public var dtype: DType {
    switch storage {
    case .float32: .float32
    case .int64: .int64
    case .uint8: .uint8
    }
  }

  public var count: Int { shape.reduce(1, *) }

  /// Elements of an array of `shape` read from a file's header, or nil when a dimension is
  /// negative or the product of its nonzero dimensions overflows `Int` once multiplied by
  /// `byteSize`: the caller checks the byte count against the file before allocating, and every
  /// partial product (rows, a sample's size) stays representable even when a dimension is 0.
  static func elementCount(_ shape: [Int], byteSize: Int = 1) -> Int? {
    var product = byteSize
    var empty = false
    for dimension in shape {
      guard dimension >= 0 else { return nil }
      if dimension == 0 {
        empty = true
        continue
      }
      let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
      if overflow { return nil }
      product = next
    }
    return empty ? 0 : product / byteSize
  }

  /// The elements converted to Float (uint8 and int64 by value).
  public func floats() -> [Float] {
    switch storage {
    case .float32(let v): v
    case .int64(let v): v.map { Float($0) }
    case .uint8(let v): v.map { Float($0) }
    }
  }

  /// Integer elements (labels); float32 is an error since it would silently truncate.
  public func integers() throws -> [Int] {
    switch storage {
    case .int64(let v): return v.map { Int($0) }
    case .uint8(let v): return v.map { Int($0) }
    case .float32: throw EngineError(.format, "expected integer labels, found float32")
    }
  }

  /// Raw little-endian bytes of the elements.
  func bytes() -> [UInt8] {
    switch storage {
    case .float32(let v): v.withUnsafeBytes { Array($0) }
    case .int64(let v): v.withUnsafeBytes { Array($0) }
    case .uint8(let v): v
    }
  }

  /// Builds an array of `dtype` from little-endian bytes (count already validated).
  static func fromBytes(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) -> NDArray {
    let n = shape.reduce(1, *)
    switch dtype {
    case .float32:
      let v = [Float](unsafeUninitializedCapacity: n) { buf, done in
        UnsafeMutableRawBufferPointer(buf).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<(n * 4)]))
        done = n
      }
      return NDArray(shape: shape, float32: v)
    case .int64:
      let v = [Int64](unsafeUninitializedCapacity: n) { buf, done in
        UnsafeMutableRawBufferPointer(buf).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<(n * 8)]))
        done = n
      }
      return NDArray(shape: shape, int64: v)
    case .uint8:
      return NDArray(shape: shape, uint8: Array(bytes[0..<n]))
    }
  }
}
