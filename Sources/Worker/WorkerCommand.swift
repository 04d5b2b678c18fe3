import Engine
import Foundation

/// `orch-worker` entry point. `serve` is the daemon's pool worker; the engine adds its modes here.
public enum WorkerCommand {
  static let usage = """
    usage: orch-worker serve --control-fd FD --journal PATH
             Runs as a pool worker of `orch daemon` (started by it, not by hand).
           orch-worker engine --run-dir DIR
             Trains (engine: train) or evaluates (engine: eval) the engine job whose config is
             DIR/config.json; events go to $ORCH_EVENTS_FD.
           orch-worker slurm-task --manifest M [--offset K]
             Runs entry K + $SLURM_ARRAY_TASK_ID of manifest M (`orch submit --backend slurm`).
    """

  public static func main(_ args: [String]) -> Int32 {
    var rest = Array(args.dropFirst())
    guard let mode = rest.first else {
      FileHandle.standardError.write(Data((usage + "\n").utf8))
      return 2
    }
    rest.removeFirst()
    var options: [String: String] = [:]
    var i = 0
    while i + 1 < rest.count, rest[i].hasPrefix("--") {
      options[String(rest[i].dropFirst(2))] = rest[i + 1]
      i += 2
    }
    switch mode {
    case "serve":
      guard let fd = options["control-fd"].flatMap(Int32.init), let journal = options["journal"] else { break }
      do {
        try PoolWorker(controlFD: fd, journalPath: journal).serve()
      } catch {
        FileHandle.standardError.write(Data("orch-worker: \(error)\n".utf8))
        return 1
      }
    case "engine":
      guard let runDir = options["run-dir"] else { break }
      do {
        _ = try EngineJob.run(runDir: runDir)
        return 0
      } catch {
        FileHandle.standardError.write(Data("orch-worker: \(error)\n".utf8))
        return 1
      }
    case "slurm-task":
      guard let manifest = options["manifest"] else { break }
      do {
        return try SlurmTask.run(manifest: manifest, offset: options["offset"].flatMap(Int.init) ?? 0)
      } catch {
        FileHandle.standardError.write(Data("orch-worker: \(error)\n".utf8))
        return 1
      }
    default:
      break
    }
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    return 2
  }
}
