/* schema.c - the database schema and its versions; see schema.h and docs/SCHEMA.md (which shows
   this schema: keep the two together). */
#include "schema.h"

#include <stdio.h>

#include "db.h"

/* The tables of version 1, with the columns version 2 added to snapshots at its end (where
   ALTER TABLE puts them in an upgraded database, so both read alike). */
static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS snapshots (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  label TEXT,\n"
    "  time_ns INTEGER NOT NULL,\n"
    "  pid INTEGER NOT NULL,\n"
    "  traceback_limit INTEGER NOT NULL,\n"
    "  traced_current INTEGER NOT NULL,\n"
    "  traced_peak INTEGER NOT NULL,\n"
    "  tracemalloc_memory INTEGER NOT NULL,\n"
    "  untraced_count INTEGER NOT NULL,\n"
    "  untraced_size INTEGER NOT NULL,\n"
    "  trace_count INTEGER NOT NULL,\n"
    "  trace_size INTEGER NOT NULL,\n"
    "  format_version INTEGER NOT NULL,\n"
    "  source TEXT NOT NULL,\n"
    "  has_traces INTEGER NOT NULL,\n"
    "  start_ns INTEGER,\n"
    "  peak_time_ns INTEGER,\n"
    "  peak_size INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS strings (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  value TEXT NOT NULL UNIQUE);\n"
    "CREATE TABLE IF NOT EXISTS frames (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  filename INTEGER NOT NULL REFERENCES strings,\n"
    "  lineno INTEGER NOT NULL,\n"
    "  function INTEGER REFERENCES strings);\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS frames_identity\n"
    "  ON frames (filename, lineno, coalesce(function, 0));\n"
    "CREATE TABLE IF NOT EXISTS tracebacks (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  nframe INTEGER NOT NULL,\n"
    "  total_nframe INTEGER NOT NULL,\n"
    "  frame_ids TEXT NOT NULL,\n"
    "  sort_key BLOB NOT NULL,\n"
    "  UNIQUE (frame_ids, total_nframe));\n"
    "CREATE TABLE IF NOT EXISTS traceback_frames (\n"
    "  traceback INTEGER NOT NULL REFERENCES tracebacks,\n"
    "  position INTEGER NOT NULL,\n"
    "  frame INTEGER NOT NULL REFERENCES frames,\n"
    "  PRIMARY KEY (traceback, position)) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS groups (\n"
    "  snapshot INTEGER NOT NULL REFERENCES snapshots,\n"
    "  domain INTEGER NOT NULL,\n"
    "  traceback INTEGER NOT NULL REFERENCES tracebacks,\n"
    "  count INTEGER NOT NULL,\n"
    "  size INTEGER NOT NULL,\n"
    "  PRIMARY KEY (snapshot, domain, traceback)) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS traces (\n"
    "  snapshot INTEGER NOT NULL REFERENCES snapshots,\n"
    "  trace INTEGER NOT NULL,\n"
    "  domain INTEGER NOT NULL,\n"
    "  address INTEGER NOT NULL,\n"
    "  size INTEGER NOT NULL,\n"
    "  traceback INTEGER NOT NULL REFERENCES tracebacks,\n"
    "  PRIMARY KEY (snapshot, trace)) WITHOUT ROWID;\n"
    "CREATE VIEW IF NOT EXISTS frame_names AS\n"
    "  SELECT f.id AS id, s.value AS filename, f.lineno AS lineno, n.value AS function\n"
    "  FROM frames f JOIN strings s ON s.id = f.filename LEFT JOIN strings n ON n.id = f.function;\n"
    "CREATE VIEW IF NOT EXISTS statistics_lineno AS\n"
    "  SELECT g.snapshot AS snapshot, fn.filename AS filename, fn.lineno AS lineno,\n"
    "         sum(g.size) AS size, sum(g.count) AS count\n"
    "  FROM groups g\n"
    "  JOIN traceback_frames tf ON tf.traceback = g.traceback AND tf.position = 0\n"
    "  JOIN frame_names fn ON fn.id = tf.frame\n"
    "  GROUP BY g.snapshot, fn.filename, fn.lineno;\n"
    "CREATE VIEW IF NOT EXISTS statistics_filename AS\n"
    "  SELECT g.snapshot AS snapshot, fn.filename AS filename,\n"
    "         sum(g.size) AS size, sum(g.count) AS count\n"
    "  FROM groups g\n"
    "  JOIN traceback_frames tf ON tf.traceback = g.traceback AND tf.position = 0\n"
    "  JOIN frame_names fn ON fn.id = tf.frame\n"
    "  GROUP BY g.snapshot, fn.filename;\n"
    "CREATE VIEW IF NOT EXISTS trace_sites AS\n"
    "  SELECT t.snapshot AS snapshot, t.trace AS trace, t.domain AS domain, t.address AS address,\n"
    "         t.size AS size,\n"
    "         fn.filename AS filename, fn.lineno AS lineno, fn.function AS function\n"
    "  FROM traces t\n"
    "  JOIN traceback_frames tf ON tf.traceback = t.traceback AND tf.position = 0\n"
    "  JOIN frame_names fn ON fn.id = tf.frame;\n";

/* The tables version 2 added; %s is the schema they go in: "main." or, to read a version-1
   database, "temp." (empty stand-ins). */
static const char schema_v2[] =
    "CREATE TABLE IF NOT EXISTS %smodules (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  path TEXT NOT NULL,\n"
    "  build_id TEXT);\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS %smodules_identity ON modules (path, coalesce(build_id, ''));\n"
    "CREATE TABLE IF NOT EXISTS %ssymbols (\n"
    "  module INTEGER NOT NULL REFERENCES modules,\n"
    "  offset INTEGER NOT NULL,\n"
    "  position INTEGER NOT NULL,\n"
    "  frame INTEGER NOT NULL REFERENCES frames,\n"
    "  PRIMARY KEY (module, offset, position)) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS %stimeline (\n"
    "  snapshot INTEGER NOT NULL REFERENCES snapshots,\n"
    "  position INTEGER NOT NULL,\n"
    "  t_ns INTEGER NOT NULL,\n"
    "  traced INTEGER NOT NULL,\n"
    "  rss INTEGER NOT NULL,\n"
    "  PRIMARY KEY (snapshot, position)) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS %speak_groups (\n"
    "  snapshot INTEGER NOT NULL REFERENCES snapshots,\n"
    "  domain INTEGER NOT NULL,\n"
    "  traceback INTEGER NOT NULL REFERENCES tracebacks,\n"
    "  count INTEGER NOT NULL,\n"
    "  size INTEGER NOT NULL,\n"
    "  PRIMARY KEY (snapshot, domain, traceback)) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS %salloc_groups (\n"
    "  snapshot INTEGER NOT NULL REFERENCES snapshots,\n"
    "  domain INTEGER NOT NULL,\n"
    "  traceback INTEGER NOT NULL REFERENCES tracebacks,\n"
    "  count INTEGER NOT NULL,\n"
    "  size INTEGER NOT NULL,\n"
    "  temporaries INTEGER NOT NULL,\n"
    "  PRIMARY KEY (snapshot, domain, traceback)) WITHOUT ROWID;\n";

/* Version 1's snapshots, as version 2 shows them. */
static const char upgrade_snapshots[] =
    "ALTER TABLE snapshots ADD COLUMN start_ns INTEGER;\n"
    "ALTER TABLE snapshots ADD COLUMN peak_time_ns INTEGER;\n"
    "ALTER TABLE snapshots ADD COLUMN peak_size INTEGER;\n";
static const char read_snapshots_v1[] =
    "CREATE TEMP VIEW snapshots AS SELECT *, NULL AS start_ns, NULL AS peak_time_ns,"
    " NULL AS peak_size FROM main.snapshots;\n";

static int sql_failed(sqlite3 *db, char *error, size_t size)
{
    snprintf(error, size, "%s", sqlite3_errmsg(db));
    return -1;
}

/* The schema version of the database: its user_version, or 0 when it has no table yet. */
static int schema_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *stmt;
    int rc = db_prepare(db, &stmt, "SELECT (SELECT user_version FROM pragma_user_version),"
                                   " (SELECT count(*) FROM main.sqlite_schema)");
    if (rc != SQLITE_OK)
        return rc;
    *version = sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_int64(stmt, 1) > 0
             ? sqlite3_column_int(stmt, 0) : 0;
    return sqlite3_finalize(stmt);
}

