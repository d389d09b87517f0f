/* dump_read.c - parse and validate a dump; see dump_read.h and docs/FORMAT.md. */
#define _DEFAULT_SOURCE /* mmap's MAP_POPULATE, under -std=c11 */
#include "dump_read.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "tracemalloc.h"

#ifndef MAP_POPULATE /* Linux only: elsewhere the pages are read on first touch */
#define MAP_POPULATE 0
#endif

/* The known sections, in the order they must appear: since which version, and whether a dump
   of that version must have them (the others are optional). */
static const struct known_section {
    uint32_t tag, since;
    int always;
} section_order[] = {
    {TM_DUMP_TAG_STRS, 1, 1}, {TM_DUMP_TAG_META, 1, 1}, {TM_DUMP_TAG_MODS, 2, 1},
    {TM_DUMP_TAG_FRMS, 1, 1}, {TM_DUMP_TAG_TBKS, 1, 1}, {TM_DUMP_TAG_TRCS, 1, 1},
    {TM_DUMP_TAG_TIME, 2, 0}, {TM_DUMP_TAG_PEAK, 2, 0}, {TM_DUMP_TAG_ALOC, 2, 0},
};
#define NSECTION (sizeof section_order / sizeof section_order[0])
#define OLDEST_VERSION 1u

/* Little-endian loads; compilers turn these into single moves. */
static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int fail(char *error, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsnprintf(error, DUMP_ERROR_SIZE, format, ap);
    va_end(ap);
    return -1;
}

/* A tag as text: 'STRS', or \xNN for bytes that are not printable ASCII. */
static const char *tag_name(uint32_t tag, char buffer[20])
{
    char *out = buffer;
    for (int i = 0; i < 4; i++) {
        unsigned c = tag >> (8 * i) & 0xFF;
        if (c >= 0x20 && c < 0x7F && c != '\\')
            *out++ = (char)c;
        else
            out += sprintf(out, "\\x%02X", c);
    }
    *out = '\0';
    return buffer;
}

/* A section: where its payload is and how long it is. */
struct section {
    uint32_t tag, flags;
    uint64_t length;
    const unsigned char *payload;
};

/* Reads the section header at offset; returns 1 for a section, 0 for the end section (at its
   right place), -1 on an error. Used twice: once to explain a file without a valid end, then
   to walk a file whose CRC matched. */
static int next_section(const struct dump *dump, size_t *offset, struct section *s, char *error)
{
    char name[20];
    uint64_t left = dump->size - *offset;
    if (left < TM_DUMP_SECTION_SIZE)
        return left == 0 ? fail(error, "truncated: no end section")
                         : fail(error, "truncated: a section header needs %u bytes, %llu left",
                                TM_DUMP_SECTION_SIZE, (unsigned long long)left);
    const unsigned char *p = dump->data + *offset;
    s->tag = le32(p);
    s->flags = le32(p + 4);
    s->length = le64(p + 8);
    s->payload = p + TM_DUMP_SECTION_SIZE;
    left -= TM_DUMP_SECTION_SIZE;
    if (s->length > left)
        return fail(error, "truncated: %s needs %llu bytes, %llu left",
                    s->tag == TM_DUMP_TAG_END ? "the end section" : tag_name(s->tag, name),
                    (unsigned long long)s->length, (unsigned long long)left);
    *offset += TM_DUMP_SECTION_SIZE + (size_t)s->length;
    if (s->tag != TM_DUMP_TAG_END)
        return 1;
    if (s->length != 4)
        return fail(error, "the end section is %llu bytes long, expected 4",
                    (unsigned long long)s->length);
    if (*offset != dump->size)
        return fail(error, "%llu bytes after the end section",
                    (unsigned long long)(dump->size - *offset));
    return 0;
}

/* The file ends with an intact end section header: check the CRC over everything before it. */
static int has_end(const struct dump *dump)
{
    if (dump->size < TM_DUMP_HEADER_SIZE + TM_DUMP_END_SIZE)
        return 0;
    const unsigned char *end = dump->data + dump->size - TM_DUMP_END_SIZE;
    return le32(end) == TM_DUMP_TAG_END && le32(end + 4) == 0 && le64(end + 8) == 4;
}

