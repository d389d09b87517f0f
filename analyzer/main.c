/* main.c - the `tracemalloc` command: parse the command line, open, run one command, close.

   Each command is a short function that asks query.c for a statement and hands it to
   render.c. Every failure ends in one of two exits, as in sqlite's tool/sqldiff.c: usage_error()
   ("see 'tracemalloc --help'") or file_error() ("tracemalloc: FILE: what is wrong"), status 1.
   Status 3 is kept for the --fail-over gates. */
#define _DEFAULT_SOURCE /* strdup, isatty, under -std=c11 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_run.h"
#include "dump_read.h"
#include "export.h"
#include "query.h"
#include "render.h"
#include "report.h"
#include "stb_ds.h"
#include "store.h"
#include "symbolize.h"
#include "tracemalloc.h"
#include "fail.h"

#define usage_error(...) fail_usage(NULL, __VA_ARGS__)
#define file_error fail_file

#define EXIT_GATE 3

/* Which options a command takes. */
#define OPT_BY 0x01u
#define OPT_CUMULATIVE 0x02u
#define OPT_TOP 0x04u
#define OPT_FILTERS 0x08u
#define OPT_FORMAT 0x10u
#define OPT_SNAPSHOT 0x20u
#define OPT_FAIL_OVER 0x40u
#define OPT_LABEL 0x80u
#define OPT_SOURCE 0x100u /* --at-peak, --allocated */
#define OPT_FOLDED 0x200u /* --folded, --value */
#define OPT_DEBUG_DIR 0x10000u /* --debug-dir, for native frames */
#define OPT_VIEW (OPT_BY | OPT_CUMULATIVE | OPT_TOP | OPT_FILTERS | OPT_FORMAT | OPT_SNAPSHOT)

struct command {
    const char *name;
    int (*run)(void);
    unsigned options;
    const char *usage; /* also the command's --help */
};

/* Everything the command line said, and the open database. */
static struct {
    const struct command *command;
    const char **args; /* positional arguments (stb_ds array) */
    enum query_key key;
    int key_given, cumulative, all_frames;
    int64_t top, fail_over;
    struct query_filter *filters; /* stb_ds array */
    enum render_style style;
    const char *snapshots[2];
    int nsnapshot;
    const char *label;
    enum query_source source;
    const char *source_option; /* the option that set source, for messages */
    int folded;
    enum export_value value;
    sqlite3 *db;
} g = {.top = -1, .fail_over = -1};


/* ---- command line ------------------------------------------------------------------------- */

/* A non-negative decimal integer that fits in int64_t, or a usage error naming what. */
static int64_t parse_count(const char *text, const char *what, int64_t minimum)
{
    int64_t value = 0;
    int ok = text[0] != '\0';
    for (const char *p = text; ok && *p; p++) {
        ok = *p >= '0' && *p <= '9' && value <= (INT64_MAX - (*p - '0')) / 10;
        if (ok)
            value = value * 10 + (*p - '0');
    }
    if (!ok || value < minimum)
        usage_error("%s must be an integer >= %lld, not '%s'", what, (long long)minimum, text);
    return value;
}

/* PATTERN[:LINENO]: a trailing ':' followed by digits is the line number. */
static void add_filename_filter(const char *value, int inclusive)
{
    struct query_filter f = {.inclusive = inclusive, .pattern = value};
    const char *colon = strrchr(value, ':');
    if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
        char *pattern = strdup(value);
        pattern[colon - value] = '\0';
        f.pattern = pattern;
        f.has_lineno = 1;
        f.lineno = parse_count(colon + 1, "a filter's line number", 0);
    }
    arrput(g.filters, f);
}

static void add_domain_filter(const char *value, int inclusive)
{
    struct query_filter f = {.inclusive = inclusive, .is_domain = 1};
    f.domain = parse_count(value, inclusive ? "--domain" : "--exclude-domain", 0);
    arrput(g.filters, f);
}

