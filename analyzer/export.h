/* export.h - a snapshot in the formats other tools read: pprof's profile.proto (go tool pprof,
   Pyroscope, Parca), collapsed stacks (flamegraph.pl, speedscope, inferno) and massif.out
   (ms_print, massif-visualizer). docs/OUTPUT.md fixes each format.

   Every exporter works from one in-memory model of the snapshot, export_data: one sample per
   (domain, traceback) with its numbers from the three sources (live now, live at the peak,
   allocated since start) and its frames, plus the timeline. export.c loads it from the
   database with query_samples(); export_pprof.c, export_folded.c and export_massif.c write it;
   cmd_export.c is the `export` command. */
#ifndef EXPORT_H
#define EXPORT_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#include "query.h"

#define EXPORT_ERROR_SIZE 512

/* What a collapsed stack's number is (--value). */
enum export_value {
    EXPORT_INUSE_SPACE,   /* bytes live when the snapshot was taken (the default) */
    EXPORT_INUSE_OBJECTS, /* blocks live then */
    EXPORT_ALLOC_SPACE,   /* bytes allocated since start, freed or not (ALOC) */
    EXPORT_ALLOC_OBJECTS, /* blocks allocated since start (ALOC) */
    EXPORT_PEAK,          /* bytes live at the peak (PEAK) */
};
#define EXPORT_VALUES "inuse_space, inuse_objects, alloc_space, alloc_objects or peak"

/* The value named (as --value spells it), or -1. */
int export_parse_value(const char *name);

/* The source a value is read from (the one a snapshot must have). */
enum query_source export_value_source(enum export_value value);

/* A frame as the database records it; function NULL when unknown. */
struct export_frame {
    char *filename;
    int64_t lineno;
    char *function;
};

/* One (domain, traceback): its numbers in each source (0 where it has none) and its frames,
   as indexes into export_data.frames, most recent first. */
struct export_sample {
    uint32_t domain;
    int64_t alloc_count, alloc_size, live_count, live_size, peak_count, peak_size, temporaries;
    int *frames; /* stb_ds array */
};

struct export_point {
    int64_t t_ns, traced, rss;
};

struct export_data {
    struct export_frame *frames;   /* stb_ds array: each distinct frame once, in order of use */
    struct export_sample *samples; /* stb_ds array, in query_samples()'s order */
    struct export_point *timeline; /* stb_ds array, in time order; empty without TIME */
    int64_t time_ns, pid, traced_peak;
    int has_start, has_peak, has_alloc;
    int64_t start_ns, peak_time_ns, peak_size; /* peak_time_ns: since start_ns */
    char *label;                   /* NULL when none */
    char *source;                  /* the path the snapshot was read from */
};

/* Loads a snapshot's samples (those the filters keep), metadata and timeline. Returns the
   SQLite result code; data is to be freed with export_free() either way. */
int export_load(sqlite3 *db, int64_t snapshot, const struct query_filters *filters,
                struct export_data *data);
void export_free(struct export_data *data);

/* The sample's number for a value. */
int64_t export_sample_value(const struct export_sample *sample, enum export_value value);

/* Collapsed stacks, `oldest;...;most_recent VALUE`, one line per distinct stack with a
   non-zero value, sorted bytewise. Returns 0, or -1 when out of memory. */
int export_folded(const struct export_data *data, enum export_value value, FILE *out);

/* difffolded.pl's form, `stack OLD NEW`, for every stack non-zero in either snapshot. */
int export_folded_diff(const struct export_data *old, const struct export_data *new,
                       enum export_value value, FILE *out);

/* Loads two snapshots of db and writes export_folded_diff(). Returns the SQLite result code. */
int export_folded_compare(sqlite3 *db, int64_t old_snapshot, int64_t snapshot,
                          const struct query_filters *filters, enum export_value value,
                          FILE *out);

/* A gzipped profile.proto at path ("-": standard output). Returns 0, or -1 with the reason. */
int export_pprof(const struct export_data *data, const char *path, char error[EXPORT_ERROR_SIZE]);

/* A massif.out at path ("-": standard output). Returns 0, or -1 with the reason. */
int export_massif(const struct export_data *data, const char *path, char error[EXPORT_ERROR_SIZE]);

/* The `export` command: tracemalloc export SRC (--pprof FILE | --folded [--value V] |
   --massif FILE) [--snapshot ID|LABEL]. Returns the exit status. */
int cmd_export(int argc, char **argv);

#endif