/* The CRC runs alongside the parse, so the traces are read once while they are in the cache
   (a separate pass over 24 MB cost as much as all the parsing). The CRC still decides: when
   it does not match, the error is "checksum mismatch", whatever the parse found. */
static void crc_advance(struct dump *dump, size_t upto)
{
    while (dump->crc_done < upto) {
        size_t n = upto - dump->crc_done;
        uInt piece = n > (1u << 30) ? (1u << 30) : (uInt)n; /* zlib takes a uInt length */
        dump->crc = crc32(dump->crc, dump->data + dump->crc_done, piece);
        dump->crc_done += piece;
    }
}

/* Advances the CRC to cover the bytes bytes from p (or up to the CRC field). */
static void crc_ahead(struct dump *dump, const unsigned char *p, size_t bytes)
{
    size_t at = (size_t)(p - dump->data), end = dump->size - 4;
    crc_advance(dump, bytes < end - at ? at + bytes : end);
}

static int check_crc(struct dump *dump, int parsed, char *error)
{
    crc_advance(dump, dump->size - 4);
    if ((uint32_t)dump->crc != le32(dump->data + dump->size - 4))
        return fail(error, "checksum mismatch");
    return parsed;
}

static int check_header(const struct dump *dump, char *error)
{
    if (dump->size == 0)
        return fail(error, "empty file");
    size_t n = dump->size < TM_DUMP_MAGIC_SIZE ? dump->size : TM_DUMP_MAGIC_SIZE;
    if (memcmp(dump->data, TM_DUMP_MAGIC, n) != 0)
        return fail(error, "not a tracemalloc dump (bad magic)");
    if (dump->size < TM_DUMP_HEADER_SIZE)
        return fail(error, "truncated: the header needs %u bytes, %zu left", TM_DUMP_HEADER_SIZE,
                    dump->size);
    uint32_t version = le32(dump->data + 8), flags = le32(dump->data + 12);
    if (version < OLDEST_VERSION || version > TM_DUMP_VERSION)
        return fail(error, "format version %u, this reader knows %u and %u", version,
                    OLDEST_VERSION, TM_DUMP_VERSION);
    if (flags != 0)
        return fail(error, "header flags 0x%X, this reader knows 0", flags);
    return 0;
}

/* A file without an intact end: walk the sections to say where it stops making sense. */
static int explain_missing_end(const struct dump *dump, char *error)
{
    size_t offset = TM_DUMP_HEADER_SIZE;
    struct section s;
    int r;
    while ((r = next_section(dump, &offset, &s, error)) == 1)
        ;
    return r < 0 ? -1 : fail(error, "truncated: no end section");
}

static int parse_strings(struct dump *dump, const struct section *s, char *error)
{
    if (s->length < 4)
        return fail(error, "STRS: %llu bytes, too short for its count", (unsigned long long)s->length);
    uint32_t count = le32(s->payload);
    uint64_t left = s->length - 4;
    if ((uint64_t)count * 4 > left)
        return fail(error, "STRS: %u strings need at least %llu bytes, the section has %llu", count,
                    (unsigned long long)count * 4, (unsigned long long)left);
    /* Bounded by the section: count <= left / 4, and the copies take left - 4 * count + count. */
    dump->strings = malloc(((size_t)count + 1) * sizeof *dump->strings);
    dump->string_bytes = malloc((size_t)left + 1);
    if (!dump->strings || !dump->string_bytes)
        return fail(error, "out of memory");
    const unsigned char *p = s->payload + 4;
    char *out = dump->string_bytes;
    for (uint32_t i = 0; i < count; i++) {
        if (left < 4)
            return fail(error, "STRS: string %u needs 4 bytes for its length, %llu left", i,
                        (unsigned long long)left);
        uint32_t length = le32(p);
        p += 4, left -= 4;
        if (length > left)
            return fail(error, "STRS: string %u needs %u bytes, %llu left", i, length,
                        (unsigned long long)left);
        if (memchr(p, 0, length))
            return fail(error, "STRS: string %u holds a NUL byte", i);
        memcpy(out, p, length);
        out[length] = '\0';
        dump->strings[i] = out;
        out += length + 1;
        p += length, left -= length;
    }
    if (left != 0)
        return fail(error, "STRS: %llu bytes left over after %u strings", (unsigned long long)left, count);
    dump->nstring = count;
    return 0;
}

