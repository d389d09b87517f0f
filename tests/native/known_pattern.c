/* A program whose every allocation is known: tests/native/test_known_pattern.py runs it under
   `tracemalloc run` and under valgrind memcheck with the same arguments, and checks both against
   its own model of what this file allocates on each call path.

       known_pattern RECORDS LIST DEPTH APPENDS SCRATCH THREADS PER_THREAD

   What stays live at exit, per call path (innermost first; the model in the test says the same):
     leak_direct <- main                          RECORDS blocks, 100 + i bytes, pointers dropped
                                                  (memcheck: definitely lost)
     xmalloc <- make_record <- make_list <- main  LIST records, record_size(i) bytes, kept
     xmalloc <- make_record <- main               one record, record_size(LIST) bytes, kept
     xcalloc <- nest x (DEPTH + 1) <- main        one block of 3 x 40 bytes, kept
     xmalloc <- builder_new <- build_string <- main         the builder, kept
     xrealloc <- builder_grow <- builder_append <- build_string <- main
                                                  its buffer, grown by doubling from 16, kept
     xmalloc <- make_record <- worker             PER_THREAD records per thread, kept
     aligned_block <- worker                      one 200-byte block per thread (posix_memalign)
   Freed before exit: SCRATCH temporaries per call of scratch() (main, and each worker), and a
   second list of LIST records (make_list <- discard_list <- main, then free_list).
   Each call path has one call site per caller, so it is exactly one traceback.
   Nothing here uses stdio or any other libc call that allocates, so the live blocks of the
   process are exactly these plus what pthread_create allocates. Functions are kept out of line
   and out of clones (noipa) and calls are never turned into jumps (the mk file builds with
   -fno-optimize-sibling-calls), so every call path is a real stack. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#define KEEP_FRAME __attribute__((noinline))
#else
#define KEEP_FRAME __attribute__((noipa))
#endif

struct record {
    struct record *next;
    size_t size;
};

struct builder {
    char *buffer;
    size_t length, capacity;
};

/* Not static: what they point to is still reachable at exit, for memcheck too. */
struct record *lists[64];
void *kept[64];
struct builder *text;

/* Makes a block's use visible, so the compiler cannot drop an allocation. */
KEEP_FRAME static void touch(void *p, size_t n)
{
    memset(p, 0xA5, n);
    __asm__ volatile("" : : "r"(p) : "memory");
}

KEEP_FRAME void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) abort();
    touch(p, n);
    return p;
}

KEEP_FRAME void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) abort();
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

KEEP_FRAME void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n);
    if (!p) abort();
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

/* The model's record_size(i). */
static size_t record_size(unsigned i)
{
    return 48 + 16 * (i % 4);
}

KEEP_FRAME struct record *make_record(size_t size)
{
    struct record *r = xmalloc(size);
    r->next = NULL;
    r->size = size;
    return r;
}

KEEP_FRAME struct record *make_list(unsigned n)
{
    struct record *head = NULL;
    unsigned i;
    for (i = 0; i < n; i++) {
        struct record *r = make_record(record_size(i));
        r->next = head;
        head = r;
    }
    return head;
}

KEEP_FRAME void free_list(struct record *r)
{
    while (r) {
        struct record *next = r->next;
        free(r);
        r = next;
    }
}

KEEP_FRAME void discard_list(unsigned n)
{
    free_list(make_list(n));
}

/* Blocks whose pointers are dropped: memcheck's "definitely lost". */
KEEP_FRAME void leak_direct(unsigned n)
{
    unsigned i;
    for (i = 0; i < n; i++) {
        void *p = malloc(100 + i);
        if (!p) abort();
        touch(p, 100 + i);
    }
}

/* Temporaries: each block is freed before anything else is allocated. */
KEEP_FRAME void scratch(unsigned n)
{
    unsigned i;
    for (i = 0; i < n; i++) free(xmalloc(32 + i));
}

/* DEPTH + 1 frames of nest above the allocation; the work after the call keeps it a real call. */
KEEP_FRAME void *nest(unsigned depth)
{
    void *p = depth ? nest(depth - 1) : xcalloc(3, 40);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

KEEP_FRAME struct builder *builder_new(void)
{
    struct builder *b = xmalloc(sizeof *b);
    b->buffer = NULL;
    b->length = b->capacity = 0;
    return b;
}

KEEP_FRAME void builder_grow(struct builder *b, size_t need)
{
    size_t capacity = b->capacity ? b->capacity : 16;
    while (capacity < need) capacity *= 2;
    if (capacity != b->capacity) {
        b->buffer = xrealloc(b->buffer, capacity);
        b->capacity = capacity;
    }
}

KEEP_FRAME void builder_append(struct builder *b, const char *s)
{
    size_t n = strlen(s);
    builder_grow(b, b->length + n + 1);
    memcpy(b->buffer + b->length, s, n + 1);
    b->length += n;
}

/* The model: "word " appended `appends` times, the buffer doubling from 16 to fit it. */
KEEP_FRAME struct builder *build_string(unsigned appends)
{
    struct builder *b = builder_new();
    unsigned i;
    for (i = 0; i < appends; i++) builder_append(b, "word ");
    return b;
}

KEEP_FRAME void *aligned_block(void)
{
    void *p;
    if (posix_memalign(&p, 64, 200)) abort();
    touch(p, 200);
    return p;
}

static unsigned scratch_count, per_thread;

KEEP_FRAME void *worker(void *arg)
{
    unsigned t = (unsigned)(uintptr_t)arg, i;
    struct record *head = NULL;
    scratch(scratch_count);
    for (i = 0; i < per_thread; i++) {
        /* the model's thread record size: 40 + 8 * ((t + i) % 3) */
        struct record *r = make_record(40 + 8 * ((t + i) % 3));
        r->next = head;
        head = r;
    }
    lists[t] = head;
    kept[t] = aligned_block();
    return NULL;
}

static unsigned argument(char **argv, int i, unsigned max)
{
    unsigned long v = strtoul(argv[i], NULL, 10);
    if (v > max) abort();
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    pthread_t thread[64];
    unsigned records, list, depth, appends, threads, t;
    if (argc != 8) return 2;
    records = argument(argv, 1, 100000);
    list = argument(argv, 2, 100000);
    depth = argument(argv, 3, 1000);
    appends = argument(argv, 4, 100000);
    scratch_count = argument(argv, 5, 100000);
    threads = argument(argv, 6, 62);
    per_thread = argument(argv, 7, 100000);

    leak_direct(records);
    lists[threads] = make_list(list);
    lists[threads + 1] = make_record(record_size(list));
    discard_list(list);
    scratch(scratch_count);
    kept[threads] = nest(depth);
    text = build_string(appends);
    for (t = 0; t < threads; t++)
        if (pthread_create(&thread[t], NULL, worker, (void *)(uintptr_t)t)) abort();
    for (t = 0; t < threads; t++) pthread_join(thread[t], NULL);
    return 0;
}