static void set_key(const char *value)
{
    static const char *const names[] = {"lineno", "filename", "traceback"};
    for (int i = 0; i < 3; i++)
        if (strcmp(value, names[i]) == 0) {
            g.key = (enum query_key)i;
            g.key_given = 1;
            return;
        }
    usage_error("--by must be lineno, filename or traceback, not '%s'", value);
}

static void set_style(const char *value)
{
    if (strcmp(value, "text") == 0)
        g.style = STYLE_TEXT;
    else if (strcmp(value, "csv") == 0)
        g.style = STYLE_CSV;
    else if (strcmp(value, "json") == 0)
        g.style = STYLE_JSON;
    else
        usage_error("--format must be text, csv or json, not '%s'", value);
}

static void set_source(enum query_source source, const char *option)
{
    if (g.source_option && g.source != source)
        usage_error("%s and %s cannot be used together", g.source_option, option);
    g.source = source;
    g.source_option = option;
}

static void set_value(const char *value)
{
    int v = export_parse_value(value);
    if (v < 0)
        usage_error("--value must be %s, not '%s'", EXPORT_VALUES, value);
    g.value = (enum export_value)v;
}

static void print_help(const struct command *command);

/* Applies one option; value is NULL for the options that take none. */
static void apply_option(const char *name, const char *value)
{
    if (strcmp(name, "--by") == 0) set_key(value);
    else if (strcmp(name, "--cumulative") == 0) g.cumulative = 1;
    else if (strcmp(name, "--top") == 0) g.top = parse_count(value, "--top", 0);
    else if (strcmp(name, "--include") == 0) add_filename_filter(value, 1);
    else if (strcmp(name, "--exclude") == 0) add_filename_filter(value, 0);
    else if (strcmp(name, "--all-frames") == 0) g.all_frames = 1;
    else if (strcmp(name, "--domain") == 0) add_domain_filter(value, 1);
    else if (strcmp(name, "--exclude-domain") == 0) add_domain_filter(value, 0);
    else if (strcmp(name, "--format") == 0) set_style(value);
    else if (strcmp(name, "--fail-over") == 0) g.fail_over = parse_count(value, "--fail-over", 0);
    else if (strcmp(name, "--label") == 0) g.label = value;
    else if (strcmp(name, "--at-peak") == 0) set_source(SOURCE_PEAK, name);
    else if (strcmp(name, "--allocated") == 0) set_source(SOURCE_ALLOCATED, name);
    else if (strcmp(name, "--folded") == 0) g.folded = 1;
    else if (strcmp(name, "--value") == 0) set_value(value);
    else if (strcmp(name, "--debug-dir") == 0) {
        if (symbolize_set_debug_dir(value) < 0) file_error(value, "--debug-dir: %s", strerror(errno));
    }
    else if (g.nsnapshot < 2) g.snapshots[g.nsnapshot++] = value;
    else usage_error("%s: --snapshot is given more than twice", g.command->name);
}

static const struct {
    const char *name;
    unsigned flag;
    int takes_value;
} option_table[] = {
    {"--by", OPT_BY, 1}, {"--cumulative", OPT_CUMULATIVE, 0}, {"--top", OPT_TOP, 1},
    {"--include", OPT_FILTERS, 1}, {"--exclude", OPT_FILTERS, 1},
    {"--all-frames", OPT_FILTERS, 0}, {"--domain", OPT_FILTERS, 1},
    {"--exclude-domain", OPT_FILTERS, 1}, {"--format", OPT_FORMAT, 1},
    {"--snapshot", OPT_SNAPSHOT, 1}, {"--fail-over", OPT_FAIL_OVER, 1}, {"--label", OPT_LABEL, 1},
    {"--at-peak", OPT_SOURCE, 0}, {"--allocated", OPT_SOURCE, 0}, {"--folded", OPT_FOLDED, 0},
    {"--value", OPT_FOLDED, 1}, {"--debug-dir", OPT_DEBUG_DIR, 1},
};

/* Options may stand anywhere after the command, as --name VALUE or --name=VALUE; "--" ends
   them. Returns the index of the argument after the option's value. */
