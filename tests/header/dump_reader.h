/* A dump reader written from docs/FORMAT.md alone, so the tests check the writer against the
   document and not against the writer's own idea of the format. It validates every rule the
   document states (bounds, order, flags, ids, CRC-32) and keeps what it read for the tests. */
#ifndef TESTS_HEADER_DUMP_READER_H
#define TESTS_HEADER_DUMP_READER_H

#include <stddef.h>
#include <stdint.h>
#include "tracemalloc.h"

typedef struct dump_meta {
    uint64_t time_ns, pid, traced_current, traced_peak, tracemalloc_memory;
    uint64_t untraced_count, untraced_size;
    uint32_t traceback_limit, label;
} dump_meta;

typedef struct dump_frame { uint32_t kind, filename, lineno, function; } dump_frame;
typedef struct dump_traceback { uint32_t total_nframe, nframe, *frame_ids; } dump_traceback;
typedef struct dump_trace { uint64_t address, size; uint32_t domain, traceback; } dump_trace;

#define DUMP_MAX_SECTIONS 64

typedef struct dump {
    uint32_t version;
    int nsections;                     /* every section in file order, END included */
    uint32_t tags[DUMP_MAX_SECTIONS];
    uint32_t section_flags[DUMP_MAX_SECTIONS];
    uint32_t nstrings;
    char **strings;                    /* NUL-terminated copies */
    dump_meta meta;
    uint32_t nframes;
    dump_frame *frames;
    uint32_t ntracebacks;
    dump_traceback *tracebacks;
    uint64_t ntraces;
    dump_trace *traces;                /* sorted by (domain, address) */
} dump;

/* Reads and validates the dump at path into d. 0 on success; else -1, d is empty, and err says
   what is wrong. Free d with dump_free. */
int dump_read(const char *path, dump *d, char *err, size_t errlen);
void dump_free(dump *d);

/* String id → string, NULL for TM_DUMP_NONE. */
const char *dump_string(const dump *d, uint32_t id);
const dump_trace *dump_find_trace(const dump *d, unsigned domain, const void *address);

/* NULL when the dump's traces are exactly the snapshot's (same blocks, sizes, domains and
   tracebacks, frame by frame); else a description of the first difference, in buf. */
const char *dump_diff_snapshot(const dump *d, const tm_snapshot *snapshot, char *buf, size_t len);

#endif
