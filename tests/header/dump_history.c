/* The tests' reader of TIME, PEAK and ALOC (docs/FORMAT.md, version 2): called by dump_reader.c
   for each of these sections, in the order it allows. Every check is a sentence of the format. */
#include "dump_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_group(const void *a, const void *b)
{
    const dump_group *x = a, *y = b;
    if (x->domain != y->domain)
        return x->domain < y->domain ? -1 : 1;
    return x->traceback < y->traceback ? -1 : x->traceback > y->traceback;
}

/* The records of PEAK or ALOC: ids known, (domain, traceback) once. */
static int read_groups(const char *tag, const unsigned char *p, uint32_t n, int with_temporaries,
                       const dump *d, dump_group **out, char *err, size_t len)
{
    dump_group *g = calloc(n ? n : 1, sizeof *g), *sorted;
    uint32_t i;
    *out = g;
    for (i = 0; i < n; i++, p += with_temporaries ? TM_DUMP_ALLOC_SIZE : TM_DUMP_PEAK_SIZE) {
        g[i].domain = (uint32_t)dump_le32(p), g[i].traceback = (uint32_t)dump_le32(p + 4);
        g[i].count = dump_le64(p + 8), g[i].size = dump_le64(p + 16);
        g[i].temporaries = with_temporaries ? dump_le64(p + 24) : 0;
        if (g[i].traceback >= d->ntracebacks)
            return dump_fail(err, len, "%s: record %u: traceback id %u is not in TBKS", tag, i, g[i].traceback);
        if (g[i].temporaries > g[i].count)
            return dump_fail(err, len, "%s: record %u: %llu temporaries of %llu blocks", tag, i,
                        (unsigned long long)g[i].temporaries, (unsigned long long)g[i].count);
    }
    sorted = malloc((n ? n : 1) * sizeof *sorted);
    memcpy(sorted, g, n * sizeof *g);
    qsort(sorted, n, sizeof *sorted, cmp_group);
    for (i = 1; i < n; i++)
        if (cmp_group(&sorted[i - 1], &sorted[i]) == 0) {
            dump_fail(err, len, "%s: (domain %u, traceback %u) twice", tag, sorted[i].domain, sorted[i].traceback);
            free(sorted);
            return -1;
        }
    free(sorted);
    return 0;
}

static int read_time(const unsigned char *p, size_t length, dump *d, char *err, size_t len)
{
    uint32_t i, n;
    if (length < 16)
        return dump_fail(err, len, "TIME: %zu bytes, shorter than its header", length);
    n = (uint32_t)dump_le32(p + 8);
    if (length != 16 + (uint64_t)n * TM_DUMP_SAMPLE_SIZE)
        return dump_fail(err, len, "TIME: %u samples do not fill %zu bytes", n, length);
    if (dump_le32(p + 12) != 0)
        return dump_fail(err, len, "TIME: flags %#x, not 0", (unsigned)dump_le32(p + 12));
    d->has_time = 1;
    d->start_ns = dump_le64(p);
    d->samples = calloc(n ? n : 1, sizeof *d->samples);
    d->nsamples = n;
    for (i = 0, p += 16; i < n; i++, p += TM_DUMP_SAMPLE_SIZE) {
        d->samples[i].t_ns = dump_le64(p), d->samples[i].traced = dump_le64(p + 8), d->samples[i].rss = dump_le64(p + 16);
        if (i > 0 && d->samples[i].t_ns < d->samples[i - 1].t_ns)
            return dump_fail(err, len, "TIME: sample %u goes back in time", i);
    }
    return 0;
}

static int read_peak(const unsigned char *p, size_t length, dump *d, char *err, size_t len)
{
    uint64_t total = 0;
    uint32_t i, n;
    if (length < 24)
        return dump_fail(err, len, "PEAK: %zu bytes, shorter than its header", length);
    n = (uint32_t)dump_le32(p + 16);
    if (length != 24 + (uint64_t)n * TM_DUMP_PEAK_SIZE)
        return dump_fail(err, len, "PEAK: %u records do not fill %zu bytes", n, length);
    if (dump_le32(p + 20) != 0)
        return dump_fail(err, len, "PEAK: flags %#x, not 0", (unsigned)dump_le32(p + 20));
    d->has_peak = 1;
    d->peak_t_ns = dump_le64(p), d->peak_size = dump_le64(p + 8);
    d->npeak = n;
    if (read_groups("PEAK", p + 24, n, 0, d, &d->peak, err, len) != 0)
        return -1;
    for (i = 0; i < n; i++)
        total += d->peak[i].size;
    if (total != d->peak_size)
        return dump_fail(err, len, "PEAK: size %llu, its records hold %llu", (unsigned long long)d->peak_size,
                    (unsigned long long)total);
    if (d->peak_size > d->meta.traced_peak)
        return dump_fail(err, len, "PEAK: size %llu above META's traced_peak %llu",
                    (unsigned long long)d->peak_size, (unsigned long long)d->meta.traced_peak);
    return 0;
}

static int read_aloc(const unsigned char *p, size_t length, dump *d, char *err, size_t len)
{
    uint32_t n;
    if (length < 8)
        return dump_fail(err, len, "ALOC: %zu bytes, shorter than its header", length);
    n = (uint32_t)dump_le32(p);
    if (length != 8 + (uint64_t)n * TM_DUMP_ALLOC_SIZE)
        return dump_fail(err, len, "ALOC: %u records do not fill %zu bytes", n, length);
    if (dump_le32(p + 4) != 0)
        return dump_fail(err, len, "ALOC: flags %#x, not 0", (unsigned)dump_le32(p + 4));
    d->has_alloc = 1;
    d->nalloc = n;
    return read_groups("ALOC", p + 8, n, 1, d, &d->alloc, err, len);
}

int dump_read_history(uint32_t tag, const unsigned char *payload, size_t length, dump *d, char *err, size_t len)
{
    if (tag == TM_DUMP_TAG_TIME)
        return read_time(payload, length, d, err, len);
    if (tag == TM_DUMP_TAG_PEAK)
        return read_peak(payload, length, d, err, len);
    if (tag == TM_DUMP_TAG_ALOC)
        return read_aloc(payload, length, d, err, len);
    return 0;
}

void dump_free_history(dump *d)
{
    free(d->samples), free(d->peak), free(d->alloc);
    d->samples = NULL, d->peak = d->alloc = NULL;
}

const dump_group *dump_find_group(const dump_group *groups, uint32_t n, unsigned domain, uint32_t traceback)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        if (groups[i].domain == domain && groups[i].traceback == traceback)
            return &groups[i];
    return NULL;
}
