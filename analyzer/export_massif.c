/* export_massif.c - a massif.out file (valgrind's massif format, read by ms_print and
   massif-visualizer) built from the timeline, the peak's contents and the live blocks.

   Each timeline sample is a snapshot with an empty heap tree; the peak is the snapshot whose
   tree is marked `peak`; the blocks live when the dump was written give the last snapshot a
   detailed tree. A tree is massif's: the allocation sites under the root, their callers below
   them, children by size, those under 1% of the snapshot's bytes folded into one
   "in N places, all below massif's threshold (1.00%)" entry. See docs/OUTPUT.md. */
#define _DEFAULT_SOURCE /* unlink */
#include "export.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stb_ds.h"

/* massif's default --threshold, in hundredths of a percent. */
#define THRESHOLD_BP 100

struct node {
    int frame;  /* index in export_data.frames; -1 for the root */
    int64_t size;
    int *children; /* stb_ds array of indexes into the tree */
};

/* A tree in one array; node 0 is the root. index finds a node by "parent:frame" (a string
   map: stb_ds's other maps need typeof, which strict C11 lacks), so that a root with thousands
   of allocation sites is not searched child by child. */
struct tree {
    struct node *nodes; /* stb_ds array */
    struct { char *key; int value; } *index;
};

static int child(struct tree *t, int parent, int frame)
{
    char key[32];
    snprintf(key, sizeof key, "%d:%d", parent, frame);
    ptrdiff_t found = shgeti(t->index, key);
    if (found >= 0)
        return t->index[found].value;
    struct node n = {frame, 0, NULL};
    arrput(t->nodes, n);
    int index = (int)arrlen(t->nodes) - 1;
    arrput(t->nodes[parent].children, index);
    shput(t->index, key, index);
    return index;
}

/* The inverted call tree of a value: each sample adds its bytes along its frames, most recent
   first (massif's root lists the allocation sites). */
static void build_tree(struct tree *t, const struct export_data *data, enum export_value value)
{
    struct node root = {-1, 0, NULL};
    arrput(t->nodes, root);
    sh_new_strdup(t->index);
    for (ptrdiff_t i = 0; i < arrlen(data->samples); i++) {
        const struct export_sample *s = &data->samples[i];
        int64_t v = export_sample_value(s, value);
        if (v <= 0)
            continue;
        t->nodes[0].size += v;
        int at = 0;
        for (ptrdiff_t k = 0; k < arrlen(s->frames); k++) {
            at = child(t, at, s->frames[k]);
            t->nodes[at].size += v;
        }
    }
}

static void free_tree(struct tree *t)
{
    for (ptrdiff_t i = 0; i < arrlen(t->nodes); i++)
        arrfree(t->nodes[i].children);
    arrfree(t->nodes);
    shfree(t->index);
}

/* Sorting children: the largest first, then by frame text, so the file is deterministic. */
static const struct export_data *sort_data;
static const struct tree *sort_tree;

static int frame_order(int a, int b)
{
    const struct export_frame *x = &sort_data->frames[a], *y = &sort_data->frames[b];
    int c = strcmp(x->function ? x->function : "", y->function ? y->function : "");
    if (c == 0)
        c = strcmp(x->filename, y->filename);
    if (c == 0)
        c = (x->lineno > y->lineno) - (x->lineno < y->lineno);
    return c;
}

static int by_size(const void *a, const void *b)
{
    const struct node *x = &sort_tree->nodes[*(const int *)a], *y = &sort_tree->nodes[*(const int *)b];
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return frame_order(x->frame, y->frame);
}

/* Text in a massif.out line: ms_print drops everything after a `#`, and a line end would end
   the record, so both become `_`. */
static void write_clean(const char *text, FILE *out)
{
    for (; *text; text++)
        fputc(*text == '#' || *text == '\n' || *text == '\r' ? '_' : *text, out);
}

/* A frame as massif names a code location: `function (file:line)`, `???` without a function. */
static void write_frame(const struct export_frame *f, FILE *out)
{
    char *text = sqlite3_mprintf("%s (%s:%lld)", f->function ? f->function : "???", f->filename,
                                 (long long)f->lineno);
    write_clean(text ? text : "???", out);
    sqlite3_free(text);
}

