/* store.c - schema, loading a dump as a snapshot, opening databases; see store.h and
   docs/SCHEMA.md (which shows this schema; keep the two together). */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "sqlfunc.h"
#include "tracemalloc.h"

/* 'TMDB': marks a database as this tool's, so `load` never writes into someone else's. */
#define STORE_APPLICATION_ID 0x544D4442
#define STORE_SCHEMA_VERSION 1

static const char schema[] =
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
    "  has_traces INTEGER NOT NULL);\n"
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

/* No index is built after a load: the per-block table is clustered on (snapshot, trace), so a
   load appends in key order and a snapshot's blocks are one range. Measured on 1M blocks: a
   rowid table with an index on snapshot built after the load took 1.5x as long for the first
   load, 2.5x for the next ones (which update the index), and 40% more disk. */

static const char *const load_sql[] = {
#define INSERT_SNAPSHOT 0
    "INSERT INTO snapshots (label, time_ns, pid, traceback_limit, traced_current, traced_peak,"
    " tracemalloc_memory, untraced_count, untraced_size, trace_count, trace_size, format_version,"
    " source, has_traces) VALUES (:label, :time_ns, :pid, :traceback_limit, :traced_current,"
    " :traced_peak, :tracemalloc_memory, :untraced_count, :untraced_size, :trace_count,"
    " :trace_size, :format_version, :source, :has_traces)",
#define INSERT_STRING 1
    "INSERT OR IGNORE INTO strings (value) VALUES (:value)",
#define SELECT_STRING 2
    "SELECT id FROM strings WHERE value = :value",
#define INSERT_FRAME 3
    "INSERT OR IGNORE INTO frames (filename, lineno, function) VALUES (:filename, :lineno, :function)",
#define SELECT_FRAME 4
    "SELECT id FROM frames WHERE filename = :filename AND lineno = :lineno"
    " AND coalesce(function, 0) = coalesce(:function, 0)",
#define INSERT_TRACEBACK 5
    "INSERT OR IGNORE INTO tracebacks (nframe, total_nframe, frame_ids, sort_key)"
    " VALUES (:nframe, :total_nframe, :frame_ids, :sort_key)",
#define SELECT_TRACEBACK 6
    "SELECT id FROM tracebacks WHERE frame_ids = :frame_ids AND total_nframe = :total_nframe",
#define INSERT_TRACEBACK_FRAME 7
    "INSERT INTO traceback_frames (traceback, position, frame) VALUES (:traceback, :position, :frame)",
#define INSERT_GROUP 8
    "INSERT INTO groups (snapshot, domain, traceback, count, size)"
    " VALUES (:snapshot, :domain, :traceback, :count, :size)"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count, size = size + excluded.size",
#define INSERT_TRACE 9
    "INSERT INTO traces (snapshot, trace, domain, address, size, traceback)"
    " VALUES (:snapshot, :trace, :domain, :address, :size, :traceback)",
};
#define NLOAD_SQL (sizeof load_sql / sizeof load_sql[0])

/* One load in progress: the dump, its statements, and the database ids of what it has
   inserted so far (0: not yet), indexed by the dump's own ids. */
struct loader {
    sqlite3 *db;
    const struct dump *dump;
    sqlite3_stmt *stmt[NLOAD_SQL];
    int64_t *string_ids, *frame_ids, *traceback_ids;
    int64_t snapshot;
    char *error;
};

static int sql_error(struct loader *l)
{
    snprintf(l->error, STORE_ERROR_SIZE, "%s", sqlite3_errmsg(l->db));
    return -1;
}

/* Steps an INSERT OR IGNORE: returns the new row's id, 0 when the row was already there
   (find it with find_existing) or on an error (*failed is then set). */
static int64_t insert_new(struct loader *l, sqlite3_stmt *insert, int *failed)
{
    int rc = sqlite3_step(insert);
    int64_t id = rc == SQLITE_DONE && sqlite3_changes(l->db) > 0 ? sqlite3_last_insert_rowid(l->db) : 0;
    *failed = rc != SQLITE_DONE;
    sqlite3_reset(insert);
    return id;
}

/* The id of the row a SELECT finds, 0 if none. */
static int64_t find_existing(sqlite3_stmt *select)
{
    int64_t id = sqlite3_step(select) == SQLITE_ROW ? sqlite3_column_int64(select, 0) : 0;
    sqlite3_reset(select);
    return id;
}