static int parse_meta(struct dump *dump, const struct section *s, char *error)
{
    if (s->length != TM_DUMP_META_SIZE)
        return fail(error, "META: %llu bytes, expected %u", (unsigned long long)s->length,
                    TM_DUMP_META_SIZE);
    const unsigned char *p = s->payload;
    struct dump_meta *m = &dump->meta;
    m->time_ns = le64(p);
    m->pid = le64(p + 8);
    m->traced_current = le64(p + 16);
    m->traced_peak = le64(p + 24);
    m->tracemalloc_memory = le64(p + 32);
    m->untraced_count = le64(p + 40);
    m->untraced_size = le64(p + 48);
    m->traceback_limit = le32(p + 56);
    m->label = le32(p + 60);
    if (m->traceback_limit < 1 || m->traceback_limit > TM_MAX_NFRAME)
        return fail(error, "META: traceback limit %u, expected 1..%u", m->traceback_limit,
                    TM_MAX_NFRAME);
    if (m->label != TM_DUMP_NONE && m->label >= dump->nstring)
        return fail(error, "META: label string id %u, the string table has %u", m->label,
                    dump->nstring);
    return 0;
}

/* Module i of MODS: at least 20 bytes (path, build-id length, bias, nrange), then its build-id
   and ranges. */
static int parse_one_module(struct dump *dump, uint32_t i, const unsigned char **p,
                            uint64_t *left, char *error)
{
    struct dump_module *m = &dump->modules[i];
    if (*left < 8)
        return fail(error, "MODS: module %u needs 8 bytes, %llu left", i, (unsigned long long)*left);
    m->path = le32(*p);
    m->build_id_length = le32(*p + 4);
    *p += 8, *left -= 8;
    if (m->path >= dump->nstring)
        return fail(error, "MODS: module %u: path string id %u, the string table has %u", i,
                    m->path, dump->nstring);
    if (m->build_id_length > TM_DUMP_MAX_BUILD_ID)
        return fail(error, "MODS: module %u: build-id of %u bytes, at most %u", i,
                    m->build_id_length, TM_DUMP_MAX_BUILD_ID);
    if (*left < (uint64_t)m->build_id_length + 12)
        return fail(error, "MODS: module %u needs %llu bytes, %llu left", i,
                    (unsigned long long)m->build_id_length + 12, (unsigned long long)*left);
    m->build_id = *p;
    m->bias = le64(*p + m->build_id_length);
    m->nrange = le32(*p + m->build_id_length + 8);
    *p += m->build_id_length + 12, *left -= m->build_id_length + 12;
    if (m->nrange < 1 || m->nrange > TM_DUMP_MAX_RANGES)
        return fail(error, "MODS: module %u has %u ranges, expected 1..%u", i, m->nrange,
                    TM_DUMP_MAX_RANGES);
    if ((uint64_t)m->nrange * 24 > *left)
        return fail(error, "MODS: module %u needs %llu bytes for its ranges, %llu left", i,
                    (unsigned long long)m->nrange * 24, (unsigned long long)*left);
    m->ranges = *p;
    for (uint32_t r = 0; r < m->nrange; r++) {
        struct dump_range range = dump_module_range(m, r);
        if (range.start > range.end)
            return fail(error, "MODS: module %u: range %u ends before it starts", i, r);
    }
    *p += 24 * (size_t)m->nrange, *left -= 24 * (uint64_t)m->nrange;
    return 0;
}

static int parse_modules(struct dump *dump, const struct section *s, char *error)
{
    if (s->length < 4)
        return fail(error, "MODS: %llu bytes, too short for its count", (unsigned long long)s->length);
    uint32_t count = le32(s->payload);
    uint64_t left = s->length - 4;
    if ((uint64_t)count * 20 > left)
        return fail(error, "MODS: %u modules need at least %llu bytes, the section has %llu",
                    count, (unsigned long long)count * 20, (unsigned long long)left);
    dump->modules = malloc(((size_t)count + 1) * sizeof *dump->modules);
    if (!dump->modules)
        return fail(error, "out of memory");
    const unsigned char *p = s->payload + 4;
    for (uint32_t i = 0; i < count; i++)
        if (parse_one_module(dump, i, &p, &left, error) < 0)
            return -1;
    if (left != 0)
        return fail(error, "MODS: %llu bytes left over after %u modules",
                    (unsigned long long)left, count);
    dump->nmodule = count;
    return 0;
}

