import ArgumentParser
import Foundation
import Store
import Worker

/// What the SLURM client commands share: glibc-style option scanning with SLURM's messages, job id
/// lists, the user and host, and SLURM's way of failing (one `tool: error: …` line, exit 1).
enum SlurmTool {
  /// The names `orch shims` installs and `OrchMain` dispatches on (argv[0]).
  static let names = ["sbatch", "srun", "squeue", "scancel", "sacct", "scontrol", "sinfo"]

  static func stderr(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
  }

  /// Runs `body`, turning its errors into SLURM's style: the message as is when it already names
  /// the tool, else `tool: error: message`; always exit 1 (orch's own commands use 2 for bad input).
  static func run(_ tool: String, _ body: () throws -> Void) throws {
    do {
      try body()
    } catch let error as OrchError {
      let text = error.description
      stderr(text.hasPrefix("\(tool): ") || text.hasPrefix("slurm_") ? text : "\(tool): error: \(text)")
      throw ExitCode(1)
    }
  }

  /// `--help`/`--usage` print the usage, `--version` the version; true when one of them was asked.
  static func answeredInfo(_ args: SlurmArguments, usage: String, tool: String? = nil) -> Bool {
    // `--usage` is SLURM's own synopsis (tools read the option list from it), `--help` orch's.
    if args.has("usage"), !args.has("help"), let text = tool.flatMap(SlurmUsage.text) {
      Output.print(text)
      return true
    }
    if args.has("help") || args.has("usage") {
      Output.print(usage)
      return true
    }
    if args.has("version") {
      Output.print("slurm 23.02.0 (orch)\n")
      return true
    }
    return false
  }

  static var host: String {
    ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
  }

  static var user: String { SbatchSubmit.userName() }

  /// `-u alice,1000`: orch's jobs are all the current user's.
  static func matchesUser(_ list: String) -> Bool {
    list.split(separator: ",").contains { $0 == user || $0 == String(getuid()) }
  }

  /// A comma list of ids (`12,13_2,14_[1-3]`) resolved to job ids. An id may also be an element's
  /// own job id, as in SLURM. Unknown ids are left out; `unknown` counts them.
  static func resolve(_ list: [String], store: JobStore) throws(OrchError) -> (ids: [Int64], unknown: [String]) {
    var ids: [Int64] = []
    var unknown: [String] = []
    for text in list {
      guard let parts = SlurmSyntax.splitTopLevel(text, on: [","]) else {
        throw .badInput("Invalid job id: \(text)")
      }
      for part in parts.map(\.part) where !part.isEmpty {
        // `12.batch`, `12.0`: a step is its job here.
        let id = part.split(separator: ".", maxSplits: 1).first.map(String.init) ?? part
        let selector: JobSelector
        do { selector = try JobSelector.parse(id) } catch { throw .badInput("Invalid job id: \(part)") }
        var found: [Int64]
        switch selector {
        case .job(let n):
          found = try storeCall { () throws(StoreError) in try store.resolve(array: Int64(n), indices: nil) }
          if found.isEmpty, try storeCall({ () throws(StoreError) in try store.jobExists(Int64(n)) }) {
            found = [Int64(n)]
          }
        case .elements(let n, let indices):
          found = try storeCall { () throws(StoreError) in try store.resolve(array: Int64(n), indices: indices) }
        }
        if found.isEmpty { unknown.append(part) }
        ids += found
      }
    }
    var seen = Set<Int64>()
    return (ids.filter { seen.insert($0).inserted }, unknown)
  }

  /// State names and squeue codes (`PD`, `pending`, `CA`…), case-insensitive; `all` is every state.
  static func states(_ list: String, tool: String) throws(OrchError) -> [JobState] {
    var out: [JobState] = []
    for item in list.split(separator: ",") {
      let upper = item.uppercased()
      if upper == "ALL" { return JobState.allCases }
      guard let state = JobState.allCases.first(where: { $0.rawValue == upper || $0.code == upper }) else {
        // SLURM states that cannot happen here select nothing rather than fail.
        if slurmOnlyStates.contains(upper) { continue }
        throw .badInput("\(tool): error: Invalid job state specified: \(item)")
      }
      out.append(state)
    }
    return out
  }

  static let slurmOnlyStates: Set<String> = [
    "BF", "BOOT_FAIL", "CF", "CONFIGURING", "CG", "COMPLETING", "DL", "DEADLINE", "NF", "NODE_FAIL", "PR",
    "PREEMPTED", "RD", "RESV_DEL_HOLD", "RF", "REQUEUE_FED", "RH", "REQUEUE_HOLD", "RQ", "REQUEUED", "RS",
    "RESIZING", "RV", "REVOKED", "SI", "SIGNALING", "SE", "SPECIAL_EXIT", "SO", "STAGE_OUT", "ST", "STOPPED",
    "S", "SUSPENDED",
  ]
}