static int exec_v2(sqlite3 *db, const char *prefix)
{
    char *sql = sqlite3_mprintf(schema_v2, prefix, prefix, prefix, prefix, prefix, prefix);
    int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc;
}

static int newer(char *error, size_t size, int version)
{
    snprintf(error, size, "database schema version %d, this tool knows 1 and %d", version,
             SCHEMA_VERSION);
    return -1;
}

int schema_create(sqlite3 *db, char *error, size_t size)
{
    int version, rc = schema_version(db, &version);
    if (rc == SQLITE_OK && version > SCHEMA_VERSION)
        return newer(error, size, version);
    if (rc == SQLITE_OK && version == 1)
        rc = sqlite3_exec(db, upgrade_snapshots, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, schema_v1, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = exec_v2(db, "main.");
    if (rc == SQLITE_OK && version != SCHEMA_VERSION) {
        char pragmas[128];
        snprintf(pragmas, sizeof pragmas, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                 SCHEMA_APPLICATION_ID, SCHEMA_VERSION);
        rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL);
    }
    return rc == SQLITE_OK ? 0 : sql_failed(db, error, size);
}

int schema_prepare_read(sqlite3 *db, char *error, size_t size)
{
    int version, rc = schema_version(db, &version);
    if (rc == SQLITE_OK && version > SCHEMA_VERSION)
        return newer(error, size, version);
    if (rc == SQLITE_OK && version == 1)
        rc = sqlite3_exec(db, read_snapshots_v1, NULL, NULL, NULL);
    if (rc == SQLITE_OK && version == 1)
        rc = exec_v2(db, "temp.");
    return rc == SQLITE_OK ? 0 : sql_failed(db, error, size);
}
