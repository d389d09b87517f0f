/* store.c - loading a dump as a snapshot, opening databases; see store.h, schema.c for the
   tables and docs/SCHEMA.md.

   Native frames become ordinary frames here, before any traceback is stored: each distinct
   (module, offset) is symbolized once per database (the symbols table keeps the answer for the
   next load) and may expand into several frames (inlined calls), so every query that works on
   source frames works unchanged on native stacks. */
#define _DEFAULT_SOURCE /* strdup, under -std=c11 */
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "schema.h"
#include "sqlfunc.h"
#include "symbolize.h"
#include "tracemalloc.h"

/* The deepest chain of inlined calls kept for one return address (its outermost calls go
   first); nothing real comes close. */
#define MAX_INLINED 64

/* No index is built after a load: the per-block table is clustered on (snapshot, trace), so a
   load appends in key order and a snapshot's blocks are one range. Measured on 1M blocks: a
   rowid table with an index on snapshot built after the load took 1.5x as long for the first
   load, 2.5x for the next ones (which update the index), and 40% more disk. */

static const char *const load_sql[] = {
#define INSERT_SNAPSHOT 0
    "INSERT INTO snapshots (label, time_ns, pid, traceback_limit, traced_current, traced_peak,"
    " tracemalloc_memory, untraced_count, untraced_size, trace_count, trace_size, format_version,"
    " source, has_traces, start_ns, peak_time_ns, peak_size) VALUES (:label, :time_ns, :pid,"
    " :traceback_limit, :traced_current, :traced_peak, :tracemalloc_memory, :untraced_count,"
    " :untraced_size, :trace_count, :trace_size, :format_version, :source, :has_traces,"
    " :start_ns, :peak_time_ns, :peak_size)",
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
#define INSERT_MODULE 10
    "INSERT OR IGNORE INTO modules (path, build_id) VALUES (:path, :build_id)",
#define SELECT_MODULE 11
    "SELECT id FROM modules WHERE path = :path AND coalesce(build_id, '') = coalesce(:build_id, '')",
#define SELECT_SYMBOLS 12
    "SELECT s.frame, fn.filename, fn.lineno FROM symbols s JOIN frame_names fn ON fn.id = s.frame"
    " WHERE s.module = :module AND s.offset = :offset ORDER BY s.position",
#define INSERT_SYMBOL 13
    "INSERT INTO symbols (module, offset, position, frame) VALUES (:module, :offset, :position, :frame)",
#define INSERT_SAMPLE 14
    "INSERT INTO timeline (snapshot, position, t_ns, traced, rss)"
    " VALUES (:snapshot, :position, :t_ns, :traced, :rss)",
#define INSERT_PEAK_GROUP 15
    "INSERT INTO peak_groups (snapshot, domain, traceback, count, size)"
    " VALUES (:snapshot, :domain, :traceback, :count, :size)"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count, size = size + excluded.size",
#define INSERT_ALLOC_GROUP 16
    "INSERT INTO alloc_groups (snapshot, domain, traceback, count, size, temporaries)"
    " VALUES (:snapshot, :domain, :traceback, :count, :size, :temporaries)"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count, size = size + excluded.size,"
    " temporaries = temporaries + excluded.temporaries",
};
#define NLOAD_SQL (sizeof load_sql / sizeof load_sql[0])

/* A frame as stored: its database id, and the file name and line its sort key needs. */
struct frame_ref {
    int64_t id;
    const char *filename;
    uint32_t lineno;
};

/* A dump frame as database frames, most recent first: one for a source frame, one or more for
   a native one (its inlined calls, then the function holding them). n 0: not yet mapped. */
struct expansion {
    uint32_t n;
    struct frame_ref *refs; /* &one, or a block that also holds the file names */
    struct frame_ref one;
};

/* One load in progress: the dump, its statements, and the database ids of what it has
   inserted so far (0: not yet), indexed by the dump's own ids. */
struct loader {
    sqlite3 *db;
    const struct dump *dump;
    sqlite3_stmt *stmt[NLOAD_SQL];
    int64_t *string_ids, *module_ids, *traceback_ids;
    struct expansion *frames;
    int64_t snapshot;
    char *error;
};

/* One symbolizer for the process: a module opened for one dump serves the next one loaded. It
   lives until the process exits. */
static struct symbolizer *shared_symbolizer;

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

static int out_of_memory(struct loader *l)
{
    snprintf(l->error, STORE_ERROR_SIZE, "out of memory");
    return -1;
}

