import Foundation
import GRDB

/// Versioned migrations. Append a new `registerMigration` for every change; never edit a shipped one.
enum Schema {
  static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1") { db in
      try db.execute(
        sql: """
          CREATE TABLE sweeps(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL
          );
          -- One submission: a SLURM array (or a single job). Its id is the array's job id.
          CREATE TABLE arrays(
            id INTEGER PRIMARY KEY,
            sweep_id INTEGER REFERENCES sweeps(id),
            name TEXT NOT NULL,
            source TEXT NOT NULL,
            is_array INTEGER NOT NULL,
            throttle INTEGER,
            running INTEGER NOT NULL DEFAULT 0,
            dependency TEXT,
            dep_or INTEGER NOT NULL DEFAULT 0,
            kill_on_invalid_dep INTEGER NOT NULL DEFAULT 0,
            launch TEXT NOT NULL,
            -- A job's run directory is output_root/key: derived, not stored per job.
            output_root TEXT NOT NULL,
            -- Its jobs are ids [id, id + size): queries by array are rowid ranges, no index needed.
            size INTEGER NOT NULL,
            submit_time REAL NOT NULL
          );
          CREATE INDEX arrays_sweep ON arrays(sweep_id);
          CREATE INDEX arrays_name ON arrays(name);
          CREATE TABLE jobs(
            id INTEGER PRIMARY KEY,
            array_id INTEGER NOT NULL REFERENCES arrays(id),
            array_index INTEGER,
            key TEXT NOT NULL,
            config_hash TEXT NOT NULL,
            -- First 8 bytes of the hash: a small integer index instead of one over 64-char text.
            hash_key INTEGER NOT NULL,
            config TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT,
            ready INTEGER NOT NULL DEFAULT 1,
            priority INTEGER NOT NULL DEFAULT 0,
            cpus INTEGER NOT NULL DEFAULT 1,
            time_limit INTEGER,
            mem_limit INTEGER,
            max_attempts INTEGER NOT NULL DEFAULT 1,
            tries INTEGER NOT NULL DEFAULT 0,
            attempt INTEGER NOT NULL DEFAULT 0,
            exit_code INTEGER,
            signal INTEGER,
            submit_time REAL NOT NULL,
            start_time REAL,
            end_time REAL
          );
          CREATE INDEX jobs_claim ON jobs(priority DESC, id) WHERE state = 'PENDING' AND ready = 1;
          CREATE INDEX jobs_waiting ON jobs(array_id) WHERE state = 'PENDING' AND ready = 0;
          CREATE INDEX jobs_hash ON jobs(hash_key);
          CREATE INDEX jobs_running ON jobs(id) WHERE state = 'RUNNING';
          CREATE TABLE attempts(
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            attempt INTEGER NOT NULL,
            state TEXT NOT NULL,
            reason TEXT,
            exit_code INTEGER,
            signal INTEGER,
            start_time REAL NOT NULL,
            end_time REAL,
            worker_pid INTEGER,
            cpus TEXT,
            PRIMARY KEY(job_id, attempt)
          ) WITHOUT ROWID;
          -- A term of an array's dependency (AND unless arrays.dep_or). job_id set = only that element.
          CREATE TABLE dependencies(
            id INTEGER PRIMARY KEY,
            array_id INTEGER NOT NULL REFERENCES arrays(id),
            job_id INTEGER REFERENCES jobs(id),
            kind TEXT NOT NULL,
            target_array INTEGER,
            target_index INTEGER,
            delay_minutes INTEGER
          );
          CREATE INDEX dependencies_array ON dependencies(array_id);
          CREATE INDEX dependencies_target ON dependencies(target_array);
          CREATE TABLE events(
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            attempt INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            payload TEXT NOT NULL,
            time REAL NOT NULL,
            PRIMARY KEY(job_id, attempt, seq)
          ) WITHOUT ROWID;
          CREATE TABLE metrics(
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            attempt INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            name TEXT NOT NULL,
            value REAL NOT NULL,
            step INTEGER,
            epoch INTEGER,
            final INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY(job_id, attempt, seq, name)
          ) WITHOUT ROWID;
          CREATE TABLE checkpoints(
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            epoch INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            path TEXT NOT NULL,
            bytes INTEGER,
            sha256 TEXT,
            time REAL NOT NULL,
            PRIMARY KEY(job_id, epoch)
          ) WITHOUT ROWID;
          CREATE TABLE artifacts(
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            name TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            path TEXT NOT NULL,
            time REAL NOT NULL,
            PRIMARY KEY(job_id, name)
          ) WITHOUT ROWID;
          """)
    }
    // `sbatch -H`/`scontrol hold`: a held job also has ready = 0, so it stays off the claim index
    // and `held` keeps the dependency check from making it ready; release recomputes ready.
    migrator.registerMigration("v2") { db in
      try db.execute(
        sql: """
          ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
          CREATE INDEX jobs_held ON jobs(id) WHERE held = 1;
          """)
    }
    // The SLURM backend (`orch submit --backend slurm`): a job SLURM runs has backend 'slurm' and
    // the SLURM element of its current attempt (`1234_5`); the local daemon never claims, checks
    // or recovers it. An array keeps the sbatch options it was submitted with, for `orch retry`.
    migrator.registerMigration("v3") { db in
      try db.execute(
        sql: """
          ALTER TABLE jobs ADD COLUMN backend TEXT;
          ALTER TABLE jobs ADD COLUMN slurm_id TEXT;
          ALTER TABLE arrays ADD COLUMN slurm_options TEXT;
          CREATE INDEX jobs_slurm_active ON jobs(id) WHERE backend = 'slurm' AND state IN ('PENDING', 'RUNNING');
          """)
    }
    // Every table STRICT (a value of the wrong type is an error, not silently stored) and every
    // state checked, so no path can write a state the rest of the code cannot read; and the cancel
    // intent (`orch cancel`, scancel) as a column that `finish` honours whoever reports the end.
    migrator.registerMigration("v4") { db in
      let states = "'PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY'"
      // An attempt taken back before its process started is REVOKED: its number is never reused.
      let attemptStates = "'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'REVOKED'"
      try db.execute(
        sql: """
          CREATE TABLE new_sweeps(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL
          ) STRICT;
          CREATE TABLE new_arrays(
            id INTEGER PRIMARY KEY,
            sweep_id INTEGER REFERENCES sweeps(id),
            name TEXT NOT NULL,
            source TEXT NOT NULL,
            is_array INTEGER NOT NULL CHECK (is_array IN (0, 1)),
            throttle INTEGER,
            running INTEGER NOT NULL DEFAULT 0,
            dependency TEXT,
            dep_or INTEGER NOT NULL DEFAULT 0 CHECK (dep_or IN (0, 1)),
            kill_on_invalid_dep INTEGER NOT NULL DEFAULT 0 CHECK (kill_on_invalid_dep IN (0, 1)),
            launch TEXT NOT NULL,
            output_root TEXT NOT NULL,
            size INTEGER NOT NULL CHECK (size >= 0),
            submit_time REAL NOT NULL,
            slurm_options TEXT
          ) STRICT;
          CREATE TABLE new_jobs(
            id INTEGER PRIMARY KEY,
            array_id INTEGER NOT NULL REFERENCES arrays(id),
            array_index INTEGER,
            key TEXT NOT NULL,
            config_hash TEXT NOT NULL,
            hash_key INTEGER NOT NULL,
            config TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN (\(states))),
            reason TEXT,
            ready INTEGER NOT NULL DEFAULT 1 CHECK (ready IN (0, 1)),
            priority INTEGER NOT NULL DEFAULT 0,
            cpus INTEGER NOT NULL DEFAULT 1 CHECK (cpus >= 1),
            time_limit INTEGER,
            mem_limit INTEGER,
            max_attempts INTEGER NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
            tries INTEGER NOT NULL DEFAULT 0,
            attempt INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
            exit_code INTEGER,
            signal INTEGER,
            submit_time REAL NOT NULL,
            start_time REAL,
            end_time REAL,
            held INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1)),
            backend TEXT CHECK (backend IS NULL OR backend = 'slurm'),
            slurm_id TEXT,
            -- Set by a cancel of a RUNNING job, in the canceller's transaction; `finish` makes the
            -- attempt's end CANCELLED (never a requeue), whoever reports it.
            cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
            CHECK (cancel_requested = 0 OR state = 'RUNNING')
          ) STRICT;
          CREATE TABLE new_attempts(
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            attempt INTEGER NOT NULL CHECK (attempt >= 1),
            state TEXT NOT NULL CHECK (state IN (\(attemptStates))),
            reason TEXT,
            exit_code INTEGER,
            signal INTEGER,
            start_time REAL NOT NULL,
            end_time REAL,
            worker_pid INTEGER,
            cpus TEXT,
            PRIMARY KEY(job_id, attempt)
          ) STRICT, WITHOUT ROWID;
          CREATE TABLE new_dependencies(
            id INTEGER PRIMARY KEY,
            array_id INTEGER NOT NULL REFERENCES arrays(id),
            job_id INTEGER REFERENCES jobs(id),
            kind TEXT NOT NULL,
            target_array INTEGER,
            target_index INTEGER,
            delay_minutes INTEGER
          ) STRICT;
          CREATE TABLE new_events(
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            attempt INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            payload TEXT NOT NULL,
            time REAL NOT NULL,
            PRIMARY KEY(job_id, attempt, seq)
          ) STRICT, WITHOUT ROWID;
          CREATE TABLE new_metrics(
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            attempt INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            name TEXT NOT NULL,
            value REAL NOT NULL,
            step INTEGER,
            epoch INTEGER,
            final INTEGER NOT NULL DEFAULT 0 CHECK (final IN (0, 1)),
            PRIMARY KEY(job_id, attempt, seq, name)
          ) STRICT, WITHOUT ROWID;
          CREATE TABLE new_checkpoints(
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            epoch INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            path TEXT NOT NULL,
            bytes INTEGER,
            sha256 TEXT,
            time REAL NOT NULL,
            PRIMARY KEY(job_id, epoch)
          ) STRICT, WITHOUT ROWID;
          CREATE TABLE new_artifacts(
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            name TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            path TEXT NOT NULL,
            time REAL NOT NULL,
            PRIMARY KEY(job_id, name)
          ) STRICT, WITHOUT ROWID;
          INSERT INTO new_sweeps SELECT id, name, created_at FROM sweeps;
          INSERT INTO new_arrays SELECT id, sweep_id, name, source, is_array, throttle, running, dependency, dep_or,
            kill_on_invalid_dep, launch, output_root, size, submit_time, slurm_options FROM arrays;
          INSERT INTO new_jobs SELECT id, array_id, array_index, key, config_hash, hash_key, config, state, reason,
            ready, priority, cpus, time_limit, mem_limit, max_attempts, tries, attempt, exit_code, signal,
            submit_time, start_time, end_time, held, backend, slurm_id, 0 FROM jobs;
          INSERT INTO new_attempts SELECT job_id, attempt, state, reason, exit_code, signal, start_time, end_time,
            worker_pid, cpus FROM attempts;
          INSERT INTO new_dependencies SELECT id, array_id, job_id, kind, target_array, target_index, delay_minutes
            FROM dependencies;
          INSERT INTO new_events SELECT job_id, attempt, seq, type, payload, time FROM events;
          INSERT INTO new_metrics SELECT job_id, attempt, seq, name, value, step, epoch, final FROM metrics;
          INSERT INTO new_checkpoints SELECT job_id, epoch, attempt, path, bytes, sha256, time FROM checkpoints;
          INSERT INTO new_artifacts SELECT job_id, name, attempt, path, time FROM artifacts;
          DROP TABLE artifacts; DROP TABLE checkpoints; DROP TABLE metrics; DROP TABLE events;
          DROP TABLE dependencies; DROP TABLE attempts; DROP TABLE jobs; DROP TABLE arrays; DROP TABLE sweeps;
          ALTER TABLE new_sweeps RENAME TO sweeps;
          ALTER TABLE new_arrays RENAME TO arrays;
          ALTER TABLE new_jobs RENAME TO jobs;
          ALTER TABLE new_attempts RENAME TO attempts;
          ALTER TABLE new_dependencies RENAME TO dependencies;
          ALTER TABLE new_events RENAME TO events;
          ALTER TABLE new_metrics RENAME TO metrics;
          ALTER TABLE new_checkpoints RENAME TO checkpoints;
          ALTER TABLE new_artifacts RENAME TO artifacts;
          CREATE INDEX arrays_sweep ON arrays(sweep_id);
          CREATE INDEX arrays_name ON arrays(name);
          CREATE INDEX jobs_claim ON jobs(priority DESC, id) WHERE state = 'PENDING' AND ready = 1;
          CREATE INDEX jobs_waiting ON jobs(array_id) WHERE state = 'PENDING' AND ready = 0;
          CREATE INDEX jobs_hash ON jobs(hash_key);
          CREATE INDEX jobs_running ON jobs(id) WHERE state = 'RUNNING';
          CREATE INDEX jobs_held ON jobs(id) WHERE held = 1;
          CREATE INDEX jobs_slurm_active ON jobs(id) WHERE backend = 'slurm' AND state IN ('PENDING', 'RUNNING');
          CREATE INDEX dependencies_array ON dependencies(array_id);
          CREATE INDEX dependencies_target ON dependencies(target_array);
          """)
    }
    // A foreground `orch run` owns its job's attempt itself, not a pool worker: the daemon never
    // claims, adopts or recovers it. The owner holds an exclusive flock on `lock` while it runs the
    // attempt (the kernel drops it when the process dies, even by kill -9); `job_pid`/`job_start`
    // name a command config's process group (its leader's /proc start time guards pid reuse).
    migrator.registerMigration("v5") { db in
      try db.execute(
        sql: """
          CREATE TABLE foreground(
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            attempt INTEGER NOT NULL CHECK (attempt >= 1),
            pid INTEGER NOT NULL,
            lock TEXT NOT NULL,
            job_pid INTEGER,
            job_start INTEGER,
            PRIMARY KEY(job_id, attempt)
          ) STRICT, WITHOUT ROWID;
          """)
    }
    // A dependency on elements of an array is one row per range (`12_[0-3999999]` is one row, not
    // four million): target_first..target_last every target_step, all NULL for the whole target.
    // The one-row-per-element terms of older stores are merged into runs of consecutive elements,
    // which the daemon evaluates exactly as it did the separate rows. Stored values are copied as
    // they are (the daemon never traps on them), so no odd old row can make this migration fail.
    migrator.registerMigration("v6") { db in
      try db.execute(
        sql: """
          CREATE TABLE new_dependencies(
            id INTEGER PRIMARY KEY,
            array_id INTEGER NOT NULL REFERENCES arrays(id),
            job_id INTEGER REFERENCES jobs(id),
            kind TEXT NOT NULL,
            target_array INTEGER,
            target_first INTEGER,
            target_last INTEGER,
            target_step INTEGER,
            delay_minutes INTEGER,
            CHECK ((target_first IS NULL AND target_last IS NULL AND target_step IS NULL)
              OR (target_last >= target_first AND target_step >= 1))
          ) STRICT;
          INSERT INTO new_dependencies(id, array_id, job_id, kind, target_array, target_first, target_last, target_step,
            delay_minutes)
          SELECT id, array_id, job_id, kind, target_array, NULL, NULL, NULL, delay_minutes
            FROM dependencies WHERE target_index IS NULL;
          INSERT INTO new_dependencies(id, array_id, job_id, kind, target_array, target_first, target_last, target_step,
            delay_minutes)
          SELECT MIN(id), array_id, job_id, kind, target_array, MIN(target_index), MAX(target_index), 1, delay_minutes
          FROM (
            SELECT id, array_id, job_id, kind, target_array, target_index, delay_minutes,
              target_index - DENSE_RANK() OVER (
                PARTITION BY array_id, job_id, kind, target_array, delay_minutes ORDER BY target_index) AS run
            FROM dependencies WHERE target_index IS NOT NULL)
          GROUP BY array_id, job_id, kind, target_array, delay_minutes, run;
          DROP TABLE dependencies;
          ALTER TABLE new_dependencies RENAME TO dependencies;
          CREATE INDEX dependencies_array ON dependencies(array_id);
          CREATE INDEX dependencies_target ON dependencies(target_array);
          """)
    }
    // GPUs and memory as scheduled resources: a job asks for `gpus` devices (of `gpu_type` when
    // set; `gpus_shared` lets it share them with other such jobs), and each attempt records the
    // devices it was given, as it records its cores.
    migrator.registerMigration("v7") { db in
      try db.execute(
        sql: """
          ALTER TABLE jobs ADD COLUMN gpus INTEGER NOT NULL DEFAULT 0 CHECK (gpus >= 0);
          ALTER TABLE jobs ADD COLUMN gpu_type TEXT;
          ALTER TABLE jobs ADD COLUMN gpus_shared INTEGER NOT NULL DEFAULT 0 CHECK (gpus_shared IN (0, 1));
          ALTER TABLE attempts ADD COLUMN gpus TEXT;
          """)
    }
    // SLURM's schedule of a job: `begin_time` (sbatch --begin, scontrol requeue's delay,
    // `scontrol update StartTime=`) is when it may start at the earliest — the claim skips it
    // before then; `nice` is sbatch --nice, already subtracted from `priority`.
    migrator.registerMigration("v8") { db in
      try db.execute(
        sql: """
          ALTER TABLE jobs ADD COLUMN begin_time REAL;
          ALTER TABLE jobs ADD COLUMN nice INTEGER NOT NULL DEFAULT 0;
          CREATE INDEX jobs_begin ON jobs(begin_time) WHERE state = 'PENDING' AND begin_time IS NOT NULL;
          """)
    }
    // `orch queue` groups pending jobs by array, reason and backend in SQL: this partial index holds
    // exactly those columns, so a million pending elements are one index scan and no sort. Listings
    // ask whether any job of theirs ran on SLURM (their SLURM column) through `jobs_slurm`.
    migrator.registerMigration("v9") { db in
      try db.execute(
        sql: """
          CREATE INDEX jobs_pending ON jobs(array_id, reason, backend, array_index) WHERE state = 'PENDING';
          CREATE INDEX jobs_slurm ON jobs(id) WHERE backend = 'slurm';
          """)
    }
    // A CHECK of `state IN (7 names)` made SQLite build a temporary b-tree of the names on every
    // INSERT or UPDATE of the row (lists of more than two constants are looked up in an ephemeral
    // table, built once per statement run): ~3 µs of a ~9 µs row in a bulk submission, and on every
    // state change. The same constraint as a chain of comparisons costs nothing of the kind. The
    // tables are rebuilt from their own stored definitions with only that CHECK rewritten, so every
    // other column, constraint, index and row stays as it was.
    migrator.registerMigration("v10") { db in
      // A million jobs take ~15 s, once: said, so the first command after the upgrade is not a
      // silent pause.
      let jobs = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs") ?? 0
      if jobs >= 100_000 {
        FileHandle.standardError.write(
          Data("orch: upgrading the store's tables of \(jobs) jobs (once, about 15 s per million)...\n".utf8))
      }
      try Schema.rewriteStateCheck(db, table: "jobs", states: Schema.jobStates)
      try Schema.rewriteStateCheck(db, table: "attempts", states: Schema.attemptStates)
    }
    return migrator
  }

  static let jobStates = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY"]
  static let attemptStates = ["RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "REVOKED"]

  /// Rebuilds `table` (SQLite's twelve-step procedure; the migrator runs with foreign keys off and
  /// checks them after) with `CHECK (state IN (…))` as `CHECK (state = … OR …)`.
  static func rewriteStateCheck(_ db: Database, table: String, states: [String]) throws {
    guard
      let sql = try String.fetchOne(
        db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", arguments: [table])
    else { throw StoreError("migration v10: no table \(table)") }
    let list = "CHECK (state IN (" + states.map { "'\($0)'" }.joined(separator: ", ") + "))"
    let chain = "CHECK (" + states.map { "state = '\($0)'" }.joined(separator: " OR ") + ")"
    let head = ["CREATE TABLE \"\(table)\"(", "CREATE TABLE \(table)("].first { sql.hasPrefix($0) }
    guard let head, sql.components(separatedBy: list).count == 2 else {
      throw StoreError("migration v10: unexpected definition of \(table): \(sql)")
    }
    let rebuilt = "CREATE TABLE new_\(table)(" + sql.dropFirst(head.count).replacingOccurrences(of: list, with: chain)
    let indexes = try String.fetchAll(
      db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name",
      arguments: [table])
    try db.execute(sql: rebuilt)
    try db.execute(sql: "INSERT INTO new_\(table) SELECT * FROM \(table)")
    try db.execute(sql: "DROP TABLE \(table)")
    try db.execute(sql: "ALTER TABLE new_\(table) RENAME TO \(table)")
    for index in indexes { try db.execute(sql: index) }
  }
}
