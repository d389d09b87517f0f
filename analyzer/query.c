/* query.c - statistics, comparisons, totals, info; see query.h.

   The SQL is fixed text, assembled from the fragments below (one per filter, numbered); every
   value from the command line is a bound parameter. The shape, for every key type:
     kept     the groups of the snapshot(s) that the filters keep
     units    what each kept group adds to which statistic: its most recent frame (lineno),
              its file (filename), each of its frames (cumulative), or its whole traceback
     stat     the sums per key, for the new snapshot and the old one
     ranked   Python's sort keys, descending
     rows     the statistics in that order, with the frames to show */
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

/* Python's Filter._match_traceback: frame 0 is the most recent; all_frames looks at all. */
static const char filename_filter[] =
    "%sEXISTS (SELECT 1 FROM traceback_frames tf JOIN frames f ON f.id = tf.frame"
    " JOIN strings s ON s.id = f.filename WHERE tf.traceback = g.traceback%s"
    " AND match_frame(s.value, f.lineno, :pattern%d, :lineno%d))";

static void append_filter(sqlite3_str *sql, const struct query_filter *f, int i, int all_frames)
{
    if (f->is_domain)
        sqlite3_str_appendf(sql, "g.domain %s :domain%d", f->inclusive ? "=" : "<>", i);
    else
        /* An exclusive Filter keeps a trace unless its frame (or any frame) matches. */
        sqlite3_str_appendf(sql, filename_filter, f->inclusive ? "" : "NOT ",
                            all_frames ? "" : " AND tf.position = 0", i, i);
}

static const char *const source_tables[] = {"groups", "peak_groups", "alloc_groups"};

/* Python's Snapshot._filter_trace: inclusive filters OR'ed, exclusive ones AND'ed. The CTE is
   called name; it reads the table of the source (all three have the shape of groups). */
static void append_kept(sqlite3_str *sql, const char *name, enum query_source source,
                        const struct query_filters *filters)
{
    sqlite3_str_appendf(sql, "%s AS (SELECT g.snapshot AS snapshot, g.domain AS domain,"
                             " g.traceback AS traceback, g.size AS size, g.count AS count,"
                             " %s AS temporaries FROM %s g WHERE g.snapshot IN (:new, :old)",
                        name, source == SOURCE_ALLOCATED ? "g.temporaries" : "0",
                        source_tables[source]);
    int n = filters ? filters->count : 0, any = 0;
    for (int i = 0; i < n; i++) {
        if (!filters->items[i].inclusive)
            continue;
        sqlite3_str_appendall(sql, any++ ? " OR " : " AND (");
        append_filter(sql, &filters->items[i], i, filters->all_frames);
    }
    if (any)
        sqlite3_str_appendall(sql, ")");
    for (int i = 0; i < n; i++) {
        if (filters->items[i].inclusive)
            continue;
        sqlite3_str_appendall(sql, " AND ");
        append_filter(sql, &filters->items[i], i, filters->all_frames);
    }
    sqlite3_str_appendall(sql, ")");
}

static void bind_filters(sqlite3_stmt *stmt, const struct query_filters *filters)
{
    char name[32];
    for (int i = 0; filters && i < filters->count; i++) {
        const struct query_filter *f = &filters->items[i];
        if (f->is_domain) {
            snprintf(name, sizeof name, ":domain%d", i);
            db_bind_int64(stmt, name, f->domain);
            continue;
        }
        snprintf(name, sizeof name, ":pattern%d", i);
        db_bind_text(stmt, name, f->pattern);
        snprintf(name, sizeof name, ":lineno%d", i);
        if (f->has_lineno)
            db_bind_int64(stmt, name, f->lineno);
        else
            db_bind_null(stmt, name);
    }
}

/* units(snapshot, size, count, filename, lineno, name, key, traceback): what each kept group
   adds to which statistic. A frame statistic is keyed by (filename, lineno), filename being a
   string id and name its text; a traceback statistic by its sort key, and traceback is any
   traceback of that key (they all have the same frames), from which the frames are shown. */
