import Foundation

/// `squeue --json` (openapi v0.0.38, SLURM 22.05): the fields of a job record for what orch does
/// not have — features, reservations, federations, burst buffers, heterogeneous jobs, CPU
/// frequencies, licenses — with the values slurmctld gives a job that asked for none of them, so a
/// client reading any key of SLURM's record finds it.
public enum SqueueJSON {
  public static var absentFeatures: [String: Any] {
    [
      "admin_comment": "", "association_id": 0, "batch_features": "", "burst_buffer": "", "burst_buffer_state": "",
      "cluster_features": "", "comment": "", "container": "", "contiguous": false, "core_spec": NSNull(),
      "cores_per_socket": NSNull(), "cpu_frequency_governor": NSNull(), "cpu_frequency_maximum": NSNull(),
      "cpu_frequency_minimum": NSNull(), "cpus_per_task": NSNull(), "cpus_per_tres": "", "deadline": 0,
      "delay_boot": 0, "excluded_nodes": "", "features": "", "federation_origin": "",
      "federation_siblings_active": "", "federation_siblings_viable": "", "gres_detail": [String](), "het_job_id": 0,
      "het_job_id_set": "", "het_job_offset": 0, "licenses": "", "max_cpus": 0, "max_nodes": 0, "mcs_label": "",
      "memory_per_tres": "", "minimum_tmp_disk_per_node": 0, "pre_sus_time": 0, "preempt_time": 0, "prefer": "",
      "profile": NSNull(), "reboot": false, "required_nodes": "", "resize_time": 0, "resv_name": "",
      "shared": NSNull(), "show_flags": ["SHOW_ALL", "SHOW_DETAIL", "SHOW_LOCAL"], "sockets_per_board": 0,
      "sockets_per_node": NSNull(), "state_description": "", "suspend_time": 0, "system_comment": "",
      "tasks_per_board": 0, "tasks_per_core": NSNull(), "tasks_per_node": 0, "tasks_per_socket": NSNull(),
      "thread_spec": NSNull(), "threads_per_core": NSNull(), "time_minimum": 0, "tres_bind": "", "tres_freq": "",
      "tres_per_job": "", "tres_per_socket": "", "tres_per_task": "", "wckey": "",
    ]
  }
}