static int parse_one_frame(const struct dump *dump, uint32_t i, const unsigned char *p,
                           struct dump_frame *f, char *error)
{
    f->kind = le32(p);
    if (f->kind == TM_DUMP_FRAME_NATIVE && dump->version >= 2) {
        *f = (struct dump_frame){TM_DUMP_FRAME_NATIVE, TM_DUMP_NONE, 0, TM_DUMP_NONE, le32(p + 4),
                                 le64(p + 8)};
        if (f->module != TM_DUMP_NONE && f->module >= dump->nmodule)
            return fail(error, "FRMS: frame %u: module id %u, the module table has %u", i,
                        f->module, dump->nmodule);
        return 0;
    }
    if (f->kind != TM_DUMP_FRAME_SOURCE) {
        if (dump->version < 2)
            return fail(error, "FRMS: frame %u has kind %u, version %u knows %u", i, f->kind,
                        dump->version, TM_DUMP_FRAME_SOURCE);
        return fail(error, "FRMS: frame %u has kind %u, this reader knows %u and %u", i, f->kind,
                    TM_DUMP_FRAME_SOURCE, TM_DUMP_FRAME_NATIVE);
    }
    *f = (struct dump_frame){TM_DUMP_FRAME_SOURCE, le32(p + 4), le32(p + 8), le32(p + 12),
                             TM_DUMP_NONE, 0};
    if (f->filename >= dump->nstring)
        return fail(error, "FRMS: frame %u: file name string id %u, the string table has %u",
                    i, f->filename, dump->nstring);
    if (f->function != TM_DUMP_NONE && f->function >= dump->nstring)
        return fail(error, "FRMS: frame %u: function string id %u, the string table has %u",
                    i, f->function, dump->nstring);
    return 0;
}

static int parse_frames(struct dump *dump, const struct section *s, char *error)
{
    if (s->length < 4)
        return fail(error, "FRMS: %llu bytes, too short for its count", (unsigned long long)s->length);
    uint32_t count = le32(s->payload);
    if ((uint64_t)count * TM_DUMP_FRAME_SIZE != s->length - 4)
        return fail(error, "FRMS: %u frames need %llu bytes, the section has %llu", count,
                    (unsigned long long)count * TM_DUMP_FRAME_SIZE,
                    (unsigned long long)(s->length - 4));
    dump->frames = malloc(((size_t)count + 1) * sizeof *dump->frames);
    if (!dump->frames)
        return fail(error, "out of memory");
    for (uint32_t i = 0; i < count; i++)
        if (parse_one_frame(dump, i, s->payload + 4 + (size_t)i * TM_DUMP_FRAME_SIZE,
                            &dump->frames[i], error) < 0)
            return -1;
    dump->nframe = count;
    return 0;
}

static int parse_one_traceback(struct dump *dump, uint32_t i, const unsigned char **p,
                               uint64_t *left, char *error)
{
    if (*left < 8)
        return fail(error, "TBKS: traceback %u needs 8 bytes, %llu left", i, (unsigned long long)*left);
    struct dump_traceback *t = &dump->tracebacks[i];
    t->total_nframe = le32(*p);
    t->nframe = le32(*p + 4);
    *p += 8, *left -= 8;
    if (t->nframe < 1 || t->nframe > dump->meta.traceback_limit)
        return fail(error, "TBKS: traceback %u has %u frames, the traceback limit is %u", i,
                    t->nframe, dump->meta.traceback_limit);
    if (t->nframe > t->total_nframe)
        return fail(error, "TBKS: traceback %u has %u frames but a total of %u", i, t->nframe,
                    t->total_nframe);
    if ((uint64_t)t->nframe * 4 > *left)
        return fail(error, "TBKS: traceback %u needs %llu bytes, %llu left", i,
                    (unsigned long long)t->nframe * 4, (unsigned long long)*left);
    t->frame_ids = *p;
    for (uint32_t j = 0; j < t->nframe; j++)
        if (le32(*p + 4 * j) >= dump->nframe)
            return fail(error, "TBKS: traceback %u: frame id %u, the frame table has %u", i,
                        le32(*p + 4 * j), dump->nframe);
    *p += 4 * (size_t)t->nframe, *left -= 4 * (uint64_t)t->nframe;
    return 0;
}

