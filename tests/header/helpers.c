/* Helpers for the behaviour tests (see helpers.h). Not compiled with TRACEMALLOC_OVERRIDE: the
   memory used here is the test's bookkeeping, never part of what a test measures. */
#define _XOPEN_SOURCE 700
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"

int tracker_stopped(void **state)
{
    (void)state;
    tm_stop();
    return 0;
}

size_t traced_current(void)
{
    size_t current, peak;
    tm_get_traced_memory(&current, &peak);
    return current;
}

size_t traced_peak(void)
{
    size_t current, peak;
    tm_get_traced_memory(&current, &peak);
    return peak;
}

const tm_trace *find_trace(const tm_snapshot *snapshot, unsigned domain, const void *ptr)
{
    const tm_trace *traces;
    size_t n = tm_snapshot_traces(snapshot, &traces), i;
    for (i = 0; i < n; i++)
        if (traces[i].domain == domain && traces[i].address == (uintptr_t)ptr)
            return &traces[i];
    return NULL;
}

size_t snapshot_size(const tm_snapshot *snapshot)
{
    const tm_trace *traces;
    return tm_snapshot_traces(snapshot, &traces);
}

char *make_scratch_dir(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = malloc(4096);
    if (dir == NULL)
        return NULL;
    snprintf(dir, 4096, "%s/tm-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (mkdtemp(dir) == NULL) {
        free(dir);
        return NULL;
    }
    return dir;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

void remove_tree(const char *dir)
{
    if (dir != NULL)
        nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int count_entries(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (needle == NULL || strstr(e->d_name, needle) != NULL)
            n++;
    }
    closedir(d);
    return n;
}
