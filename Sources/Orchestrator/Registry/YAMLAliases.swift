import CYaml

/// Bounds what aliases make of a sweep file, checked on libyaml's events before Yams composes the
/// tree. Yams shares an aliased node, but hashing a mapping key and turning nodes into binding
/// values walk it once per alias, so nine levels of ten aliases ("billion laughs") are 10⁹ nodes
/// from a 400-byte file. Aliases may add at most `maxAddedNodes` nodes to the expanded tree, which
/// may nest no deeper than libyaml lets a file nest without them.
enum YAMLAliases {
  static let maxAddedNodes = 1_000_000
  static let maxDepth = 1000

  struct Excess {
    var message: String
    /// 1-based, in the text given.
    var line: Int
    var column: Int
  }

  /// nil when the text keeps within both bounds, or is malformed (Yams then reports it).
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
          walk.close(anchor: name(event.data.scalar.anchor), size: 1, height: 1)
        case YAML_SEQUENCE_START_EVENT:
          walk.open(anchor: name(event.data.sequence_start.anchor))
        case YAML_MAPPING_START_EVENT:
          walk.open(anchor: name(event.data.mapping_start.anchor))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
          walk.closeCollection()
        case YAML_ALIAS_EVENT:
          guard let alias = name(event.data.alias.anchor), let target = walk.anchors[alias] else { continue }
          let at = (line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
          walk.added = min(walk.added + target.size, maxAddedNodes + 1)
          if walk.added > maxAddedNodes {
            return Excess(
              message: "aliases copy more than \(maxAddedNodes) nodes (here at '*\(alias)'): nested aliases"
                + " grow a small file without bound (a YAML alias bomb), so they are limited",
              line: at.line, column: at.column)
          }
          if walk.stack.count + target.height > maxDepth {
            return Excess(
              message: "alias '*\(alias)' nests the file deeper than \(maxDepth) levels", line: at.line,
              column: at.column)
          }
          walk.close(anchor: nil, size: target.size, height: target.height)
        default:
          break
        }
      }
      return nil
    }
  }

  /// Expanded sizes (saturating past the bound) and heights of the open collections and anchors.
  private struct Walk {
    var stack: [(anchor: String?, size: Int, height: Int)] = []
    var anchors: [String: (size: Int, height: Int)] = [:]
    var added = 0

    mutating func open(anchor: String?) { stack.append((anchor, 1, 1)) }

    mutating func closeCollection() {
      guard let top = stack.popLast() else { return }
      close(anchor: top.anchor, size: top.size, height: top.height)
    }

    /// A finished node: recorded under its anchor and counted in its parent.
    mutating func close(anchor: String?, size: Int, height: Int) {
      if let anchor { anchors[anchor] = (size, height) }
      guard !stack.isEmpty else { return }
      stack[stack.count - 1].size = min(stack[stack.count - 1].size + size, maxAddedNodes + 1)
      stack[stack.count - 1].height = max(stack[stack.count - 1].height, height + 1)
    }
  }

  private static func name(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
    pointer.map { String(cString: $0) }
  }
}