static int parse_tracebacks(struct dump *dump, const struct section *s, char *error)
{
    if (s->length < 4)
        return fail(error, "TBKS: %llu bytes, too short for its count", (unsigned long long)s->length);
    uint32_t count = le32(s->payload);
    uint64_t left = s->length - 4;
    if ((uint64_t)count * 12 > left)
        return fail(error, "TBKS: %u tracebacks need at least %llu bytes, the section has %llu",
                    count, (unsigned long long)count * 12, (unsigned long long)left);
    dump->tracebacks = malloc(((size_t)count + 1) * sizeof *dump->tracebacks);
    if (!dump->tracebacks)
        return fail(error, "out of memory");
    const unsigned char *p = s->payload + 4;
    for (uint32_t i = 0; i < count; i++)
        if (parse_one_traceback(dump, i, &p, &left, error) < 0)
            return -1;
    if (left != 0)
        return fail(error, "TBKS: %llu bytes left over after %u tracebacks",
                    (unsigned long long)left, count);
    dump->ntraceback = count;
    return 0;
}

/* Adds every trace to its (domain, traceback) group. first[t] is the latest group of
   traceback t; a traceback rarely spans domains, so the chain is almost always one long. */
static int group_traces(struct dump *dump, char *error)
{
    int64_t *first = malloc(((size_t)dump->ntraceback + 1) * sizeof *first);
    /* Never more groups than traces, nor than the section's bytes allow. */
    dump->groups = malloc(((size_t)dump->ntrace + 1) * sizeof *dump->groups);
    if (!first || !dump->groups) {
        free(first);
        return fail(error, "out of memory");
    }
    for (uint32_t t = 0; t < dump->ntraceback; t++)
        first[t] = -1;
    uint64_t ngroup = 0, total = 0;
    const unsigned char *p = dump->traces;
    for (uint64_t i = 0; i < dump->ntrace; i++, p += TM_DUMP_TRACE_SIZE) {
        if ((i & 4095) == 0) /* the next 96 KiB: checksummed, then grouped while cached */
            crc_ahead(dump, p, 4096 * (size_t)TM_DUMP_TRACE_SIZE);
        uint64_t size = le64(p + 8);
        uint32_t domain = le32(p + 16), traceback = le32(p + 20);
        if (traceback >= dump->ntraceback) {
            free(first);
            return fail(error, "TRCS: trace %llu: traceback id %u, the traceback table has %u",
                        (unsigned long long)i, traceback, dump->ntraceback);
        }
        int64_t g = first[traceback];
        while (g >= 0 && dump->groups[g].domain != domain)
            g = dump->groups[g].next;
        if (g < 0) {
            g = (int64_t)ngroup++;
            dump->groups[g] = (struct dump_group){domain, traceback, 0, 0, 0, first[traceback]};
            first[traceback] = g;
        }
        dump->groups[g].count++;
        dump->groups[g].size += size;
        /* SQLite integers are signed 64-bit: keep every sum (hence every size) below 2^63. */
        if (size > INT64_MAX || (total += size) > INT64_MAX) {
            free(first);
            return fail(error, "TRCS: the sizes of the traces add up past 2^63 - 1");
        }
    }
    free(first);
    /* Give back what the worst case reserved: a million traces make a few thousand groups. */
    struct dump_group *fitted = realloc(dump->groups, ((size_t)ngroup + 1) * sizeof *fitted);
    if (fitted)
        dump->groups = fitted;
    dump->ngroup = ngroup;
    dump->trace_size = total;
    return 0;
}

static int parse_traces(struct dump *dump, const struct section *s, char *error)
{
    if (s->length < 8)
        return fail(error, "TRCS: %llu bytes, too short for its count", (unsigned long long)s->length);
    uint64_t count = le64(s->payload), left = s->length - 8;
    if (count > UINT64_MAX / TM_DUMP_TRACE_SIZE)
        return fail(error, "TRCS: %llu traces need more than 2^64 bytes, the section has %llu",
                    (unsigned long long)count, (unsigned long long)left);
    if (count * TM_DUMP_TRACE_SIZE != left)
        return fail(error, "TRCS: %llu traces need %llu bytes, the section has %llu",
                    (unsigned long long)count, (unsigned long long)(count * TM_DUMP_TRACE_SIZE),
                    (unsigned long long)left);
    dump->ntrace = count;
    dump->traces = s->payload + 8;
    return group_traces(dump, error);
}

