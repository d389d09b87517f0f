/* export_folded.c - collapsed stacks, Brendan Gregg's stackcollapse form that flamegraph.pl,
   speedscope and inferno read: `oldest;...;most_recent VALUE`, and difffolded.pl's
   `stack OLD NEW` for a differential flame graph. See docs/OUTPUT.md. */
#define _DEFAULT_SOURCE
#include "export.h"

#include <stdlib.h>
#include <string.h>

#include "stb_ds.h"

/* A frame as `function (file:line)`, `file:line` without a function. The format has no
   escape: a `;` would split the frame and a line end the record, so both become `_`. */
static void append_frame(sqlite3_str *text, const struct export_frame *f)
{
    sqlite3_str *raw = sqlite3_str_new(NULL);
    if (f->function)
        sqlite3_str_appendf(raw, "%s (%s:%lld)", f->function, f->filename, (long long)f->lineno);
    else
        sqlite3_str_appendf(raw, "%s:%lld", f->filename, (long long)f->lineno);
    char *s = sqlite3_str_finish(raw);
    for (char *p = s; p && *p; p++)
        if (*p == ';' || *p == '\n' || *p == '\r')
            *p = '_';
    sqlite3_str_appendall(text, s ? s : "");
    sqlite3_free(s);
}

/* The stack of a sample, oldest frame first; NULL when out of memory (sqlite3_free it). */
static char *stack_text(const struct export_data *data, const struct export_sample *sample)
{
    sqlite3_str *text = sqlite3_str_new(NULL);
    for (ptrdiff_t i = arrlen(sample->frames); i-- > 0;) {
        append_frame(text, &data->frames[sample->frames[i]]);
        if (i)
            sqlite3_str_appendchar(text, 1, ';');
    }
    return sqlite3_str_finish(text);
}

struct stack {
    char *text;
    int64_t value[2]; /* old and new (only [1] without a comparison) */
};

static int by_text(const void *a, const void *b)
{
    return strcmp(((const struct stack *)a)->text, ((const struct stack *)b)->text);
}

/* Appends each sample's stack with its value in column side; -1 when out of memory. */
static int collect(struct stack **stacks, const struct export_data *data,
                   enum export_value value, int side)
{
    for (ptrdiff_t i = 0; i < arrlen(data->samples); i++) {
        int64_t v = export_sample_value(&data->samples[i], value);
        if (v == 0)
            continue;
        struct stack s = {stack_text(data, &data->samples[i]), {0, 0}};
        if (!s.text)
            return -1;
        s.value[side] = v;
        arrput(*stacks, s);
    }
    return 0;
}

/* Sorts the stacks bytewise (the order of `sort`, C locale) and adds up equal ones: tracebacks
   that differ only by their total_nframe, or by their domain, are one stack. */
static void merge(struct stack *stacks)
{
    ptrdiff_t n = arrlen(stacks), kept = 0;
    if (n == 0)
        return;
    qsort(stacks, (size_t)n, sizeof *stacks, by_text);
    for (ptrdiff_t i = 1; i < n; i++) {
        if (strcmp(stacks[i].text, stacks[kept].text) == 0) {
            stacks[kept].value[0] += stacks[i].value[0];
            stacks[kept].value[1] += stacks[i].value[1];
            sqlite3_free(stacks[i].text);
        } else {
            stacks[++kept] = stacks[i];
        }
    }
    arrsetlen(stacks, kept + 1);
}

static void free_stacks(struct stack *stacks)
{
    for (ptrdiff_t i = 0; i < arrlen(stacks); i++)
        sqlite3_free(stacks[i].text);
    arrfree(stacks);
}

int export_folded(const struct export_data *data, enum export_value value, FILE *out)
{
    struct stack *stacks = NULL;
    int rc = collect(&stacks, data, value, 1);
    if (rc == 0) {
        merge(stacks);
        for (ptrdiff_t i = 0; i < arrlen(stacks); i++)
            fprintf(out, "%s %lld\n", stacks[i].text, (long long)stacks[i].value[1]);
    }
    free_stacks(stacks);
    return rc;
}

int export_folded_diff(const struct export_data *old, const struct export_data *new,
                       enum export_value value, FILE *out)
{
    struct stack *stacks = NULL;
    int rc = collect(&stacks, old, value, 0);
    if (rc == 0)
        rc = collect(&stacks, new, value, 1);
    if (rc == 0) {
        merge(stacks);
        for (ptrdiff_t i = 0; i < arrlen(stacks); i++)
            fprintf(out, "%s %lld %lld\n", stacks[i].text, (long long)stacks[i].value[0],
                    (long long)stacks[i].value[1]);
    }
    free_stacks(stacks);
    return rc;
}
