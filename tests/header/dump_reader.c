/* The tests' dump reader (see dump_reader.h). Every rule checked here is a sentence of
   docs/FORMAT.md; the error messages quote the rule that failed. */
#include "dump_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct cursor {
    const unsigned char *p;
    size_t left;
} cursor;

uint32_t dump_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t dump_le64(const unsigned char *p)
{
    return (uint64_t)dump_le32(p) | (uint64_t)dump_le32(p + 4) << 32;
}

static int take32(cursor *c, uint32_t *v)
{
    if (c->left < 4)
        return -1;
    *v = dump_le32(c->p);
    c->p += 4, c->left -= 4;
    return 0;
}

static int take64(cursor *c, uint64_t *v)
{
    if (c->left < 8)
        return -1;
    *v = dump_le64(c->p);
    c->p += 8, c->left -= 8;
    return 0;
}

int dump_fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

static int cmp_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_strs(cursor c, dump *d, char *err, size_t len)
{
    uint32_t i, n = 0;
    char **sorted;
    if (take32(&c, &n) != 0 || n > c.left / 4)
        return dump_fail(err, len, "STRS: count %u exceeds the payload", n);
    d->strings = calloc(n ? n : 1, sizeof *d->strings);
    for (i = 0; i < n; i++) {
        uint32_t slen;
        if (take32(&c, &slen) != 0 || slen > c.left)
            return dump_fail(err, len, "STRS: string %u overruns the section", i);
        d->strings[i] = malloc((size_t)slen + 1);
        memcpy(d->strings[i], c.p, slen);
        d->strings[i][slen] = '\0';
        if (strlen(d->strings[i]) != slen)
            return dump_fail(err, len, "STRS: string %u holds a NUL", i);
        c.p += slen, c.left -= slen;
        d->nstrings = i + 1;
    }
    if (c.left != 0)
        return dump_fail(err, len, "STRS: %zu bytes after the last string", c.left);
    /* "Every file name, function name and the label are here once." */
    sorted = malloc((n ? n : 1) * sizeof *sorted);
    memcpy(sorted, d->strings, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_string);
    for (i = 1; i < n; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            dump_fail(err, len, "STRS: \"%s\" appears twice", sorted[i]);
            free(sorted);
            return -1;
        }
    free(sorted);
    return 0;
}

static int string_id_ok(const dump *d, uint32_t id, int none_ok)
{
    return id < d->nstrings || (none_ok && id == TM_DUMP_NONE);
}

static int read_meta(cursor c, dump *d, char *err, size_t len)
{
    dump_meta *m = &d->meta;
    if (c.left != TM_DUMP_META_SIZE)
        return dump_fail(err, len, "META: length %zu, not %u", c.left, TM_DUMP_META_SIZE);
    take64(&c, &m->time_ns), take64(&c, &m->pid), take64(&c, &m->traced_current);
    take64(&c, &m->traced_peak), take64(&c, &m->tracemalloc_memory);
    take64(&c, &m->untraced_count), take64(&c, &m->untraced_size);
    take32(&c, &m->traceback_limit), take32(&c, &m->label);
    if (m->traceback_limit < 1 || m->traceback_limit > TM_MAX_NFRAME)
        return dump_fail(err, len, "META: traceback_limit %u not in 1..65535", m->traceback_limit);
    if (!string_id_ok(d, m->label, 1))
        return dump_fail(err, len, "META: label id %u is no string", m->label);
    return 0;
}

