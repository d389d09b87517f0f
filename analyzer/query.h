/* query.h - one function per question, each answering with a prepared statement.

   The questions are Python's: Snapshot.filter_traces(filters).statistics(key_type, cumulative)
   and new.compare_to(old, key_type, cumulative). They run on the groups table (one row per
   snapshot, domain and traceback), never on the per-block traces. This stage never formats:
   render.c turns the rows into text, csv or json. */
#ifndef QUERY_H
#define QUERY_H

#include <sqlite3.h>
#include <stdint.h>

enum query_key { KEY_LINENO, KEY_FILENAME, KEY_TRACEBACK };

/* Which blocks a statistic counts: those live when the snapshot was taken (the groups table),
   those live at the peak (peak_groups, the dump's PEAK section), or every block allocated since
   tracing started, freed or not (alloc_groups, ALOC; with temporaries). */
enum query_source { SOURCE_LIVE, SOURCE_PEAK, SOURCE_ALLOCATED };

/* A Filter (a file name pattern, with a line number or not) or a DomainFilter. */
struct query_filter {
    int inclusive;
    int is_domain;
    const char *pattern;
    int has_lineno;
    int64_t lineno;
    int64_t domain;
};

struct query_filters {
    const struct query_filter *items;
    int count;
    int all_frames; /* the Filters look at every frame, not only the most recent */
};

struct query_statistics {
    enum query_key key;
    int cumulative;
    int64_t top; /* the first N statistics; -1: all */
    const struct query_filters *filters;
    int64_t snapshot;
    int64_t old_snapshot; /* compare_to this one; 0: plain statistics */
    int with_functions;   /* fill the function column (only json shows it; it costs a lookup) */
    enum query_source source;
};

/* Rows, in Python's order, one per frame of each statistic (oldest frame first):
     0 n          the statistic's rank, from 1; a statistic's rows are consecutive
     1 size       2 count
     3 size_diff  4 count_diff   (NULL unless comparing)
     5 filename   6 lineno       7 function (NULL when unknown, or not asked for)
     8 temporaries (NULL unless the source is SOURCE_ALLOCATED)
   Returns the SQLite result code. */
int query_statistics(sqlite3 *db, const struct query_statistics *q, sqlite3_stmt **stmt);

/* The total size of the traces the filters keep in a snapshot. */
int query_total(sqlite3 *db, int64_t snapshot, const struct query_filters *filters, int64_t *total);

/* Sets *present to 1 when the snapshot holds the data of that source: always for SOURCE_LIVE;
   a PEAK section for SOURCE_PEAK; an ALOC section for SOURCE_ALLOCATED. */
int query_has_source(sqlite3 *db, int64_t snapshot, enum query_source source, int *present);

/* Every (domain, traceback) of a snapshot that the filters keep in any source, with its frames,
   for the exports. One row per frame, most recent first, of each sample in turn:
     0 n            the sample's rank, from 1, in the order of the traceback's frames (oldest
                    first, as Python compares tracebacks), then domain
     1 domain       2 traceback
     3 alloc_count  4 alloc_size  5 live_count  6 live_size  7 peak_count  8 peak_size
     9 temporaries  (0 where a source has no row)
    10 frame        the frame's id in the database (a frame is (filename, lineno, function))
    11 filename    12 lineno     13 function (NULL when unknown) */
int query_samples(sqlite3 *db, int64_t snapshot, const struct query_filters *filters,
                  sqlite3_stmt **stmt);

/* One row about a snapshot, for the exports: time_ns, start_ns, peak_time_ns, peak_size (the
   last three NULL without TIME or PEAK), traced_peak, label, source, pid. */
int query_snapshot(sqlite3 *db, int64_t snapshot, sqlite3_stmt **stmt);

/* Rows (t_ns, traced, rss) of a snapshot's timeline, in time order (none without TIME). */
int query_timeline(sqlite3 *db, int64_t snapshot, sqlite3_stmt **stmt);

/* Rows (name, value, kind) describing a snapshot; kind is 'int', 'text', 'bytes' or 'time_ns'. */
int query_info(sqlite3 *db, int64_t snapshot, sqlite3_stmt **stmt);

/* The snapshot named by spec: an id, else the newest with that label; spec NULL: the newest,
   or with back = 1 the one before it. Sets *id to 0 when there is none. */
int query_find_snapshot(sqlite3 *db, const char *spec, int back, int64_t *id);

#endif
