/* dump_read.h - parse and validate a dump (docs/FORMAT.md) into memory.

   The reader trusts nothing: every count and length is checked against the bytes that remain
   before it sizes an allocation, the CRC-32 is checked before any section is interpreted, and
   a failure leaves a one-line reason ("truncated: TRCS needs 24000000 bytes, 120 left").

   While it reads the traces it aggregates them per (domain, traceback): every question the
   analyzer answers depends on a trace only through those two and its size, so the statistics
   work on thousands of groups instead of millions of blocks (see ../shared/DESIGN.md). The raw
   records stay available, unparsed, for `load`, which stores one row per block.

   Versions 1 and 2 are read. PEAK and ALOC are already per (domain, traceback); the reader
   checks that each pair appears once and keeps them as groups of the same shape. */
#ifndef DUMP_READ_H
#define DUMP_READ_H

#include <stddef.h>
#include <stdint.h>

/* The META section. label is a string id or TM_DUMP_NONE. */
struct dump_meta {
    uint64_t time_ns, pid;
    uint64_t traced_current, traced_peak, tracemalloc_memory;
    uint64_t untraced_count, untraced_size;
    uint32_t traceback_limit, label;
};

/* A MODS entry (version 2): build_id and ranges point into the dump's bytes; ranges holds
   nrange records of three little-endian u64 (start, end, file_offset), see dump_module_range. */
struct dump_module {
    uint32_t path; /* a string id, never TM_DUMP_NONE */
    uint32_t build_id_length, nrange;
    const unsigned char *build_id;
    uint64_t bias;
    const unsigned char *ranges;
};

/* A frame. Source frame (kind TM_DUMP_FRAME_SOURCE): string ids (function may be TM_DUMP_NONE)
   and a line number. Native frame (TM_DUMP_FRAME_NATIVE, version 2): a return address, as a
   module id (or TM_DUMP_NONE) and the offset in that module (the absolute address without
   one); its filename, lineno and function are TM_DUMP_NONE, 0, TM_DUMP_NONE. */
struct dump_frame {
    uint32_t kind;
    uint32_t filename, lineno, function;
    uint32_t module;
    uint64_t offset;
};

/* frame_ids points into the dump's bytes: nframe little-endian u32, most recent first. */
struct dump_traceback {
    uint32_t total_nframe, nframe;
    const unsigned char *frame_ids;
};

/* Every trace of one (domain, traceback): how many and their total size. The same shape holds
   a PEAK entry and an ALOC entry (with its temporaries; 0 elsewhere). */
struct dump_group {
    uint32_t domain, traceback;
    uint64_t count, size, temporaries;
    int64_t next; /* the next group of the same traceback, or -1 */
};

struct dump {
    unsigned char *data; /* the whole file; strings and records point into it */
    size_t size;
    int mapped;          /* data is a read-only mapping of the file, not malloc'ed */
    uint32_t version;
    struct dump_meta meta;
    uint32_t nstring;
    const char **strings; /* NUL-terminated copies */
    char *string_bytes;
    uint32_t nmodule;
    struct dump_module *modules;
    uint32_t nframe;
    struct dump_frame *frames;
    uint32_t ntraceback;
    struct dump_traceback *tracebacks;
    uint64_t ntrace, trace_size; /* trace_size: the sum of every trace's size */
    const unsigned char *traces; /* ntrace raw 24-byte records */
    uint64_t ngroup;
    struct dump_group *groups;
    /* The optional sections of version 2; has_*: the section was there. */
    int has_timeline, has_peak, has_alloc;
    uint64_t start_ns;              /* TIME: when tracing started, ns since the epoch */
    uint32_t nsample;
    const unsigned char *samples;   /* nsample raw 24-byte records, see dump_sample_at */
    uint64_t peak_t_ns, peak_size;  /* PEAK: when (ns since start_ns), and its total bytes */
    uint64_t npeak_group;
    struct dump_group *peak_groups; /* one per PEAK entry, in the dump's order */
    uint64_t nalloc_group;
    struct dump_group *alloc_groups; /* one per ALOC entry, in the dump's order */
    unsigned long crc;    /* the CRC-32 of data[0 .. crc_done), computed while parsing */
    size_t crc_done;
    uint32_t nskipped;    /* unknown optional sections skipped */
    char skipped_tag[20]; /* the first of them, printable */
};

#define DUMP_ERROR_SIZE 256

/* Parses size bytes at data, which the dump takes over (it frees them in dump_free, even on
   failure). Returns 0, or -1 with the reason in error. */
int dump_parse(struct dump *dump, unsigned char *data, size_t size, char error[DUMP_ERROR_SIZE]);

/* Reads and parses the file at path. Returns 0, or -1 with the reason in error (for a file that
   cannot be read, strerror's text: "No such file or directory"). */
int dump_read(struct dump *dump, const char *path, char error[DUMP_ERROR_SIZE]);

void dump_free(struct dump *dump);

/* One raw trace record, i from 0 to ntrace - 1. */
struct dump_trace {
    uint64_t address, size;
    uint32_t domain, traceback;
};
struct dump_trace dump_trace_at(const struct dump *dump, uint64_t i);

/* One TIME sample, i from 0 to nsample - 1. */
struct dump_sample {
    uint64_t t_ns, traced, rss;
};
struct dump_sample dump_sample_at(const struct dump *dump, uint32_t i);

/* Range i of a module: its run-time [start, end) and its offset in the file. */
struct dump_range {
    uint64_t start, end, file_offset;
};
struct dump_range dump_module_range(const struct dump_module *module, uint32_t i);

/* The frame id at position i (0: most recent) of a traceback. */
uint32_t dump_traceback_frame(const struct dump_traceback *traceback, uint32_t i);

#endif
