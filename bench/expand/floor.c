// bench/expand/floor.c: the SQLite floor of storing a million jobs, through the C API with
// nothing else running: orch's own `jobs` row (schema read from a fresh store, the 18 values
// Submission.insert binds) against the 5-column row of bench/expand's Python peer. The rows
// are the bench's grid (key, canonical JSON, a 64-hex hash) made with snprintf.
//
// Usage: floor DB SCHEMA.sql MODE N
//   MODE indexed  every index of the store kept up to date row by row (a small submission)
//   MODE bulk     jobs_hash, jobs_claim and jobs_pending dropped and built again after the rows
//                 (what orch does for a large submission into a small store)
//   MODE python   the Python peer's table: id, key, hash, config, state; no index
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static double wall(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) { perror(path); exit(1); }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *b = malloc(n + 1);
  if (fread(b, 1, n, f) != (size_t)n) { perror(path); exit(1); }
  b[n] = 0;
  fclose(f);
  return b;
}

static void exec(sqlite3 *db, const char *sql) {
  char *err = 0;
  if (sqlite3_exec(db, sql, 0, 0, &err) != SQLITE_OK) { fprintf(stderr, "%s: %s\n", sql, err); exit(1); }
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: floor DB SCHEMA.sql indexed|bulk|python N\n"); return 2; }
  const char *mode = argv[3];
  int python = strcmp(mode, "python") == 0, bulk = strcmp(mode, "bulk") == 0;
  if (!python && !bulk && strcmp(mode, "indexed") != 0) {
    fprintf(stderr, "floor: unknown mode '%s': expected indexed, bulk or python\n", mode);
    return 2;
  }
  char *end;
  long n = strtol(argv[4], &end, 10);
  if (*argv[4] == 0 || *end != 0 || n < 1 || n > 100000000) {
    fprintf(stderr, "floor: N '%s': expected a row count from 1 to 100000000\n", argv[4]);
    return 2;
  }
  sqlite3 *db;
  if (sqlite3_open(argv[1], &db) != SQLITE_OK) return 1;
  // As JobStore opens a store (python: as the peer's sqlite3 module does, plus the same cache).
  exec(db, "PRAGMA journal_mode = WAL; PRAGMA cache_size = -262144");
  if (!python) exec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
  if (python) {
    exec(db, "CREATE TABLE jobs(id INTEGER PRIMARY KEY, key TEXT, hash TEXT, config TEXT, state TEXT)");
  } else {
    exec(db, slurp(argv[2]));
    exec(db, "INSERT INTO arrays(id, name, source, is_array, launch, output_root, size, submit_time) "
             "VALUES (1, 'grid', 'grid.yaml', 1, '{}', '/tmp/runs', 1, 0)");
  }
  double w0 = wall(), c0 = cpu();
  exec(db, "BEGIN IMMEDIATE");
  if (bulk) exec(db, "DROP INDEX jobs_hash; DROP INDEX jobs_claim; DROP INDEX jobs_pending");
  sqlite3_stmt *s;
  const char *sql = python
    ? "INSERT INTO jobs VALUES (?, ?, ?, ?, 'PENDING')"
    : "INSERT INTO jobs(id, array_id, array_index, key, config_hash, hash_key, config, state, ready, priority, cpus, "
      "time_limit, mem_limit, max_attempts, submit_time, reason, gpus, gpu_type, gpus_shared) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  if (sqlite3_prepare_v2(db, sql, -1, &s, 0) != SQLITE_OK) { fprintf(stderr, "%s\n", sqlite3_errmsg(db)); return 1; }
  char key[128], config[256], hash[65];
  for (long i = 0; i < n; i++) {
    int lr = i / 100000, a = (i / 10000) % 10, b = (i / 100) % 100, seed = i % 100;
    int kl = snprintf(key, sizeof key, "grid/mlp/lr%d/a%d/b%d/seed%d", lr, a, b, seed);
    int cl = snprintf(config, sizeof config,
                      "{\"bindings\":{\"a\":%d,\"b\":%d,\"model.arch\":\"mlp\",\"optimizer.lr\":%d,\"seed\":%d},"
                      "\"command\":[\"/bin/true\",\"--lr\",\"%d\",\"--seed\",\"%d\"],\"env\":{}}",
                      a, b, lr, seed, lr, seed);
    unsigned long long h = (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ull, first = h;
    for (int j = 0; j < 64; j++) {
      hash[j] = "0123456789abcdef"[(h >> ((j % 16) * 4)) & 15];
      if (j % 16 == 15) h = h * 6364136223846793005ull + 1442695040888963407ull;
    }
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, i + 1);
    if (python) {
      sqlite3_bind_text(s, 2, key, kl, SQLITE_STATIC);
      sqlite3_bind_text(s, 3, hash, 64, SQLITE_STATIC);
      sqlite3_bind_text(s, 4, config, cl, SQLITE_STATIC);
    } else {
      sqlite3_bind_int64(s, 2, 1);
      sqlite3_bind_int64(s, 3, i);
      sqlite3_bind_text(s, 4, key, kl, SQLITE_STATIC);
      sqlite3_bind_text(s, 5, hash, 64, SQLITE_STATIC);
      sqlite3_bind_int64(s, 6, (long long)first);
      sqlite3_bind_text(s, 7, config, cl, SQLITE_STATIC);
      sqlite3_bind_int64(s, 8, 1);
      sqlite3_bind_int64(s, 9, 0);
      sqlite3_bind_int64(s, 10, 1);
      sqlite3_bind_null(s, 11);
      sqlite3_bind_null(s, 12);
      sqlite3_bind_int64(s, 13, 1);
      sqlite3_bind_double(s, 14, 1.5);
      sqlite3_bind_null(s, 15);
      sqlite3_bind_int64(s, 16, 0);
      sqlite3_bind_null(s, 17);
      sqlite3_bind_int64(s, 18, 0);
    }
    if (sqlite3_step(s) != SQLITE_DONE) { fprintf(stderr, "row %ld: %s\n", i, sqlite3_errmsg(db)); return 1; }
  }
  sqlite3_finalize(s);
  double rows = wall();
  if (bulk)
    exec(db, "CREATE INDEX jobs_hash ON jobs(hash_key);"
             "CREATE INDEX jobs_claim ON jobs(priority DESC, id) WHERE state = 'PENDING' AND ready = 1;"
             "CREATE INDEX jobs_pending ON jobs(array_id, reason, backend, array_index) WHERE state = 'PENDING'");
  double indexes = wall();
  exec(db, "COMMIT");
  double w1 = wall(), c1 = cpu();
  printf("%-8s %ld rows: %.2f s wall (rows %.2f, indexes %.2f, commit %.2f), %.2f s CPU\n", mode, n, w1 - w0,
         rows - w0, indexes - rows, w1 - indexes, c1 - c0);
  sqlite3_close(db);
  return 0;
}
