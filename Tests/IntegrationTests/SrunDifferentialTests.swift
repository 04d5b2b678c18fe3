import Foundation
import XCTest

/// srun's options, inside a batch job (a step) and outside one (a job of its own), through orch's
/// shim and a real single-node SLURM: what one task on one node honours or has already chosen is
/// accepted, `-l` labels each line, bad values get SLURM's words and exit status.
extension SlurmDifferentialTests {
  /// Options researchers' scripts pass to srun, each followed by the step's own output.
  static let srunAccepted = [
    "--cpu-bind=cores", "--cpu-bind=none", "--cpu-bind=q,cores", "--cpu-bind=map_cpu:0", "--mpi=none", "--mpi=pmi2",
    "--mpi=openmpi",
    "-u", "--kill-on-bad-exit", "--kill-on-bad-exit=1", "-K", "-K1", "-n1", "--ntasks=1", "-N1", "--nodes=1",
    "--exclusive", "--overlap", "--export=ALL,FOO=1", "-c1", "--cpus-per-task=1", "--mem=100M", "--ntasks-per-node=1",
    "--distribution=block", "-m block:cyclic", "--hint=nomultithread", "--threads-per-core=1", "--accel-bind=g",
    "-J myname", "--wait=0", "-W 0", "--quit-on-interrupt", "--propagate", "--propagate=STACK",
    "--nodelist=$SLURMD_NODENAME", "-w $SLURMD_NODENAME", "--jobid=$SLURM_JOB_ID", "--mem-bind=local",
    "--cpu-freq=high", "--ntasks-per-core=1", "-B 1:1:1", "--contiguous", "-s", "-O", "-k", "--time-min=1",
    "--comment=x", "--wckey=x", "-X", "--mincpus=1", "--tmp=1", "--profile=none", "--acctg-freq=10",
    "--gpu-bind=closest", "--gres-flags=enforce-binding", "--spread-job", "--use-min-nodes", "--switches=1",
    "--exact", "--compress", "-r0", "--send-libs=no", "--reservation=r1", "--licenses=a", "-E",
  ]

  /// Values SLURM refuses (or warns about) inside a job, in words orch repeats.
  static let srunRefused = [
    "--cpu-bind=bogus", "--hint=bogus", "--distribution=bogus", "--threads-per-core=x", "--accel-bind=z",
    "--propagate=BOGUS", "--wait=x", "--exclude=$SLURMD_NODENAME", "--cpus-per-task=2", "--begin=now",
    "--nodelist=$SLURMD_NODENAME,orch-other-node",
  ]