static int read_mods(cursor c, dump *d, char *err, size_t len)
{
    uint32_t i, j, n = 0;
    /* the smallest module: path, build_id_length 0, bias, nrange 1 and one range */
    if (take32(&c, &n) != 0 || n > c.left / (4 + 4 + 8 + 4 + 24))
        return dump_fail(err, len, "MODS: count %u exceeds the payload", n);
    d->modules = calloc(n ? n : 1, sizeof *d->modules);
    for (i = 0; i < n; i++) {
        dump_module *m = &d->modules[i];
        if (take32(&c, &m->path) != 0 || take32(&c, &m->build_id_length) != 0)
            return dump_fail(err, len, "MODS: module %u overruns the section", i);
        d->nmodules = i + 1;
        if (!string_id_ok(d, m->path, 0))
            return dump_fail(err, len, "MODS: module %u: path id %u is no string", i, m->path);
        if (m->build_id_length > TM_DUMP_MAX_BUILD_ID || m->build_id_length > c.left)
            return dump_fail(err, len, "MODS: module %u: build_id_length %u", i, m->build_id_length);
        memcpy(m->build_id, c.p, m->build_id_length);
        c.p += m->build_id_length, c.left -= m->build_id_length;
        if (take64(&c, &m->bias) != 0 || take32(&c, &m->nrange) != 0)
            return dump_fail(err, len, "MODS: module %u overruns the section", i);
        if (m->nrange < 1 || m->nrange > TM_DUMP_MAX_RANGES || m->nrange > c.left / 24)
            return dump_fail(err, len, "MODS: module %u: nrange %u not in 1..64 or past the end", i, m->nrange);
        m->ranges = calloc(m->nrange, sizeof *m->ranges);
        for (j = 0; j < m->nrange; j++) {
            dump_range *r = &m->ranges[j];
            take64(&c, &r->start), take64(&c, &r->end), take64(&c, &r->file_offset);
            if (r->start >= r->end)
                return dump_fail(err, len, "MODS: module %u: range %u is empty or reversed", i, j);
        }
    }
    if (c.left != 0)
        return dump_fail(err, len, "MODS: %zu bytes after the last module", c.left);
    return 0;
}

static int read_frms(cursor c, dump *d, char *err, size_t len)
{
    uint32_t i, n = 0;
    if (take32(&c, &n) != 0 || c.left != (uint64_t)n * TM_DUMP_FRAME_SIZE)
        return dump_fail(err, len, "FRMS: %u frames do not fill %zu bytes", n, c.left);
    d->frames = calloc(n ? n : 1, sizeof *d->frames);
    d->nframes = n;
    for (i = 0; i < n; i++) {
        dump_frame *f = &d->frames[i];
        take32(&c, &f->kind);
        if (f->kind == TM_DUMP_FRAME_NATIVE && d->version >= 2) {
            f->filename = f->function = TM_DUMP_NONE;
            take32(&c, &f->module), take64(&c, &f->offset);
            if (f->module != TM_DUMP_NONE && f->module >= d->nmodules)
                return dump_fail(err, len, "FRMS: frame %u: module id %u", i, f->module);
            continue;
        }
        take32(&c, &f->filename), take32(&c, &f->lineno), take32(&c, &f->function);
        f->module = TM_DUMP_NONE;
        if (f->kind != TM_DUMP_FRAME_SOURCE)
            return dump_fail(err, len, "FRMS: frame %u has kind %u", i, f->kind);
        if (!string_id_ok(d, f->filename, 0))
            return dump_fail(err, len, "FRMS: frame %u: filename id %u is no string", i, f->filename);
        if (!string_id_ok(d, f->function, 1))
            return dump_fail(err, len, "FRMS: frame %u: function id %u is no string", i, f->function);
    }
    return 0;
}

