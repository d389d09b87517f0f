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

/* A source frame (kind 0) has filename, lineno, function; a native frame (kind 1, version 2)
   has module (an index in modules, or TM_DUMP_NONE) and offset. */
typedef struct dump_frame {
    uint32_t kind, filename, lineno, function;
    uint32_t module;
    uint64_t offset;
} dump_frame;
typedef struct dump_range { uint64_t start, end, file_offset; } dump_range;
typedef struct dump_module {
    uint32_t path, build_id_length;
    unsigned char build_id[TM_DUMP_MAX_BUILD_ID];
    uint64_t bias;
    uint32_t nrange;
    dump_range *ranges;
} dump_module;
typedef struct dump_traceback { uint32_t total_nframe, nframe, *frame_ids; } dump_traceback;
typedef struct dump_trace { uint64_t address, size; uint32_t domain, traceback; } dump_trace;
typedef struct dump_sample { uint64_t t_ns, traced, rss; } dump_sample;
/* A PEAK record (temporaries 0) or an ALOC record. */
typedef struct dump_group { uint32_t domain, traceback; uint64_t count, size, temporaries; } dump_group;

#define DUMP_MAX_SECTIONS 64

typedef struct dump {
    uint32_t version;
    int nsections;                     /* every section in file order, END included */
    uint32_t tags[DUMP_MAX_SECTIONS];
    uint32_t section_flags[DUMP_MAX_SECTIONS];
    uint32_t nstrings;
    char **strings;                    /* NUL-terminated copies */
    dump_meta meta;
    uint32_t nmodules;                 /* version 2; 0 in version 1 */
    dump_module *modules;
    uint32_t nframes;
    dump_frame *frames;
    uint32_t ntracebacks;
    dump_traceback *tracebacks;
    uint64_t ntraces;
    dump_trace *traces;                /* sorted by (domain, address) */
    int has_time, has_peak, has_alloc; /* version 2's optional sections (dump_history.c) */
    uint64_t start_ns;
    uint32_t nsamples;
    dump_sample *samples;
    uint64_t peak_t_ns, peak_size;
    uint32_t npeak, nalloc;
    dump_group *peak, *alloc;          /* in file order */
} dump;

/* Reads and validates the dump at path into d. 0 on success; else -1, d is empty, and err says
   what is wrong. Free d with dump_free. */
int dump_read(const char *path, dump *d, char *err, size_t errlen);
void dump_free(dump *d);

/* dump_history.c: reads TIME, PEAK or ALOC (other tags: nothing) into d; dump_read calls it. */
/* Shared by the readers of this folder (dump_reader.c, dump_history.c): little-endian reads, and
   an error message written to err, returning -1. */
uint32_t dump_le32(const unsigned char *p);
uint64_t dump_le64(const unsigned char *p);
int dump_fail(char *err, size_t len, const char *fmt, ...);

int dump_read_history(uint32_t tag, const unsigned char *payload, size_t length, dump *d, char *err, size_t errlen);
void dump_free_history(dump *d);
/* The record of (domain, traceback) in groups (d->peak or d->alloc), or NULL. */
const dump_group *dump_find_group(const dump_group *groups, uint32_t n, unsigned domain, uint32_t traceback);

/* The run-time address of a native frame: bias + offset, or offset when it has no module. */
uint64_t dump_frame_address(const dump *d, const dump_frame *f);

/* String id → string, NULL for TM_DUMP_NONE. */
const char *dump_string(const dump *d, uint32_t id);
const dump_trace *dump_find_trace(const dump *d, unsigned domain, const void *address);

/* NULL when the dump's traces are exactly the snapshot's (same blocks, sizes, domains and
   tracebacks, frame by frame); else a description of the first difference, in buf. */
const char *dump_diff_snapshot(const dump *d, const tm_snapshot *snapshot, char *buf, size_t len);

#endif