static const char units_frame[] =
    "units AS (SELECT k.snapshot AS snapshot, k.size AS size, k.count AS count,"
    " k.temporaries AS temporaries, f.filename AS filename, %s AS lineno, s.value AS name,"
    " NULL AS key, NULL AS traceback"
    " FROM kept k JOIN traceback_frames tf ON tf.traceback = k.traceback%s"
    " JOIN frames f ON f.id = tf.frame JOIN strings s ON s.id = f.filename)";

static const char units_traceback[] =
    "units AS (SELECT k.snapshot AS snapshot, k.size AS size, k.count AS count,"
    " k.temporaries AS temporaries, NULL AS filename, NULL AS lineno, NULL AS name,"
    " t.sort_key AS key, k.traceback AS traceback"
    " FROM kept k JOIN tracebacks t ON t.id = k.traceback)";

static void append_units(sqlite3_str *sql, enum query_key key, int cumulative)
{
    const char *position = cumulative ? "" : " AND tf.position = 0";
    if (key == KEY_TRACEBACK)
        sqlite3_str_appendall(sql, units_traceback);
    else /* Python's filename key is the frame (filename, 0) */
        sqlite3_str_appendf(sql, units_frame, key == KEY_LINENO ? "f.lineno" : "0", position);
}

/* The function name shown for a frame (filename, lineno): the smallest that any frame record
   in the database gives it (for dumps: any record of the dumps read, as docs/OUTPUT.md says). */
#define FUNCTION_NAME(frame) \
    "(SELECT min(fs.value) FROM frames fn JOIN strings fs ON fs.id = fn.function" \
    " WHERE fn.filename = " frame ".filename AND fn.lineno = " frame ".lineno)"

/* Sums per statistic for the new snapshot and the old one, then the rank by Python's sort
   keys, descending: Statistic's (size, count, traceback) or StatisticDiff's (abs(size_diff),
   size, abs(count_diff), count, traceback). A frame compares as (filename, lineno), the name
   as bytes (BINARY collation); a traceback by its sort key. The key breaks every tie. */
static const char stat_and_rank[] =
    "stat AS (SELECT sum(CASE WHEN snapshot = :new THEN size ELSE 0 END) AS size,"
    " sum(CASE WHEN snapshot = :new THEN count ELSE 0 END) AS count,"
    " sum(CASE WHEN snapshot = :old THEN size ELSE 0 END) AS old_size,"
    " sum(CASE WHEN snapshot = :old THEN count ELSE 0 END) AS old_count,"
    " sum(CASE WHEN snapshot = :new THEN temporaries ELSE 0 END) AS temporaries,"
    " filename, lineno, name, key, min(traceback) AS traceback FROM units GROUP BY %s),"
    " ranked AS (SELECT row_number() OVER (ORDER BY %s%s) AS n, size, count,"
    " size - old_size AS size_diff, count - old_count AS count_diff, filename, lineno, name,"
    " traceback, temporaries FROM stat)";

/* The rows: one per statistic, or one per frame of its traceback (oldest first). */
static const char rows_frame[] =
    " SELECT r.n, r.size, r.count, %s, r.name, r.lineno, %s, %s"
    " FROM ranked r WHERE :top < 0 OR r.n <= :top ORDER BY r.n";

static const char rows_traceback[] =
    " SELECT r.n, r.size, r.count, %s, s.value, f.lineno, %s, %s"
    " FROM ranked r JOIN traceback_frames tf ON tf.traceback = r.traceback"
    " JOIN frames f ON f.id = tf.frame JOIN strings s ON s.id = f.filename"
    " WHERE :top < 0 OR r.n <= :top ORDER BY r.n, tf.position DESC";