static int read_tbks(cursor c, dump *d, char *err, size_t len)
{
    uint32_t i, j, n = 0;
    if (take32(&c, &n) != 0 || n > c.left / 8)
        return dump_fail(err, len, "TBKS: count %u exceeds the payload", n);
    d->tracebacks = calloc(n ? n : 1, sizeof *d->tracebacks);
    for (i = 0; i < n; i++) {
        dump_traceback *tb = &d->tracebacks[i];
        if (take32(&c, &tb->total_nframe) != 0 || take32(&c, &tb->nframe) != 0 ||
            tb->nframe > c.left / 4)
            return dump_fail(err, len, "TBKS: traceback %u overruns the section", i);
        d->ntracebacks = i + 1;
        if (tb->nframe < 1 || tb->nframe > d->meta.traceback_limit || tb->nframe > tb->total_nframe)
            return dump_fail(err, len, "TBKS: traceback %u: nframe %u, total_nframe %u, limit %u", i,
                        tb->nframe, tb->total_nframe, d->meta.traceback_limit);
        tb->frame_ids = malloc(tb->nframe * sizeof *tb->frame_ids);
        for (j = 0; j < tb->nframe; j++) {
            take32(&c, &tb->frame_ids[j]);
            if (tb->frame_ids[j] >= d->nframes)
                return dump_fail(err, len, "TBKS: traceback %u: frame id %u", i, tb->frame_ids[j]);
        }
    }
    if (c.left != 0)
        return dump_fail(err, len, "TBKS: %zu bytes after the last traceback", c.left);
    return 0;
}

static int cmp_trace(const void *a, const void *b)
{
    const dump_trace *x = a, *y = b;
    if (x->domain != y->domain)
        return x->domain < y->domain ? -1 : 1;
    return x->address < y->address ? -1 : x->address > y->address;
}

static int read_trcs(cursor c, dump *d, char *err, size_t len)
{
    uint64_t i, n = 0;
    if (take64(&c, &n) != 0 || n > c.left / TM_DUMP_TRACE_SIZE || c.left != n * TM_DUMP_TRACE_SIZE)
        return dump_fail(err, len, "TRCS: %llu traces do not fill %zu bytes", (unsigned long long)n, c.left);
    d->traces = calloc(n ? n : 1, sizeof *d->traces);
    d->ntraces = n;
    for (i = 0; i < n; i++) {
        dump_trace *t = &d->traces[i];
        take64(&c, &t->address), take64(&c, &t->size), take32(&c, &t->domain);
        take32(&c, &t->traceback);
        if (t->traceback >= d->ntracebacks)
            return dump_fail(err, len, "TRCS: trace %llu: traceback id %u", (unsigned long long)i, t->traceback);
    }
    qsort(d->traces, n, sizeof *d->traces, cmp_trace);
    for (i = 1; i < n; i++)
        if (cmp_trace(&d->traces[i - 1], &d->traces[i]) == 0)
            return dump_fail(err, len, "TRCS: (domain %u, address %#llx) twice", d->traces[i].domain,
                        (unsigned long long)d->traces[i].address);
    return 0;
}

/* Every section this reader knows, in the order the format fixes; the required ones first.
   Version 1 has no MODS; TIME, PEAK and ALOC are optional and skipped here (their flags clear). */
#define NKNOWN 9
static const uint32_t known_tags[NKNOWN] = {TM_DUMP_TAG_STRS, TM_DUMP_TAG_META, TM_DUMP_TAG_MODS,
                                            TM_DUMP_TAG_FRMS, TM_DUMP_TAG_TBKS, TM_DUMP_TAG_TRCS,
                                            TM_DUMP_TAG_TIME, TM_DUMP_TAG_PEAK, TM_DUMP_TAG_ALOC};
#define NREQUIRED 6
typedef int (*section_reader)(cursor, dump *, char *, size_t);
static const section_reader readers[NREQUIRED] = {read_strs, read_meta, read_mods,
                                                  read_frms, read_tbks, read_trcs};

/* Whether a known section belongs to this version, and whether it must be present. */
static int in_version(const dump *d, int k)
{
    return d->version >= 2 || (k != 2 && k < NREQUIRED);
}