static int parse_option(int argc, char **argv, int i)
{
    char *arg = argv[i], *eq = strchr(arg, '=');
    size_t length = eq ? (size_t)(eq - arg) : strlen(arg);
    if ((length == 6 && strncmp(arg, "--help", 6) == 0) || strcmp(arg, "-h") == 0)
        print_help(g.command), exit(0);
    for (size_t k = 0; k < sizeof option_table / sizeof option_table[0]; k++) {
        const char *name = option_table[k].name;
        if (strlen(name) != length || strncmp(arg, name, length) != 0)
            continue;
        if (!(g.command->options & option_table[k].flag))
            break;
        const char *value = eq ? eq + 1 : NULL;
        if (option_table[k].takes_value && !value) {
            if (i + 1 >= argc)
                usage_error("%s needs a value", name);
            value = argv[++i];
        } else if (!option_table[k].takes_value && value) {
            usage_error("%s takes no value", name);
        }
        apply_option(name, value);
        return i + 1;
    }
    usage_error("%s: unknown option %.*s", g.command->name, (int)length, arg);
    return argc;
}

static void parse_arguments(int argc, char **argv)
{
    int i = 2, only_args = 0;
    while (i < argc) {
        if (!only_args && strcmp(argv[i], "--") == 0)
            only_args = 1, i++;
        else if (!only_args && argv[i][0] == '-' && argv[i][1] != '\0')
            i = parse_option(argc, argv, i);
        else
            arrput(g.args, argv[i++]);
    }
}

/* ---- sources ------------------------------------------------------------------------------ */

static void warn_skipped(const char *path, const struct dump *dump)
{
    if (dump->nskipped)
        fprintf(stderr, "tracemalloc: %s: skipped %u unknown optional section%s (%s)\n", path,
                dump->nskipped, dump->nskipped > 1 ? "s, the first" : "", dump->skipped_tag);
}

/* Reads and validates a dump; any problem ends the program with its one-line reason. */
static void read_dump_or_die(const char *path, struct dump *dump)
{
    char error[DUMP_ERROR_SIZE];
    if (dump_read(dump, path, error) < 0)
        file_error(path, "%s", error);
    warn_skipped(path, dump);
}

/* Adds a dump to g.db (an in-memory database, opened on first use) and returns its id. */
static int64_t load_into_memory(const char *path, int with_traces)
{
    char error[STORE_ERROR_SIZE];
    struct dump dump;
    int64_t id;
    read_dump_or_die(path, &dump);
    if (!g.db && store_open(&g.db, NULL, STORE_MEMORY, error) < 0)
        file_error(path, "%s", error);
    struct store_load load = {.source = path, .with_traces = with_traces};
    if (store_add_dump(g.db, &dump, &load, &id, error) < 0)
        file_error(path, "%s", error);
    dump_free(&dump);
    return id;
}

static void open_database(const char *path)
{
    char error[STORE_ERROR_SIZE];
    if (store_open(&g.db, path, STORE_READ, error) < 0)
        file_error(path, "%s", error);
}

/* The snapshot --snapshot number i names in the open database (back: which newest one to
   take when it is not given). */
static int64_t pick_snapshot(const char *path, int i, int back)
{
    int64_t id;
    const char *spec = i < g.nsnapshot ? g.snapshots[i] : NULL;
    if (query_find_snapshot(g.db, spec, back, &id) != SQLITE_OK)
        file_error(path, "%s", sqlite3_errmsg(g.db));
    if (id == 0 && spec)
        file_error(path, "no snapshot '%s'", spec);
    if (id == 0)
        file_error(path, back ? "fewer than two snapshots" : "no snapshots");
    return id;
}

/* Opens SRC, a dump or a database, and returns the snapshot to answer from. */
static int64_t open_source(const char *path, int with_traces)
{
    if (!store_is_database(path)) {
        if (g.nsnapshot)
            usage_error("--snapshot needs a database, and %s is not one", path);
        return load_into_memory(path, with_traces);
    }
    open_database(path);
    return pick_snapshot(path, 0, 0);
}

/* ---- commands ----------------------------------------------------------------------------- */