int query_statistics(sqlite3 *db, const struct query_statistics *q, sqlite3_stmt **stmt)
{
    int compare = q->old_snapshot != 0;
    sqlite3_str *sql = sqlite3_str_new(db);
    sqlite3_str_appendall(sql, "WITH ");
    append_kept(sql, "kept", q->source, q->filters);
    sqlite3_str_appendall(sql, ", ");
    append_units(sql, q->key, q->cumulative);
    sqlite3_str_appendall(sql, ", ");
    int by_traceback = q->key == KEY_TRACEBACK;
    sqlite3_str_appendf(sql, stat_and_rank, by_traceback ? "key" : "filename, lineno",
                        compare ? "abs(size - old_size) DESC, size DESC,"
                                  " abs(count - old_count) DESC, count DESC, "
                                : "size DESC, count DESC, ",
                        by_traceback ? "key DESC" : "name DESC, lineno DESC");
    sqlite3_str_appendf(sql, by_traceback ? rows_traceback : rows_frame,
                        compare ? "r.size_diff, r.count_diff" : "NULL, NULL",
                        !q->with_functions ? "NULL" : by_traceback ? FUNCTION_NAME("f")
                                                                   : FUNCTION_NAME("r"),
                        q->source == SOURCE_ALLOCATED ? "r.temporaries" : "NULL");
    char *text = sqlite3_str_finish(sql);
    if (!text)
        return SQLITE_NOMEM;
    int rc = db_prepare(db, stmt, "%s", text);
    sqlite3_free(text);
    if (rc != SQLITE_OK)
        return rc;
    db_bind_int64(*stmt, ":new", q->snapshot);
    /* Snapshot ids start at 1: old = 0 selects nothing, so every old sum is 0. */
    db_bind_int64(*stmt, ":old", q->old_snapshot);
    db_bind_int64(*stmt, ":top", q->top);
    bind_filters(*stmt, q->filters);
    return SQLITE_OK;
}

int query_total(sqlite3 *db, int64_t snapshot, const struct query_filters *filters, int64_t *total)
{
    sqlite3_str *sql = sqlite3_str_new(db);
    sqlite3_str_appendall(sql, "WITH ");
    append_kept(sql, "kept", SOURCE_LIVE, filters);
    sqlite3_str_appendall(sql, " SELECT coalesce(sum(size), 0) FROM kept");
    char *text = sqlite3_str_finish(sql);
    sqlite3_stmt *stmt;
    int rc = text ? db_prepare(db, &stmt, "%s", text) : SQLITE_NOMEM;
    sqlite3_free(text);
    if (rc != SQLITE_OK)
        return rc;
    db_bind_int64(stmt, ":new", snapshot);
    db_bind_int64(stmt, ":old", 0);
    bind_filters(stmt, filters);
    *total = 0;
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        *total = sqlite3_column_int64(stmt, 0);
    int final = sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? final : rc;
}

/* A dump's ALOC section leaves no mark when it lists no traceback, and TIME, PEAK and ALOC are
   written together (FORMAT.md: "when the timeline is on"), so a timeline or peak also says that
   the allocation totals were recorded. */
static const char has_source_sql[] =
    "SELECT CASE :source WHEN 0 THEN 1"
    " WHEN 1 THEN peak_time_ns IS NOT NULL"
    " ELSE start_ns IS NOT NULL OR peak_time_ns IS NOT NULL"
    " OR EXISTS (SELECT 1 FROM alloc_groups WHERE snapshot = :snapshot) END"
    " FROM snapshots WHERE id = :snapshot";

int query_has_source(sqlite3 *db, int64_t snapshot, enum query_source source, int *present)
{
    sqlite3_stmt *stmt;
    int rc = db_prepare(db, &stmt, "%s", has_source_sql);
    if (rc != SQLITE_OK)
        return rc;
    db_bind_int64(stmt, ":snapshot", snapshot);
    db_bind_int64(stmt, ":source", source);
    *present = 0;
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        *present = sqlite3_column_int(stmt, 0);
    int final = sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? final : rc;
}

