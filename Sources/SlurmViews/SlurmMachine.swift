import Foundation
import Operations

/// The host and user SLURM's clients name in their records: orch's jobs all run here, as this user.
public enum SlurmMachine {
  public static var host: String {
    ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
  }

  public static var user: String { SbatchSubmit.userName() }
}
