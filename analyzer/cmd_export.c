/* cmd_export.c - `tracemalloc export SRC --pprof FILE | --folded [--value V] | --massif FILE`:
   a snapshot in the formats of other tools (export.h). It parses its own arguments, as its
   options are its own; errors end as main.c's do (one line, status 1). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump_read.h"
#include "export.h"
#include "store.h"
#include "fail.h"

#define usage_error(...) fail_usage("export", __VA_ARGS__)
#define file_error fail_file

static const char usage[] =
    "usage: tracemalloc export SRC [--pprof FILE] [--folded [--value V]] [--massif FILE]\n"
    "                          [--snapshot ID|LABEL]\n\n"
    "Writes the snapshot for other tools (docs/OUTPUT.md); FILE '-' is standard output.\n\n"
    "  --pprof FILE    a gzipped pprof profile.proto, as Go's heap profiles: alloc_objects,\n"
    "                  alloc_space, inuse_objects, inuse_space (the default); for go tool pprof,\n"
    "                  Pyroscope, Parca, Grafana. The alloc_* values are 0 without allocation\n"
    "                  totals (a version-1 dump, or TRACEMALLOC_TIMELINE=0).\n"
    "  --folded        collapsed stacks on standard output, `oldest;...;most_recent VALUE`,\n"
    "                  for flamegraph.pl, speedscope, inferno\n"
    "  --value V       what --folded counts: inuse_space (default), inuse_objects, alloc_space,\n"
    "                  alloc_objects or peak (bytes live at the peak)\n"
    "  --massif FILE   a massif.out for ms_print and massif-visualizer: the timeline, the peak's\n"
    "                  contents and the blocks live at the end\n\n"
    "SRC is a dump file, or a database written by `load` (told apart by their first bytes);\n"
    "for a database, --snapshot ID|LABEL picks the snapshot (default: the newest).\n";


struct export_options {
    const char *src, *pprof, *massif, *snapshot;
    int folded, value_given;
    enum export_value value;
};

/* --name VALUE or --name=VALUE; returns the value and advances *i past it. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    const char *arg = argv[*i], *eq = strchr(arg, '=');
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc)
        usage_error("%s needs a value", name);
    return argv[++*i];
}

static int is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static void parse(int argc, char **argv, struct export_options *o)
{
    int only_args = 0;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_args && strcmp(arg, "--") == 0) {
            only_args = 1;
        } else if (only_args || arg[0] != '-' || arg[1] == '\0') {
            if (o->src)
                usage_error("export: unexpected argument '%s'", arg);
            o->src = arg;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (is_option(arg, "--pprof")) {
            o->pprof = option_value(argc, argv, &i, "--pprof");
        } else if (is_option(arg, "--massif")) {
            o->massif = option_value(argc, argv, &i, "--massif");
        } else if (is_option(arg, "--snapshot")) {
            o->snapshot = option_value(argc, argv, &i, "--snapshot");
        } else if (is_option(arg, "--value")) {
            const char *value = option_value(argc, argv, &i, "--value");
            int v = export_parse_value(value);
            if (v < 0)
                usage_error("--value must be %s, not '%s'", EXPORT_VALUES, value);
            o->value = (enum export_value)v;
            o->value_given = 1;
        } else if (strcmp(arg, "--folded") == 0) {
            o->folded = 1;
        } else {
            usage_error("export: unknown option %s", arg);
        }
    }
    if (!o->src)
        usage_error("export: missing SRC");
    if (o->value_given && !o->folded)
        usage_error("export: --value is for --folded");
    if (!o->pprof && !o->folded && !o->massif)
        usage_error("export: say what to write: --pprof FILE, --folded or --massif FILE");
}

/* Opens SRC into *db and returns the snapshot to export. */
static int64_t open_snapshot(const struct export_options *o, sqlite3 **db)
{
    char error[STORE_ERROR_SIZE];
    int64_t id = 0;
    if (store_is_database(o->src)) {
        if (store_open(db, o->src, STORE_READ, error) < 0)
            file_error(o->src, "%s", error);
        if (query_find_snapshot(*db, o->snapshot, 0, &id) != SQLITE_OK)
            file_error(o->src, "%s", sqlite3_errmsg(*db));
        if (id == 0 && o->snapshot)
            file_error(o->src, "no snapshot '%s'", o->snapshot);
        if (id == 0)
            file_error(o->src, "no snapshots");
        return id;
    }
    if (o->snapshot)
        usage_error("--snapshot needs a database, and %s is not one", o->src);
    struct dump dump;
    char dump_error[DUMP_ERROR_SIZE];
    if (dump_read(&dump, o->src, dump_error) < 0)
        file_error(o->src, "%s", dump_error);
    if (dump.nskipped)
        fprintf(stderr, "tracemalloc: %s: skipped %u unknown optional section%s (%s)\n", o->src,
                dump.nskipped, dump.nskipped > 1 ? "s, the first" : "", dump.skipped_tag);
    struct store_load load = {.source = o->src};
    if (store_open(db, NULL, STORE_MEMORY, error) < 0 || store_add_dump(*db, &dump, &load, &id, error) < 0)
        file_error(o->src, "%s", error);
    dump_free(&dump);
    return id;
}

int cmd_export(int argc, char **argv)
{
    struct export_options o = {0};
    parse(argc, argv, &o);
    sqlite3 *db = NULL;
    int64_t snapshot = open_snapshot(&o, &db);
    enum query_source source = export_value_source(o.value);
    int present = 1;
    if (o.folded && query_has_source(db, snapshot, source, &present) != SQLITE_OK)
        file_error(o.src, "%s", sqlite3_errmsg(db));
    if (!present)
        file_error(o.src, "--value %s: snapshot %lld has no %s (no %s section: a version-1 "
                   "dump, or the timeline was off, TRACEMALLOC_TIMELINE=0)",
                   o.value == EXPORT_PEAK ? "peak" : o.value == EXPORT_ALLOC_SPACE ? "alloc_space"
                                                                            : "alloc_objects",
                   (long long)snapshot, source == SOURCE_PEAK ? "peak contents" : "allocation totals",
                   source == SOURCE_PEAK ? "PEAK" : "ALOC");
    struct export_data data;
    struct query_filters none = {NULL, 0, 0};
    if (export_load(db, snapshot, &none, &data) != SQLITE_OK)
        file_error(o.src, "%s", sqlite3_errmsg(db));
    char error[EXPORT_ERROR_SIZE];
    if (o.pprof && export_pprof(&data, o.pprof, error) < 0)
        file_error(o.pprof, "%s", error);
    if (o.massif && export_massif(&data, o.massif, error) < 0)
        file_error(o.massif, "%s", error);
    if (o.folded && export_folded(&data, o.value, stdout) < 0)
        file_error(o.src, "out of memory");
    export_free(&data);
    sqlite3_close(db);
    if (fflush(stdout) != 0 || ferror(stdout))
        file_error("stdout", "cannot write");
    return 0;
}
