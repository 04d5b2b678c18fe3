/// A job's fd-3 byte stream cut into what its worker journals and forwards: whole lines, in chunks
/// of up to `chunk` bytes (a longer line travels alone), and notices of lines it drops. A line over
/// `maxLine` bytes is never buffered past that (the worker's memory stays bounded however the job
/// writes), and an attempt journals at most `budget` bytes: the job's events count against its own
/// limit, not against the disk every job shares. A dropped line is counted, never silently lost.
public struct EventStream: Sendable {
  /// Longest event line kept, newline excluded.
  public static let defaultMaxLine = 1 << 20
  /// Lines are forwarded in chunks of up to this many bytes.
  public static let chunk = 64 << 10
  /// Bytes one attempt may journal (lines and notices).
  public static let defaultBudget: Int64 = 256 << 20
  /// What a notice costs against the budget (it is journaled too).
  static let noticeCost: Int64 = 128

  public enum Piece: Sendable, Equatable {
    /// Whole lines, contiguous in the stream from byte `offset`.
    case lines(offset: Int64, data: [UInt8])
    /// `lines` lines (`bytes` bytes, newlines included) from byte `offset` on were dropped.
    case dropped(offset: Int64, lines: Int, bytes: Int64, reason: DropReason)
  }

  public enum DropReason: String, Sendable {
    case tooLong = "line over the event line limit"
    case overBudget = "over the attempt's event budget"
  }

  public let maxLine: Int
  public let budget: Int64
  /// Stream offset of the first byte not yet consumed (`pending` starts here).
  public private(set) var offset: Int64 = 0
  /// The start of an unterminated line, at most `maxLine` bytes.
  var pending: [UInt8] = []
  /// Inside a line already over `maxLine`: its bytes so far (from `offset`).
  var skipped: Int64?
  /// Whole lines not yet handed out, from `batchOffset`.
  var batch: [UInt8] = []
  var batchOffset: Int64 = 0
  /// Bytes journaled so far.
  public private(set) var spent: Int64 = 0
  /// Lines dropped once the budget ran out, summed into one notice at the end.
  var overBudget: (offset: Int64, lines: Int, bytes: Int64)?
  public private(set) var droppedLines = 0
  public private(set) var droppedBytes: Int64 = 0

  public init(maxLine: Int = EventStream.defaultMaxLine, budget: Int64 = EventStream.defaultBudget) {
    self.maxLine = maxLine
    self.budget = budget
  }

  /// Consumes bytes the job wrote; returns what is ready to journal and forward.
  public mutating func feed(_ bytes: ArraySlice<UInt8>) -> [Piece] {
    var out: [Piece] = []
    var i = bytes.startIndex
    while i < bytes.endIndex {
      let newline = bytes[i...].firstIndex(of: UInt8(ascii: "\n"))
      let end = newline.map { $0 + 1 } ?? bytes.endIndex
      if let skipped {
        let total = skipped + Int64(end - i)
        if newline == nil {
          self.skipped = total
        } else {
          self.skipped = nil
          drop(lines: 1, bytes: total, reason: .tooLong, into: &out)
        }
      } else if newline == nil {
        if pending.count + (end - i) > maxLine {
          skipped = Int64(pending.count + (end - i))
          pending = []
        } else {
          pending.append(contentsOf: bytes[i..<end])
        }
      } else if pending.count + (end - i) - 1 > maxLine {
        let total = Int64(pending.count + (end - i))
        pending = []
        drop(lines: 1, bytes: total, reason: .tooLong, into: &out)
      } else if pending.isEmpty {
        accept(bytes[i..<end], into: &out)
      } else {
        pending.append(contentsOf: bytes[i..<end])
        let line = pending
        pending = []
        accept(line[...], into: &out)
      }
      i = end
    }
    flush(into: &out)
    return out
  }

  /// The job's stream ended: a last unterminated line counts as a line, and the budget's notice
  /// (if it ran out) goes out.
  public mutating func finish() -> [Piece] {
    var out: [Piece] = []
    if let skipped {
      self.skipped = nil
      drop(lines: 1, bytes: skipped, reason: .tooLong, into: &out)
    } else if !pending.isEmpty {
      let line = pending
      pending = []
      accept(line[...], into: &out)
    }
    flush(into: &out)
    if let over = overBudget {
      overBudget = nil
      out.append(.dropped(offset: over.offset, lines: over.lines, bytes: over.bytes, reason: .overBudget))
    }
    return out
  }

  /// A whole line starting at `offset + pending-consumed`: into the batch, or dropped once the
  /// budget is spent.
  mutating func accept(_ line: ArraySlice<UInt8>, into out: inout [Piece]) {
    let start = offset
    offset += Int64(line.count)
    if overBudget != nil || spent + Int64(line.count) > budget {
      flush(into: &out)
      droppedLines += 1
      droppedBytes += Int64(line.count)
      if overBudget == nil {
        overBudget = (start, 0, 0)
        spent += Self.noticeCost
      }
      overBudget!.lines += 1
      overBudget!.bytes += Int64(line.count)
      return
    }
    spent += Int64(line.count)
    if !batch.isEmpty && batch.count + line.count > Self.chunk { flush(into: &out) }
    if batch.isEmpty { batchOffset = start }
    batch.append(contentsOf: line)
    if batch.count >= Self.chunk { flush(into: &out) }
  }

  mutating func drop(lines: Int, bytes: Int64, reason: DropReason, into out: inout [Piece]) {
    flush(into: &out)
    let start = offset
    offset += bytes
    droppedLines += lines
    droppedBytes += bytes
    if overBudget != nil || spent + Self.noticeCost > budget {
      if overBudget == nil { overBudget = (start, 0, 0) }
      overBudget!.lines += lines
      overBudget!.bytes += bytes
      return
    }
    spent += Self.noticeCost
    out.append(.dropped(offset: start, lines: lines, bytes: bytes, reason: reason))
  }

  mutating func flush(into out: inout [Piece]) {
    guard !batch.isEmpty else { return }
    out.append(.lines(offset: batchOffset, data: batch))
    batch = []
  }
}