static void need_args(int minimum, int maximum)
{
    int n = (int)arrlen(g.args);
    if (n < minimum)
        usage_error("%s: missing %s", g.command->name, n == 0 ? "SRC" : "argument");
    if (n > maximum)
        usage_error("%s: unexpected argument '%s'", g.command->name, g.args[maximum]);
}

static struct query_filters filters(void)
{
    return (struct query_filters){g.filters, (int)arrlen(g.filters), g.all_frames};
}

/* Stops with a clear reason when the snapshot lacks what source needs (option names it). */
static void require_source(const char *path, int64_t snapshot, enum query_source source,
                           const char *option)
{
    int present;
    if (query_has_source(g.db, snapshot, source, &present) != SQLITE_OK)
        file_error(path, "%s", sqlite3_errmsg(g.db));
    if (!present)
        file_error(path, "%s: snapshot %lld has no %s (no %s section: a version-1 dump, or the "
                   "timeline was off, TRACEMALLOC_TIMELINE=0)", option, (long long)snapshot,
                   source == SOURCE_PEAK ? "peak contents" : "allocation totals",
                   source == SOURCE_PEAK ? "PEAK" : "ALOC");
}

/* Runs one statistics (or comparison) query and renders it. */
static void show_statistics(const char *path, int64_t snapshot, int64_t old_snapshot)
{
    if (g.cumulative && g.key == KEY_TRACEBACK)
        usage_error("--cumulative cannot be used with --by traceback");
    if (g.source != SOURCE_LIVE)
        require_source(path, snapshot, g.source, g.source_option);
    struct query_filters f = filters();
    struct query_statistics q = {g.key, g.cumulative, g.top, &f, snapshot, old_snapshot,
                                 g.style == STYLE_JSON, g.source};
    sqlite3_stmt *stmt;
    if (query_statistics(g.db, &q, &stmt) != SQLITE_OK)
        file_error(path, "%s", sqlite3_errmsg(g.db));
    unsigned flags = (old_snapshot ? RENDER_DIFF : 0) | (g.key == KEY_TRACEBACK ? RENDER_TRACEBACK : 0)
                   | (g.source == SOURCE_ALLOCATED ? RENDER_TEMPORARIES : 0);
    int rc = render_statistics(stmt, g.style, flags, stdout);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        file_error(path, "%s", sqlite3_errmsg(g.db));
}

static int64_t total(const char *path, int64_t snapshot)
{
    struct query_filters f = filters();
    int64_t size;
    if (query_total(g.db, snapshot, &f, &size) != SQLITE_OK)
        file_error(path, "%s", sqlite3_errmsg(g.db));
    return size;
}

static int cmd_stats(void)
{
    need_args(1, 1);
    int64_t snapshot = open_source(g.args[0], 0);
    show_statistics(g.args[0], snapshot, 0);
    return 0;
}

static int cmd_leaks(void)
{
    need_args(1, 1);
    if (!g.key_given)
        g.key = KEY_TRACEBACK;
    int64_t snapshot = open_source(g.args[0], 0);
    show_statistics(g.args[0], snapshot, 0);
    int64_t size = g.fail_over >= 0 ? total(g.args[0], snapshot) : 0;
    if (g.fail_over < 0 || size <= g.fail_over)
        return 0;
    fflush(stdout);
    fprintf(stderr, "tracemalloc: %s: %lld bytes still allocated, more than --fail-over %lld\n",
            g.args[0], (long long)size, (long long)g.fail_over);
    return EXIT_GATE;
}

static int cmd_top(void)
{
    need_args(1, 2);
    int64_t limit = arrlen(g.args) > 1 ? parse_count(g.args[1], "N", 1) : 10;
    int64_t snapshot = open_source(g.args[0], 0);
    if (g.source != SOURCE_LIVE)
        require_source(g.args[0], snapshot, g.source, g.source_option);
    struct query_filters f = filters();
    struct query_statistics q = {KEY_LINENO, 0, -1, &f, snapshot, 0, 0, g.source};
    sqlite3_stmt *stmt;
    if (query_statistics(g.db, &q, &stmt) != SQLITE_OK)
        file_error(g.args[0], "%s", sqlite3_errmsg(g.db));
    int rc = render_top(stmt, limit, stdout);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        file_error(g.args[0], "%s", sqlite3_errmsg(g.db));
    return 0;
}