/* The three sources side by side per (domain, traceback), then numbered in the order of
   Python's tracebacks (the sort key compares frames oldest first); total_nframe and the id
   only break the ties of tracebacks with the same frames. */
static const char samples_sql[] =
    " samples AS (SELECT domain, traceback, sum(ac) AS ac, sum(asz) AS asz, sum(lc) AS lc,"
    " sum(lsz) AS lsz, sum(pc) AS pc, sum(psz) AS psz, sum(tmp) AS tmp FROM ("
    " SELECT domain, traceback, count AS ac, size AS asz, 0 AS lc, 0 AS lsz, 0 AS pc,"
    " 0 AS psz, temporaries AS tmp FROM kept_alloc"
    " UNION ALL SELECT domain, traceback, 0, 0, count, size, 0, 0, 0 FROM kept_live"
    " UNION ALL SELECT domain, traceback, 0, 0, 0, 0, count, size, 0 FROM kept_peak)"
    " GROUP BY domain, traceback),"
    " numbered AS (SELECT row_number() OVER (ORDER BY t.sort_key, s.domain, t.total_nframe,"
    " t.id) AS n, s.* FROM samples s JOIN tracebacks t ON t.id = s.traceback)"
    " SELECT s.n, s.domain, s.traceback, s.ac, s.asz, s.lc, s.lsz, s.pc, s.psz, s.tmp,"
    " f.id, fs.value, f.lineno, fn.value"
    " FROM numbered s JOIN traceback_frames tf ON tf.traceback = s.traceback"
    " JOIN frames f ON f.id = tf.frame JOIN strings fs ON fs.id = f.filename"
    " LEFT JOIN strings fn ON fn.id = f.function ORDER BY s.n, tf.position";

int query_samples(sqlite3 *db, int64_t snapshot, const struct query_filters *filters,
                  sqlite3_stmt **stmt)
{
    sqlite3_str *sql = sqlite3_str_new(db);
    sqlite3_str_appendall(sql, "WITH ");
    append_kept(sql, "kept_live", SOURCE_LIVE, filters);
    sqlite3_str_appendall(sql, ", ");
    append_kept(sql, "kept_peak", SOURCE_PEAK, filters);
    sqlite3_str_appendall(sql, ", ");
    append_kept(sql, "kept_alloc", SOURCE_ALLOCATED, filters);
    sqlite3_str_appendall(sql, ",");
    sqlite3_str_appendall(sql, samples_sql);
    char *text = sqlite3_str_finish(sql);
    int rc = text ? db_prepare(db, stmt, "%s", text) : SQLITE_NOMEM;
    sqlite3_free(text);
    if (rc != SQLITE_OK)
        return rc;
    db_bind_int64(*stmt, ":new", snapshot);
    db_bind_int64(*stmt, ":old", 0);
    bind_filters(*stmt, filters);
    return SQLITE_OK;
}

/* Prepares sql, a query of one snapshot, with :snapshot bound. */
static int prepare_for_snapshot(sqlite3 *db, const char *sql, int64_t snapshot, sqlite3_stmt **stmt)
{
    int rc = db_prepare(db, stmt, "%s", sql);
    if (rc == SQLITE_OK)
        db_bind_int64(*stmt, ":snapshot", snapshot);
    return rc;
}

int query_snapshot(sqlite3 *db, int64_t snapshot, sqlite3_stmt **stmt)
{
    return prepare_for_snapshot(db, "SELECT time_ns, start_ns, peak_time_ns, peak_size, traced_peak,"
                                    " label, source, pid FROM snapshots WHERE id = :snapshot",
                                snapshot, stmt);
}

int query_timeline(sqlite3 *db, int64_t snapshot, sqlite3_stmt **stmt)
{
    return prepare_for_snapshot(db, "SELECT t_ns, traced, rss FROM timeline"
                                    " WHERE snapshot = :snapshot ORDER BY position",
                                snapshot, stmt);
}

