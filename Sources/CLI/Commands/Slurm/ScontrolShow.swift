import ArgumentParser
import Foundation
import OrchCore
import SlurmSyntax
import SlurmViews
import System

/// `scontrol show` of everything but jobs and host lists: orch's one node (this machine, as sinfo
/// reads it), its one partition, the configuration keys orch can answer, and SLURM's messages for
/// names it does not have (layouts in `SlurmViews/ScontrolShow.swift`).
enum ScontrolShowOther {
  /// Handles `show ENTITY [NAME]` unless ENTITY is a job; false leaves it to `show job`.
  static func run(_ words: [String], oneLine: Bool, json: Bool) throws -> Bool {
    guard let word = words.first else {
      Output.stderr("too few arguments for keyword:show")
      throw ExitCode(1)
    }
    guard let entity = ScontrolKeywords.entity(word) else {
      Output.stderr("invalid entity:\(UserText.escaped(word)) for keyword:show ")
      throw ExitCode(1)
    }
    if entity == .job { return false }
    let names = Array(words.dropFirst())
    if names.count > 1 {
      Output.stderr("too many arguments for keyword:show")
      throw ExitCode(1)
    }
    if json, entity != .node {
      throw OrchError.badInput("scontrol: error: orch's --json shows jobs and nodes")
    }
    switch entity {
    case .config:
      // SLURM 22.05 prints the whole configuration whatever key is named.
      let up = (try? OrchHome()).map { DaemonClient.request($0, .ping)?.accepted == true } ?? false
      Output.print(
        ScontrolShow.config(
          minJobAge: Int(Squeue.minJobAge), now: Posix.now(), host: SlurmMachine.host, up: up))
    case .node:
      try showNode(names.first, oneLine: oneLine, json: json)
    case .partition:
      let node = try Sinfo.node()
      if let name = names.first, name != node.partition {
        Output.print("Partition \(UserText.escaped(name)) not found\n")
        throw ExitCode(1)
      }
      Output.print(ScontrolShow.record(ScontrolShow.partitionLines(node), oneLine: oneLine))
    case .reservation:
      if let name = names.first {
        Output.print("Reservation \(UserText.escaped(name)) not found\n")
        throw ExitCode(1)
      }
      Output.print("No reservations in the system\n")
    case .licenses:
      Output.print("No licenses configured in Slurm.\n")
    case .unsupported(let other):
      throw OrchError.badInput(
        "scontrol: error: orch has no \(other) to show; it shows job, node, partition, config and host lists")
    case .job:
      return false
    }
    return true
  }

  /// `show node [LIST]`: each name of the host list in turn, `Node NAME not found` (exit 1) for
  /// names other than this machine, as scontrol reads a list.
  static func showNode(_ list: String?, oneLine: Bool, json: Bool) throws {
    let node = try Sinfo.node()
    var names = [node.name]
    if let list {
      do {
        names = try HostList.expand(list)
      } catch {
        if let line = error.rangeLine("scontrol") { Output.stderr(line) }
        Output.stderr("unable to parse node list \(UserText.escaped(list))")
        throw ExitCode(1)
      }
    }
    if json {
      let found = names.filter { $0 == node.name }.map { _ in node }
      Output.print(SinfoJSON.document(found, machine: SinfoMachine.current, meta: SlurmJSON.meta))
    } else {
      let record = ScontrolShow.record(
        ScontrolShow.nodeLines(node, machine: SinfoMachine.current, now: Posix.now()), oneLine: oneLine)
      Output.print(names.map { $0 == node.name ? record : "Node \(UserText.escaped($0)) not found\n" }.joined())
    }
    if names.contains(where: { $0 != node.name }) { throw ExitCode(1) }
  }
}