/* compare --folded: difffolded.pl's two-column collapsed stacks instead of statistics. */
static void show_folded_diff(const char *old_path, const char *path, int64_t old_snapshot,
                             int64_t snapshot)
{
    if (g.key_given || g.cumulative || g.top >= 0 || g.style != STYLE_TEXT)
        usage_error("compare --folded prints collapsed stacks: --by, --cumulative, --top and "
                    "--format do not apply");
    enum query_source source = export_value_source(g.value);
    if (source != SOURCE_LIVE) {
        require_source(old_path, old_snapshot, source, "--value");
        require_source(path, snapshot, source, "--value");
    }
    struct query_filters f = filters();
    if (export_folded_compare(g.db, old_snapshot, snapshot, &f, g.value, stdout) != SQLITE_OK)
        file_error(path, "%s", sqlite3_errmsg(g.db));
}

/* OLD and NEW: two dumps (both go into one in-memory database), or one database and its
   snapshots: --snapshot OLD --snapshot NEW, by default the two newest. */
static int cmd_compare(void)
{
    need_args(1, 2);
    if (!g.folded && g.value != EXPORT_INUSE_SPACE)
        usage_error("compare: --value needs --folded");
    const char *name = g.args[arrlen(g.args) - 1];
    int64_t old_snapshot, snapshot;
    if (arrlen(g.args) == 2) {
        if (g.nsnapshot)
            usage_error("compare: --snapshot is for one database: compare DB --snapshot OLD --snapshot NEW");
        for (int i = 0; i < 2; i++)
            if (store_is_database(g.args[i]))
                usage_error("compare: %s is a database: compare DB --snapshot OLD --snapshot NEW", g.args[i]);
        old_snapshot = load_into_memory(g.args[0], 0);
        snapshot = load_into_memory(g.args[1], 0);
    } else {
        if (!store_is_database(name))
            usage_error("compare: needs OLD and NEW dumps, or a database");
        open_database(name);
        old_snapshot = pick_snapshot(name, 0, g.nsnapshot == 0 ? 1 : 0);
        snapshot = g.nsnapshot == 2 ? pick_snapshot(name, 1, 0) : pick_snapshot(name, 2, 0);
    }
    if (g.folded)
        show_folded_diff(g.args[0], name, old_snapshot, snapshot);
    else
        show_statistics(name, snapshot, old_snapshot);
    if (g.fail_over < 0)
        return 0;
    int64_t growth = total(name, snapshot) - total(name, old_snapshot);
    if (growth <= g.fail_over)
        return 0;
    fflush(stdout);
    fprintf(stderr, "tracemalloc: %s: the total grew by %lld bytes, more than --fail-over %lld\n",
            name, (long long)growth, (long long)g.fail_over);
    return EXIT_GATE;
}

static int cmd_info(void)
{
    need_args(1, 1);
    int64_t snapshot = open_source(g.args[0], 0);
    sqlite3_stmt *stmt;
    if (query_info(g.db, snapshot, &stmt) != SQLITE_OK)
        file_error(g.args[0], "%s", sqlite3_errmsg(g.db));
    int rc = render_info(stmt, stdout);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        file_error(g.args[0], "%s", sqlite3_errmsg(g.db));
    return 0;
}

/* Runs every statement of the text, each rendered in turn. */
static int cmd_sql(void)
{
    need_args(2, 2);
    const char *path = g.args[0], *sql = g.args[1];
    if (store_is_database(path))
        open_database(path);
    else
        load_into_memory(path, 1);
    while (sql && *sql) {
        sqlite3_stmt *stmt;
        if (sqlite3_prepare_v2(g.db, sql, -1, &stmt, &sql) != SQLITE_OK)
            file_error(path, "%s", sqlite3_errmsg(g.db));
        if (!stmt) /* only spaces or comments were left */
            break;
        int rc = render_table(stmt, g.style, stdout);
        sqlite3_finalize(stmt);
        if (rc != SQLITE_DONE)
            file_error(path, "%s", sqlite3_errmsg(g.db));
    }
    return 0;
}