/* One node and, below it, its significant children (one more space of indent per level). */
static void write_node(const struct export_data *data, struct tree *t, int index, int depth,
                       int64_t threshold, FILE *out)
{
    struct node *n = &t->nodes[index];
    ptrdiff_t nchild = arrlen(n->children), nsig = 0;
    int64_t insig_size = 0;
    sort_data = data;
    sort_tree = t;
    if (nchild > 1)
        qsort(n->children, (size_t)nchild, sizeof *n->children, by_size);
    for (ptrdiff_t i = 0; i < nchild; i++) {
        if (t->nodes[n->children[i]].size >= threshold)
            nsig++;
        else
            insig_size += t->nodes[n->children[i]].size;
    }
    fprintf(out, "%*sn%td: %lld ", depth, "", nsig + (nsig < nchild), (long long)n->size);
    if (n->frame < 0)
        fputs("(heap allocation functions) malloc/new/new[], --alloc-fns, etc.", out);
    else
        write_frame(&data->frames[n->frame], out);
    fputc('\n', out);
    for (ptrdiff_t i = 0; i < nsig; i++) /* sorted: the significant ones come first */
        write_node(data, t, t->nodes[index].children[i], depth + 1, threshold, out);
    if (nsig < nchild)
        fprintf(out, "%*sn0: %lld in %td place%s, %sbelow massif's threshold (%d.%02d%%)\n",
                depth + 1, "", (long long)insig_size, nchild - nsig, nchild - nsig > 1 ? "s" : "",
                nchild - nsig > 1 ? "all " : "", THRESHOLD_BP / 100, THRESHOLD_BP % 100);
}

static void write_header(FILE *out, int64_t number, int64_t t_ns, int64_t bytes, const char *tree)
{
    fprintf(out, "#-----------\nsnapshot=%lld\n#-----------\ntime=%lld\nmem_heap_B=%lld\n"
                 "mem_heap_extra_B=0\nmem_stacks_B=0\nheap_tree=%s\n",
            (long long)number, (long long)(t_ns / 1000000), (long long)bytes, tree);
}

/* A snapshot with a detailed tree of a value; its bytes are the tree's, so that no node is
   larger than its snapshot (ms_print checks). */
static void write_detailed(const struct export_data *data, enum export_value value, FILE *out,
                           int64_t number, int64_t t_ns, const char *kind)
{
    struct tree t = {NULL, NULL};
    build_tree(&t, data, value);
    write_header(out, number, t_ns, t.nodes[0].size, kind);
    write_node(data, &t, 0, 0, t.nodes[0].size * THRESHOLD_BP / 10000, out);
    free_tree(&t);
}

static int64_t total(const struct export_data *data, enum export_value value)
{
    int64_t sum = 0;
    for (ptrdiff_t i = 0; i < arrlen(data->samples); i++)
        sum += export_sample_value(&data->samples[i], value);
    return sum;
}

/* The snapshots in time order: the timeline's, the peak's among them (after the samples of
   the same time), then the live blocks' as the last one (the timeline's last sample, taken
   with the snapshot, when it has the same bytes). */
static void write_snapshots(const struct export_data *data, FILE *out)
{
    ptrdiff_t n = arrlen(data->timeline);
    int64_t number = 0, live = total(data, EXPORT_INUSE_SPACE);
    int peak_done = !data->has_peak;
    int last_is_live = n > 0 && data->timeline[n - 1].traced == live;
    for (ptrdiff_t i = 0; i < n; i++) {
        const struct export_point *p = &data->timeline[i];
        if (!peak_done && p->t_ns > data->peak_time_ns) {
            write_detailed(data, EXPORT_PEAK, out, number++, data->peak_time_ns, "peak");
            peak_done = 1;
        }
        if (i == n - 1 && last_is_live)
            write_detailed(data, EXPORT_INUSE_SPACE, out, number++, p->t_ns, "detailed");
        else
            write_header(out, number++, p->t_ns, p->traced, "empty");
    }
    if (!peak_done)
        write_detailed(data, EXPORT_PEAK, out, number++, data->peak_time_ns, "peak");
    if (!last_is_live) {
        int64_t t_ns = data->has_start ? data->time_ns - data->start_ns : 0;
        if (n > 0 && t_ns < data->timeline[n - 1].t_ns)
            t_ns = data->timeline[n - 1].t_ns;
        if (data->has_peak && t_ns < data->peak_time_ns)
            t_ns = data->peak_time_ns;
        write_detailed(data, EXPORT_INUSE_SPACE, out, number++, t_ns, "detailed");
    }
}

int export_massif(const struct export_data *data, const char *path, char error[EXPORT_ERROR_SIZE])
{
    int to_stdout = strcmp(path, "-") == 0;
    FILE *out = to_stdout ? stdout : fopen(path, "w");
    if (!out) {
        snprintf(error, EXPORT_ERROR_SIZE, "%s", strerror(errno));
        return -1;
    }
    /* ms_print shows desc as "Massif arguments" and cmd as "Command". */
    fputs("desc: (none: written by tracemalloc export --massif from ", out);
    write_clean(data->source ? data->source : "", out);
    fputs(")\ncmd: ", out);
    if (data->label)
        write_clean(data->label, out);
    else
        fprintf(out, "pid %lld", (long long)data->pid);
    fputc('\n', out);
    fputs("time_unit: ms\n", out);
    write_snapshots(data, out);
    int ok = fflush(out) == 0 && !ferror(out);
    if (!to_stdout && fclose(out) != 0)
        ok = 0;
    if (ok)
        return 0;
    snprintf(error, EXPORT_ERROR_SIZE, "cannot write: %s", strerror(errno ? errno : EIO));
    if (!to_stdout)
        unlink(path);
    return -1;
}
