/// One named tensor inside a contiguous buffer.
public struct LayoutEntry: Sendable, Hashable {
  public let name: String
  public let shape: [Int]
  public let offset: Int

  public var count: Int { shape.reduce(1, *) }
  public var range: Range<Int> { offset..<(offset + count) }
}

/// Name → shape → offset, declared once; parameters, gradients and optimizer moments are each
/// one `[Float]` of `count` elements laid out by it. Offsets are 16-float (64-byte) aligned; the
/// padding between entries stays zero.
public struct ParameterLayout: Sendable, Hashable {
  public private(set) var entries: [LayoutEntry] = []
  public private(set) var count = 0
  private var index: [String: Int] = [:]

  public static let alignment = 16

  public init() {}

  /// Appends `name` and returns its offset. Names are unique by construction of the models. A
  /// layout of more than `limit` elements (padding included) is an error naming the entry, found
  /// before anything overflows.
  @discardableResult
  public mutating func add(
    _ name: String, _ shape: [Int], limit: Int = EngineLimits.maxParameters
  ) throws(EngineError) -> Int {
    precondition(index[name] == nil, "duplicate layout entry \(name)")
    let offset = (count + Self.alignment - 1) / Self.alignment * Self.alignment
    guard let size = EngineLimits.product(shape, atMost: limit), size <= limit - offset else {
      throw EngineError(
        .config,
        "\(name) of shape \(shape) makes the model's parameters more than \(limit)"
          + (limit == EngineLimits.maxParameters ? " (2^28, 1 GiB of float32)" : ""))
    }
    entries.append(LayoutEntry(name: name, shape: shape, offset: offset))
    index[name] = entries.count - 1
    count = offset + size
    return offset
  }

  public subscript(name: String) -> LayoutEntry? {
    index[name].map { entries[$0] }
  }

  /// Contiguous element ranges covering the entries selected by `mask` (one Bool per entry),
  /// adjacent entries merged so per-step loops run over few long spans.
  public func ranges(selectedBy mask: [Bool]) -> [Range<Int>] {
    precondition(mask.count == entries.count)
    var result: [Range<Int>] = []
    for (i, entry) in entries.enumerated() where mask[i] {
      if i > 0, mask[i - 1], let last = result.last {
        result[result.count - 1] = last.lowerBound..<entry.range.upperBound
      } else {
        result.append(entry.range)
      }
    }
    return result
  }

  /// Copies each entry of `buffer` out as a named array.
  public func arrays(of buffer: [Float], prefix: String = "") -> [(String, NDArray)] {
    precondition(buffer.count == count)
    return entries.map { e in
      (prefix + e.name, NDArray(shape: e.shape, float32: Array(buffer[e.range])))
    }
  }
}
