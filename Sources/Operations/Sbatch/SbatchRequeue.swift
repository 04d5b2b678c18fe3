import GRDB
import Store
import Worker

/// SLURM's `--requeue`/`--no-requeue` where orch has their occasions: a job whose worker was
/// lost (orch's node failure) is requeued from the start under the same id unless it was
/// submitted with `--no-requeue`; `scontrol requeue` refuses such a job (`Scontrol`).
public enum SbatchRequeue {
  /// Called with the job just recorded FAILED (`WorkerLost`); true if it went back to PENDING.
  public static func afterLostWorker(_ db: Database, _ jobID: Int64) throws -> Bool {
    guard
      let arrayID = try Int64.fetchOne(
        db.cachedStatement(sql: "SELECT array_id FROM jobs WHERE id = ?"), arguments: [jobID]),
      let launch = try? LaunchSpec.decode(JobStore.launch(db, arrayID: arrayID)), launch.requeue == true
    else { return false }
    return try JobStore.requeueFinished(db, jobID: jobID)
  }
}