/* The database id of the dump's string i: a string already in the database is reused. */
static int64_t map_string(struct loader *l, uint32_t i)
{
    if (l->string_ids[i])
        return l->string_ids[i];
    int failed;
    sqlite3_bind_text(l->stmt[INSERT_STRING], 1, l->dump->strings[i], -1, SQLITE_STATIC);
    int64_t id = insert_new(l, l->stmt[INSERT_STRING], &failed);
    if (!id && !failed) {
        sqlite3_bind_text(l->stmt[SELECT_STRING], 1, l->dump->strings[i], -1, SQLITE_STATIC);
        id = find_existing(l->stmt[SELECT_STRING]);
    }
    return l->string_ids[i] = id;
}

static void bind_frame(sqlite3_stmt *stmt, int64_t filename, uint32_t lineno, int64_t function)
{
    db_bind_int64(stmt, ":filename", filename);
    db_bind_int64(stmt, ":lineno", lineno);
    if (function)
        db_bind_int64(stmt, ":function", function);
    else
        db_bind_null(stmt, ":function");
}

/* The database id of the dump's frame i (its strings mapped first). */
static int64_t map_frame(struct loader *l, uint32_t i)
{
    if (l->frame_ids[i])
        return l->frame_ids[i];
    const struct dump_frame *f = &l->dump->frames[i];
    int64_t filename = map_string(l, f->filename);
    int64_t function = f->function == TM_DUMP_NONE ? 0 : map_string(l, f->function);
    if (!filename || (f->function != TM_DUMP_NONE && !function))
        return 0;
    int failed;
    bind_frame(l->stmt[INSERT_FRAME], filename, f->lineno, function);
    int64_t id = insert_new(l, l->stmt[INSERT_FRAME], &failed);
    if (!id && !failed) {
        bind_frame(l->stmt[SELECT_FRAME], filename, f->lineno, function);
        id = find_existing(l->stmt[SELECT_FRAME]);
    }
    return l->frame_ids[i] = id;
}

static int insert_traceback_frames(struct loader *l, int64_t id, const int64_t *frames, uint32_t n)
{
    sqlite3_stmt *stmt = l->stmt[INSERT_TRACEBACK_FRAME];
    for (uint32_t pos = 0; pos < n; pos++) {
        db_bind_int64(stmt, ":traceback", id);
        db_bind_int64(stmt, ":position", pos);
        db_bind_int64(stmt, ":frame", frames[pos]);
        int rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE)
            return -1;
    }
    return 0;
}

/* A traceback's identity in the database: its frames' ids, most recent first, and its
   total_nframe; its sort key: its frames' keys, oldest first (sqlfunc.h). */
static int64_t map_traceback(struct loader *l, uint32_t i)
{
    if (l->traceback_ids[i])
        return l->traceback_ids[i];
    const struct dump_traceback *t = &l->dump->tracebacks[i];
    int64_t *frames = malloc(t->nframe * sizeof *frames);
    sqlite3_str *ids = sqlite3_str_new(l->db), *key = sqlite3_str_new(l->db);
    int64_t id = 0;
    uint32_t n = 0;
    for (; frames && n < t->nframe; n++) {
        if (!(frames[n] = map_frame(l, dump_traceback_frame(t, n))))
            break;
        sqlite3_str_appendf(ids, n ? " %lld" : "%lld", (long long)frames[n]);
    }
    for (uint32_t pos = n; pos-- > 0;) {
        const struct dump_frame *f = &l->dump->frames[dump_traceback_frame(t, pos)];
        sqlfunc_frame_key(key, l->dump->strings[f->filename], f->lineno);
    }
    int key_length = sqlite3_str_length(key);
    char *ids_text = sqlite3_str_finish(ids), *key_blob = sqlite3_str_finish(key);
    if (frames && n == t->nframe && ids_text && key_blob) {
        sqlite3_stmt *insert = l->stmt[INSERT_TRACEBACK], *select = l->stmt[SELECT_TRACEBACK];
        int failed;
        db_bind_int64(insert, ":nframe", t->nframe);
        db_bind_int64(insert, ":total_nframe", t->total_nframe);
        db_bind_text(insert, ":frame_ids", ids_text);
        db_bind_blob(insert, ":sort_key", key_blob, key_length);
        if ((id = insert_new(l, insert, &failed)) != 0) {
            if (insert_traceback_frames(l, id, frames, t->nframe) < 0)
                id = 0;
        } else if (!failed) {
            db_bind_text(select, ":frame_ids", ids_text);
            db_bind_int64(select, ":total_nframe", t->total_nframe);
            id = find_existing(select);
        }
    }
    sqlite3_free(ids_text);
    sqlite3_free(key_blob);
    free(frames);
    return l->traceback_ids[i] = id;
}

