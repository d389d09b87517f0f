/* report.c - `tracemalloc report SRC [OLD] -o report.html`: one self-contained HTML page.

   The page is a template (analyzer/report/report.html) with its stylesheet and script
   (report.css, report.js) inlined, all three compiled into the binary (mk/report.mk turns them
   into build/report/report_assets.h), plus one JSON document written here from the database by
   SQL: the snapshot's metadata, its groups, peak_groups and alloc_groups, its timeline, the
   tracebacks and frames those refer to, the top lines as `stats` ranks them (query.c: now, at
   the peak, allocated), and with OLD the old snapshot's groups. The script builds the trees
   and draws them.

   The renderer is our own, vanilla JS and SVG, no charting or flame-graph library: the
   analyzer stays one binary that needs no npm (nor anything else fetched) to build, and a
   page is tens of KB where d3 and d3-flame-graph alone weigh hundreds. The page's
   Content-Security-Policy forbids every request, so it opens offline and stays that way.

   The data sits in <script type="application/json">: every '<', '>' and '&' in it is written
   as a \u escape, so no file name can close the element or start markup. */
#define _DEFAULT_SOURCE /* getpid, under -std=c11 */
#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "dump_read.h"
#include "query.h"
#include "report_assets.h" /* generated: report_html, report_css, report_js */
#include "store.h"
#include "tokenize.h"
#include "tracemalloc.h"
#include "fail.h"

#define usage_error(...) fail_usage("report", "report: " __VA_ARGS__)
#define file_error fail_file

static const char usage[] =
    "usage: tracemalloc report SRC [OLD] -o FILE.html [--top N]\n"
    "       tracemalloc report DB -o FILE.html [--snapshot NEW] [--old OLD] [--top N]\n\n"
    "Writes one self-contained HTML page that opens offline in any browser (it makes no network\n"
    "request): the memory over time (traced and RSS, the peak marked), a flame graph of the\n"
    "memory live now, at the peak and allocated since start (click a frame to zoom, search,\n"
    "exact bytes and counts), the top N lines as `stats` ranks them, and with OLD a\n"
    "differential flame graph of what grew and what shrank. SRC and OLD are dumps, or SRC is a\n"
    "database written by `load` and its snapshots are picked by --snapshot and --old.\n\n"
    "  -o, --output FILE     the page to write ('-': standard output)\n"
    "  --top N               lines in the top table (default 20)\n"
    "  --snapshot ID|LABEL   for a database: the snapshot shown (default: the newest)\n"
    "  --old ID|LABEL        for a database: the snapshot it is compared with\n";

static struct {
    const char *args[2];
    int nargs;
    const char *output, *snapshot_spec, *old_spec;
    int64_t top;
    sqlite3 *db;
} r = {.top = 20};


/* ---- command line ------------------------------------------------------------------------- */

static int64_t parse_top(const char *text)
{
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (!*text || *end || errno || value < 1 || text[0] == '+' || text[0] == ' ')
        usage_error("--top must be an integer >= 1, not '%s'", text);
    return value;
}