/// One option of a SLURM client, as getopt_long sees it.
struct SlurmFlag {
  enum Argument { case none, required, optional }
  let long: String
  let short: Character?
  let argument: Argument

  init(_ long: String, _ short: Character? = nil, _ argument: Argument = .none) {
    self.long = long
    self.short = short
    self.argument = argument
  }
}

/// Options in command-line order (by long name) and the operands.
struct SlurmArguments {
  var options: [(name: String, value: String?)] = []
  var operands: [String] = []

  func has(_ name: String) -> Bool { options.contains { $0.name == name } }
  func last(_ name: String) -> String? { options.last { $0.name == name }?.value }
  func all(_ name: String) -> [String] { options.filter { $0.name == name }.compactMap(\.value) }
}

/// glibc `getopt_long`: operands may be mixed with options (unless `stopAtOperand`, the `+`
/// option string srun uses), `--` ends the options, unique long prefixes are accepted, and the
/// errors carry glibc's wording plus SLURM's usage hint.
enum SlurmGetopt {
  static func parse(
    _ args: [String], tool: String, flags: [SlurmFlag], stopAtOperand: Bool = false
  ) throws(OrchError) -> SlurmArguments {
    func fail(_ message: String) -> OrchError {
      .badInput("\(tool): \(message)", usage: "Try \"\(tool) --help\" for more information")
    }
    var out = SlurmArguments()
    var i = 0
    while i < args.count {
      let arg = args[i]
      i += 1
      if arg == "--" {
        out.operands += args[i...]
        break
      }
      if arg.hasPrefix("--") {
        let body = arg.dropFirst(2)
        let name = body.prefix { $0 != "=" }
        let inline = name.count < body.count ? String(body.dropFirst(name.count + 1)) : nil
        var flag = flags.first { $0.long == name }
        if flag == nil {
          let candidates = flags.filter { $0.long.hasPrefix(name) }
          if candidates.count > 1 {
            throw fail(
              "option '\(arg)' is ambiguous; possibilities:" + candidates.map { " '--\($0.long)'" }.joined())
          }
          flag = candidates.first
        }
        guard let flag else { throw fail("unrecognized option '\(arg)'") }
        switch flag.argument {
        case .none:
          if inline != nil { throw fail("option '--\(flag.long)' doesn't allow an argument") }
          out.options.append((flag.long, nil))
        case .optional:
          out.options.append((flag.long, inline))
        case .required:
          if let inline {
            out.options.append((flag.long, inline))
          } else if i < args.count {
            out.options.append((flag.long, args[i]))
            i += 1
          } else {
            throw fail("option '--\(flag.long)' requires an argument")
          }
        }
        continue
      }
      if arg.hasPrefix("-") && arg.count > 1 {
        let chars = Array(arg.dropFirst())
        var j = 0
        while j < chars.count {
          let c = chars[j]
          guard let flag = flags.first(where: { $0.short == c }) else { throw fail("invalid option -- '\(c)'") }
          let rest = String(chars[(j + 1)...])
          switch flag.argument {
          case .none:
            out.options.append((flag.long, nil))
            j += 1
            continue
          case .optional:
            out.options.append((flag.long, rest.isEmpty ? nil : rest))
          case .required:
            if !rest.isEmpty {
              out.options.append((flag.long, rest))
            } else if i < args.count {
              out.options.append((flag.long, args[i]))
              i += 1
            } else {
              throw fail("option requires an argument -- '\(c)'")
            }
          }
          j = chars.count
        }
        continue
      }
      out.operands.append(arg)
      if stopAtOperand {
        out.operands += args[i...]
        break
      }
    }
    return out
  }
}

/// One field of a SLURM `%`-format (`%.18i`, `%-20j`, `%K`) or literal text between fields.
enum PercentFormat {
  enum Piece: Equatable {
    case text(String)
    case field(Character, width: Int, right: Bool)
  }

  static func parse(_ format: String) -> [Piece] {
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
      pieces.append(.field(letter, width: Int(digits) ?? 0, right: right))
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

  static func render(_ pieces: [Piece], _ value: (Character) -> String) -> String {
    pieces.map { piece in
      switch piece {
      case .text(let t): t
      case .field(let c, let width, let right): cell(value(c), width: width, right: right)
      }
    }.joined()
  }
}