/* ---- load --------------------------------------------------------------------------------- */

struct progress {
    int shown;
    size_t index, count;
};

static void show_progress(void *context, uint64_t done, uint64_t total)
{
    struct progress *p = context;
    int width = 30, filled = total ? (int)(done * (uint64_t)width / total) : width;
    fprintf(stderr, "\rloading %zu/%zu [%.*s%*s] %3d%%", p->index + 1, p->count, filled,
            "##############################", width - filled, "",
            total ? (int)(done * 100 / total) : 100);
    p->shown = 1;
}

/* Erases the bar before anything else is printed to the terminal. */
static void clear_progress(struct progress *p)
{
    if (p->shown)
        fputs("\r\033[K", stderr);
    p->shown = 0;
}

/* A bar only on a terminal, and only when the work is long: big dumps or many of them. */
static int wants_progress(void)
{
    uint64_t bytes = 0;
    struct stat st;
    for (ptrdiff_t i = 1; i < arrlen(g.args); i++)
        if (stat(g.args[i], &st) == 0)
            bytes += (uint64_t)st.st_size;
    return isatty(STDERR_FILENO) && (bytes >= (16u << 20) || arrlen(g.args) > 20);
}

/* Loads one dump; returns 0, or 1 after saying why it was not loaded (the database then holds
   exactly what it held). */
static int load_one(const char *db_path, const char *path, struct progress *progress)
{
    char error[DUMP_ERROR_SIZE], store_error[STORE_ERROR_SIZE];
    struct dump dump;
    int64_t id;
    if (dump_read(&dump, path, error) < 0) {
        dump_free(&dump);
        clear_progress(progress);
        fprintf(stderr, "tracemalloc: %s: %s\n", path, error);
        return 1;
    }
    warn_skipped(path, &dump);
    if (!g.db && store_open(&g.db, db_path, STORE_WRITE, store_error) < 0)
        file_error(db_path, "%s", store_error);
    struct store_load load = {path, g.label, 1, progress->count ? show_progress : NULL, progress};
    int rc = store_add_dump(g.db, &dump, &load, &id, store_error);
    dump_free(&dump);
    if (rc < 0) {
        clear_progress(progress);
        fprintf(stderr, "tracemalloc: %s: %s\n", db_path, store_error);
        return 1;
    }
    clear_progress(progress);
    printf("%lld\n", (long long)id);
    fflush(stdout);
    return 0;
}

/* Each dump is validated in full before its transaction starts, so a bad one never touches
   the database (which is not even created until a dump is good). The others still load. */
static int cmd_load(void)
{
    need_args(2, INT32_MAX);
    struct progress progress = {0, 0, wants_progress() ? (size_t)arrlen(g.args) - 1 : 0};
    int failed = 0;
    for (ptrdiff_t i = 1; i < arrlen(g.args); i++, progress.index++)
        failed |= load_one(g.args[0], g.args[i], &progress);
    return failed;
}

/* ---- help --------------------------------------------------------------------------------- */

#define FILTERS_HELP \
    "FILTERS (Python's Filter and DomainFilter; inclusive ones OR'ed, exclusive ones AND'ed):\n" \
    "  --include PATTERN[:LINENO]  keep traces whose most recent frame's file matches PATTERN\n" \
    "                              (Python's fnmatch: * also matches /), at LINENO if given\n" \
    "  --exclude PATTERN[:LINENO]  drop them\n" \
    "  --all-frames                --include/--exclude look at every frame of the traceback\n" \
    "  --domain N                  keep traces of domain N\n" \
    "  --exclude-domain N          drop traces of domain N\n"

#define VIEW_HELP \
    "  --by lineno|filename|traceback   the statistic's key (default lineno)\n" \
    "  --cumulative                     count every frame of a traceback, not only the most recent\n" \
    "  --top N                          only the first N statistics\n" \
    "  --format text|csv|json           text is Python's str(Statistic); see docs/OUTPUT.md\n"

