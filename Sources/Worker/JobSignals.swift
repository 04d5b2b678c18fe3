import Foundation
import System

/// Signals to a running job's processes. The job's batch shell leads its own process group, and
/// everything the job started (srun steps included) stays in that group.
public enum JobSignals {
  /// `sbatch --signal`: `B:` to the batch shell only; otherwise to the job's steps — here every
  /// other process of its group. SLURM spares the batch shell then: a shell that does not trap
  /// the signal would die of it and end the job.
  public static func warn(shell: pid_t, _ warning: JobOrder.Warning) {
    if warning.batchOnly {
      kill(shell, warning.signal)
      return
    }
    for pid in Posix.processGroup(shell) where pid != shell { kill(pid, warning.signal) }
  }
}
