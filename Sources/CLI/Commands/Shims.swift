import ArgumentParser
import Foundation
import OrchCore

struct Shims: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Install sbatch, srun, squeue, scancel, sacct and scontrol in DIR as links to orch.",
    discussion: """
      With DIR first on PATH, unmodified scripts and SLURM clients (submitit, …) talk to orch.
      Example:
        orch shims ~/.local/orch-slurm && export PATH=~/.local/orch-slurm:$PATH
      """)

  @Argument(help: "The directory to put the links in (created if missing).") var directory: String

  func run() throws {
    let dir = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
    let target = DaemonClient.executablePath()
    do {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    } catch {
      throw OrchError.failure("cannot create \(dir): \(error.localizedDescription)")
    }
    for name in SlurmTool.names {
      let link = dir + "/" + name
      // Replacing our own earlier link is fine; anything else (a real sbatch) is left alone.
      if let existing = try? FileManager.default.destinationOfSymbolicLink(atPath: link) {
        if existing == target { continue }
        unlink(link)
      } else if FileManager.default.fileExists(atPath: link) {
        throw OrchError.failure("\(link) exists and is not a link; remove it or choose another directory")
      }
      if symlink(target, link) != 0 {
        throw OrchError.failure("cannot create \(link): \(String(cString: strerror(errno)))")
      }
    }
    Output.print("installed \(SlurmTool.names.joined(separator: ", ")) in \(dir) (links to \(target))\n")
  }
}
