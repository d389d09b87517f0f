/* See oom_alloc.h. Every block carries a 16-byte header (a magic and the size), which keeps the
   C library's 16-byte alignment for what the tracker stores in it. */
#include "oom_alloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define OOM_MAGIC 0x6f6f6d2d72617721ull /* "oom-raw!" */

typedef struct oom_header {
    uint64_t magic;
    uint64_t size;
} oom_header;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int failing;
static unsigned every, calls;
static size_t live, failures, foreign;

static int refuse(void)
{
    calls++;
    if (failing || (every != 0 && calls % every == 0)) {
        failures++;
        return 1;
    }
    return 0;
}

void *oom_realloc(void *ptr, size_t size)
{
    oom_header *h = ptr ? (oom_header *)ptr - 1 : NULL, *n;
    pthread_mutex_lock(&lock);
    if (h != NULL && h->magic != OOM_MAGIC) {
        foreign++;
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    if (refuse() || size > SIZE_MAX - sizeof *h) {
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    n = realloc(h, sizeof *n + size);
    if (n != NULL) {
        if (h != NULL)
            live -= n->size;
        n->magic = OOM_MAGIC, n->size = size;
        live += size;
    }
    pthread_mutex_unlock(&lock);
    return n ? n + 1 : NULL;
}

void oom_free(void *ptr)
{
    oom_header *h = ptr ? (oom_header *)ptr - 1 : NULL;
    if (h == NULL)
        return;
    pthread_mutex_lock(&lock);
    if (h->magic != OOM_MAGIC) {
        foreign++;
    } else {
        live -= h->size;
        h->magic = 0;
        free(h);
    }
    pthread_mutex_unlock(&lock);
}

void oom_fail_all(int on)
{
    pthread_mutex_lock(&lock);
    failing = on;
    pthread_mutex_unlock(&lock);
}

void oom_fail_every(unsigned n)
{
    pthread_mutex_lock(&lock);
    every = n, calls = 0;
    pthread_mutex_unlock(&lock);
}

#define OOM_READ(name, var)              \
    size_t name(void)                    \
    {                                    \
        size_t v;                        \
        pthread_mutex_lock(&lock);       \
        v = var;                         \
        pthread_mutex_unlock(&lock);     \
        return v;                        \
    }
OOM_READ(oom_live_bytes, live)
OOM_READ(oom_failures, failures)
OOM_READ(oom_foreign_frees, foreign)