static const char info_sql[] =
    "WITH s AS (SELECT * FROM snapshots WHERE id = :snapshot),"
    " g AS (SELECT count(DISTINCT traceback) AS tracebacks, count(DISTINCT domain) AS domains"
    " FROM groups WHERE snapshot = :snapshot)"
    " SELECT 'snapshot', id, 'int' FROM s"
    " UNION ALL SELECT 'label', label, 'text' FROM s"
    " UNION ALL SELECT 'source', source, 'text' FROM s"
    " UNION ALL SELECT 'format version', format_version, 'int' FROM s"
    " UNION ALL SELECT 'pid', pid, 'int' FROM s"
    " UNION ALL SELECT 'time', time_ns, 'time_ns' FROM s"
    " UNION ALL SELECT 'traceback limit', traceback_limit, 'int' FROM s"
    " UNION ALL SELECT 'traces', trace_count, 'int' FROM s"
    " UNION ALL SELECT 'traced size', trace_size, 'bytes' FROM s"
    " UNION ALL SELECT 'tracebacks', tracebacks, 'int' FROM g"
    " UNION ALL SELECT 'domains', domains, 'int' FROM g"
    " UNION ALL SELECT 'current', traced_current, 'bytes' FROM s"
    " UNION ALL SELECT 'peak', traced_peak, 'bytes' FROM s"
    " UNION ALL SELECT 'started', start_ns, 'time_ns' FROM s WHERE start_ns IS NOT NULL"
    " UNION ALL SELECT 'peak time', start_ns + peak_time_ns, 'time_ns' FROM s"
    " WHERE start_ns IS NOT NULL AND peak_time_ns IS NOT NULL"
    " UNION ALL SELECT 'peak after', peak_time_ns, 'duration_ns' FROM s"
    " WHERE peak_time_ns IS NOT NULL"
    " UNION ALL SELECT 'peak contents', peak_size, 'bytes' FROM s WHERE peak_size IS NOT NULL"
    " UNION ALL SELECT 'tracemalloc memory', tracemalloc_memory, 'bytes' FROM s"
    " UNION ALL SELECT 'untraced blocks', untraced_count, 'int' FROM s"
    " UNION ALL SELECT 'untraced size', untraced_size, 'bytes' FROM s";

int query_info(sqlite3 *db, int64_t snapshot, sqlite3_stmt **stmt)
{
    return prepare_for_snapshot(db, info_sql, snapshot, stmt);
}

/* Runs a one-row id query with :value bound (as an integer when numeric is set). */
static int find_id(sqlite3 *db, const char *sql, const char *value, int64_t number, int64_t *id)
{
    sqlite3_stmt *stmt;
    int rc = db_prepare(db, &stmt, "%s", sql);
    if (rc != SQLITE_OK)
        return rc;
    if (value)
        db_bind_text(stmt, ":value", value);
    else
        db_bind_int64(stmt, ":value", number);
    *id = 0;
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        *id = sqlite3_column_int64(stmt, 0);
    int final = sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? final : rc;
}

int query_find_snapshot(sqlite3 *db, const char *spec, int back, int64_t *id)
{
    if (!spec)
        return find_id(db, "SELECT id FROM snapshots ORDER BY id DESC LIMIT 1 OFFSET :value",
                       NULL, back, id);
    int rc = SQLITE_OK;
    *id = 0;
    /* A number names an id first; a label that looks like a number still works. */
    if (spec[0] && strspn(spec, "0123456789") == strlen(spec) && strlen(spec) < 19)
        rc = find_id(db, "SELECT id FROM snapshots WHERE id = :value", NULL,
                     strtoll(spec, NULL, 10), id);
    if (rc == SQLITE_OK && *id == 0)
        rc = find_id(db, "SELECT id FROM snapshots WHERE label = :value ORDER BY id DESC LIMIT 1",
                     spec, 0, id);
    return rc;
}
