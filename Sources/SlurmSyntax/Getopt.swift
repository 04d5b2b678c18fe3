/// One entry of a SLURM client's getopt_long table.
public struct GetoptOption: Sendable {
  public enum Argument: Sendable, Equatable { case none, required, optional }

  public let name: String
  public let short: Character?
  public let argument: Argument
  /// getopt_long's `val`: aliases share it, and an abbreviation matching options that agree on
  /// `val` and `argument` is not ambiguous.
  public let key: String

  public init(_ name: String, _ short: Character? = nil, _ argument: Argument = .required, key: String? = nil) {
    self.name = name
    self.short = short
    self.argument = argument
    self.key = key ?? name
  }
}

/// glibc `getopt_long` as SLURM's clients call it: `--` ends the options, unique long prefixes
/// are accepted, short options cluster (`-vvH`), and errors carry glibc's wording prefixed by the
/// tool. With `stopAtOperand` (the `+` option string sbatch and srun use) the first operand ends
/// the options; otherwise operands may be mixed with options.
public struct Getopt: Sendable {
  public struct Match: Sendable {
    public let option: GetoptOption
    public let argument: String?
    /// Index of the argument that named the option.
    public let token: Int
  }

  public struct Failure: Error, Sendable {
    /// One line, exactly as getopt prints it (`sbatch: unrecognized option '--foo'`).
    public let message: String
    public let token: Int
  }

  public struct Result: Sendable {
    /// The options read before the end or the first error, in order.
    public var matches: [Match] = []
    /// The operands, in order (with `stopAtOperand`: the first operand and everything after it).
    public var operands: [String] = []
    /// Index of the first operand in the arguments (their count when there is none).
    public var firstOperand = 0
    public var failure: Failure?
  }

  public let tool: String
  /// In the tool's table order, which is the order getopt_long lists ambiguous possibilities in.
  public let options: [GetoptOption]
  private let byName: [String: GetoptOption]
  private let byShort: [Character: GetoptOption]

  public init(tool: String, options: [GetoptOption]) {
    self.tool = tool
    self.options = options
    var byName: [String: GetoptOption] = [:]
    var byShort: [Character: GetoptOption] = [:]
    for option in options {
      if byName[option.name] == nil { byName[option.name] = option }
      if let c = option.short, byShort[c] == nil { byShort[c] = option }
    }
    self.byName = byName
    self.byShort = byShort
  }

  public func option(named name: String) -> GetoptOption? { byName[name] }

  /// Options read before a failure come back with it: sbatch acts on `--help` before getopt
  /// reaches a bad option after it.
  public func scan(_ args: [String], stopAtOperand: Bool) -> Result {
    var result = Result()
    do {
      try scan(args, stopAtOperand: stopAtOperand, into: &result)
    } catch {
      result.failure = error
    }
    if result.operands.isEmpty { result.firstOperand = args.count }
    return result
  }

  private func scan(_ args: [String], stopAtOperand: Bool, into result: inout Result) throws(Failure) {
    var i = 0
    func operand(_ index: Int) {
      if result.operands.isEmpty { result.firstOperand = index }
      result.operands.append(args[index])
    }
    while i < args.count {
      let arg = args[i]
      if arg == "--" {
        for j in (i + 1)..<args.count { operand(j) }
        return
      }
      if arg.hasPrefix("--") {
        let body = arg.dropFirst(2)
        let name = body.prefix { $0 != "=" }
        let inline = name.count < body.count ? String(body.dropFirst(name.count + 1)) : nil
        let option = try resolveLong(String(name), whole: arg, token: i)
        let token = i
        var value: String?
        switch option.argument {
        case .none:
          if inline != nil {
            throw Failure(message: "\(tool): option '--\(option.name)' doesn't allow an argument", token: i)
          }
        case .optional:
          value = inline
        case .required:
          if let inline {
            value = inline
          } else if i + 1 < args.count {
            i += 1
            value = args[i]
          } else {
            throw Failure(message: "\(tool): option '--\(option.name)' requires an argument", token: i)
          }
        }
        result.matches.append(Match(option: option, argument: value, token: token))
        i += 1
        continue
      }
      if arg.hasPrefix("-") && arg.count > 1 {
        let chars = Array(arg.dropFirst())
        let token = i
        var j = 0
        while j < chars.count {
          let c = chars[j]
          guard let option = byShort[c] else {
            throw Failure(message: "\(tool): invalid option -- '\(c)'", token: token)
          }
          let rest = String(chars[(j + 1)...])
          switch option.argument {
          case .none:
            result.matches.append(Match(option: option, argument: nil, token: token))
            j += 1
            continue
          case .optional:
            result.matches.append(Match(option: option, argument: rest.isEmpty ? nil : rest, token: token))
          case .required:
            if !rest.isEmpty {
              result.matches.append(Match(option: option, argument: rest, token: token))
            } else if i + 1 < args.count {
              i += 1
              result.matches.append(Match(option: option, argument: args[i], token: token))
            } else {
              throw Failure(message: "\(tool): option requires an argument -- '\(c)'", token: token)
            }
          }
          j = chars.count
        }
        i += 1
        continue
      }
      operand(i)
      if stopAtOperand {
        for j in (i + 1)..<args.count { operand(j) }
        return
      }
      i += 1
    }
  }

  /// Exact name first; otherwise the prefix matches, ambiguous when one differs from the first
  /// match in `key` or argument kind (glibc's rule, and its message).
  private func resolveLong(_ name: String, whole: String, token: Int) throws(Failure) -> GetoptOption {
    if let exact = byName[name] { return exact }
    let candidates = options.filter { $0.name.hasPrefix(name) }
    guard let first = candidates.first else {
      throw Failure(message: "\(tool): unrecognized option '\(whole)'", token: token)
    }
    let clashing = candidates.dropFirst().filter { $0.key != first.key || $0.argument != first.argument }
    if clashing.isEmpty { return first }
    let listed = ([first] + clashing).map { " '--\($0.name)'" }.joined()
    throw Failure(message: "\(tool): option '\(whole)' is ambiguous; possibilities:\(listed)", token: token)
  }
}
