import OrchCore

/// One option of a SLURM client, as getopt_long sees it.
public struct SlurmFlag: Sendable {
  public typealias Argument = GetoptOption.Argument
  public let long: String
  public let short: Character?
  public let argument: Argument

  public init(_ long: String, _ short: Character? = nil, _ argument: Argument = .none) {
    self.long = long
    self.short = short
    self.argument = argument
  }

  var option: GetoptOption { GetoptOption(long, short, argument) }
}

/// Options in command-line order (by long name) and the operands.
public struct SlurmArguments: Sendable {
  public var options: [(name: String, value: String?)] = []
  public var operands: [String] = []

  public func has(_ name: String) -> Bool { options.contains { $0.name == name } }
  public func last(_ name: String) -> String? { options.last { $0.name == name }?.value }
  public func all(_ name: String) -> [String] { options.filter { $0.name == name }.compactMap(\.value) }
}

/// The client tools' getopt_long: operands may be mixed with options unless `stopAtOperand`
/// (the `+` option string srun uses); a failure carries SLURM's usage hint.
public enum SlurmGetopt {
  public static func parse(
    _ args: [String], tool: String, flags: [SlurmFlag], stopAtOperand: Bool = false
  ) throws(OrchError) -> SlurmArguments {
    let result = Getopt(tool: tool, options: flags.map(\.option)).scan(args, stopAtOperand: stopAtOperand)
    if let failure = result.failure {
      throw .badInput(failure.message, usage: "Try \"\(tool) --help\" for more information")
    }
    return SlurmArguments(options: result.matches.map { ($0.option.name, $0.argument) }, operands: result.operands)
  }
}

/// One field of a SLURM `%`-format (`%.18i`, `%-20j`, `%K`) or literal text between fields.
public enum PercentFormat {
  public enum Piece: Equatable {
    case text(String)
    case field(Character, width: Int, right: Bool)
  }

  public static let maxWidth = 1_000_000

  /// A field's width from its digits; past the cap it is the cap, as padding to
  /// `%99999999999i` would exhaust memory.
  public static func width(_ digits: Substring) -> Int {
    let significant = digits.drop { $0 == "0" }
    return significant.count > 7 ? maxWidth : min(Int(significant) ?? 0, maxWidth)
  }

  public static func parse(_ format: String) -> [Piece] {
    var pieces: [Piece] = []
    var text = ""
    var chars = Array(format)[...]
    while let c = chars.popFirst() {
      guard c == "%" else {
        text.append(c)
        continue
      }
      if chars.first == "%" {
        chars.removeFirst()
        text.append("%")
        continue
      }
      var right = false
      if chars.first == "." {
        right = true
        chars.removeFirst()
      }
      var digits = ""
      while let d = chars.first, d.isASCII, d.isNumber {
        digits.append(d)
        chars.removeFirst()
      }
      guard let letter = chars.popFirst() else {
        text += "%" + (right ? "." : "") + digits
        break
      }
      if !text.isEmpty { pieces.append(.text(text)) }
      text = ""
      pieces.append(.field(letter, width: width(digits[...]), right: right))
    }
    if !text.isEmpty { pieces.append(.text(text)) }
    return pieces
  }

  /// squeue's `_print_str`: right-justified or left-justified to `width`, cut to `width`.
  static func cell(_ value: String, width: Int, right: Bool) -> String {
    guard width > 0 else { return value }
    let cut = String(value.prefix(width))
    let pad = String(repeating: " ", count: width - cut.count)
    return right ? pad + cut : cut + pad
  }

  public static func render(_ pieces: [Piece], _ value: (Character) -> String) -> String {
    pieces.map { piece in
      switch piece {
      case .text(let t): t
      case .field(let c, let width, let right): cell(value(c), width: width, right: right)
      }
    }.joined()
  }
}