  /// Timing, not semantics: srun outside a job says so while its job waits for the CPUs the
  /// previous one is still giving back.
  static func withoutQueueNotices(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).filter {
      !($0.hasPrefix("srun: job ")
        && ($0.hasSuffix(" queued and waiting for resources")
          || $0.hasSuffix(" has been allocated resources")))
    }.joined(separator: "\n")
  }

  func testSrunOptionsMatchRealSlurm() throws {
    let slurm = try RealSlurm.find()
    func loop(_ options: [String]) -> String {
      var script = "#!/bin/bash\n"
      for option in options {
        script += "echo \"== \(option.replacingOccurrences(of: "$", with: "\\$"))\"\n"
        script += "srun \(option) bash -c 'echo ok; echo err >&2'; echo \"rc=$?\"\n"
      }
      return script
    }
    let cases = [
      Case(
        name: "srun_outside_a_job",
        known: [
          Known(
            key: "srun -M orch", orch: "exit 0: ok\n|err\n",
            slurm:
              "exit 1: |srun: error: Problem talking to database\nsrun: error: 'orch' can't be reached now, or it is an invalid entry for --cluster.  Use 'sacctmgr list clusters' to see available clusters.\n",
            why: "orch is the cluster orch (SlurmClusters); the real one has no database to name clusters")
        ]
      ) { r in
        // Outside a job srun is a job of its own: the job's options go to sbatch's checks.
        for option in [
          ["-l"], ["--label", "-u", "-K", "-n1", "-N1", "--cpu-bind=cores", "--mpi=pmi2", "--exclusive"],
          ["--nodelist=\(r.node)"], ["--hint=nomultithread"], ["--distribution=block:block"], ["--propagate"],
          ["--exclude=\(r.node)"], ["--reservation=r1"], ["--licenses=a"], ["--cpu-bind=bogus"], ["-M", "orch"],
        ] {
          let t = try r.tool("srun", option + ["bash", "-c", "echo ok; echo err >&2"])
          r.record["srun \(option.joined(separator: " ").replacingOccurrences(of: r.node, with: "<node>"))"] =
            "exit \(t.code): \(r.mask(t.out))|\(r.mask(Self.withoutQueueNotices(t.err)))"
        }
        try r.sbatch(["--parsable", "--wrap", "true"])
      },
      Case(
        name: "srun_options_in_a_job",
        known: [
          Known(
            key: "file differs.out",
            orch: """
              == --mpi=bogus
              srun: error: Invalid MPI type 'bogus', --mpi=list for acceptable types
              rc=1
              == --exclude=orch-no-such-node
              ok
              err
              rc=0
              == -M orch
              ok
              err
              rc=0
              == --mpi=pmix
              ok
              err
              rc=0
              == --gres=gpu:1
              ok
              err
              rc=0

              """,
            slurm: """
              == --mpi=bogus
              srun: error: Couldn't find the specified plugin name for mpi/bogus looking at all files
              srun: error: cannot find mpi plugin for mpi/bogus
              srun: error: MPI: Cannot create context for mpi/bogus
              srun: error: MPI: Unable to load any plugin
              srun: error: Invalid MPI type 'bogus', --mpi=list for acceptable types
              rc=1
              == --exclude=orch-no-such-node
              srun: error: Unable to create step for job <job id>: Requested node configuration is not available
              rc=1
              == -M orch
              srun: error: Problem talking to database
              srun: error: 'orch' can't be reached now, or it is an invalid entry for --cluster.  Use 'sacctmgr list clusters' to see available clusters.
              rc=1
              == --mpi=pmix
              srun: error:  mpi/pmix_v4: init: (null) [0]: mpi_pmix.c:195: pmi/pmix: can not load PMIx library
              srun: error: Couldn't load specified plugin name for mpi/pmix: Plugin init() callback failed
              srun: error: MPI: Cannot create context for mpi/pmix
              srun: error: MPI: Unable to load any plugin
              srun: error: Invalid MPI type 'pmix', --mpi=list for acceptable types
              rc=1
              == --gres=gpu:1
              srun: error: Invalid generic resource (gres) specification
              rc=1

              """,
            why:
              "an unknown --mpi gets SLURM's last line only (orch loads no plugins, and one task needs no PMIx); excluding a node orch does not have is accepted as sbatch accepts it; orch is the cluster orch; the step sees the job's GPUs (this SLURM has no GRES)"
          )
        ]
      ) { r in
        try r.write("accepted.sbatch", loop(Self.srunAccepted))
        try r.write("refused.sbatch", loop(Self.srunRefused))
        try r.write(
          "label.sbatch",
          """
          #!/bin/bash
          srun -l bash -c 'echo a; echo b >&2; printf "no newline"'; echo "rc=$?"
          srun --label --output=labelled-%j.out bash -c 'echo a; echo b >&2; printf "no newline"'; echo "rc=$?"
          srun -l --output=out-%j.out --error=err-%j.out bash -c 'echo a; echo b >&2'; echo "rc=$?"
          srun -l bash -c 'exit 3'; echo "rc=$?"
          srun -K bash -c 'kill -TERM $$'; echo "rc=$?"
          srun -K0 bash -c 'exit 3'; echo "rc=$?"
          srun --kill-on-bad-exit=1 bash -c 'exit 3'; echo "rc=$?"
          srun -K bash -c 'exit 0'; echo "rc=$?"
          SLURM_KILL_BAD_EXIT=1 srun bash -c 'exit 3'; echo "rc=$?"
          srun bash -c 'kill -TERM $$'; echo "rc=$?"

          """)
        try r.sbatch(["--parsable", "-o", "accepted.out", "accepted.sbatch"])
        try r.sbatch(["--parsable", "-o", "refused.out", "refused.sbatch"])
        try r.sbatch(["--parsable", "-o", "label.out", "label.sbatch"])
        try r.write(
          "differs.sbatch",
          loop(["--mpi=bogus", "--exclude=orch-no-such-node", "-M orch", "--mpi=pmix", "--gres=gpu:1"]))
        try r.sbatch(["--parsable", "-o", "differs.out", "differs.sbatch"])
      },
    ]
    try compare(cases, slurm: slurm)
  }
}
