import ArgumentParser
import Foundation
import OrchCore

/// Parses the command line, runs the command, and turns errors into one line and an exit code:
/// 2 for bad input (usage, malformed files), 1 for failures while working.
public enum OrchMain {
  public static func run() -> Never {
    BLASThreads.release()
    do {
      // A symlink named `sbatch`, `squeue`… (`orch shims`) runs as `orch sbatch …`.
      let invokedAs = (CommandLine.arguments.first ?? "").split(separator: "/").last.map(String.init) ?? ""
      let arguments = Array(CommandLine.arguments.dropFirst())
      var command = try Orch.parseAsRoot(SlurmTool.names.contains(invokedAs) ? [invokedAs] + arguments : arguments)
      try command.run()
      exit(0)
    } catch let error as OrchError {
      FileHandle.standardError.write(Data("orch: \(error)\n".utf8))
      exit(error.exitCode)
    } catch let error as ExitCode {
      exit(error.rawValue)
    } catch {
      let code = Orch.exitCode(for: error)
      if code == .success || error is CleanExit { Orch.exit(withError: error) }
      // One line, as for every other bad input; --help has the usage.
      let first = Orch.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
      let message = UserText.escaped(first)
      FileHandle.standardError.write(Data("orch: \(message)\n".utf8))
      exit(2)
    }
  }
}

struct Orch: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "orch",
    abstract: "A local research cluster: sweeps in, pinned jobs out, results in one store.",
    discussion: """
      Examples:
        orch configs blk4_shuffle          list the registered configs matching a regex
        orch submit sweeps/ --match demo --wait
        orch queue ; orch history ; orch logs 12_3 -f
      """,
    subcommands: [
      Configs.self, Show.self, BindingsCommand.self, Submit.self, Collect.self, DaemonCommand.self, Queue.self,
      History.self, Cancel.self,
      Retry.self, Logs.self, Metrics.self, Run.self, Results.self, Compare.self, Plot.self, Analyze.self, Derive.self,
      Shims.self, UICommand.self,
    ],
    groupedSubcommands: [
      // SLURM's client commands, as `orch shims` installs them; they speak SLURM's options and messages.
      CommandGroup(
        name: "SLURM",
        subcommands: [
          SbatchCommand.self, Srun.self, Squeue.self, Sacct.self, Scancel.self, Scontrol.self, Sinfo.self,
        ])
    ])
}