static int parse_timeline(struct dump *dump, const struct section *s, char *error)
{
    if (s->length < 16)
        return fail(error, "TIME: %llu bytes, too short for its header", (unsigned long long)s->length);
    uint32_t count = le32(s->payload + 8), flags = le32(s->payload + 12);
    if (flags != 0)
        return fail(error, "TIME: flags 0x%X, this reader knows 0", flags);
    if ((uint64_t)count * TM_DUMP_SAMPLE_SIZE != s->length - 16)
        return fail(error, "TIME: %u samples need %llu bytes, the section has %llu", count,
                    (unsigned long long)count * TM_DUMP_SAMPLE_SIZE,
                    (unsigned long long)(s->length - 16));
    dump->start_ns = le64(s->payload);
    dump->samples = s->payload + 16;
    dump->nsample = count;
    for (uint32_t i = 1; i < count; i++)
        if (dump_sample_at(dump, i).t_ns < dump_sample_at(dump, i - 1).t_ns)
            return fail(error, "TIME: sample %u goes back in time", i);
    dump->has_timeline = 1;
    return 0;
}

/* Reads the count entries of PEAK or ALOC (record bytes each: u32 domain, u32 traceback_id,
   u64 count, u64 size, and for ALOC u64 temporaries) into *out, checking each traceback id and
   that each (domain, traceback) appears once; *total is the sum of the sizes. */
static int parse_entries(struct dump *dump, const char *what, const unsigned char *p,
                         uint32_t count, size_t record, struct dump_group **out,
                         uint64_t *total, char *error)
{
    int64_t *first = malloc(((size_t)dump->ntraceback + 1) * sizeof *first);
    struct dump_group *groups = *out = malloc(((size_t)count + 1) * sizeof *groups);
    if (!first || !groups) {
        free(first);
        return fail(error, "out of memory");
    }
    for (uint32_t t = 0; t < dump->ntraceback; t++)
        first[t] = -1;
    int rc = 0;
    *total = 0;
    for (uint32_t i = 0; i < count && rc == 0; i++, p += record) {
        struct dump_group g = {le32(p), le32(p + 4), le64(p + 8), le64(p + 16),
                               record > 24 ? le64(p + 24) : 0, -1};
        if (g.traceback >= dump->ntraceback) {
            rc = fail(error, "%s: entry %u: traceback id %u, the traceback table has %u", what, i,
                      g.traceback, dump->ntraceback);
            break;
        }
        for (int64_t j = first[g.traceback]; j >= 0; j = groups[j].next)
            if (groups[j].domain == g.domain)
                rc = fail(error, "%s: entry %u: domain %u and traceback %u appear twice", what, i,
                          g.domain, g.traceback);
        /* SQLite integers are signed 64-bit: every count and every sum stays below 2^63. */
        if (rc == 0 && (g.count > INT64_MAX || g.size > INT64_MAX || (*total += g.size) > INT64_MAX))
            rc = fail(error, "%s: the counts or sizes add up past 2^63 - 1", what);
        if (rc == 0 && g.temporaries > g.count)
            rc = fail(error, "%s: entry %u: %llu temporaries out of %llu allocations", what, i,
                      (unsigned long long)g.temporaries, (unsigned long long)g.count);
        g.next = first[g.traceback];
        first[g.traceback] = i;
        groups[i] = g;
    }
    free(first);
    return rc;
}