static int read_sections(cursor c, dump *d, char *err, size_t len)
{
    int next = 0; /* index in known_tags of the next section the order allows */
    while (c.left > 0) {
        uint32_t tag, flags;
        uint64_t length;
        int k;
        if (take32(&c, &tag) != 0 || take32(&c, &flags) != 0 || take64(&c, &length) != 0 ||
            length > c.left)
            return dump_fail(err, len, "section %d overruns the file", d->nsections);
        if (d->nsections == DUMP_MAX_SECTIONS)
            return dump_fail(err, len, "more than %d sections", DUMP_MAX_SECTIONS);
        d->tags[d->nsections] = tag, d->section_flags[d->nsections++] = flags;
        for (k = 0; k < NKNOWN && (known_tags[k] != tag || !in_version(d, k)); k++)
            ;
        if (k == NKNOWN) {
            if (flags & TM_DUMP_REQUIRED)
                return dump_fail(err, len, "unknown required section %#x", tag);
        } else if (k < NREQUIRED) {
            cursor payload = {c.p, (size_t)length};
            while (next < NREQUIRED && !in_version(d, next))
                next++;
            if (k != next)
                return dump_fail(err, len, "section %.4s out of order", (const char *)c.p - 16);
            if (flags != TM_DUMP_REQUIRED)
                return dump_fail(err, len, "section %.4s: flags %#x, not 1", (const char *)c.p - 16, flags);
            if (readers[k](payload, d, err, len) != 0)
                return -1;
            next++;
        } else {
            if (k < next || next < NREQUIRED)
                return dump_fail(err, len, "section %.4s out of order", (const char *)c.p - 16);
            if (flags != 0)
                return dump_fail(err, len, "section %.4s: flags %#x, not 0", (const char *)c.p - 16, flags);
            if (dump_read_history(tag, c.p, (size_t)length, d, err, len) != 0)
                return -1;
            next = k + 1;
        }
        c.p += length, c.left -= (size_t)length;
    }
    while (next < NREQUIRED && !in_version(d, next))
        next++;
    if (next < NREQUIRED)
        return dump_fail(err, len, "section %.4s missing", (const char *)&known_tags[next]);
    return 0;
}

static int parse(const unsigned char *buf, size_t size, dump *d, char *err, size_t len)
{
    const unsigned char *end;
    cursor body;
    if (size < TM_DUMP_HEADER_SIZE + TM_DUMP_END_SIZE)
        return dump_fail(err, len, "%zu bytes: too short for a header and an end", size);
    if (memcmp(buf, TM_DUMP_MAGIC, TM_DUMP_MAGIC_SIZE) != 0)
        return dump_fail(err, len, "bad magic");
    d->version = dump_le32(buf + 8);
    if (d->version != 1 && d->version != 2)
        return dump_fail(err, len, "format version %u, this reader knows 1 and 2", d->version);
    if (dump_le32(buf + 12) != 0)
        return dump_fail(err, len, "header flags %#x, not 0", dump_le32(buf + 12));
    end = buf + size - TM_DUMP_END_SIZE;
    if (dump_le32(end) != TM_DUMP_TAG_END || dump_le32(end + 4) != 0 || dump_le64(end + 8) != 4)
        return dump_fail(err, len, "no end section in the last 20 bytes");
    if (dump_le32(end + 16) != (uint32_t)crc32(0L, buf, (uInt)(size - 4)))
        return dump_fail(err, len, "CRC-32 mismatch: stored %#x, computed %#lx", dump_le32(end + 16),
                    crc32(0L, buf, (uInt)(size - 4)));
    body.p = buf + TM_DUMP_HEADER_SIZE;
    body.left = size - TM_DUMP_HEADER_SIZE - TM_DUMP_END_SIZE;
    if (read_sections(body, d, err, len) != 0)
        return -1;
    d->tags[d->nsections] = TM_DUMP_TAG_END, d->section_flags[d->nsections++] = 0;
    return 0;
}