/* The database id of a string: a string already in the database is reused. 0 on an error. */
static int64_t text_id(struct loader *l, const char *text)
{
    int failed;
    sqlite3_bind_text(l->stmt[INSERT_STRING], 1, text, -1, SQLITE_STATIC);
    int64_t id = insert_new(l, l->stmt[INSERT_STRING], &failed);
    if (!id && !failed) {
        sqlite3_bind_text(l->stmt[SELECT_STRING], 1, text, -1, SQLITE_STATIC);
        id = find_existing(l->stmt[SELECT_STRING]);
    }
    return id;
}

/* The database id of the dump's string i. */
static int64_t map_string(struct loader *l, uint32_t i)
{
    return l->string_ids[i] ? l->string_ids[i] : (l->string_ids[i] = text_id(l, l->dump->strings[i]));
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

/* The database id of the frame (filename, lineno, function) given as string ids (function 0:
   none). 0 on an error. */
static int64_t frame_id(struct loader *l, int64_t filename, uint32_t lineno, int64_t function)
{
    int failed;
    bind_frame(l->stmt[INSERT_FRAME], filename, lineno, function);
    int64_t id = insert_new(l, l->stmt[INSERT_FRAME], &failed);
    if (!id && !failed) {
        bind_frame(l->stmt[SELECT_FRAME], filename, lineno, function);
        id = find_existing(l->stmt[SELECT_FRAME]);
    }
    return id;
}

static int map_source_frame(struct loader *l, const struct dump_frame *f, struct expansion *e)
{
    int64_t filename = map_string(l, f->filename);
    int64_t function = f->function == TM_DUMP_NONE ? 0 : map_string(l, f->function);
    if (!filename || (f->function != TM_DUMP_NONE && !function))
        return sql_error(l);
    e->one = (struct frame_ref){frame_id(l, filename, f->lineno, function),
                                l->dump->strings[f->filename], f->lineno};
    if (!e->one.id)
        return sql_error(l);
    e->refs = &e->one;
    e->n = 1;
    return 0;
}

/* Keeps n frames (ids and file names, which are copied) as the expansion of a native frame. */
static int keep_refs(struct loader *l, struct expansion *e, const struct frame_ref *refs, int n)
{
    size_t bytes = (size_t)n * sizeof *refs;
    for (int i = 0; i < n; i++)
        bytes += strlen(refs[i].filename) + 1;
    struct frame_ref *block = malloc(bytes);
    if (!block)
        return out_of_memory(l);
    char *names = (char *)(block + n);
    for (int i = 0; i < n; i++) {
        size_t length = strlen(refs[i].filename) + 1;
        block[i] = (struct frame_ref){refs[i].id, memcpy(names, refs[i].filename, length),
                                      refs[i].lineno};
        names += length;
    }
    e->refs = block;
    e->n = (uint32_t)n;
    return 0;
}

/* The database id of the dump's module i; build-ids are stored as lowercase hex. */
static int64_t map_module(struct loader *l, uint32_t i)
{
    if (l->module_ids[i])
        return l->module_ids[i];
    const struct dump_module *m = &l->dump->modules[i];
    char hex[2 * TM_DUMP_MAX_BUILD_ID + 1];
    for (uint32_t b = 0; b < m->build_id_length; b++)
        sprintf(hex + 2 * b, "%02x", m->build_id[b]);
    sqlite3_stmt *insert = l->stmt[INSERT_MODULE], *select = l->stmt[SELECT_MODULE];
    const char *path = l->dump->strings[m->path];
    int failed;
    db_bind_text(insert, ":path", path);
    if (m->build_id_length)
        db_bind_text(insert, ":build_id", hex);
    else
        db_bind_null(insert, ":build_id");
    int64_t id = insert_new(l, insert, &failed);
    if (!id && !failed) {
        db_bind_text(select, ":path", path);
        if (m->build_id_length)
            db_bind_text(select, ":build_id", hex);
        else
            db_bind_null(select, ":build_id");
        id = find_existing(select);
    }
    return l->module_ids[i] = id;
}

/* The frames an earlier load stored for (module, offset): returns how many (0: none yet), or
   -1 on an error. */
static int cached_symbols(struct loader *l, int64_t module, uint64_t offset, struct expansion *e)
{
    sqlite3_stmt *s = l->stmt[SELECT_SYMBOLS];
    struct frame_ref refs[MAX_INLINED];
    int n = 0, rc = SQLITE_DONE, kept;
    db_bind_int64(s, ":module", module);
    db_bind_int64(s, ":offset", (int64_t)offset);
    while (n < MAX_INLINED && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *filename = (const char *)sqlite3_column_text(s, 1);
        char *copy = filename ? strdup(filename) : NULL; /* the next step invalidates it */
        if (!copy) {
            rc = SQLITE_NOMEM;
            break;
        }
        refs[n++] = (struct frame_ref){sqlite3_column_int64(s, 0), copy,
                                       (uint32_t)sqlite3_column_int64(s, 2)};
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        kept = n == 0 ? 0 : keep_refs(l, e, refs, n) < 0 ? -1 : n;
    else
        kept = rc == SQLITE_NOMEM ? out_of_memory(l) : sql_error(l);
    sqlite3_reset(s);
    for (int i = 0; i < n; i++)
        free((char *)refs[i].filename);
    return kept;
}

/* Stores the symbolizer's frames for (module, offset) as frames and symbols rows. */
static int store_symbols(struct loader *l, int64_t module, uint64_t offset,
                         const struct symbol_frame *symbols, int n, struct expansion *e)
{
    struct frame_ref refs[MAX_INLINED];
    sqlite3_stmt *s = l->stmt[INSERT_SYMBOL];
    for (int i = 0; i < n; i++) {
        int64_t filename = text_id(l, symbols[i].filename);
        int64_t function = symbols[i].function ? text_id(l, symbols[i].function) : 0;
        if (!filename || (symbols[i].function && !function))
            return sql_error(l);
        refs[i] = (struct frame_ref){frame_id(l, filename, symbols[i].lineno, function),
                                     symbols[i].filename, symbols[i].lineno};
        if (!refs[i].id)
            return sql_error(l);
        if (module) {
            db_bind_int64(s, ":module", module);
            db_bind_int64(s, ":offset", (int64_t)offset);
            db_bind_int64(s, ":position", i);
            db_bind_int64(s, ":frame", refs[i].id);
            int rc = sqlite3_step(s);
            sqlite3_reset(s);
            if (rc != SQLITE_DONE)
                return sql_error(l);
        }
    }
    return keep_refs(l, e, refs, n);
}

/* A native frame: from the symbols table when a load symbolized it before, else from the
   symbolizer. An address in no module is named by itself and not cached (it costs nothing). */
static int map_native_frame(struct loader *l, const struct dump_frame *f, struct expansion *e)
{
    struct symbol_frame symbols[MAX_INLINED];
    if (f->module == TM_DUMP_NONE) {
        char name[24];
        snprintf(name, sizeof name, "0x%" PRIx64, f->offset);
        symbols[0] = (struct symbol_frame){name, 0, NULL};
        return store_symbols(l, 0, f->offset, symbols, 1, e);
    }
    int64_t module = map_module(l, f->module);
    if (!module)
        return sql_error(l);
    int n = cached_symbols(l, module, f->offset, e);
    if (n != 0)
        return n < 0 ? -1 : 0;
    if (!shared_symbolizer && !(shared_symbolizer = symbolizer_new(NULL)))
        return out_of_memory(l);
    const struct dump_module *m = &l->dump->modules[f->module];
    n = symbolize(shared_symbolizer, l->dump->strings[m->path], m->build_id, m->build_id_length,
                  f->offset, symbols, MAX_INLINED);
    if (n < 1) /* the symbolizer promises a frame; a frame must stand there in any case */
        return out_of_memory(l);
    return store_symbols(l, module, f->offset, symbols, n, e);
}

/* The database frames of the dump's frame i, or NULL with the reason in l->error. */
static const struct expansion *map_frame(struct loader *l, uint32_t i)
{
    struct expansion *e = &l->frames[i];
    if (e->n)
        return e;
    const struct dump_frame *f = &l->dump->frames[i];
    int rc = f->kind == TM_DUMP_FRAME_NATIVE ? map_native_frame(l, f, e) : map_source_frame(l, f, e);
    return rc < 0 ? NULL : e;
}

static int insert_traceback_frames(struct loader *l, int64_t id, const int64_t *frames, uint64_t n)
{
    sqlite3_stmt *stmt = l->stmt[INSERT_TRACEBACK_FRAME];
    for (uint64_t pos = 0; pos < n; pos++) {
        db_bind_int64(stmt, ":traceback", id);
        db_bind_int64(stmt, ":position", (int64_t)pos);
        db_bind_int64(stmt, ":frame", frames[pos]);
        int rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE)
            return -1;
    }
    return 0;
}

/* Inserts a traceback given as its frames, or finds it: 0 on an error. */
static int64_t insert_traceback(struct loader *l, const int64_t *frames, uint64_t n,
                                uint64_t total_nframe, const char *ids_text, const char *key,
                                int key_length)
{
    sqlite3_stmt *insert = l->stmt[INSERT_TRACEBACK], *select = l->stmt[SELECT_TRACEBACK];
    int failed;
    db_bind_int64(insert, ":nframe", (int64_t)n);
    db_bind_int64(insert, ":total_nframe", (int64_t)total_nframe);
    db_bind_text(insert, ":frame_ids", ids_text);
    db_bind_blob(insert, ":sort_key", key, key_length);
    int64_t id = insert_new(l, insert, &failed);
    if (id)
        return insert_traceback_frames(l, id, frames, n) < 0 ? 0 : id;
    if (failed)
        return 0;
    db_bind_text(select, ":frame_ids", ids_text);
    db_bind_int64(select, ":total_nframe", (int64_t)total_nframe);
    return find_existing(select);
}

/* The database id of the dump's traceback i, or 0 with the reason in l->error. Its identity in
   the database: its frames' ids, most recent first, and its total_nframe; its sort key: its
   frames' keys, oldest first (sqlfunc.h). Native frames are expanded first: the traceback has
   the frames of its inlined calls too, and total_nframe grows by as many. */
static int64_t map_traceback(struct loader *l, uint32_t i)
{
    if (l->traceback_ids[i])
        return l->traceback_ids[i];
    const struct dump_traceback *t = &l->dump->tracebacks[i];
    uint64_t n = 0;
    for (uint32_t pos = 0; pos < t->nframe; pos++) {
        const struct expansion *e = map_frame(l, dump_traceback_frame(t, pos));
        if (!e)
            return 0;
        n += e->n;
    }
    int64_t *frames = malloc(n * sizeof *frames);
    sqlite3_str *ids = sqlite3_str_new(l->db), *key = sqlite3_str_new(l->db);
    uint64_t k = 0;
    for (uint32_t pos = 0; frames && pos < t->nframe; pos++) {
        const struct expansion *e = &l->frames[dump_traceback_frame(t, pos)];
        for (uint32_t j = 0; j < e->n; j++, k++) {
            frames[k] = e->refs[j].id;
            sqlite3_str_appendf(ids, k ? " %lld" : "%lld", (long long)frames[k]);
        }
    }
    for (uint32_t pos = t->nframe; frames && pos-- > 0;) {
        const struct expansion *e = &l->frames[dump_traceback_frame(t, pos)];
        for (uint32_t j = e->n; j-- > 0;)
            sqlfunc_frame_key(key, e->refs[j].filename, e->refs[j].lineno);
    }
    int key_length = sqlite3_str_length(key);
    char *ids_text = sqlite3_str_finish(ids), *key_blob = sqlite3_str_finish(key);
    int64_t id = 0;
    if (!frames || !ids_text || !key_blob)
        out_of_memory(l);
    else if (!(id = insert_traceback(l, frames, n, t->total_nframe + (n - t->nframe), ids_text,
                                     key_blob, key_length)))
        sql_error(l);
    sqlite3_free(ids_text);
    sqlite3_free(key_blob);
    free(frames);
    return l->traceback_ids[i] = id;
}

static void bind_optional(sqlite3_stmt *s, const char *name, int present, uint64_t value)
{
    if (present)
        db_bind_int64(s, name, (int64_t)value);
    else
        db_bind_null(s, name);
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
    bind_optional(s, ":start_ns", d->has_timeline, d->start_ns);
    bind_optional(s, ":peak_time_ns", d->has_peak, d->peak_t_ns);
    bind_optional(s, ":peak_size", d->has_peak, d->peak_size);
    if (sqlite3_step(s) != SQLITE_DONE)
        return sql_error(l);
    l->snapshot = sqlite3_last_insert_rowid(l->db);
    return 0;
}

/* Every module and every frame record, used or not: the function name shown for a frame is the
   smallest that any record of the dump gives it. */
static int insert_frames(struct loader *l)
{
    for (uint32_t i = 0; i < l->dump->nmodule; i++)
        if (!map_module(l, i))
            return sql_error(l);
    for (uint32_t i = 0; i < l->dump->nframe; i++)
        if (!map_frame(l, i))
            return -1;
    return 0;
}

/* Groups of one kind: TRCS's (INSERT_GROUP), PEAK's or ALOC's. */
static int insert_group_rows(struct loader *l, int which, const struct dump_group *groups,
                             uint64_t n)
{
    sqlite3_stmt *s = l->stmt[which];
    for (uint64_t i = 0; i < n; i++) {
        const struct dump_group *g = &groups[i];
        int64_t traceback = map_traceback(l, g->traceback);
        if (!traceback)
            return -1;
        db_bind_int64(s, ":snapshot", l->snapshot);
        db_bind_int64(s, ":domain", g->domain);
        db_bind_int64(s, ":traceback", traceback);
        db_bind_int64(s, ":count", (int64_t)g->count);
        db_bind_int64(s, ":size", (int64_t)g->size);
        if (which == INSERT_ALLOC_GROUP)
            db_bind_int64(s, ":temporaries", (int64_t)g->temporaries);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return sql_error(l);
    }
    return 0;
}

/* Two dump tracebacks may become one database traceback (their native frames symbolize
   alike), so groups add up (INSERT_GROUP's ON CONFLICT); PEAK and ALOC rows too. */
static int insert_groups(struct loader *l)
{
    const struct dump *d = l->dump;
    return insert_group_rows(l, INSERT_GROUP, d->groups, d->ngroup) == 0
        && insert_group_rows(l, INSERT_PEAK_GROUP, d->peak_groups, d->npeak_group) == 0
        && insert_group_rows(l, INSERT_ALLOC_GROUP, d->alloc_groups, d->nalloc_group) == 0 ? 0 : -1;
}

static int insert_timeline(struct loader *l)
{
    sqlite3_stmt *s = l->stmt[INSERT_SAMPLE];
    for (uint32_t i = 0; i < l->dump->nsample; i++) {
        struct dump_sample sample = dump_sample_at(l->dump, i);
        db_bind_int64(s, ":snapshot", l->snapshot);
        db_bind_int64(s, ":position", i);
        db_bind_int64(s, ":t_ns", (int64_t)sample.t_ns);
        db_bind_int64(s, ":traced", (int64_t)sample.traced);
        db_bind_int64(s, ":rss", (int64_t)sample.rss);
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
    l->module_ids = calloc((size_t)d->nmodule + 1, sizeof *l->module_ids);
    l->frames = calloc((size_t)d->nframe + 1, sizeof *l->frames);
    l->traceback_ids = calloc((size_t)d->ntraceback + 1, sizeof *l->traceback_ids);
    if (!l->string_ids || !l->module_ids || !l->frames || !l->traceback_ids)
        return out_of_memory(l);
    for (size_t i = 0; i < NLOAD_SQL; i++)
        if (sqlite3_prepare_v2(l->db, load_sql[i], -1, &l->stmt[i], NULL) != SQLITE_OK)
            return sql_error(l);
    return 0;
}

static void finish_load(struct loader *l)
{
    for (size_t i = 0; i < NLOAD_SQL; i++)
        sqlite3_finalize(l->stmt[i]);
    for (uint32_t i = 0; l->frames && i < l->dump->nframe; i++)
        if (l->frames[i].refs != &l->frames[i].one)
            free(l->frames[i].refs);
    free(l->string_ids);
    free(l->module_ids);
    free(l->frames);
    free(l->traceback_ids);
}

int store_add_dump(sqlite3 *db, const struct dump *dump, const struct store_load *load,
                   int64_t *snapshot, char error[STORE_ERROR_SIZE])
{
    struct loader l = {.db = db, .dump = dump, .error = error};
    if (db_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        snprintf(error, STORE_ERROR_SIZE, "%s", sqlite3_errmsg(db));
        return -1;
    }
    int ok = schema_create(db, error, STORE_ERROR_SIZE) == 0 && prepare_load(&l) == 0
          && insert_snapshot(&l, load) == 0 && insert_frames(&l) == 0 && insert_groups(&l) == 0
          && insert_timeline(&l) == 0 && (!load->with_traces || insert_traces(&l, load) == 0);
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

/* A database this tool may write into: its own, or one without any table yet; one it may read:
   its own, of a schema version it reads. */
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
    if (app == SCHEMA_APPLICATION_ID)
        return mode == STORE_READ ? schema_prepare_read(db, error, STORE_ERROR_SIZE) : 0;
    if (mode == STORE_WRITE && tables == 0)
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
    if (rc == SQLITE_OK && mode == STORE_MEMORY && schema_create(*db, error, STORE_ERROR_SIZE) < 0)
        rc = SQLITE_ERROR;
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