static int parse_peak(struct dump *dump, const struct section *s, char *error)
{
    if (s->length < 24)
        return fail(error, "PEAK: %llu bytes, too short for its header", (unsigned long long)s->length);
    uint64_t size, t_ns = le64(s->payload), expected = le64(s->payload + 8);
    uint32_t count = le32(s->payload + 16), flags = le32(s->payload + 20);
    if (flags != 0)
        return fail(error, "PEAK: flags 0x%X, this reader knows 0", flags);
    if ((uint64_t)count * TM_DUMP_PEAK_SIZE != s->length - 24)
        return fail(error, "PEAK: %u entries need %llu bytes, the section has %llu", count,
                    (unsigned long long)count * TM_DUMP_PEAK_SIZE,
                    (unsigned long long)(s->length - 24));
    if (parse_entries(dump, "PEAK", s->payload + 24, count, TM_DUMP_PEAK_SIZE, &dump->peak_groups,
                      &size, error) < 0)
        return -1;
    if (size != expected)
        return fail(error, "PEAK: the entries hold %llu bytes, the section says %llu",
                    (unsigned long long)size, (unsigned long long)expected);
    if (size > dump->meta.traced_peak)
        return fail(error, "PEAK: %llu bytes, above the traced peak of %llu",
                    (unsigned long long)size, (unsigned long long)dump->meta.traced_peak);
    dump->peak_t_ns = t_ns;
    dump->peak_size = size;
    dump->npeak_group = count;
    dump->has_peak = 1;
    return 0;
}

static int parse_alloc(struct dump *dump, const struct section *s, char *error)
{
    if (s->length < 8)
        return fail(error, "ALOC: %llu bytes, too short for its header", (unsigned long long)s->length);
    uint32_t count = le32(s->payload), flags = le32(s->payload + 4);
    uint64_t size;
    if (flags != 0)
        return fail(error, "ALOC: flags 0x%X, this reader knows 0", flags);
    if ((uint64_t)count * TM_DUMP_ALLOC_SIZE != s->length - 8)
        return fail(error, "ALOC: %u entries need %llu bytes, the section has %llu", count,
                    (unsigned long long)count * TM_DUMP_ALLOC_SIZE,
                    (unsigned long long)(s->length - 8));
    if (parse_entries(dump, "ALOC", s->payload + 8, count, TM_DUMP_ALLOC_SIZE, &dump->alloc_groups,
                      &size, error) < 0)
        return -1;
    dump->nalloc_group = count;
    dump->has_alloc = 1;
    return 0;
}

static int parse_known(struct dump *dump, const struct section *s, char *error)
{
    switch (s->tag) {
    case TM_DUMP_TAG_STRS: return parse_strings(dump, s, error);
    case TM_DUMP_TAG_META: return parse_meta(dump, s, error);
    case TM_DUMP_TAG_MODS: return parse_modules(dump, s, error);
    case TM_DUMP_TAG_FRMS: return parse_frames(dump, s, error);
    case TM_DUMP_TAG_TBKS: return parse_tracebacks(dump, s, error);
    case TM_DUMP_TAG_TRCS: return parse_traces(dump, s, error);
    case TM_DUMP_TAG_TIME: return parse_timeline(dump, s, error);
    case TM_DUMP_TAG_PEAK: return parse_peak(dump, s, error);
    default: return parse_alloc(dump, s, error);
    }
}

static int section_index(uint32_t tag)
{
    for (size_t i = 0; i < NSECTION; i++)
        if (section_order[i].tag == tag)
            return (int)i;
    return -1;
}

/* The first section this version must have among indexes [from, to), or -1. */
static int first_required(const struct dump *dump, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (section_order[i].always && section_order[i].since <= dump->version)
            return (int)i;
    return -1;
}

/* Checks where a section stands; returns 1 to parse it, 0 to skip it, -1 on an error. next is
   the index of the first known section that may still come; seen marks those that came. */
static int place_section(struct dump *dump, const struct section *s, size_t *next,
                         unsigned *seen, char *error)
{
    char name[20], expected[20];
    if (s->flags & ~TM_DUMP_REQUIRED)
        return fail(error, "section %s has flags 0x%X, this reader knows 0x%X", tag_name(s->tag, name),
                    s->flags, TM_DUMP_REQUIRED);
    int index = section_index(s->tag);
    if (index < 0) {
        if (s->flags & TM_DUMP_REQUIRED)
            return fail(error, "unknown required section %s", tag_name(s->tag, name));
        if (dump->nskipped++ == 0)
            tag_name(s->tag, dump->skipped_tag);
        return 0;
    }
    if (section_order[index].since > dump->version)
        return fail(error, "section %s in a version %u dump", tag_name(s->tag, name), dump->version);
    if (*seen & 1u << index)
        return fail(error, "section %s appears twice", tag_name(s->tag, name));
    if ((size_t)index < *next)
        return fail(error, "section %s comes after section %s", tag_name(s->tag, name),
                    tag_name(section_order[*next - 1].tag, expected));
    int missing = first_required(dump, *next, (size_t)index);
    if (missing >= 0)
        return fail(error, "section %s comes before section %s", tag_name(s->tag, name),
                    tag_name(section_order[missing].tag, expected));
    *seen |= 1u << index;
    *next = (size_t)index + 1;
    return 1;
}