#define SOURCE_HELP \
    "  --at-peak                        what was live at the peak (the dump's PEAK section)\n" \
    "  --allocated                      every block allocated since tracing started, freed or\n" \
    "                                   not (ALOC), with its temporaries\n"

#define DEBUG_DIR_HELP \
    "  --debug-dir DIR   native frames: also look in DIR for ELF and debug files, by build-id\n" \
    "                    (DIR/.build-id/xx/yyyy.debug) and by name (DIR/PATH, DIR/BASENAME),\n" \
    "                    after the file itself and /usr/lib/debug\n"

#define SRC_HELP \
    "SRC is a dump file, or a database written by `load` (told apart by their first bytes);\n" \
    "for a database, --snapshot ID|LABEL picks the snapshot (default: the newest).\n"

static const struct command commands[] = {
    {"load", cmd_load, OPT_LABEL | OPT_DEBUG_DIR,
     "usage: tracemalloc load DB DUMP... [--label L]\n\n"
     "Adds each dump as a snapshot to the SQLite database DB (created if missing), with one row\n"
     "per traced block, and prints the new snapshot ids, one per line. Each dump is checked in\n"
     "full first and loaded in one transaction: a bad dump is reported and leaves DB as it was;\n"
     "the others are still loaded (exit status 1 if any failed).\n\n"
     "  --label L         the snapshots' label (default: the label recorded in each dump)\n"
     DEBUG_DIR_HELP},
    {"stats", cmd_stats, OPT_VIEW | OPT_SOURCE | OPT_DEBUG_DIR,
     "usage: tracemalloc stats SRC [--by lineno|filename|traceback] [--cumulative] [--top N]\n"
     "                         [FILTERS] [--format text|csv|json] [--snapshot ID|LABEL]\n"
     "                         [--at-peak | --allocated]\n\n"
     "Python's Snapshot.filter_traces(FILTERS).statistics(KEY, CUMULATIVE): one statistic per\n"
     "line, the largest first.\n\n" VIEW_HELP SOURCE_HELP "\n" FILTERS_HELP "\n" SRC_HELP DEBUG_DIR_HELP},
    {"top", cmd_top, OPT_FILTERS | OPT_SNAPSHOT | OPT_SOURCE | OPT_DEBUG_DIR,
     "usage: tracemalloc top SRC [N] [FILTERS] [--snapshot ID|LABEL] [--at-peak | --allocated]\n\n"
     "The Python documentation's \"display the top 10\" report: the N lines (default 10) that\n"
     "hold the most memory, with their source line when the file can be read from the current\n"
     "directory, then how much the other lines hold and the total.\n\n" SOURCE_HELP "\n"
     FILTERS_HELP "\n" SRC_HELP DEBUG_DIR_HELP},
    {"compare", cmd_compare, OPT_VIEW | OPT_FAIL_OVER | OPT_FOLDED | OPT_DEBUG_DIR,
     "usage: tracemalloc compare OLD.tmd NEW.tmd [options]\n"
     "       tracemalloc compare DB [--snapshot OLD --snapshot NEW] [options]\n\n"
     "Python's NEW.compare_to(OLD, KEY, CUMULATIVE): what grew and what shrank, the largest\n"
     "change first. OLD and NEW are two dumps, or two snapshots of one database: the first\n"
     "--snapshot is OLD and the second NEW (ids or labels); with one, NEW is the newest; with\n"
     "none, the two newest.\n\n" VIEW_HELP
     "  --folded [--value V]             instead: collapsed stacks with two columns, OLD and\n"
     "                                   NEW (difffolded.pl's form, for a differential flame\n"
     "                                   graph); V as for export (default inuse_space)\n"
     "  --fail-over BYTES                exit with status 3 when the total size (after the\n"
     "                                   filters) grew by more than BYTES\n\n" FILTERS_HELP "\n"
     DEBUG_DIR_HELP},
    {"leaks", cmd_leaks, OPT_VIEW | OPT_FAIL_OVER | OPT_DEBUG_DIR,
     "usage: tracemalloc leaks SRC [--fail-over BYTES] [--by traceback|lineno|filename] [options]\n\n"
     "What is still allocated in a dump written at exit, grouped by traceback by default.\n\n"
     VIEW_HELP
     "  --fail-over BYTES                exit with status 3 when more than BYTES are still\n"
     "                                   allocated (after the filters)\n\n" FILTERS_HELP "\n" SRC_HELP
     DEBUG_DIR_HELP},
    {"info", cmd_info, OPT_SNAPSHOT | OPT_DEBUG_DIR,
     "usage: tracemalloc info SRC [--snapshot ID|LABEL]\n\n"
     "The snapshot's metadata: label, format version, pid, time (UTC), traceback limit, counts,\n"
     "the traced memory (current and peak), the tracker's own memory, untraced blocks.\n\n" SRC_HELP
     DEBUG_DIR_HELP},
    {"sql", cmd_sql, OPT_FORMAT | OPT_DEBUG_DIR,
     "usage: tracemalloc sql DB 'QUERY' [--format text|csv|json]\n\n"
     "Runs QUERY (one or more statements) on the database, opened read-only; docs/SCHEMA.md\n"
     "describes the tables and views. DB may also be a dump, read into memory. Extra SQL\n"
     "functions: fnmatch(name, pattern), match_frame(filename, lineno, pattern, lineno),\n"
     "frame_key(filename, lineno). text prints a header and values separated by |.\n\n"
     DEBUG_DIR_HELP},
};
#define NCOMMAND (sizeof commands / sizeof commands[0])