static int insert_snapshot(struct loader *l, const struct store_load *load)
{
    const struct dump *d = l->dump;
    sqlite3_stmt *s = l->stmt[INSERT_SNAPSHOT];
    const char *label = load->label ? load->label
                      : d->meta.label != TM_DUMP_NONE ? d->strings[d->meta.label] : NULL;
    if (label)
        db_bind_text(s, ":label", label);
    else
        db_bind_null(s, ":label");
    /* SQLite integers are signed: a u64 above 2^63 - 1 is stored as its two's complement. */
    db_bind_int64(s, ":time_ns", (int64_t)d->meta.time_ns);
    db_bind_int64(s, ":pid", (int64_t)d->meta.pid);
    db_bind_int64(s, ":traceback_limit", d->meta.traceback_limit);
    db_bind_int64(s, ":traced_current", (int64_t)d->meta.traced_current);
    db_bind_int64(s, ":traced_peak", (int64_t)d->meta.traced_peak);
    db_bind_int64(s, ":tracemalloc_memory", (int64_t)d->meta.tracemalloc_memory);
    db_bind_int64(s, ":untraced_count", (int64_t)d->meta.untraced_count);
    db_bind_int64(s, ":untraced_size", (int64_t)d->meta.untraced_size);
    db_bind_int64(s, ":trace_count", (int64_t)d->ntrace);
    db_bind_int64(s, ":trace_size", (int64_t)d->trace_size);
    db_bind_int64(s, ":format_version", d->version);
    db_bind_text(s, ":source", load->source);
    db_bind_int64(s, ":has_traces", load->with_traces != 0);
    if (sqlite3_step(s) != SQLITE_DONE)
        return sql_error(l);
    l->snapshot = sqlite3_last_insert_rowid(l->db);
    return 0;
}

/* Every frame record, used or not: the function name shown for a frame is the smallest that
   any record of the dump gives it. */
static int insert_frames(struct loader *l)
{
    for (uint32_t i = 0; i < l->dump->nframe; i++)
        if (!map_frame(l, i))
            return sql_error(l);
    return 0;
}

static int insert_groups(struct loader *l)
{
    sqlite3_stmt *s = l->stmt[INSERT_GROUP];
    for (uint64_t i = 0; i < l->dump->ngroup; i++) {
        const struct dump_group *g = &l->dump->groups[i];
        int64_t traceback = map_traceback(l, g->traceback);
        if (!traceback)
            return sql_error(l);
        db_bind_int64(s, ":snapshot", l->snapshot);
        db_bind_int64(s, ":domain", g->domain);
        db_bind_int64(s, ":traceback", traceback);
        db_bind_int64(s, ":count", (int64_t)g->count);
        db_bind_int64(s, ":size", (int64_t)g->size);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return sql_error(l);
    }
    return 0;
}

/* The per-block rows: the one part of a load that grows with the number of blocks, so the
   parameter indexes are looked up once, not per row. */
static int insert_traces(struct loader *l, const struct store_load *load)
{
    sqlite3_stmt *s = l->stmt[INSERT_TRACE];
    int snapshot = db_parameter(s, ":snapshot"), domain = db_parameter(s, ":domain"),
        address = db_parameter(s, ":address"), size = db_parameter(s, ":size"),
        traceback = db_parameter(s, ":traceback"), trace = db_parameter(s, ":trace");
    sqlite3_bind_int64(s, snapshot, l->snapshot);
    for (uint64_t i = 0; i < l->dump->ntrace; i++) {
        struct dump_trace t = dump_trace_at(l->dump, i);
        sqlite3_bind_int64(s, trace, (int64_t)i);
        sqlite3_bind_int64(s, domain, t.domain);
        sqlite3_bind_int64(s, address, (int64_t)t.address);
        sqlite3_bind_int64(s, size, (int64_t)t.size);
        sqlite3_bind_int64(s, traceback, l->traceback_ids[t.traceback]);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return sql_error(l);
        if (load->progress && (i & 0xFFFF) == 0xFFFF)
            load->progress(load->progress_context, i + 1, l->dump->ntrace);
    }
    return 0;
}