static int parse_sections(struct dump *dump, char *error)
{
    size_t offset = TM_DUMP_HEADER_SIZE, next = 0;
    unsigned seen = 0;
    struct section s;
    char name[20];
    int r;
    while ((r = next_section(dump, &offset, &s, error)) == 1) {
        int place = place_section(dump, &s, &next, &seen, error);
        if (place < 0 || (place == 1 && parse_known(dump, &s, error) < 0))
            return -1;
    }
    if (r < 0)
        return -1;
    int missing = first_required(dump, next, NSECTION);
    if (missing >= 0)
        return fail(error, "missing section %s", tag_name(section_order[missing].tag, name));
    return 0;
}

int dump_parse(struct dump *dump, unsigned char *data, size_t size, char error[DUMP_ERROR_SIZE])
{
    memset(dump, 0, sizeof *dump);
    dump->data = data;
    dump->size = size;
    if (check_header(dump, error) < 0)
        return -1;
    dump->version = le32(data + 8);
    if (!has_end(dump))
        return explain_missing_end(dump, error);
    dump->crc = crc32(0L, Z_NULL, 0);
    return check_crc(dump, parse_sections(dump, error), error);
}

/* Reads the file into memory: a private mapping when the file allows one (measured: copying
   24 MB through read() cost more than parsing and the CRC together), else read() in a loop. */
static unsigned char *load_file(int fd, size_t size, int *mapped, char *error)
{
    if (size > 0) {
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p != MAP_FAILED) {
            *mapped = 1;
            return p;
        }
    }
    unsigned char *data = malloc(size + 1);
    size_t done = 0;
    if (!data) {
        fail(error, "out of memory");
        return NULL;
    }
    while (done < size) {
        ssize_t n = read(fd, data + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fail(error, "%s", n < 0 ? strerror(errno) : "the file shrank while being read");
            free(data);
            return NULL;
        }
        done += (size_t)n;
    }
    return data;
}

int dump_read(struct dump *dump, const char *path, char error[DUMP_ERROR_SIZE])
{
    memset(dump, 0, sizeof *dump);
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return fail(error, "%s", strerror(saved));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return fail(error, "%s", strerror(EISDIR));
    }
    int mapped = 0;
    size_t size = (size_t)st.st_size;
    unsigned char *data = load_file(fd, size, &mapped, error);
    close(fd);
    if (!data)
        return -1;
    int rc = dump_parse(dump, data, size, error);
    dump->mapped = mapped;
    return rc;
}

void dump_free(struct dump *dump)
{
    if (dump->mapped)
        munmap(dump->data, dump->size);
    else
        free(dump->data);
    free(dump->strings);
    free(dump->string_bytes);
    free(dump->modules);
    free(dump->frames);
    free(dump->tracebacks);
    free(dump->groups);
    free(dump->peak_groups);
    free(dump->alloc_groups);
    memset(dump, 0, sizeof *dump);
}

struct dump_trace dump_trace_at(const struct dump *dump, uint64_t i)
{
    const unsigned char *p = dump->traces + i * TM_DUMP_TRACE_SIZE;
    return (struct dump_trace){le64(p), le64(p + 8), le32(p + 16), le32(p + 20)};
}

uint32_t dump_traceback_frame(const struct dump_traceback *traceback, uint32_t i)
{
    return le32(traceback->frame_ids + 4 * (size_t)i);
}

struct dump_sample dump_sample_at(const struct dump *dump, uint32_t i)
{
    const unsigned char *p = dump->samples + (size_t)i * TM_DUMP_SAMPLE_SIZE;
    return (struct dump_sample){le64(p), le64(p + 8), le64(p + 16)};
}

struct dump_range dump_module_range(const struct dump_module *module, uint32_t i)
{
    const unsigned char *p = module->ranges + (size_t)i * 24;
    return (struct dump_range){le64(p), le64(p + 8), le64(p + 16)};
}
