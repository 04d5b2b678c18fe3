/// sbatch's option table. It lists every option real sbatch knows (SLURM's
/// `common_options` as built for sbatch), not only those orch honours: getopt_long's abbreviation
/// rules depend on the whole table (`--ex` is ambiguous only because `--exclude`, `--export`, …
/// exist), and an option SLURM knows but orch cannot honour deserves a clearer error than
/// "unrecognized".
public enum SbatchOptions {
  /// sbatch's `+` option string: the first operand (the script) ends the options.
  public static let getopt = Getopt(tool: "sbatch", options: table)

  /// In SLURM's table order, which is the order getopt_long lists ambiguous possibilities in.
  static let table: [GetoptOption] = [
    .init("account", "A"), .init("acctg-freq"), .init("array", "a"), .init("autocomplete"),
    .init("batch"), .init("begin", "b"), .init("bb"), .init("bbf"), .init("cluster-constraint"),
    .init("chdir", "D"), .init("cluster"), .init("clusters", "M"), .init("comment"),
    .init("container"), .init("container-id"), .init("context"), .init("contiguous", nil, .none),
    .init("constraint", "C"), .init("core-spec", "S"), .init("cores-per-socket"),
    .init("cpu-freq"), .init("cpus-per-gpu"), .init("cpus-per-task", "c"), .init("deadline"),
    .init("delay-boot"), .init("dependency", "d"), .init("distribution", "m"),
    .init("error", "e"), .init("exclude", "x"), .init("exclusive", nil, .optional),
    .init("export"), .init("export-file"), .init("extra"), .init("extra-node-info", "B"),
    .init("get-user-env", nil, .optional), .init("gid"), .init("gpu-bind"), .init("gpu-freq"),
    .init("gpus", "G"), .init("gpus-per-node"), .init("gpus-per-socket"),
    .init("gpus-per-task"), .init("gres"), .init("gres-flags"), .init("help", "h", .none),
    .init("hint"), .init("hold", "H", .none), .init("ignore-pbs", nil, .none),
    .init("input", "i"), .init("job-name", "J"), .init("kill-on-invalid-dep"),
    .init("licenses", "L"), .init("mail-type"), .init("mail-user"), .init("mcs-label"),
    .init("mem"), .init("mem-bind"), .init("mem-per-cpu"), .init("mem-per-gpu"),
    .init("mincpus"), .init("network"), .init("nice", nil, .optional),
    .init("no-kill", "k", .optional), .init("no-requeue", nil, .none), .init("nodefile", "F"),
    .init("nodelist", "w"), .init("nodes", "N"), .init("ntasks", "n"),
    .init("ntasks-per-core"), .init("ntasks-per-gpu"), .init("ntasks-per-node"),
    .init("ntasks-per-socket"), .init("ntasks-per-tres"), .init("open-mode"),
    .init("output", "o"), .init("overcommit", "O", .none), .init("oversubscribe", "s", .none),
    .init("parsable", nil, .none), .init("partition", "p"), .init("prefer"), .init("priority"),
    .init("profile"), .init("propagate", nil, .optional), .init("qos", "q"),
    .init("quiet", "Q", .none), .init("reboot", nil, .none), .init("requeue", nil, .none),
    .init("reservation"), .init("segment"), .init("signal"), .init("sockets-per-node"),
    .init("spread-job", nil, .none), .init("stepmgr", nil, .none), .init("switches"),
    .init("tasks-per-node", key: "ntasks-per-node"), .init("test-only", nil, .none),
    .init("thread-spec"), .init("threads-per-core"), .init("time", "t"), .init("time-min"),
    .init("tmp"), .init("tres-bind"), .init("tres-per-task"), .init("uid"),
    .init("use-min-nodes", nil, .none), .init("verbose", "v", .none),
    .init("version", "V", .none), .init("usage", nil, .none), .init("wait", "W", .none),
    .init("wait-all-nodes"), .init("wckey"), .init("wrap"),
  ]
}