static int prepare_load(struct loader *l)
{
    const struct dump *d = l->dump;
    l->string_ids = calloc((size_t)d->nstring + 1, sizeof *l->string_ids);
    l->frame_ids = calloc((size_t)d->nframe + 1, sizeof *l->frame_ids);
    l->traceback_ids = calloc((size_t)d->ntraceback + 1, sizeof *l->traceback_ids);
    if (!l->string_ids || !l->frame_ids || !l->traceback_ids) {
        snprintf(l->error, STORE_ERROR_SIZE, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < NLOAD_SQL; i++)
        if (sqlite3_prepare_v2(l->db, load_sql[i], -1, &l->stmt[i], NULL) != SQLITE_OK)
            return sql_error(l);
    return 0;
}

static void finish_load(struct loader *l)
{
    for (size_t i = 0; i < NLOAD_SQL; i++)
        sqlite3_finalize(l->stmt[i]);
    free(l->string_ids);
    free(l->frame_ids);
    free(l->traceback_ids);
}

static int create_schema(sqlite3 *db)
{
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
    int rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
    return rc == SQLITE_OK ? sqlite3_exec(db, pragmas, NULL, NULL, NULL) : rc;
}

int store_add_dump(sqlite3 *db, const struct dump *dump, const struct store_load *load,
                   int64_t *snapshot, char error[STORE_ERROR_SIZE])
{
    struct loader l = {.db = db, .dump = dump, .error = error};
    if (db_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        snprintf(error, STORE_ERROR_SIZE, "%s", sqlite3_errmsg(db));
        return -1;
    }
    int ok = create_schema(db) == SQLITE_OK || sql_error(&l) == 0;
    ok = ok && prepare_load(&l) == 0 && insert_snapshot(&l, load) == 0 && insert_frames(&l) == 0
         && insert_groups(&l) == 0
         && (!load->with_traces || insert_traces(&l, load) == 0);
    finish_load(&l);
    if (ok && db_exec(db, "COMMIT") != SQLITE_OK)
        ok = sql_error(&l) == 0;
    if (!ok) {
        db_exec(db, "ROLLBACK");
        return -1;
    }
    *snapshot = l.snapshot;
    return 0;
}

/* A database this tool may write into: its own, or one without any table yet. */
static int check_ours(sqlite3 *db, enum store_mode mode, char *error)
{
    sqlite3_stmt *stmt;
    int64_t app = 0, tables = 0;
    if (db_prepare(db, &stmt, "SELECT (SELECT application_id FROM pragma_application_id),"
                              " (SELECT count(*) FROM sqlite_schema)") != SQLITE_OK) {
        snprintf(error, STORE_ERROR_SIZE, "%s", sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        app = sqlite3_column_int64(stmt, 0);
        tables = sqlite3_column_int64(stmt, 1);
    }
    int rc = sqlite3_finalize(stmt);
    if (rc != SQLITE_OK) {
        snprintf(error, STORE_ERROR_SIZE, "%s", sqlite3_errmsg(db));
        return -1;
    }
    if (app == STORE_APPLICATION_ID || (mode == STORE_WRITE && tables == 0))
        return 0;
    snprintf(error, STORE_ERROR_SIZE, "not a tracemalloc database");
    return -1;
}

int store_open(sqlite3 **db, const char *path, enum store_mode mode, char error[STORE_ERROR_SIZE])
{
    /* One thread: SQLite's mutexes are pure cost here. */
    int flags = SQLITE_OPEN_NOMUTEX
              | (mode == STORE_READ ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(mode == STORE_MEMORY ? ":memory:" : path, db, flags, NULL);
    if (rc == SQLITE_OK)
        rc = sqlfunc_register(*db);
    /* Another load may hold the write lock for a while: wait for it rather than fail. */
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(*db, 30000);
    /* The sorts and groupings of a query are small: keep their temporary b-trees in memory. */
    if (rc == SQLITE_OK)
        rc = db_exec(*db, "PRAGMA temp_store = MEMORY");
    /* A private database needs no rollback journal: a failed load discards all of it. */
    if (rc == SQLITE_OK && mode == STORE_MEMORY)
        rc = db_exec(*db, "PRAGMA journal_mode = OFF");
    if (rc == SQLITE_OK && mode == STORE_MEMORY)
        rc = create_schema(*db);
    if (rc == SQLITE_OK && mode == STORE_WRITE)
        /* A bigger page cache: a load writes millions of rows in one transaction. */
        rc = db_exec(*db, "PRAGMA cache_size = -65536");
    if (rc != SQLITE_OK) {
        snprintf(error, STORE_ERROR_SIZE, "%s", *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    if (mode != STORE_MEMORY && check_ours(*db, mode, error) < 0) {
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

int store_is_database(const char *path)
{
    static const char header[16] = "SQLite format 3";
    char buffer[16];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buffer, 1, sizeof buffer, f);
    fclose(f);
    return n == sizeof buffer && memcmp(buffer, header, sizeof header) == 0;
}