/* Options anywhere, as --name VALUE or --name=VALUE (and -o VALUE); "--" ends them. */
static void parse_arguments(int argc, char **argv)
{
    static const char *const names[] = {"-o", "--output", "--top", "--snapshot", "--old"};
    int only_args = 0;
    for (int i = 2; i < argc; i++) {
        char *arg = argv[i], *eq = strchr(arg, '=');
        if (only_args || arg[0] != '-' || arg[1] == '\0') {
            if (r.nargs == 2)
                usage_error("unexpected argument '%s'", arg);
            r.args[r.nargs++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_args = 1;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            fputs(usage, stdout), exit(0);
        size_t length = eq && arg[1] == '-' ? (size_t)(eq - arg) : strlen(arg);
        int k = 0;
        while (k < 5 && (strlen(names[k]) != length || strncmp(arg, names[k], length) != 0))
            k++;
        if (k == 5)
            usage_error("unknown option %.*s", (int)length, arg);
        const char *value = length < strlen(arg) ? arg + length + 1 : NULL;
        if (!value && i + 1 >= argc)
            usage_error("%s needs a value", names[k]);
        if (!value)
            value = argv[++i];
        if (k <= 1) r.output = value;
        else if (k == 2) r.top = parse_top(value);
        else if (k == 3) r.snapshot_spec = value;
        else r.old_spec = value;
    }
    if (r.nargs == 0)
        usage_error("missing SRC");
    if (!r.output)
        usage_error("missing -o FILE.html");
}

/* ---- sources ------------------------------------------------------------------------------ */

static int64_t load_dump(const char *path)
{
    char error[DUMP_ERROR_SIZE > STORE_ERROR_SIZE ? DUMP_ERROR_SIZE : STORE_ERROR_SIZE];
    struct dump dump;
    int64_t id;
    if (dump_read(&dump, path, error) < 0)
        file_error(path, "%s", error);
    if (dump.nskipped)
        fprintf(stderr, "tracemalloc: %s: skipped %u unknown optional section%s (%s)\n", path,
                dump.nskipped, dump.nskipped > 1 ? "s, the first" : "", dump.skipped_tag);
    if (!r.db && store_open(&r.db, NULL, STORE_MEMORY, error) < 0)
        file_error(path, "%s", error);
    struct store_load load = {.source = path};
    if (store_add_dump(r.db, &dump, &load, &id, error) < 0)
        file_error(path, "%s", error);
    dump_free(&dump);
    return id;
}

static int64_t find_snapshot(const char *path, const char *spec, int back)
{
    int64_t id;
    if (query_find_snapshot(r.db, spec, back, &id) != SQLITE_OK)
        file_error(path, "%s", sqlite3_errmsg(r.db));
    if (id == 0 && spec)
        file_error(path, "no snapshot '%s'", spec);
    if (id == 0)
        file_error(path, "no snapshots");
    return id;
}

/* Opens the sources; sets the snapshot shown and the one it is compared with (0: none). */
static void open_sources(int64_t *snapshot, int64_t *old)
{
    const char *src = r.args[0];
    *old = 0;
    if (store_is_database(src)) {
        char error[STORE_ERROR_SIZE];
        if (r.nargs == 2)
            usage_error("%s is a database: compare its snapshots with --snapshot NEW --old OLD", src);
        if (store_open(&r.db, src, STORE_READ, error) < 0)
            file_error(src, "%s", error);
        *snapshot = find_snapshot(src, r.snapshot_spec, 0);
        if (r.old_spec)
            *old = find_snapshot(src, r.old_spec, 0);
        return;
    }
    if (r.snapshot_spec || r.old_spec)
        usage_error("--snapshot and --old need a database, and %s is not one", src);
    if (r.nargs == 2 && store_is_database(r.args[1]))
        usage_error("OLD must be a dump, and %s is a database", r.args[1]);
    *snapshot = load_dump(src);
    if (r.nargs == 2)
        *old = load_dump(r.args[1]);
}

/* ---- JSON --------------------------------------------------------------------------------- */

/* A JSON string safe inside <script>: '"' and '\' escaped, control characters and '<', '>',
   '&' as \u00xx, each byte that is not part of valid UTF-8 as \uFFFD. NULL is null. */
static void json_string(sqlite3_str *out, const char *text)
{
    if (!text) {
        sqlite3_str_appendall(out, "null");
        return;
    }
    size_t left = strlen(text);
    uint32_t code_point;
    sqlite3_str_appendchar(out, 1, '"');
    while (left) {
        unsigned char c = (unsigned char)*text;
        int len = 1;
        if (c == '"' || c == '\\')
            sqlite3_str_appendf(out, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&')
            sqlite3_str_appendf(out, "\\u%04x", c);
        else if (c < 0x80)
            sqlite3_str_appendchar(out, 1, (char)c);
        else if ((len = utf8_char(text, left, &code_point)) > 0)
            sqlite3_str_append(out, text, len);
        else
            sqlite3_str_appendall(out, "\\uFFFD"), len = 1;
        text += len;
        left -= (size_t)len;
    }
    sqlite3_str_appendchar(out, 1, '"');
}

static void json_value(sqlite3_str *out, sqlite3_stmt *stmt, int i)
{
    switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
        sqlite3_str_appendf(out, "%lld", (long long)sqlite3_column_int64(stmt, i));
        break;
    case SQLITE_FLOAT:
        sqlite3_str_appendf(out, "%.17g", sqlite3_column_double(stmt, i));
        break;
    case SQLITE_TEXT:
        json_string(out, (const char *)sqlite3_column_text(stmt, i));
        break;
    default: /* NULL; no column here is a blob */
        sqlite3_str_appendall(out, "null");
    }
}

/* Binds :new and :old where the statement has them. */
static void bind_snapshots(sqlite3_stmt *stmt, int64_t snapshot, int64_t old)
{
    int i = sqlite3_bind_parameter_index(stmt, ":new");
    if (i)
        sqlite3_bind_int64(stmt, i, snapshot);
    if ((i = sqlite3_bind_parameter_index(stmt, ":old")))
        sqlite3_bind_int64(stmt, i, old);
}

/* Steps stmt (and finalizes it): every row as an array, or the first row as an object keyed
   by the column names (null when there is none). Returns the SQLite result code. */
static int json_rows(sqlite3_str *out, sqlite3_stmt *stmt, int as_object)
{
    int rc, n = sqlite3_column_count(stmt), rows = 0;
    if (!as_object)
        sqlite3_str_appendchar(out, 1, '[');
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && !(as_object && rows)) {
        sqlite3_str_appendall(out, rows++ ? ",[" : as_object ? "{" : "[");
        for (int i = 0; i < n; i++) {
            if (i)
                sqlite3_str_appendchar(out, 1, ',');
            if (as_object) {
                json_string(out, sqlite3_column_name(stmt, i));
                sqlite3_str_appendchar(out, 1, ':');
            }
            json_value(out, stmt, i);
        }
        sqlite3_str_appendchar(out, 1, as_object ? '}' : ']');
    }
    if (as_object && !rows)
        sqlite3_str_appendall(out, "null");
    if (!as_object)
        sqlite3_str_appendchar(out, 1, ']');
    int final = sqlite3_finalize(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? final : rc;
}

/* Runs sql (with :new and :old bound) and appends its rows. */
static int json_query(sqlite3_str *out, const char *sql, int64_t snapshot, int64_t old, int as_object)
{
    sqlite3_stmt *stmt;
    int rc = db_prepare(r.db, &stmt, "%s", sql);
    if (rc != SQLITE_OK)
        return rc;
    bind_snapshots(stmt, snapshot, old);
    return json_rows(out, stmt, as_object);
}

/* ---- the data ----------------------------------------------------------------------------- */

static int meta_json(sqlite3_str *out, int64_t snapshot)
{
    return json_query(out, "SELECT id, label, source, format_version, pid, time_ns,"
                           " traceback_limit, trace_count, trace_size, traced_current, traced_peak,"
                           " untraced_count, untraced_size, start_ns, peak_time_ns, peak_size"
                           " FROM snapshots WHERE id = :new", snapshot, 0, 1);
}

/* Per traceback (every domain together): count, size (and temporaries for alloc_groups).
   A version-1 snapshot has no rows in peak_groups and alloc_groups (nor in timeline); a
   version-1 database shows them empty too (schema.c). */
static int groups_json(sqlite3_str *out, const char *table, int64_t snapshot)
{
    int alloc = strcmp(table, "alloc_groups") == 0;
    char *sql = sqlite3_mprintf("SELECT traceback, sum(count), sum(size)%s FROM %s"
                                " WHERE snapshot = :new GROUP BY traceback ORDER BY traceback",
                                alloc ? ", sum(temporaries)" : "", table);
    int rc = sql ? json_query(out, sql, snapshot, 0, 0) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc;
}

/* {"meta": {...}, "groups": [...], and for the snapshot shown: peak_groups, alloc_groups,
   timeline [[t_ns, traced, rss], ...]}. */
static int snapshot_json(sqlite3_str *out, int64_t snapshot, int shown)
{
    sqlite3_str_appendall(out, "{\"meta\":");
    int rc = meta_json(out, snapshot);
    sqlite3_str_appendall(out, ",\"groups\":");
    if (rc == SQLITE_OK)
        rc = groups_json(out, "groups", snapshot);
    if (shown) {
        sqlite3_str_appendall(out, ",\"peak_groups\":");
        if (rc == SQLITE_OK)
            rc = groups_json(out, "peak_groups", snapshot);
        sqlite3_str_appendall(out, ",\"alloc_groups\":");
        if (rc == SQLITE_OK)
            rc = groups_json(out, "alloc_groups", snapshot);
        sqlite3_str_appendall(out, ",\"timeline\":");
        if (rc == SQLITE_OK)
            rc = json_query(out, "SELECT t_ns, traced, rss FROM timeline WHERE snapshot = :new"
                                 " ORDER BY position", snapshot, 0, 0);
    }
    sqlite3_str_appendchar(out, 1, '}');
    return rc;
}

/* The tracebacks the page draws. */
static const char used[] =
    "WITH used(traceback) AS (SELECT traceback FROM groups WHERE snapshot IN (:new, :old)"
    " UNION SELECT traceback FROM peak_groups WHERE snapshot = :new"
    " UNION SELECT traceback FROM alloc_groups WHERE snapshot = :new)";

/* [[id, filename, lineno, function], ...]: the function is the smallest name any frame record
   gives (filename, lineno), as the statistics show it (docs/OUTPUT.md). */
static int frames_json(sqlite3_str *out, int64_t snapshot, int64_t old)
{
    char *sql = sqlite3_mprintf(
        "%s SELECT f.id, s.value, f.lineno, (SELECT min(fs.value) FROM frames fn"
        " JOIN strings fs ON fs.id = fn.function WHERE fn.filename = f.filename"
        " AND fn.lineno = f.lineno) FROM frames f JOIN strings s ON s.id = f.filename"
        " WHERE f.id IN (SELECT frame FROM traceback_frames WHERE traceback IN"
        " (SELECT traceback FROM used)) ORDER BY f.id", used);
    int rc = sql ? json_query(out, sql, snapshot, old, 0) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc;
}

/* [[id, frame, frame, ...], ...]: each traceback's frame ids, most recent first. */
static int tracebacks_json(sqlite3_str *out, int64_t snapshot, int64_t old)
{
    sqlite3_stmt *stmt;
    int rc = db_prepare(r.db, &stmt, "%s SELECT traceback, frame FROM traceback_frames"
                        " WHERE traceback IN (SELECT traceback FROM used)"
                        " ORDER BY traceback, position", used);
    if (rc != SQLITE_OK)
        return rc;
    bind_snapshots(stmt, snapshot, old);
    int64_t current = -1;
    sqlite3_str_appendchar(out, 1, '[');
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t traceback = sqlite3_column_int64(stmt, 0);
        if (traceback != current)
            sqlite3_str_appendf(out, "%s[%lld", current < 0 ? "" : "],", (long long)traceback);
        current = traceback;
        sqlite3_str_appendf(out, ",%lld", (long long)sqlite3_column_int64(stmt, 1));
    }
    sqlite3_str_appendall(out, current < 0 ? "]" : "]]");
    int final = sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? final : rc;
}

/* {"now": rows, "peak": rows, "allocated": rows}: the top lines as `stats` ranks them (with
   OLD, "now" as `compare` does; --at-peak and --allocated), in the rows of query.h. */
static int top_json(sqlite3_str *out, int64_t snapshot, int64_t old)
{
    static const char *const names[] = {"now", "peak", "allocated"};
    static const enum query_source sources[] = {SOURCE_LIVE, SOURCE_PEAK, SOURCE_ALLOCATED};
    int rc = SQLITE_OK;
    for (int i = 0; i < 3 && rc == SQLITE_OK; i++) {
        struct query_statistics q = {.key = KEY_LINENO, .top = r.top, .snapshot = snapshot,
                                     .old_snapshot = i == 0 ? old : 0, .with_functions = 1,
                                     .source = sources[i]};
        sqlite3_stmt *stmt;
        sqlite3_str_appendf(out, "%s\"%s\":", i ? "," : "{", names[i]);
        if ((rc = query_statistics(r.db, &q, &stmt)) == SQLITE_OK)
            rc = json_rows(out, stmt, 0);
    }
    sqlite3_str_appendchar(out, 1, '}');
    return rc;
}

static int data_json(sqlite3_str *out, int64_t snapshot, int64_t old)
{
    sqlite3_str_appendf(out, "{\"tool\":\"tracemalloc %d.%d.%d\",\"top_n\":%lld,\"snapshot\":",
                        TM_VERSION_MAJOR, TM_VERSION_MINOR, TM_VERSION_PATCH, (long long)r.top);
    int rc = snapshot_json(out, snapshot, 1);
    sqlite3_str_appendall(out, ",\"old\":");
    if (rc == SQLITE_OK && old)
        rc = snapshot_json(out, old, 0);
    else
        sqlite3_str_appendall(out, "null");
    sqlite3_str_appendall(out, ",\"frames\":");
    if (rc == SQLITE_OK)
        rc = frames_json(out, snapshot, old);
    sqlite3_str_appendall(out, ",\"tracebacks\":");
    if (rc == SQLITE_OK)
        rc = tracebacks_json(out, snapshot, old);
    sqlite3_str_appendall(out, ",\"top\":");
    if (rc == SQLITE_OK)
        rc = top_json(out, snapshot, old);
    sqlite3_str_appendall(out, "}");
    return rc;
}

/* ---- the page ----------------------------------------------------------------------------- */

/* The template with {{report.css}}, {{report.js}} and {{data}} filled in. */
static void write_page(FILE *out, const char *data)
{
    const char *text = (const char *)report_html, *mark;
    while ((mark = strstr(text, "{{"))) {
        const char *end = strstr(mark, "}}");
        size_t length = end ? (size_t)(end - mark - 2) : 0;
        fwrite(text, 1, (size_t)(mark - text), out);
        if (length == 10 && strncmp(mark + 2, "report.css", 10) == 0)
            fputs((const char *)report_css, out);
        else if (length == 9 && strncmp(mark + 2, "report.js", 9) == 0)
            fputs((const char *)report_js, out);
        else if (length == 4 && strncmp(mark + 2, "data", 4) == 0)
            fputs(data, out);
        else /* a {{ of the template's own text */
            end = mark, fputs("{{", out);
        text = end + 2;
    }
    fputs(text, out);
}

/* Written next to the target and renamed over it, so a failure never leaves half a page. */
static void write_output(const char *path, const char *data)
{
    if (strcmp(path, "-") == 0) {
        write_page(stdout, data);
        if (fflush(stdout) != 0 || ferror(stdout))
            file_error("stdout", "%s", strerror(errno));
        return;
    }
    char *tmp = sqlite3_mprintf("%s.tmp.%d", path, (int)getpid());
    FILE *out = tmp ? fopen(tmp, "w") : NULL;
    if (!out)
        file_error(path, "cannot write: %s", strerror(errno));
    write_page(out, data);
    int failed = ferror(out), error = errno;
    if (fclose(out) != 0 && !failed)
        failed = 1, error = errno;
    if (!failed && rename(tmp, path) != 0)
        failed = 1, error = errno;
    if (failed) {
        remove(tmp);
        file_error(path, "cannot write: %s", strerror(error));
    }
    sqlite3_free(tmp);
}

int report_main(int argc, char **argv)
{
    int64_t snapshot, old;
    parse_arguments(argc, argv);
    open_sources(&snapshot, &old);
    sqlite3_str *data = sqlite3_str_new(r.db);
    int rc = data_json(data, snapshot, old);
    if (rc == SQLITE_OK)
        rc = sqlite3_str_errcode(data);
    char *text = sqlite3_str_finish(data);
    if (rc != SQLITE_OK || !text)
        file_error(r.args[0], "%s", rc == SQLITE_OK ? "out of memory" : sqlite3_errmsg(r.db));
    write_output(r.output, text);
    sqlite3_free(text);
    sqlite3_close(r.db);
    return 0;
}