int dump_read(const char *path, dump *d, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t size = 0, cap = 0, got;
    int rc;
    memset(d, 0, sizeof *d);
    if (f == NULL)
        return dump_fail(err, errlen, "%s: cannot open", path);
    do {
        if (size == cap) {
            cap = cap ? 2 * cap : 65536;
            buf = realloc(buf, cap);
        }
        got = fread(buf + size, 1, cap - size, f);
        size += got;
    } while (got > 0);
    fclose(f);
    rc = parse(buf, size, d, err, errlen);
    free(buf);
    if (rc != 0)
        dump_free(d);
    return rc;
}

void dump_free(dump *d)
{
    uint32_t i;
    for (i = 0; i < d->nstrings; i++)
        free(d->strings[i]);
    for (i = 0; i < d->ntracebacks; i++)
        free(d->tracebacks[i].frame_ids);
    for (i = 0; i < d->nmodules; i++)
        free(d->modules[i].ranges);
    free(d->modules);
    dump_free_history(d);
    free(d->strings), free(d->frames), free(d->tracebacks), free(d->traces);
    memset(d, 0, sizeof *d);
}

uint64_t dump_frame_address(const dump *d, const dump_frame *f)
{
    return f->module == TM_DUMP_NONE ? f->offset : d->modules[f->module].bias + f->offset;
}

const char *dump_string(const dump *d, uint32_t id)
{
    return id == TM_DUMP_NONE ? NULL : d->strings[id];
}

const dump_trace *dump_find_trace(const dump *d, unsigned domain, const void *address)
{
    dump_trace key;
    key.domain = domain, key.address = (uint64_t)(uintptr_t)address;
    return bsearch(&key, d->traces, d->ntraces, sizeof key, cmp_trace);
}

static int same_string(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

const char *dump_diff_snapshot(const dump *d, const tm_snapshot *snapshot, char *buf, size_t len)
{
    const tm_trace *traces;
    size_t n = tm_snapshot_traces(snapshot, &traces), i;
    int j;
    if (n != d->ntraces)
        return dump_fail(buf, len, "%zu traces in the snapshot, %llu in the dump", n,
                    (unsigned long long)d->ntraces), buf;
    for (i = 0; i < n; i++) {
        const tm_trace *t = &traces[i];
        const dump_trace *dt = dump_find_trace(d, t->domain, (const void *)t->address);
        const dump_traceback *tb;
        if (dt == NULL || dt->size != t->size)
            return dump_fail(buf, len, "trace %#lx (domain %u, %zu bytes) not in the dump",
                        (unsigned long)t->address, t->domain, t->size), buf;
        tb = &d->tracebacks[dt->traceback];
        if ((int)tb->nframe != t->traceback->nframe || (int)tb->total_nframe != t->traceback->total_nframe)
            return dump_fail(buf, len, "trace %#lx: %u/%u frames in the dump, %d/%d in the snapshot",
                        (unsigned long)t->address, tb->nframe, tb->total_nframe,
                        t->traceback->nframe, t->traceback->total_nframe), buf;
        for (j = 0; j < t->traceback->nframe; j++) {
            const dump_frame *f = &d->frames[tb->frame_ids[j]];
            const tm_frame *g = &t->traceback->frames[j];
            if (g->address != 0) { /* native: the dump must give back the same address */
                if (f->kind != TM_DUMP_FRAME_NATIVE || dump_frame_address(d, f) != (uint64_t)g->address)
                    return dump_fail(buf, len, "trace %#lx: frame %d: native %#lx in the snapshot",
                                (unsigned long)t->address, j, (unsigned long)g->address), buf;
                continue;
            }
            if (f->kind != TM_DUMP_FRAME_SOURCE || !same_string(dump_string(d, f->filename), g->filename) ||
                f->lineno != g->lineno || !same_string(dump_string(d, f->function), g->function))
                return dump_fail(buf, len, "trace %#lx: frame %d differs (%s:%u in the snapshot)",
                            (unsigned long)t->address, j, g->filename, g->lineno), buf;
        }
    }
    return NULL;
}