static void print_help(const struct command *command)
{
    if (command) {
        fputs(command->usage, stdout);
        return;
    }
    printf("usage: tracemalloc COMMAND [ARGS] [OPTIONS]\n\n"
           "Answers what Python's tracemalloc answers, for dumps written by tracemalloc.h.\n\n"
           "commands:\n"
           "  load DB DUMP... [--label L]         add dumps to an SQLite database\n"
           "  stats SRC [options]                 statistics by line, file or traceback\n"
           "  top SRC [N]                         the N lines holding the most memory\n"
           "  compare OLD NEW [options]           what changed between two snapshots\n"
           "  leaks SRC [--fail-over BYTES]       what is still allocated\n"
           "  info SRC                            a snapshot's metadata\n"
           "  export SRC --pprof F|--folded|--massif F\n"
           "                                      for pprof, flame graphs, ms_print\n"
           "  sql DB 'QUERY' [--format F]         SQL on the database, read-only\n"
           "  report SRC [OLD] -o FILE.html       an HTML page: memory over time, flame graphs\n"
           "  run [options] -- PROG [ARGS]        trace a program that was not rebuilt\n\n"
           "'tracemalloc COMMAND --help' tells more about each.\n\n"
           "%s\n"
           "exit status: 0 success, 1 bad input or usage, 3 a --fail-over gate tripped.\n",
           SRC_HELP);
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMAND; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* The commands that parse their own options (argv[1] is their name); -1 for another name. */
static int run_own_parser(int argc, char **argv)
{
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "export") == 0)
        return cmd_export(argc, argv);
    if (strcmp(argv[1], "report") == 0)
        return report_main(argc, argv);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage_error("missing command");
    if (strcmp(argv[1], "help") == 0 && argc > 2) {
        char *help_argv[] = {argv[0], argv[2], "--help", NULL};
        int status = run_own_parser(3, help_argv);
        if (status >= 0)
            return status;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_help(argc > 2 && strcmp(argv[1], "help") == 0 ? find_command(argv[2]) : NULL);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tracemalloc %d.%d.%d\n", TM_VERSION_MAJOR, TM_VERSION_MINOR, TM_VERSION_PATCH);
        return 0;
    }
    int status = run_own_parser(argc, argv);
    if (status >= 0)
        return status;
    if (!(g.command = find_command(argv[1])))
        usage_error("unknown command '%s'", argv[1]);
    parse_arguments(argc, argv);
    status = g.command->run();
    if (fflush(stdout) != 0 || ferror(stdout))
        file_error("stdout", "%s", strerror(errno));
    sqlite3_close(g.db);
    return status;
}
