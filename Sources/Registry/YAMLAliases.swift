import CYaml

/// Bounds what aliases make of a sweep file, checked on libyaml's events before Yams composes the
/// tree. Yams shares an aliased node, but hashing a mapping key, turning nodes into binding values
/// and rendering them walk and copy it once per alias: nine levels of ten aliases ("billion laughs")
/// are 10⁹ nodes from a 500-byte file, and one long string aliased often is as many bytes. What
/// aliases copy is bounded in nodes and in scalar bytes, far above what anchors for shared defaults
/// need, and the expanded tree nests no deeper than libyaml lets a file nest without them.
enum YAMLAliases {
  static let maxCopiedNodes = 100_000
  static let maxCopiedBytes = 1 << 20
  static let maxDepth = 1000

  struct Excess {
    var message: String
    /// 1-based, in the text given.
    var line: Int
    var column: Int
  }

  /// nil when the text keeps within the bounds, or is malformed (Yams then reports it).
  static func check(_ text: String) -> Excess? {
    var parser = yaml_parser_t()
    guard yaml_parser_initialize(&parser) == 1 else { return nil }
    defer { yaml_parser_delete(&parser) }
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBufferPointer { buffer -> Excess? in
      yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
      var walk = Walk()
      var event = yaml_event_t()
      while yaml_parser_parse(&parser, &event) == 1 {
        defer { yaml_event_delete(&event) }
        switch event.type {
        case YAML_STREAM_END_EVENT:
          return nil
        case YAML_DOCUMENT_START_EVENT:
          walk.anchors = [:]
        case YAML_SCALAR_EVENT:
          let size = Size(nodes: 1, bytes: min(Int(event.data.scalar.length), maxCopiedBytes + 1), height: 1)
          walk.close(anchor: name(event.data.scalar.anchor), size)
        case YAML_SEQUENCE_START_EVENT:
          walk.open(anchor: name(event.data.sequence_start.anchor))
        case YAML_MAPPING_START_EVENT:
          walk.open(anchor: name(event.data.mapping_start.anchor))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
          walk.closeCollection()
        case YAML_ALIAS_EVENT:
          guard let alias = name(event.data.alias.anchor), let target = walk.anchors[alias] else { continue }
          let line = Int(event.start_mark.line) + 1
          let column = Int(event.start_mark.column) + 1
          walk.copied.add(target)
          if walk.copied.nodes > maxCopiedNodes {
            return Excess(
              message: "aliases copy more than \(maxCopiedNodes) nodes (here at '*\(alias)'): nested aliases"
                + " grow a small file without bound (a YAML alias bomb), so they are limited",
              line: line, column: column)
          }
          if walk.copied.bytes > maxCopiedBytes {
            return Excess(
              message: "aliases copy more than \(maxCopiedBytes) bytes of text (here at '*\(alias)'); they are"
                + " limited so a small file cannot grow without bound",
              line: line, column: column)
          }
          if walk.stack.count + target.height > maxDepth {
            return Excess(
              message: "alias '*\(alias)' nests the file deeper than \(maxDepth) levels", line: line, column: column)
          }
          walk.close(anchor: nil, target)
        default:
          break
        }
      }
      return nil
    }
  }

  /// A node once its aliases are expanded, counts saturating just past the bounds.
  struct Size {
    var nodes = 0
    var bytes = 0
    var height = 0

    mutating func add(_ other: Size) {
      nodes = min(nodes + other.nodes, maxCopiedNodes + 1)
      bytes = min(bytes + other.bytes, maxCopiedBytes + 1)
    }
  }

  /// The open collections and the finished anchors, with their expanded sizes.
  private struct Walk {
    var stack: [(anchor: String?, size: Size)] = []
    var anchors: [String: Size] = [:]
    var copied = Size()

    mutating func open(anchor: String?) { stack.append((anchor, Size(nodes: 1, bytes: 0, height: 1))) }

    mutating func closeCollection() {
      guard let top = stack.popLast() else { return }
      close(anchor: top.anchor, top.size)
    }

    /// A finished node: recorded under its anchor and counted in its parent.
    mutating func close(anchor: String?, _ size: Size) {
      if let anchor { anchors[anchor] = size }
      guard !stack.isEmpty else { return }
      stack[stack.count - 1].size.add(size)
      stack[stack.count - 1].size.height = max(stack[stack.count - 1].size.height, size.height + 1)
    }
  }

  private static func name(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
    pointer.map { String(cString: $0) }
  }
}
