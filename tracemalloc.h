/* tracemalloc.h - v0.1.0 - Python's tracemalloc for C - public domain or MIT (see end of file)

   Records every allocation with the line that made it, so a C program can ask what Python's
   tracemalloc answers: which lines hold how much memory, what is still live, what the peak was.
   Snapshots are written as dumps that the `tracemalloc` command analyzes (statistics, filters,
   comparisons, leak gates, SQL).

QUICK START
   Do this in *one* C file of the program:

      #define TRACEMALLOC_IMPLEMENTATION
      #include "tracemalloc.h"

   and in every file whose allocations should be traced (that one included):

      #define TRACEMALLOC_OVERRIDE     // malloc, free, ... now record __FILE__:__LINE__
      #include "tracemalloc.h"

      int main(void) {
          tm_start(1);                           // traceback limit: 1 frame, the call site
          char *p = malloc(100);
          size_t current, peak;
          tm_get_traced_memory(&current, &peak); // 100, 100
          tm_snapshot *snapshot = tm_take_snapshot();
          tm_snapshot_dump(snapshot, "run.tmd"); // then: tracemalloc stats run.tmd
          tm_snapshot_free(snapshot);
          free(p);
          tm_stop();
      }

   Link with -lpthread. The implementation needs stb_ds.h (Debian: libstb-dev,
   `pkg-config --cflags stb`); nothing is linked for it.

CONFIGURATION (define before the include that has TRACEMALLOC_IMPLEMENTATION)
   TM_RAW_REALLOC(p, n) / TM_RAW_FREE(p)
                        the allocator the tracker uses for itself (default: the C library's
                        realloc and free). Define both or neither.
   TM_ASSERT(x)         default: assert(x)
   TRACEMALLOC_STATIC   make every tm_ function static to the implementation's file
   TRACEMALLOC_OVERRIDE (before any include of this file) redirect malloc, calloc, realloc, free,
                        strdup, strndup, reallocarray, aligned_alloc, posix_memalign, memalign,
                        valloc and pvalloc in that file to the tracing wrappers below.

API (Python's names; 0 means success unless said otherwise)
   int    tm_start(int nframe)              start tracing; nframe 1..65535, else -1
   void   tm_stop(void)                     stop tracing and clear every trace
   int    tm_is_tracing(void)
   void   tm_clear_traces(void)
   void   tm_get_traced_memory(size_t *current, size_t *peak)
   void   tm_reset_peak(void)               peak := current
   size_t tm_get_tracemalloc_memory(void)   bytes the tracker holds for itself
   void   tm_get_untraced_memory(size_t *count, size_t *size)   blocks it failed to record
   int    tm_get_traceback_limit(void)
   const tm_traceback *tm_get_object_traceback(const void *ptr)  NULL if not traced

   tm_snapshot *tm_take_snapshot(void)      NULL when not tracing or out of memory
   size_t tm_snapshot_traces(const tm_snapshot *, const tm_trace **traces)
   int    tm_snapshot_set_label(tm_snapshot *, const char *label)
   int    tm_snapshot_dump(const tm_snapshot *, const char *path)   atomic; %p pid, %n counter
   void   tm_snapshot_free(tm_snapshot *)

   int    tm_track(unsigned domain, const void *ptr, size_t size)   (a macro: frame = call site)
   int    tm_untrack(unsigned domain, const void *ptr)
   int    tm_track_frames(unsigned domain, const void *ptr, size_t size,
                          const tm_frame *frames, int nframe)        frames most recent first

   void  *tm_malloc_at(size_t size, const char *file, unsigned line, const char *func)
          ... and tm_calloc_at, tm_realloc_at, tm_strdup_at, tm_strndup_at, tm_reallocarray_at,
          tm_aligned_alloc_at, tm_posix_memalign_at, tm_memalign_at, tm_valloc_at,
          tm_pvalloc_at, each with the same three trailing arguments; and tm_free(ptr).

ENVIRONMENT
   TRACEMALLOC=N        start tracing with traceback limit N when the program starts
   TRACEMALLOC_DUMP=path
                        write a snapshot to path at exit (%p: pid, %n: a counter that names
                        no existing file, %%: a percent sign)

REVISION HISTORY
   0.1.0  (2026-11-25) first release: call-site tracing, domains, snapshots, dump format 1
*/
#ifndef TRACEMALLOC_H_INCLUDED
#define TRACEMALLOC_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define TM_VERSION_MAJOR 0
#define TM_VERSION_MINOR 1
#define TM_VERSION_PATCH 0

#ifdef TRACEMALLOC_STATIC
#define TMDEF static __attribute__((unused))
#else
#define TMDEF extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One frame of a traceback. filename and function point to strings the tracker owns. */
typedef struct tm_frame {
    const char *filename;
    unsigned lineno;
    const char *function; /* NULL when unknown */
} tm_frame;

/* frames[0] is the most recent frame: the allocation site. nframe <= the traceback limit;
   total_nframe is the depth before the limit cut it, as Python's Traceback.total_nframe. */
typedef struct tm_traceback {
    int nframe;
    int total_nframe;
    const tm_frame *frames;
} tm_traceback;

/* One traced block, as a snapshot holds it. */
typedef struct tm_trace {
    unsigned domain;
    size_t size;
    uintptr_t address;
    const tm_traceback *traceback;
} tm_trace;

typedef struct tm_snapshot tm_snapshot;

/* The domain of the malloc family, as Python's domain 0. */
#define TM_DOMAIN_MALLOC 0u
#define TM_MAX_NFRAME 65535

TMDEF int tm_start(int nframe);
TMDEF void tm_stop(void);
TMDEF int tm_is_tracing(void);
TMDEF void tm_clear_traces(void);
TMDEF void tm_get_traced_memory(size_t *current, size_t *peak);
TMDEF void tm_reset_peak(void);
TMDEF size_t tm_get_tracemalloc_memory(void);
TMDEF void tm_get_untraced_memory(size_t *count, size_t *size);
TMDEF int tm_get_traceback_limit(void);
/* Valid until the trace is cleared (tm_clear_traces, tm_stop). */
TMDEF const tm_traceback *tm_get_object_traceback(const void *ptr);

TMDEF tm_snapshot *tm_take_snapshot(void);
/* Sets *traces to the snapshot's traces (owned by the snapshot) and returns their number. */
TMDEF size_t tm_snapshot_traces(const tm_snapshot *snapshot, const tm_trace **traces);
TMDEF int tm_snapshot_traceback_limit(const tm_snapshot *snapshot);
TMDEF int tm_snapshot_set_label(tm_snapshot *snapshot, const char *label);
TMDEF int tm_snapshot_dump(const tm_snapshot *snapshot, const char *path);
TMDEF void tm_snapshot_free(tm_snapshot *snapshot);

TMDEF int tm_track_at(unsigned domain, const void *ptr, size_t size,
                      const char *file, unsigned line, const char *func);
TMDEF int tm_untrack(unsigned domain, const void *ptr);
TMDEF int tm_track_frames(unsigned domain, const void *ptr, size_t size,
                          const tm_frame *frames, int nframe);
#define tm_track(domain, ptr, size) tm_track_at((domain), (ptr), (size), __FILE__, __LINE__, __func__)

TMDEF void *tm_malloc_at(size_t size, const char *file, unsigned line, const char *func);
TMDEF void *tm_calloc_at(size_t count, size_t size, const char *file, unsigned line, const char *func);
TMDEF void *tm_realloc_at(void *ptr, size_t size, const char *file, unsigned line, const char *func);
TMDEF void *tm_reallocarray_at(void *ptr, size_t count, size_t size,
                               const char *file, unsigned line, const char *func);
TMDEF char *tm_strdup_at(const char *s, const char *file, unsigned line, const char *func);
TMDEF char *tm_strndup_at(const char *s, size_t n, const char *file, unsigned line, const char *func);
TMDEF void *tm_aligned_alloc_at(size_t alignment, size_t size,
                                const char *file, unsigned line, const char *func);
TMDEF int tm_posix_memalign_at(void **out, size_t alignment, size_t size,
                               const char *file, unsigned line, const char *func);
TMDEF void *tm_memalign_at(size_t alignment, size_t size, const char *file, unsigned line, const char *func);
TMDEF void *tm_valloc_at(size_t size, const char *file, unsigned line, const char *func);
TMDEF void *tm_pvalloc_at(size_t size, const char *file, unsigned line, const char *func);
TMDEF void tm_free(void *ptr);

/* ---- The dump format (docs/FORMAT.md), shared by the writer and the analyzer. ---- */
#define TM_DUMP_MAGIC "\x89TMD\r\n\x1a\n"
#define TM_DUMP_MAGIC_SIZE 8
#define TM_DUMP_VERSION 2u
#define TM_DUMP_HEADER_SIZE 16u  /* magic, u32 version, u32 flags */
#define TM_DUMP_SECTION_SIZE 16u /* u32 tag, u32 flags, u64 length */
#define TM_DUMP_END_SIZE 20u     /* the end section: its header and a u32 CRC-32 */
#define TM_DUMP_META_SIZE 64u
#define TM_DUMP_FRAME_SIZE 16u
#define TM_DUMP_TRACE_SIZE 24u
#define TM_DUMP_REQUIRED 1u      /* section flag: a reader that does not know the tag refuses */
#define TM_DUMP_NONE 0xFFFFFFFFu /* "no string" */
#define TM_DUMP_FRAME_SOURCE 0u
#define TM_DUMP_FRAME_NATIVE 1u  /* a return address: u32 module id, u64 offset (version 2) */
#define TM_DUMP_MAX_BUILD_ID 64u
#define TM_DUMP_MAX_RANGES 64u
#define TM_DUMP_SAMPLE_SIZE 24u  /* TIME: u64 t_ns, u64 traced, u64 rss */
#define TM_DUMP_PEAK_SIZE 24u    /* PEAK: u32 domain, u32 traceback, u64 count, u64 size */
#define TM_DUMP_ALLOC_SIZE 32u   /* ALOC: ... u64 count, u64 size, u64 temporaries */
#define TM_DUMP_TAG(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TM_DUMP_TAG_STRS TM_DUMP_TAG('S', 'T', 'R', 'S')
#define TM_DUMP_TAG_META TM_DUMP_TAG('M', 'E', 'T', 'A')
#define TM_DUMP_TAG_FRMS TM_DUMP_TAG('F', 'R', 'M', 'S')
#define TM_DUMP_TAG_TBKS TM_DUMP_TAG('T', 'B', 'K', 'S')
#define TM_DUMP_TAG_TRCS TM_DUMP_TAG('T', 'R', 'C', 'S')
#define TM_DUMP_TAG_MODS TM_DUMP_TAG('M', 'O', 'D', 'S')
#define TM_DUMP_TAG_TIME TM_DUMP_TAG('T', 'I', 'M', 'E')
#define TM_DUMP_TAG_PEAK TM_DUMP_TAG('P', 'E', 'A', 'K')
#define TM_DUMP_TAG_ALOC TM_DUMP_TAG('A', 'L', 'O', 'C')
#define TM_DUMP_TAG_END TM_DUMP_TAG('E', 'N', 'D', ' ')

#ifdef __cplusplus
}
#endif
#endif /* TRACEMALLOC_H_INCLUDED */

/* ============================================================================================== */
/*                                        IMPLEMENTATION                                          */
/* ============================================================================================== */
#if defined(TRACEMALLOC_IMPLEMENTATION) && !defined(TRACEMALLOC_IMPLEMENTATION_ONCE)
#define TRACEMALLOC_IMPLEMENTATION_ONCE

/* The override macros of an earlier include may be defined here: the tracker calls the C
   library as (malloc)(n), which a function-like macro does not rewrite. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#if defined(TM_RAW_REALLOC) != defined(TM_RAW_FREE)
#error "tracemalloc.h: define both TM_RAW_REALLOC and TM_RAW_FREE, or neither"
#endif
#ifndef TM_RAW_REALLOC
#define TM_RAW_REALLOC(p, n) (realloc)(p, n)
#define TM_RAW_FREE(p) (free)(p)
#endif
#ifndef TM_ASSERT
#include <assert.h>
#define TM_ASSERT(x) assert(x)
#endif

/* Strict ISO modes (-std=c99/c11) hide these POSIX and glibc declarations; the functions exist. */
#ifndef __cplusplus
extern int (posix_memalign)(void **out, size_t alignment, size_t size);
extern void *(aligned_alloc)(size_t alignment, size_t size);
extern void *(reallocarray)(void *ptr, size_t count, size_t size);
extern long (syscall)(long number, ...);
#ifdef __GLIBC__
extern void *(memalign)(size_t alignment, size_t size);
extern void *(valloc)(size_t size);
extern void *(pvalloc)(size_t size);
#endif
#endif

/* stb_ds, privately: renamed so a program with its own copy links, on the raw allocator. */
#ifdef INCLUDE_STB_DS_H
#error "tracemalloc.h: include stb_ds.h in another file than the one with TRACEMALLOC_IMPLEMENTATION"
#endif
#define stbds_rand_seed tm__stbds_rand_seed
#define stbds_hash_bytes tm__stbds_hash_bytes
#define stbds_hash_string tm__stbds_hash_string
#define stbds_stralloc tm__stbds_stralloc
#define stbds_strreset tm__stbds_strreset
#define stbds_unit_tests tm__stbds_unit_tests
#define stbds_arrgrowf tm__stbds_arrgrowf
#define stbds_arrfreef tm__stbds_arrfreef
#define stbds_hmfree_func tm__stbds_hmfree_func
#define stbds_hmget_key tm__stbds_hmget_key
#define stbds_hmget_key_ts tm__stbds_hmget_key_ts
#define stbds_hmput_default tm__stbds_hmput_default
#define stbds_hmput_key tm__stbds_hmput_key
#define stbds_hmdel_key tm__stbds_hmdel_key
#define stbds_shmode_func tm__stbds_shmode_func
#define STBDS_REALLOC(context, ptr, size) tm__raw_realloc_or_jump(ptr, size)
#define STBDS_FREE(context, ptr) tm__raw_free(ptr)
#define STBDS_ASSERT(x) TM_ASSERT(x)
#define STB_DS_IMPLEMENTATION
#if !defined(__cplusplus) && !defined(typeof)
#define typeof __typeof__ /* stb_ds's hm* macros use it; strict ISO modes lack the keyword */
#define TM__TYPEOF_DEFINED
#endif
static void *tm__raw_realloc_or_jump(void *ptr, size_t size);
static void tm__raw_free(void *ptr);
/* stb_ds's code and its macros trip -Wextra's checks: silenced to the implementation's end, as
   the macros expand in the tracker's own code. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-value"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "stb_ds.h"

#ifdef TRACEMALLOC_STATIC
#define TM__API static __attribute__((unused))
#else
#define TM__API
#endif

#if defined(__GNUC__)
#define TM__LIKELY(x) __builtin_expect(!!(x), 1)
#define TM__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TM__THREAD __thread
#define TM__INLINE static __inline__ __attribute__((always_inline))
#define TM__LINE __attribute__((aligned(64))) /* starts a cache line */
#define TM__NOINLINE static __attribute__((noinline)) /* slow paths, out of the hot path's registers */
#else
#error "tracemalloc.h: needs GCC or clang (thread-local storage and __atomic builtins)"
#endif

#define TM__LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define TM__STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* ---------------------------------------------------------------------------------------------- */
/* State                                                                                          */
/* ---------------------------------------------------------------------------------------------- */
#define TM__SHARDS 16 /* a power of two: pointer hash -> shard */
#define TM__SIZE_BITS 40
#define TM__SIZE_MAX ((UINT64_C(1) << TM__SIZE_BITS) - 1)
#define TM__TRACEBACK_MAX ((UINT64_C(1) << (64 - TM__SIZE_BITS)) - 1)
#define TM__NO_TRACEBACK UINT32_MAX

/* A live block of domain 0: its size and traceback id packed beside the pointer, so a slot is 16
   bytes and 1M live blocks cost ~25 bytes each. Blocks too big or tracebacks too many for the
   packing go to the table of other domains. ptr == 0 marks an empty slot. */
typedef struct tm__slot {
    uintptr_t ptr;
    uint64_t packed; /* size | traceback id << TM__SIZE_BITS */
} tm__slot;

typedef struct tm__shard {
    TM__LINE int lock; /* a cache line each: threads on two shards share none */
    size_t count, capacity, grow_at;
    size_t mask; /* capacity - 1 while it is a power of two (sparse), else 0 */
    tm__slot *slots;
} tm__shard;

/* Traces of other domains (tm_track), and of blocks the packed slot cannot hold. */
typedef struct tm__other_key {
    uint64_t ptr;
    uint64_t domain;
} tm__other_key;
typedef struct tm__other {
    tm__other_key key;
    size_t size;
    uint32_t traceback;
} tm__other;

/* An interned traceback; frames follow the struct in the same allocation. */
typedef struct tm__traceback {
    tm_traceback pub;
    uint64_t hash;
    uint32_t next; /* next traceback with the same hash, or TM__NO_TRACEBACK */
} tm__traceback;

typedef struct tm__site_key {
    const char *file;
    const char *func;
    uint64_t line;
} tm__site_key;

/* Grouped by who writes what, a cache line each (TM__LINE), so that threads reading the mode
   and the flags do not miss on the counters every other thread writes. */
static struct tm__state {
    /* read by every operation, written rarely */
    TM__LINE int mode;       /* TM__UNOWNED, TM__OWNED, TM__SHARING, TM__SHARED: see tm__begin */
    int tracing;
    int limit;
    unsigned generation;     /* bumped by every clear: stale traceback ids are dropped */
    size_t others_count;     /* entries in others, read without its lock */
    /* written by every operation */
    TM__LINE size_t current; /* traced bytes */
    size_t peak;
    int owner_in_op;         /* the owner is inside an operation */
    /* written now and then */
    TM__LINE size_t untraced_count;
    size_t untraced_size;
    size_t memory;           /* bytes held through the raw allocator */
    int share_lock;
    tm__shard shards[TM__SHARDS];
    TM__LINE int stb_lock;   /* around every stb_ds call: it is not thread-safe, even to read */
    tm__other *others;                                   /* stb_ds hm */
    struct { char *key; int value; } *strings;           /* stb_ds sh: interned strings */
    struct { const char *key; const char *value; } *file_names; /* __FILE__ pointer -> string */
    struct { tm__site_key key; uint32_t value; } *sites; /* call site -> traceback id */
    struct { uint64_t key; uint32_t value; } *by_hash;   /* traceback hash -> first id */
    tm__traceback **tracebacks;                          /* stb_ds arr, index = id */
} tm__state;

/* The tracker's own allocations come back through the wrappers when TM_RAW_REALLOC is itself
   traced, or in a preloaded library: the guard makes the inner call pass straight through. */
static TM__THREAD int tm__busy;
static TM__THREAD int tm__owner; /* this thread owns the tracker */
static TM__THREAD int tm__owned; /* the operation in progress runs as the owner: no locks */
/* Where stb_ds jumps when the raw allocator fails (see tm__raw_realloc_or_jump), and a block
   to free if it does: one allocated for the structure that was being grown. */
static TM__THREAD jmp_buf *tm__oom_target;
static TM__THREAD void *tm__orphan;

/* ---------------------------------------------------------------------------------------------- */
/* Ownership and locks. Every allocation takes a lock of the pointer table, and a locked          */
/* instruction costs ~6 ns here, a third of a malloc/free pair. So the first thread to use the    */
/* tracker owns it and runs with no lock and no atomic read-modify-write; the first other thread  */
/* makes it shared for good. The handshake is an asymmetric Dekker: the owner marks itself busy   */
/* with a plain store and checks the mode; the other thread changes the mode, has the kernel run  */
/* a memory barrier on every CPU of the process (membarrier, Linux 4.14) and waits for the        */
/* owner's operation in flight. Without membarrier, or under ThreadSanitizer (which cannot see    */
/* that barrier), the tracker is shared from the start.                                           */
/* ---------------------------------------------------------------------------------------------- */
enum { TM__UNOWNED, TM__OWNED, TM__SHARING, TM__SHARED };
#define TM__MEMBARRIER_PRIVATE_EXPEDITED 8 /* the kernel's ABI, <linux/membarrier.h> */
#define TM__MEMBARRIER_REGISTER_PRIVATE_EXPEDITED 16
#if defined(__SANITIZE_THREAD__)
#define TM__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TM__TSAN 1
#endif
#endif

static int tm__membarrier(int command)
{
#if defined(__linux__) && defined(SYS_membarrier) && !defined(TM__TSAN)
    return (int)syscall(SYS_membarrier, command, 0, 0);
#else
    (void)command;
    return -1;
#endif
}

static void tm__spin_lock(int *lock)
{
    unsigned spins = 0;
    while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(lock, __ATOMIC_RELAXED)) {
            if (++spins > 100) { /* the holder may be descheduled: let it run */
                sched_yield();
                spins = 0;
            }
        }
    }
}

static void tm__spin_unlock(int *lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

/* The tracker's locks: free for the owner, who is alone. */
TM__INLINE void tm__lock(int *lock)
{
    if (!tm__owned) tm__spin_lock(lock);
}

TM__INLINE void tm__unlock(int *lock)
{
    if (!tm__owned) tm__spin_unlock(lock);
}

/* The first thread here owns the tracker, unless membarrier is missing. */
static void tm__claim(void)
{
    int expected = TM__UNOWNED;
    int mode = tm__membarrier(TM__MEMBARRIER_REGISTER_PRIVATE_EXPEDITED) == 0 ? TM__OWNED : TM__SHARED;
    if (__atomic_compare_exchange_n(&tm__state.mode, &expected, mode, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
        && mode == TM__OWNED)
        tm__owner = 1;
}

/* Another thread needs the tracker: from now on, everyone locks. */
static void tm__share(void)
{
    tm__spin_lock(&tm__state.share_lock);
    if (__atomic_load_n(&tm__state.mode, __ATOMIC_ACQUIRE) == TM__OWNED) {
        __atomic_store_n(&tm__state.mode, TM__SHARING, __ATOMIC_RELAXED);
        tm__membarrier(TM__MEMBARRIER_PRIVATE_EXPEDITED);
        while (__atomic_load_n(&tm__state.owner_in_op, __ATOMIC_ACQUIRE)) sched_yield();
        __atomic_store_n(&tm__state.mode, TM__SHARED, __ATOMIC_RELEASE);
    }
    tm__spin_unlock(&tm__state.share_lock);
}

/* The owner's entry: two plain stores and a load. Returns 1 when this thread still owns the
   tracker; otherwise it has been made shared, and this thread is owner no more. */
TM__INLINE int tm__enter_as_owner(void)
{
    __atomic_store_n(&tm__state.owner_in_op, 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* membarrier is the other half */
    if (TM__LIKELY(__atomic_load_n(&tm__state.mode, __ATOMIC_RELAXED) == TM__OWNED)) {
        tm__owned = 1;
        return 1;
    }
    __atomic_store_n(&tm__state.owner_in_op, 0, __ATOMIC_RELEASE);
    tm__owner = 0;
    return 0;
}

TM__NOINLINE void tm__begin_slow(void)
{
    for (;;) {
        int mode;
        if (tm__owner && tm__enter_as_owner()) return;
        mode = __atomic_load_n(&tm__state.mode, __ATOMIC_ACQUIRE);
        if (mode == TM__SHARED) return;
        if (mode == TM__UNOWNED) tm__claim();
        else tm__share();
    }
}

/* Every operation on the tracker's tables runs between tm__begin and tm__end. */
TM__INLINE void tm__begin(void)
{
    tm__busy = 1;
    if (TM__LIKELY(tm__owner) && TM__LIKELY(tm__enter_as_owner())) return;
    tm__begin_slow();
}

TM__INLINE void tm__end(void)
{
    if (tm__owned) {
        __atomic_store_n(&tm__state.owner_in_op, 0, __ATOMIC_RELEASE);
        tm__owned = 0;
    }
    tm__busy = 0;
}

/* Counters: plain for the owner, atomic when shared; readers load them atomically either way. */
TM__INLINE void tm__counter_add(size_t *counter, size_t value)
{
    if (tm__owned) __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + value, __ATOMIC_RELAXED);
    else __atomic_add_fetch(counter, value, __ATOMIC_RELAXED);
}

TM__INLINE void tm__counter_sub(size_t *counter, size_t value)
{
    if (tm__owned) __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) - value, __ATOMIC_RELAXED);
    else __atomic_sub_fetch(counter, value, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------------------------------------- */
/* Raw allocator: every byte the tracker holds goes through here and is counted, never traced.    */
/* ---------------------------------------------------------------------------------------------- */
#define TM__RAW_HEADER 16 /* keeps the caller's alignment at 16 bytes */

static void *tm__raw_realloc(void *ptr, size_t size)
{
    char *block = ptr ? (char *)ptr - TM__RAW_HEADER : NULL;
    size_t old = block ? *(size_t *)(void *)block : 0;
    char *grown;
    if (size > SIZE_MAX - TM__RAW_HEADER) return NULL;
    grown = (char *)TM_RAW_REALLOC(block, size + TM__RAW_HEADER);
    if (!grown) return NULL;
    *(size_t *)(void *)grown = size + TM__RAW_HEADER;
    __atomic_add_fetch(&tm__state.memory, size + TM__RAW_HEADER - old, __ATOMIC_RELAXED); /* may shrink */
    return grown + TM__RAW_HEADER;
}

static void tm__raw_free(void *ptr)
{
    char *block;
    if (!ptr) return;
    block = (char *)ptr - TM__RAW_HEADER;
    __atomic_sub_fetch(&tm__state.memory, *(size_t *)(void *)block, __ATOMIC_RELAXED);
    TM_RAW_FREE(block);
}

/* stb_ds never checks its allocator's result: when ours fails, jump back to the operation's
   start (each stb_ds call runs under tm__try), where the structure is still as it was. */
static void *tm__raw_realloc_or_jump(void *ptr, size_t size)
{
    void *grown = tm__raw_realloc(ptr, size);
    if (!grown && size) longjmp(*tm__oom_target, 1);
    return grown;
}

static char *tm__raw_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = (char *)tm__raw_realloc(NULL, n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

/* Runs `body` with stb_ds's allocation failures caught: on failure, `failed` runs instead of the
   rest (it must leave the function), with every structure as it was before the failing call. */
#define TM__TRY(failed)                                                                            \
    jmp_buf tm__jump;                                                                              \
    jmp_buf *tm__outer = tm__oom_target;                                                           \
    tm__oom_target = &tm__jump;                                                                    \
    if (setjmp(tm__jump)) {                                                                        \
        tm__oom_target = tm__outer;                                                                \
        tm__raw_free(tm__orphan);                                                                  \
        tm__orphan = NULL;                                                                         \
        failed;                                                                                    \
    }
#define TM__END_TRY (tm__oom_target = tm__outer)

/* ---------------------------------------------------------------------------------------------- */
/* Interning: strings, tracebacks and call sites, under stb_lock. A traceback id is an index  */
/* into tm__state.tracebacks and stays valid until the next clear (tm__state.generation).         */
/* ---------------------------------------------------------------------------------------------- */

/* Returns the tracker's copy of s, or NULL when out of memory. */
static const char *tm__intern_string(const char *s)
{
    ptrdiff_t i = shgeti(tm__state.strings, (char *)s);
    char *copy;
    if (i >= 0) return tm__state.strings[i].key;
    copy = tm__raw_strdup(s);
    if (!copy) return NULL;
    tm__orphan = copy;
    shput(tm__state.strings, copy, 0);
    tm__orphan = NULL;
    return copy;
}

/* __FILE__ pointers repeat: the file name itself is hashed once per pointer. */
static const char *tm__intern_file(const char *file)
{
    ptrdiff_t i = hmgeti(tm__state.file_names, file);
    const char *name;
    if (i >= 0) return tm__state.file_names[i].value;
    name = tm__intern_string(file);
    if (name) hmput(tm__state.file_names, file, name);
    return name;
}

static uint64_t tm__hash_frames(const tm_frame *frames, int nframe, int total_nframe)
{
    uint64_t h = 14695981039346656037u ^ (uint64_t)total_nframe;
    int i;
    for (i = 0; i < nframe; i++) { /* interned strings: the pointer is the identity */
        h = (h ^ (uint64_t)(uintptr_t)frames[i].filename) * 1099511628211u;
        h = (h ^ frames[i].lineno) * 1099511628211u;
        h = (h ^ (uint64_t)(uintptr_t)frames[i].function) * 1099511628211u;
    }
    return h;
}

static int tm__same_frames(const tm_traceback *tb, const tm_frame *frames, int nframe, int total)
{
    int i;
    if (tb->nframe != nframe || tb->total_nframe != total) return 0;
    for (i = 0; i < nframe; i++)
        if (tb->frames[i].filename != frames[i].filename || tb->frames[i].lineno != frames[i].lineno
            || tb->frames[i].function != frames[i].function)
            return 0;
    return 1;
}

static tm__traceback *tm__new_traceback(const tm_frame *frames, int nframe, int total, uint64_t h)
{
    tm__traceback *tb = (tm__traceback *)tm__raw_realloc(NULL, sizeof *tb + (size_t)nframe * sizeof *frames);
    tm_frame *copy;
    if (!tb) return NULL;
    copy = (tm_frame *)(void *)(tb + 1);
    memcpy(copy, frames, (size_t)nframe * sizeof *frames);
    tb->pub.nframe = nframe;
    tb->pub.total_nframe = total;
    tb->pub.frames = copy;
    tb->hash = h;
    tb->next = TM__NO_TRACEBACK;
    return tb;
}

/* Frames hold interned strings. Returns the traceback id, or TM__NO_TRACEBACK when out of memory. */
static uint32_t tm__intern_traceback(const tm_frame *frames, int nframe, int total)
{
    uint64_t h = tm__hash_frames(frames, nframe, total);
    ptrdiff_t i = hmgeti(tm__state.by_hash, h);
    uint32_t id = i >= 0 ? tm__state.by_hash[i].value : TM__NO_TRACEBACK;
    tm__traceback *tb;
    for (; id != TM__NO_TRACEBACK; id = tm__state.tracebacks[id]->next)
        if (tm__same_frames(&tm__state.tracebacks[id]->pub, frames, nframe, total)) return id;
    tb = tm__new_traceback(frames, nframe, total, h);
    if (!tb) return TM__NO_TRACEBACK;
    tb->next = i >= 0 ? tm__state.by_hash[i].value : TM__NO_TRACEBACK;
    tm__orphan = tb;
    arrput(tm__state.tracebacks, tb);
    tm__orphan = NULL; /* from here the array owns it, even if the hash map cannot grow */
    id = (uint32_t)(arrlen(tm__state.tracebacks) - 1);
    hmput(tm__state.by_hash, h, id);
    return id;
}

static uint32_t tm__intern_site_locked(const char *file, unsigned line, const char *func)
{
    tm__site_key key;
    ptrdiff_t i;
    tm_frame frame;
    uint32_t id;
    memset(&key, 0, sizeof key);
    key.file = file;
    key.func = func;
    key.line = line;
    i = hmgeti(tm__state.sites, key);
    if (i >= 0) return tm__state.sites[i].value;
    frame.filename = tm__intern_file(file ? file : "<unknown>");
    frame.lineno = line;
    frame.function = func ? tm__intern_string(func) : NULL;
    if (!frame.filename || (func && !frame.function)) return TM__NO_TRACEBACK;
    id = tm__intern_traceback(&frame, 1, 1);
    if (id != TM__NO_TRACEBACK) hmput(tm__state.sites, key, id);
    return id;
}

/* The traceback of a call site, and in *generation the clear it belongs to. */
TM__NOINLINE uint32_t tm__intern_site(const char *file, unsigned line, const char *func, unsigned *generation)
{
    uint32_t id;
    tm__spin_lock(&tm__state.stb_lock);
    {
        TM__TRY(tm__spin_unlock(&tm__state.stb_lock); return TM__NO_TRACEBACK)
        id = tm__intern_site_locked(file, line, func);
        TM__END_TRY;
    }
    *generation = tm__state.generation;
    tm__spin_unlock(&tm__state.stb_lock);
    return id;
}

/* A call site costs one interning per thread: after that, this cache answers without a lock. */
#define TM__SITE_CACHE 64
static TM__THREAD struct tm__site_cache {
    const char *file, *func;
    unsigned line, generation;
    uint32_t traceback;
} tm__site_cache[TM__SITE_CACHE];

TM__INLINE uint32_t tm__site_traceback(const char *file, unsigned line, const char *func, unsigned *generation)
{
    struct tm__site_cache *c = &tm__site_cache[(((uintptr_t)file >> 4) ^ (line * 40503u)) % TM__SITE_CACHE];
    unsigned current = __atomic_load_n(&tm__state.generation, __ATOMIC_RELAXED);
    uint32_t id;
    if (TM__LIKELY(c->file == file && c->line == line && c->func == func && c->generation == current)) {
        *generation = current;
        return c->traceback;
    }
    id = tm__intern_site(file, line, func, generation);
    if (id != TM__NO_TRACEBACK) {
        c->file = file;
        c->func = func;
        c->line = line;
        c->generation = *generation;
        c->traceback = id;
    }
    return id;
}

/* tm_track_frames: frames beyond the limit are dropped from the oldest end, as in Python. */
static uint32_t tm__intern_frames_locked(const tm_frame *frames, int nframe, int limit)
{
    tm_frame kept[64], *copy = kept;
    int n = nframe < limit ? nframe : limit, i;
    uint32_t id = TM__NO_TRACEBACK;
    if (n == 0) { /* Python records an empty stack as one "<unknown>" frame */
        tm_frame unknown = {"<unknown>", 0, NULL};
        return tm__intern_frames_locked(&unknown, 1, 1);
    }
    if (n > 64 && !(copy = (tm_frame *)tm__raw_realloc(NULL, (size_t)n * sizeof *copy))) return id;
    for (i = 0; i < n; i++) {
        const char *function = frames[i].function;
        copy[i].filename = tm__intern_string(frames[i].filename ? frames[i].filename : "<unknown>");
        copy[i].lineno = frames[i].lineno;
        copy[i].function = function ? tm__intern_string(function) : NULL;
        if (!copy[i].filename || (function && !copy[i].function)) break;
    }
    if (i == n) id = tm__intern_traceback(copy, n, nframe > n ? nframe : n);
    if (copy != kept) tm__raw_free(copy);
    return id;
}

/* ---------------------------------------------------------------------------------------------- */
/* Traced memory                                                                                  */
/* ---------------------------------------------------------------------------------------------- */
TM__INLINE void tm__count_traced(size_t size)
{
    size_t current, peak;
    tm__counter_add(&tm__state.current, size);
    current = __atomic_load_n(&tm__state.current, __ATOMIC_RELAXED);
    peak = __atomic_load_n(&tm__state.peak, __ATOMIC_RELAXED);
    if (tm__owned) {
        if (current > peak) __atomic_store_n(&tm__state.peak, current, __ATOMIC_RELAXED);
        return;
    }
    while (current > peak
           && !__atomic_compare_exchange_n(&tm__state.peak, &peak, current, 1, __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED)) {
    }
}

static void tm__count_untraced(size_t size)
{
    tm__counter_add(&tm__state.untraced_count, 1);
    tm__counter_add(&tm__state.untraced_size, size);
}

/* ---------------------------------------------------------------------------------------------- */
/* The pointer table of domain 0, on every allocation and free, so purpose-built (stb_ds costs   */
/* ~270 ns per put+delete at 1M keys): 16 shards, each under its own lock, each an open-addressing */
/* table of 16-byte slots with linear probing and backward-shift deletion (no tombstones, so     */
/* churn keeps probes short). A probe that ends at its first slot costs no branch mispredicted:  */
/* while the tables fit in a cache (1 MB) they stay a sixteenth full, then a quarter full up to   */
/* 64K slots a shard (measured on the churn: 2.3x at a quarter, 2.0x at a sixteenth); past that  */
/* they fill to 80% and grow by half, which keeps a million live blocks under 32 bytes each.     */
/* ---------------------------------------------------------------------------------------------- */
__extension__ typedef unsigned __int128 tm__u128;
#define TM__CACHED_SLOTS 4096  /* 64 KB a shard, 1 MB in all: a sixteenth full */
#define TM__SPARSE_SLOTS 65536 /* 1 MB a shard: a quarter full; past it, 80% */

/* Multiplicative hashing: the top bits, well mixed, pick the shard, the rest the home slot. */
TM__INLINE uint64_t tm__hash_pointer(uintptr_t ptr)
{
    return (uint64_t)ptr * UINT64_C(0x9E3779B97F4A7C15);
}

TM__INLINE tm__shard *tm__shard_of(uint64_t h)
{
    return &tm__state.shards[h >> 60];
}

/* A sparse table's capacity is a power of two: the 16 bits under the shard's pick the home. A
   dense one may have any capacity, which a multiply maps the hash onto (slower by the multiply's
   latency, measured: 0.2 of the churn ratio). */
TM__INLINE tm__slot *tm__home(const tm__shard *s, uint64_t h)
{
    if (TM__LIKELY(s->mask)) return s->slots + ((h >> 44) & s->mask);
    return s->slots + (size_t)(((tm__u128)(h << 4) * s->capacity) >> 64);
}

TM__INLINE tm__slot *tm__next_slot(const tm__shard *s, tm__slot *slot)
{
    return ++slot == s->slots + s->capacity ? s->slots : slot;
}

/* The slot holding ptr, or the empty slot where it belongs. The table is never full. */
TM__INLINE tm__slot *tm__shard_probe(const tm__shard *s, uintptr_t ptr, uint64_t h)
{
    tm__slot *slot = tm__home(s, h);
    while (slot->ptr != ptr && slot->ptr) slot = tm__next_slot(s, slot);
    return slot;
}

/* The slot holding ptr, or NULL. */
TM__INLINE tm__slot *tm__shard_find(const tm__shard *s, uintptr_t ptr, uint64_t h)
{
    tm__slot *slot;
    if (!s->capacity) return NULL;
    slot = tm__shard_probe(s, ptr, h);
    return slot->ptr ? slot : NULL;
}

/* Backward-shift deletion: later entries of the run move into the hole unless that would put
   them before their home. */
TM__NOINLINE void tm__shard_shift(tm__shard *s, tm__slot *hole, tm__slot *slot)
{
    do {
        tm__slot *home = tm__home(s, tm__hash_pointer(slot->ptr));
        if (hole < slot ? (home <= hole || home > slot) : (home <= hole && home > slot)) {
            *hole = *slot;
            hole = slot;
        }
        slot = tm__next_slot(s, slot);
    } while (slot->ptr);
    hole->ptr = 0;
}

TM__INLINE void tm__shard_erase(tm__shard *s, tm__slot *hole)
{
    tm__slot *next = tm__next_slot(s, hole);
    s->count--;
    if (TM__LIKELY(!next->ptr)) hole->ptr = 0; /* the usual case in a sparse table */
    else tm__shard_shift(s, hole, next);
}

TM__NOINLINE int tm__shard_grow(tm__shard *s)
{
    tm__shard old = *s;
    size_t i;
    s->capacity = old.capacity < 64 ? 64 : old.capacity < TM__SPARSE_SLOTS ? 2 * old.capacity : old.capacity + old.capacity / 2;
    s->grow_at = s->capacity <= TM__CACHED_SLOTS ? s->capacity / 16
               : s->capacity <= TM__SPARSE_SLOTS ? s->capacity / 4 : s->capacity / 5 * 4;
    s->mask = s->capacity <= TM__SPARSE_SLOTS ? s->capacity - 1 : 0;
    s->slots = (tm__slot *)tm__raw_realloc(NULL, s->capacity * sizeof *s->slots);
    if (!s->slots) {
        *s = old;
        return -1;
    }
    memset(s->slots, 0, s->capacity * sizeof *s->slots);
    for (i = 0; i < old.capacity; i++)
        if (old.slots[i].ptr) *tm__shard_probe(s, old.slots[i].ptr, tm__hash_pointer(old.slots[i].ptr)) = old.slots[i];
    tm__raw_free(old.slots);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Traces of other domains, and blocks a slot cannot pack: rare, so stb_ds under one lock.        */
/* ---------------------------------------------------------------------------------------------- */
static tm__other_key tm__other_key_of(unsigned domain, uintptr_t ptr)
{
    tm__other_key key;
    key.ptr = ptr;
    key.domain = domain;
    return key;
}

TM__NOINLINE int tm__other_put(unsigned domain, uintptr_t ptr, size_t size, uint32_t tb, unsigned generation)
{
    tm__other entry;
    ptrdiff_t i;
    tm__spin_lock(&tm__state.stb_lock);
    if (generation != tm__state.generation) { /* cleared since the traceback was interned */
        tm__spin_unlock(&tm__state.stb_lock);
        return 0;
    }
    {
        TM__TRY(tm__spin_unlock(&tm__state.stb_lock); return -1)
        entry.key = tm__other_key_of(domain, ptr);
        entry.size = size;
        entry.traceback = tb;
        i = hmgeti(tm__state.others, entry.key);
        if (i >= 0) tm__counter_sub(&tm__state.current, tm__state.others[i].size);
        hmputs(tm__state.others, entry);
        TM__END_TRY;
    }
    __atomic_store_n(&tm__state.others_count, (size_t)hmlen(tm__state.others), __ATOMIC_RELAXED);
    tm__count_traced(size);
    tm__spin_unlock(&tm__state.stb_lock);
    return 0;
}

/* Removes a trace; returns 1 with its size and traceback when there was one. */
TM__NOINLINE int tm__other_take(unsigned domain, uintptr_t ptr, size_t *size, uint32_t *tb)
{
    tm__other_key key = tm__other_key_of(domain, ptr);
    ptrdiff_t i;
    tm__spin_lock(&tm__state.stb_lock);
    i = hmgeti(tm__state.others, key);
    if (i >= 0) {
        *size = tm__state.others[i].size;
        *tb = tm__state.others[i].traceback;
        tm__counter_sub(&tm__state.current, *size);
        (void)hmdel(tm__state.others, key); /* shrinking frees, never allocates */
        __atomic_store_n(&tm__state.others_count, (size_t)hmlen(tm__state.others), __ATOMIC_RELAXED);
    }
    tm__spin_unlock(&tm__state.stb_lock);
    return i >= 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Traces: put and take, whatever table holds them.                                              */
/* ---------------------------------------------------------------------------------------------- */

/* Records a trace; returns 0, or -1 when the tracker has no memory left (the block is untraced). */
TM__INLINE int tm__put(unsigned domain, uintptr_t ptr, size_t size, uint32_t tb, unsigned generation)
{
    uint64_t h = tm__hash_pointer(ptr);
    tm__shard *s = tm__shard_of(h);
    tm__slot *slot;
    if (domain != TM_DOMAIN_MALLOC || (uint64_t)size > TM__SIZE_MAX || tb >= TM__TRACEBACK_MAX)
        return tm__other_put(domain, ptr, size, tb, generation);
    tm__lock(&s->lock);
    if (TM__UNLIKELY(generation != tm__state.generation)) { /* cleared meanwhile */
        tm__unlock(&s->lock);
        return 0;
    }
    if (TM__UNLIKELY(s->count >= s->grow_at) && tm__shard_grow(s)) {
        tm__unlock(&s->lock);
        return -1;
    }
    slot = tm__shard_probe(s, ptr, h);
    if (TM__LIKELY(!slot->ptr)) {
        slot->ptr = ptr;
        s->count++;
    } else { /* the block was freed behind the tracker's back: this trace replaces it */
        tm__counter_sub(&tm__state.current, (size_t)(slot->packed & TM__SIZE_MAX));
    }
    slot->packed = (uint64_t)size | (uint64_t)tb << TM__SIZE_BITS;
    tm__count_traced(size);
    tm__unlock(&s->lock);
    return 0;
}

/* Removes the trace of a block; returns 1 with its size, traceback and generation if there was one. */
TM__INLINE int tm__take(unsigned domain, uintptr_t ptr, size_t *size, uint32_t *tb, unsigned *generation)
{
    uint64_t h = tm__hash_pointer(ptr);
    tm__shard *s = tm__shard_of(h);
    tm__slot *slot;
    if (domain == TM_DOMAIN_MALLOC) {
        tm__lock(&s->lock);
        *generation = tm__state.generation;
        slot = tm__shard_find(s, ptr, h);
        if (slot) {
            *size = (size_t)(slot->packed & TM__SIZE_MAX);
            *tb = (uint32_t)(slot->packed >> TM__SIZE_BITS);
            tm__counter_sub(&tm__state.current, *size);
            tm__shard_erase(s, slot);
        }
        tm__unlock(&s->lock);
        if (slot) return 1;
    }
    if (!__atomic_load_n(&tm__state.others_count, __ATOMIC_RELAXED)) return 0;
    *generation = __atomic_load_n(&tm__state.generation, __ATOMIC_RELAXED);
    return tm__other_take(domain, ptr, size, tb);
}

/* Locks everything, in the one order every path follows: stb_ds, then the shards. */
static void tm__lock_all(void)
{
    int i;
    tm__spin_lock(&tm__state.stb_lock);
    for (i = 0; i < TM__SHARDS; i++) tm__lock(&tm__state.shards[i].lock);
}

static void tm__unlock_shards(void)
{
    int i;
    for (i = TM__SHARDS - 1; i >= 0; i--) tm__unlock(&tm__state.shards[i].lock);
}

static void tm__unlock_all(void)
{
    tm__unlock_shards();
    tm__spin_unlock(&tm__state.stb_lock);
}

/* Frees every trace and interned traceback; callers hold every lock. */
static void tm__clear_locked(void)
{
    ptrdiff_t i;
    int s;
    for (s = 0; s < TM__SHARDS; s++) {
        tm__shard *shard = &tm__state.shards[s];
        tm__raw_free(shard->slots);
        shard->slots = NULL;
        shard->count = shard->capacity = shard->grow_at = shard->mask = 0;
    }
    hmfree(tm__state.others);
    __atomic_store_n(&tm__state.others_count, 0, __ATOMIC_RELAXED);
    for (i = 0; i < arrlen(tm__state.tracebacks); i++) tm__raw_free(tm__state.tracebacks[i]);
    arrfree(tm__state.tracebacks);
    for (i = 0; i < shlen(tm__state.strings); i++) tm__raw_free(tm__state.strings[i].key);
    shfree(tm__state.strings);
    hmfree(tm__state.file_names);
    hmfree(tm__state.sites);
    hmfree(tm__state.by_hash);
    __atomic_add_fetch(&tm__state.generation, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&tm__state.current, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&tm__state.peak, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&tm__state.untraced_count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&tm__state.untraced_size, 0, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------------------------------------- */
/* Tracker API                                                                                    */
/* ---------------------------------------------------------------------------------------------- */
/* fork copies one thread: no lock may be held by another one at that moment. */
static void tm__atfork_prepare(void)
{
    tm__begin();
    tm__spin_lock(&tm__state.share_lock); /* no switch to shared half done in the child */
    tm__lock_all();
}

static void tm__atfork_release(void)
{
    tm__unlock_all();
    tm__spin_unlock(&tm__state.share_lock);
    tm__end();
}

TM__API int tm_start(int nframe)
{
    static int atfork_registered;
    if (nframe < 1 || nframe > TM_MAX_NFRAME) return -1;
    if (!__atomic_exchange_n(&atfork_registered, 1, __ATOMIC_ACQ_REL))
        pthread_atfork(tm__atfork_prepare, tm__atfork_release, tm__atfork_release);
    if (tm_is_tracing()) return 0; /* as Python 3.11: the traces and the limit stay */
    __atomic_store_n(&tm__state.limit, nframe, __ATOMIC_RELAXED);
    TM__STORE(&tm__state.tracing, 1);
    return 0;
}

TM__API void tm_stop(void)
{
    TM__STORE(&tm__state.tracing, 0);
    tm_clear_traces();
}

TM__API int tm_is_tracing(void) { return TM__LOAD(&tm__state.tracing); }

TM__API void tm_clear_traces(void)
{
    if (tm__busy) return;
    tm__begin();
    tm__lock_all();
    tm__clear_locked();
    tm__unlock_all();
    tm__end();
}

TM__API void tm_get_traced_memory(size_t *current, size_t *peak)
{
    size_t now = __atomic_load_n(&tm__state.current, __ATOMIC_RELAXED);
    size_t high = __atomic_load_n(&tm__state.peak, __ATOMIC_RELAXED);
    if (current) *current = now;
    if (peak) *peak = high < now ? now : high; /* another thread may not have raised it yet */
}

TM__API void tm_reset_peak(void)
{
    if (tm__busy) return;
    tm__begin(); /* the owner updates the peak without atomics */
    __atomic_store_n(&tm__state.peak, __atomic_load_n(&tm__state.current, __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
    tm__end();
}

TM__API size_t tm_get_tracemalloc_memory(void) { return __atomic_load_n(&tm__state.memory, __ATOMIC_RELAXED); }

TM__API void tm_get_untraced_memory(size_t *count, size_t *size)
{
    if (count) *count = __atomic_load_n(&tm__state.untraced_count, __ATOMIC_RELAXED);
    if (size) *size = __atomic_load_n(&tm__state.untraced_size, __ATOMIC_RELAXED);
}

TM__API int tm_get_traceback_limit(void) { return __atomic_load_n(&tm__state.limit, __ATOMIC_RELAXED); }

TM__API const tm_traceback *tm_get_object_traceback(const void *ptr)
{
    uint64_t h = tm__hash_pointer((uintptr_t)ptr);
    tm__shard *s = tm__shard_of(h);
    const tm_traceback *traceback = NULL;
    tm__slot *slot;
    uint32_t id = TM__NO_TRACEBACK;
    if (tm__busy) return NULL;
    tm__begin();
    tm__spin_lock(&tm__state.stb_lock); /* the traceback array may move while interning */
    tm__lock(&s->lock);
    slot = tm__shard_find(s, (uintptr_t)ptr, h);
    if (slot) id = (uint32_t)(slot->packed >> TM__SIZE_BITS);
    tm__unlock(&s->lock);
    if (id == TM__NO_TRACEBACK && tm__state.others_count) {
        tm__other_key key = tm__other_key_of(TM_DOMAIN_MALLOC, (uintptr_t)ptr);
        ptrdiff_t i = hmgeti(tm__state.others, key);
        if (i >= 0) id = tm__state.others[i].traceback;
    }
    if (id != TM__NO_TRACEBACK) traceback = &tm__state.tracebacks[id]->pub;
    tm__spin_unlock(&tm__state.stb_lock);
    tm__end();
    return traceback;
}

TM__INLINE int tm__active(void)
{
    return TM__LIKELY(__atomic_load_n(&tm__state.tracing, __ATOMIC_RELAXED)) && !tm__busy;
}

/* Traces a block at a call site; returns 0, or -1 when the tracker could not record it (the
   block is counted as untraced). */
TM__INLINE int tm__trace(unsigned domain, uintptr_t ptr, size_t size, const char *file, unsigned line,
                     const char *func)
{
    unsigned generation = 0;
    uint32_t tb;
    int status = 0;
    tm__begin();
    tb = tm__site_traceback(file, line, func, &generation);
    if (tb == TM__NO_TRACEBACK || tm__put(domain, ptr, size, tb, generation)) {
        tm__count_untraced(size);
        status = -1;
    }
    tm__end();
    return status;
}

TM__INLINE void tm__forget(unsigned domain, const void *ptr)
{
    size_t size;
    uint32_t tb;
    unsigned generation;
    tm__begin();
    (void)tm__take(domain, (uintptr_t)ptr, &size, &tb, &generation);
    tm__end();
}

TM__API int tm_track_at(unsigned domain, const void *ptr, size_t size, const char *file, unsigned line,
                        const char *func)
{
    if (!tm_is_tracing()) return -2; /* as PyTraceMalloc_Track */
    if (tm__busy) return -1;
    return tm__trace(domain, (uintptr_t)ptr, size, file, line, func);
}

TM__API int tm_untrack(unsigned domain, const void *ptr)
{
    if (!tm_is_tracing()) return -2;
    if (tm__busy) return -1;
    tm__forget(domain, ptr);
    return 0;
}

/* Interns a traceback given by the caller; its generation goes to *generation. */
static uint32_t tm__intern_frames(const tm_frame *frames, int nframe, unsigned *generation)
{
    uint32_t tb;
    tm__spin_lock(&tm__state.stb_lock);
    {
        TM__TRY(tm__spin_unlock(&tm__state.stb_lock); return TM__NO_TRACEBACK)
        tb = tm__intern_frames_locked(frames, nframe, tm_get_traceback_limit());
        TM__END_TRY;
    }
    *generation = tm__state.generation;
    tm__spin_unlock(&tm__state.stb_lock);
    return tb;
}

TM__API int tm_track_frames(unsigned domain, const void *ptr, size_t size, const tm_frame *frames, int nframe)
{
    unsigned generation = 0;
    uint32_t tb;
    int status = -1;
    if (!tm_is_tracing()) return -2;
    if (tm__busy || nframe < 0 || (nframe > 0 && !frames)) return -1;
    tm__begin();
    tb = tm__intern_frames(frames, nframe, &generation);
    if (tb != TM__NO_TRACEBACK) status = tm__put(domain, (uintptr_t)ptr, size, tb, generation);
    tm__end();
    return status;
}

/* ---------------------------------------------------------------------------------------------- */
/* Allocator wrappers. The traced size is the requested size, as Python's.                        */
/* ---------------------------------------------------------------------------------------------- */
TM__INLINE void *tm__traced(void *ptr, size_t size, const char *file, unsigned line, const char *func)
{
    if (ptr && tm__active()) (void)tm__trace(TM_DOMAIN_MALLOC, (uintptr_t)ptr, size, file, line, func);
    return ptr;
}

TM__API void *tm_malloc_at(size_t size, const char *file, unsigned line, const char *func)
{
    return tm__traced((malloc)(size), size, file, line, func);
}

TM__API void *tm_calloc_at(size_t count, size_t size, const char *file, unsigned line, const char *func)
{
    if (count && size > SIZE_MAX / count) {
        errno = ENOMEM;
        return NULL;
    }
    return tm__traced((calloc)(count, size), count * size, file, line, func);
}

TM__API void tm_free(void *ptr)
{
    if (ptr && tm__active()) tm__forget(TM_DOMAIN_MALLOC, ptr);
    (free)(ptr);
}

/* The old trace goes before the call, so the peak never holds old and new block together; it
   comes back if realloc fails and the old block lives on. */
TM__API void *tm_realloc_at(void *ptr, size_t size, const char *file, unsigned line, const char *func)
{
    size_t old_size = 0;
    uint32_t old_tb = 0;
    unsigned generation = 0;
    int had = 0;
    void *moved;
    if (!tm__active()) return (realloc)(ptr, size);
    if (ptr) {
        tm__begin();
        had = tm__take(TM_DOMAIN_MALLOC, (uintptr_t)ptr, &old_size, &old_tb, &generation);
        tm__end();
    }
    moved = (realloc)(ptr, size);
    if (moved) return tm__traced(moved, size, file, line, func);
    if (had && (size || !ptr)) { /* failed: the old block is intact (size 0 freed it) */
        tm__begin();
        if (tm__put(TM_DOMAIN_MALLOC, (uintptr_t)ptr, old_size, old_tb, generation)) tm__count_untraced(old_size);
        tm__end();
    }
    return NULL;
}

TM__API void *tm_reallocarray_at(void *ptr, size_t count, size_t size, const char *file, unsigned line,
                                 const char *func)
{
    if (count && size > SIZE_MAX / count) {
        errno = ENOMEM;
        return NULL;
    }
    return tm_realloc_at(ptr, count * size, file, line, func);
}

TM__API char *tm_strdup_at(const char *s, const char *file, unsigned line, const char *func)
{
    size_t size = strlen(s) + 1;
    char *copy = (char *)tm_malloc_at(size, file, line, func);
    if (copy) memcpy(copy, s, size);
    return copy;
}

TM__API char *tm_strndup_at(const char *s, size_t n, const char *file, unsigned line, const char *func)
{
    const char *end = (const char *)memchr(s, 0, n);
    size_t length = end ? (size_t)(end - s) : n;
    char *copy = (char *)tm_malloc_at(length + 1, file, line, func);
    if (copy) {
        memcpy(copy, s, length);
        copy[length] = 0;
    }
    return copy;
}

TM__API void *tm_aligned_alloc_at(size_t alignment, size_t size, const char *file, unsigned line,
                                  const char *func)
{
    return tm__traced((aligned_alloc)(alignment, size), size, file, line, func);
}

TM__API int tm_posix_memalign_at(void **out, size_t alignment, size_t size, const char *file, unsigned line,
                                 const char *func)
{
    int status = (posix_memalign)(out, alignment, size);
    if (status == 0) tm__traced(*out, size, file, line, func);
    return status;
}

#ifdef __GLIBC__
TM__API void *tm_memalign_at(size_t alignment, size_t size, const char *file, unsigned line, const char *func)
{
    return tm__traced((memalign)(alignment, size), size, file, line, func);
}

TM__API void *tm_valloc_at(size_t size, const char *file, unsigned line, const char *func)
{
    return tm__traced((valloc)(size), size, file, line, func);
}

TM__API void *tm_pvalloc_at(size_t size, const char *file, unsigned line, const char *func)
{
    return tm__traced((pvalloc)(size), size, file, line, func);
}
#else /* elsewhere: the same contract through posix_memalign */
TM__API void *tm_memalign_at(size_t alignment, size_t size, const char *file, unsigned line, const char *func)
{
    void *ptr = NULL;
    return tm_posix_memalign_at(&ptr, alignment, size, file, line, func) ? NULL : ptr;
}

TM__API void *tm_valloc_at(size_t size, const char *file, unsigned line, const char *func)
{
    return tm_memalign_at((size_t)sysconf(_SC_PAGESIZE), size, file, line, func);
}

TM__API void *tm_pvalloc_at(size_t size, const char *file, unsigned line, const char *func)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *ptr = NULL;
    if ((posix_memalign)(&ptr, page, (size + page - 1) / page * page)) return NULL;
    return tm__traced(ptr, size, file, line, func);
}
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Snapshots: a copy of every trace, and of the tracebacks and strings they use, so a snapshot    */
/* outlives tm_clear_traces and tm_stop.                                                          */
/* ---------------------------------------------------------------------------------------------- */
struct tm_snapshot {
    tm_trace *traces;           /* stb_ds arr */
    tm_traceback *tracebacks;   /* stb_ds arr */
    tm_frame *frames;           /* stb_ds arr: every traceback's frames, one after the other */
    uint32_t *frame_strings;    /* stb_ds arr: 2 per frame, string ids of filename and function */
    char **strings;             /* stb_ds arr */
    struct tm__string_id { const char *key; uint32_t value; } *string_ids; /* while copying */
    uint32_t *new_ids;          /* while copying: interned traceback id -> snapshot's, or NONE */
    char *label;
    uint64_t time_ns, pid, current, peak, memory, untraced_count, untraced_size;
    int limit;
};

TM__API void tm_snapshot_free(tm_snapshot *snapshot)
{
    ptrdiff_t i;
    if (!snapshot) return;
    for (i = 0; i < arrlen(snapshot->strings); i++) tm__raw_free(snapshot->strings[i]);
    arrfree(snapshot->strings);
    arrfree(snapshot->traces);
    arrfree(snapshot->tracebacks);
    arrfree(snapshot->frames);
    arrfree(snapshot->frame_strings);
    hmfree(snapshot->string_ids);
    arrfree(snapshot->new_ids);
    tm__raw_free(snapshot->label);
    tm__raw_free(snapshot);
}

static void tm__snapshot_add(tm_snapshot *snapshot, unsigned domain, uintptr_t ptr, size_t size, uint32_t tb)
{
    tm_trace trace;
    trace.domain = domain;
    trace.size = size;
    trace.address = ptr;
    trace.traceback = (const tm_traceback *)(uintptr_t)tb; /* an id until tm__snapshot_tracebacks */
    arrput(snapshot->traces, trace);
}

/* Copies every trace; callers hold every lock. */
static void tm__snapshot_traces(tm_snapshot *snapshot)
{
    size_t total = (size_t)hmlen(tm__state.others), i;
    int s;
    for (s = 0; s < TM__SHARDS; s++) total += tm__state.shards[s].count;
    arrsetcap(snapshot->traces, total);
    for (s = 0; s < TM__SHARDS; s++) {
        const tm__slot *slot = tm__state.shards[s].slots;
        for (i = 0; i < tm__state.shards[s].capacity; i++)
            if (slot[i].ptr)
                tm__snapshot_add(snapshot, TM_DOMAIN_MALLOC, slot[i].ptr, (size_t)(slot[i].packed & TM__SIZE_MAX),
                                 (uint32_t)(slot[i].packed >> TM__SIZE_BITS));
    }
    for (i = 0; i < (size_t)hmlen(tm__state.others); i++) {
        const tm__other *other = &tm__state.others[i];
        tm__snapshot_add(snapshot, (unsigned)other->key.domain, (uintptr_t)other->key.ptr, other->size,
                         other->traceback);
    }
}

/* The snapshot's id of an interned string, copying it on first use. */
static uint32_t tm__snapshot_string(tm_snapshot *snapshot, const char *s)
{
    ptrdiff_t i;
    char *copy;
    if (!s) return TM_DUMP_NONE;
    i = hmgeti(snapshot->string_ids, s);
    if (i >= 0) return snapshot->string_ids[i].value;
    copy = tm__raw_strdup(s);
    if (!copy) longjmp(*tm__oom_target, 1);
    tm__orphan = copy;
    arrput(snapshot->strings, copy);
    tm__orphan = NULL;
    hmput(snapshot->string_ids, s, (uint32_t)(arrlen(snapshot->strings) - 1));
    return (uint32_t)(arrlen(snapshot->strings) - 1);
}

static void tm__snapshot_frames(tm_snapshot *snapshot, const tm_traceback *tb)
{
    int i;
    for (i = 0; i < tb->nframe; i++) {
        tm_frame frame = tb->frames[i];
        uint32_t file = tm__snapshot_string(snapshot, frame.filename);
        uint32_t function = tm__snapshot_string(snapshot, frame.function);
        frame.filename = snapshot->strings[file];
        frame.function = function == TM_DUMP_NONE ? NULL : snapshot->strings[function];
        arrput(snapshot->frames, frame);
        arrput(snapshot->frame_strings, file);
        arrput(snapshot->frame_strings, function);
    }
}

/* Copies the tracebacks the traces use, in order of first use, and points the traces at them;
   callers hold stb_lock. */
static void tm__snapshot_tracebacks(tm_snapshot *snapshot)
{
    size_t ntraceback = (size_t)arrlen(tm__state.tracebacks), nframe = 0, i;
    ptrdiff_t k, offset = 0;
    arrsetlen(snapshot->new_ids, ntraceback);
    if (ntraceback) memset(snapshot->new_ids, 0xFF, ntraceback * sizeof *snapshot->new_ids);
    for (i = 0; i < (size_t)arrlen(snapshot->traces); i++) {
        uint32_t id = (uint32_t)(uintptr_t)snapshot->traces[i].traceback;
        TM_ASSERT(id < ntraceback);
        if (snapshot->new_ids[id] == TM_DUMP_NONE) {
            snapshot->new_ids[id] = (uint32_t)arrlen(snapshot->tracebacks);
            arrput(snapshot->tracebacks, tm__state.tracebacks[id]->pub);
            nframe += (size_t)tm__state.tracebacks[id]->pub.nframe;
        }
    }
    arrsetcap(snapshot->frames, nframe); /* no move while the tracebacks point into it */
    for (k = 0; k < arrlen(snapshot->tracebacks); k++) {
        tm__snapshot_frames(snapshot, &snapshot->tracebacks[k]);
        snapshot->tracebacks[k].frames = snapshot->frames + offset;
        offset += snapshot->tracebacks[k].nframe;
    }
    for (i = 0; i < (size_t)arrlen(snapshot->traces); i++) {
        uint32_t id = (uint32_t)(uintptr_t)snapshot->traces[i].traceback;
        snapshot->traces[i].traceback = &snapshot->tracebacks[snapshot->new_ids[id]];
    }
}

static uint64_t tm__now_ns(void)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_usec * 1000u;
}

static void tm__snapshot_metadata(tm_snapshot *snapshot)
{
    size_t current, peak, count, size;
    snapshot->time_ns = tm__now_ns();
    snapshot->pid = (uint64_t)getpid();
    tm_get_traced_memory(&current, &peak);
    tm_get_untraced_memory(&count, &size);
    snapshot->current = current;
    snapshot->peak = peak;
    snapshot->untraced_count = count;
    snapshot->untraced_size = size;
    snapshot->limit = tm_get_traceback_limit();
}

TM__API tm_snapshot *tm_take_snapshot(void)
{
    tm_snapshot *volatile snapshot;
    if (!tm_is_tracing() || tm__busy) return NULL;
    snapshot = (tm_snapshot *)tm__raw_realloc(NULL, sizeof *snapshot);
    if (!snapshot) return NULL;
    memset(snapshot, 0, sizeof *snapshot);
    tm__begin();
    tm__lock_all();
    {
        TM__TRY(tm__unlock_all(); tm_snapshot_free(snapshot); tm__end(); return NULL)
        tm__snapshot_metadata(snapshot);
        tm__snapshot_traces(snapshot);
        TM__END_TRY;
    }
    /* allocations go on while the tracebacks are copied; clearing waits for stb_lock */
    tm__unlock_shards();
    {
        TM__TRY(tm__spin_unlock(&tm__state.stb_lock); tm_snapshot_free(snapshot); tm__end(); return NULL)
        tm__snapshot_tracebacks(snapshot);
        TM__END_TRY;
    }
    tm__spin_unlock(&tm__state.stb_lock);
    hmfree(snapshot->string_ids);
    arrfree(snapshot->new_ids);
    snapshot->memory = tm_get_tracemalloc_memory();
    tm__end();
    return snapshot;
}

TM__API size_t tm_snapshot_traces(const tm_snapshot *snapshot, const tm_trace **traces)
{
    if (traces) *traces = snapshot ? snapshot->traces : NULL;
    return snapshot ? (size_t)arrlen(snapshot->traces) : 0;
}

TM__API int tm_snapshot_traceback_limit(const tm_snapshot *snapshot) { return snapshot ? snapshot->limit : 0; }

TM__API int tm_snapshot_set_label(tm_snapshot *snapshot, const char *label)
{
    char *copy = NULL;
    if (!snapshot) return -1;
    if (label && !(copy = tm__raw_strdup(label))) return -1;
    tm__raw_free(snapshot->label);
    snapshot->label = copy;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* The dump writer (docs/FORMAT.md): little-endian, CRC-32 over everything, written to a          */
/* temporary file that becomes the dump only once complete.                                       */
/* ---------------------------------------------------------------------------------------------- */
typedef struct tm__writer {
    int fd, failed;
    uint32_t crc;
    size_t used;
    uint32_t crc_table[256];
    unsigned char buffer[1 << 16];
} tm__writer;

/* A frame as the dump stores it: string ids; frames repeated across tracebacks are written once. */
typedef struct tm__dump_frame {
    uint32_t filename, lineno, function;
} tm__dump_frame;

typedef struct tm__dump_frames {
    struct { tm__dump_frame key; uint32_t value; } *ids; /* stb_ds hm: frame -> dump frame id */
    tm__dump_frame *unique;                              /* stb_ds arr, by dump frame id */
    uint32_t *of_frame;                                  /* stb_ds arr: snapshot frame -> id */
} tm__dump_frames;

static void tm__crc_init(tm__writer *w)
{
    uint32_t i, bit, c;
    for (i = 0; i < 256; i++) {
        for (c = i, bit = 0; bit < 8; bit++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        w->crc_table[i] = c;
    }
    w->crc = 0xFFFFFFFFu;
}

static void tm__flush(tm__writer *w)
{
    size_t done = 0;
    while (!w->failed && done < w->used) {
        ssize_t n = write(w->fd, w->buffer + done, w->used - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) w->failed = 1;
        else done += (size_t)n;
    }
    w->used = 0;
}

static void tm__write(tm__writer *w, const void *data, size_t size)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    for (i = 0; i < size; i++) {
        w->crc = w->crc_table[(w->crc ^ p[i]) & 0xFF] ^ (w->crc >> 8);
        if (w->used == sizeof w->buffer) tm__flush(w);
        w->buffer[w->used++] = p[i];
    }
}

static void tm__write_u32(tm__writer *w, uint32_t v)
{
    unsigned char b[4];
    b[0] = (unsigned char)v, b[1] = (unsigned char)(v >> 8), b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
    tm__write(w, b, 4);
}

static void tm__write_u64(tm__writer *w, uint64_t v)
{
    tm__write_u32(w, (uint32_t)v);
    tm__write_u32(w, (uint32_t)(v >> 32));
}

static void tm__write_section(tm__writer *w, uint32_t tag, uint64_t length)
{
    tm__write_u32(w, tag);
    tm__write_u32(w, TM_DUMP_REQUIRED);
    tm__write_u64(w, length);
}

/* Gives each distinct frame a dump id; runs under tm__TRY (stb_ds allocates). */
static void tm__dump_frames_build(const tm_snapshot *snapshot, tm__dump_frames *frames)
{
    ptrdiff_t i;
    for (i = 0; i < arrlen(snapshot->frames); i++) {
        tm__dump_frame key;
        ptrdiff_t at;
        key.filename = snapshot->frame_strings[2 * i];
        key.lineno = snapshot->frames[i].lineno;
        key.function = snapshot->frame_strings[2 * i + 1];
        at = hmgeti(frames->ids, key);
        if (at < 0) {
            arrput(frames->unique, key);
            hmput(frames->ids, key, (uint32_t)(arrlen(frames->unique) - 1));
            at = hmgeti(frames->ids, key);
        }
        arrput(frames->of_frame, frames->ids[at].value);
    }
}

static void tm__dump_strings(tm__writer *w, const tm_snapshot *snapshot)
{
    uint64_t length = 4;
    uint32_t count = (uint32_t)arrlen(snapshot->strings) + (snapshot->label ? 1 : 0), i;
    for (i = 0; i < (uint32_t)arrlen(snapshot->strings); i++) length += 4 + strlen(snapshot->strings[i]);
    if (snapshot->label) length += 4 + strlen(snapshot->label);
    tm__write_section(w, TM_DUMP_TAG_STRS, length);
    tm__write_u32(w, count);
    for (i = 0; i < count; i++) {
        const char *s = i < (uint32_t)arrlen(snapshot->strings) ? snapshot->strings[i] : snapshot->label;
        tm__write_u32(w, (uint32_t)strlen(s));
        tm__write(w, s, strlen(s));
    }
}

static void tm__dump_meta(tm__writer *w, const tm_snapshot *snapshot)
{
    tm__write_section(w, TM_DUMP_TAG_META, TM_DUMP_META_SIZE);
    tm__write_u64(w, snapshot->time_ns);
    tm__write_u64(w, snapshot->pid);
    tm__write_u64(w, snapshot->current);
    tm__write_u64(w, snapshot->peak);
    tm__write_u64(w, snapshot->memory);
    tm__write_u64(w, snapshot->untraced_count);
    tm__write_u64(w, snapshot->untraced_size);
    tm__write_u32(w, (uint32_t)snapshot->limit);
    tm__write_u32(w, snapshot->label ? (uint32_t)arrlen(snapshot->strings) : TM_DUMP_NONE);
}

static void tm__dump_tables(tm__writer *w, const tm_snapshot *snapshot, const tm__dump_frames *frames)
{
    ptrdiff_t i, ntb = arrlen(snapshot->tracebacks), nframe = arrlen(frames->unique), offset = 0;
    uint64_t length = 4;
    tm__write_section(w, TM_DUMP_TAG_FRMS, 4 + (uint64_t)nframe * TM_DUMP_FRAME_SIZE);
    tm__write_u32(w, (uint32_t)nframe);
    for (i = 0; i < nframe; i++) {
        tm__write_u32(w, TM_DUMP_FRAME_SOURCE);
        tm__write_u32(w, frames->unique[i].filename);
        tm__write_u32(w, frames->unique[i].lineno);
        tm__write_u32(w, frames->unique[i].function);
    }
    for (i = 0; i < ntb; i++) length += 8 + 4 * (uint64_t)snapshot->tracebacks[i].nframe;
    tm__write_section(w, TM_DUMP_TAG_TBKS, length);
    tm__write_u32(w, (uint32_t)ntb);
    for (i = 0; i < ntb; i++) {
        int f;
        tm__write_u32(w, (uint32_t)snapshot->tracebacks[i].total_nframe);
        tm__write_u32(w, (uint32_t)snapshot->tracebacks[i].nframe);
        for (f = 0; f < snapshot->tracebacks[i].nframe; f++) tm__write_u32(w, frames->of_frame[offset + f]);
        offset += snapshot->tracebacks[i].nframe;
    }
}

static void tm__dump_traces(tm__writer *w, const tm_snapshot *snapshot)
{
    ptrdiff_t i, n = arrlen(snapshot->traces);
    tm__write_section(w, TM_DUMP_TAG_TRCS, 8 + (uint64_t)n * TM_DUMP_TRACE_SIZE);
    tm__write_u64(w, (uint64_t)n);
    for (i = 0; i < n; i++) {
        const tm_trace *t = &snapshot->traces[i];
        tm__write_u64(w, (uint64_t)t->address);
        tm__write_u64(w, (uint64_t)t->size);
        tm__write_u32(w, t->domain);
        tm__write_u32(w, (uint32_t)(t->traceback - snapshot->tracebacks));
    }
}

static void tm__dump_to(tm__writer *w, const tm_snapshot *snapshot, const tm__dump_frames *frames)
{
    tm__crc_init(w);
    tm__write(w, TM_DUMP_MAGIC, TM_DUMP_MAGIC_SIZE);
    tm__write_u32(w, TM_DUMP_VERSION);
    tm__write_u32(w, 0);
    tm__dump_strings(w, snapshot);
    tm__dump_meta(w, snapshot);
    tm__dump_tables(w, snapshot, frames);
    tm__dump_traces(w, snapshot);
    tm__write_u32(w, TM_DUMP_TAG_END);
    tm__write_u32(w, 0);
    tm__write_u64(w, 4);
    tm__write_u32(w, w->crc ^ 0xFFFFFFFFu);
    tm__flush(w);
}

/* Expands %p (pid), %n (number) and %% in a dump path; returns -1 when it does not fit. */
static int tm__expand_path(const char *pattern, unsigned long number, char *out, size_t size, int *has_number)
{
    size_t used = 0;
    *has_number = 0;
    out[0] = 0;
    while (*pattern) {
        char piece[32];
        size_t n;
        if (pattern[0] == '%' && pattern[1] == 'p') sprintf(piece, "%ld", (long)getpid()), pattern += 2;
        else if (pattern[0] == '%' && pattern[1] == 'n') sprintf(piece, "%lu", number), pattern += 2, *has_number = 1;
        else if (pattern[0] == '%' && pattern[1] == '%') strcpy(piece, "%"), pattern += 2;
        else piece[0] = *pattern++, piece[1] = 0;
        n = strlen(piece);
        if (used + n >= size) return -1;
        memcpy(out + used, piece, n + 1);
        used += n;
    }
    return 0;
}

/* Gives the finished temporary file its name: with %n the first number that names no file (link
   fails rather than replace), otherwise rename over whatever was there. */
static int tm__publish(const char *tmp, const char *pattern)
{
    char path[4096];
    unsigned long number;
    int has_number;
    for (number = 0;; number++) {
        if (tm__expand_path(pattern, number, path, sizeof path, &has_number)) return -1;
        if (!has_number) return rename(tmp, path);
        if (link(tmp, path) == 0) return unlink(tmp), 0;
        if (errno != EEXIST) return -1;
    }
}

static int tm__write_file(const char *tmp, const tm_snapshot *snapshot, const tm__dump_frames *frames)
{
    tm__writer *w = (tm__writer *)tm__raw_realloc(NULL, sizeof *w);
    int failed;
    if (!w) return -1;
    w->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    w->failed = w->fd < 0;
    w->used = 0;
    if (!w->failed) {
        tm__dump_to(w, snapshot, frames);
        if (fsync(w->fd)) w->failed = 1;
        if (close(w->fd)) w->failed = 1;
    }
    failed = w->failed;
    tm__raw_free(w);
    return failed ? -1 : 0;
}

static int tm__dump_frames_try(const tm_snapshot *snapshot, tm__dump_frames *frames)
{
    TM__TRY(return -1)
    tm__dump_frames_build(snapshot, frames);
    TM__END_TRY;
    return 0;
}

TM__API int tm_snapshot_dump(const tm_snapshot *snapshot, const char *path)
{
    char tmp[4096 + 32];
    int has_number, status, outer_busy = tm__busy;
    tm__dump_frames frames;
    static unsigned long dumps;
    if (!snapshot || !path || tm__expand_path(path, 0, tmp, 4096, &has_number)) return -1;
    /* unique per call: threads may dump to one path at once */
    sprintf(tmp + strlen(tmp), ".tmp.%ld.%lu", (long)getpid(), __atomic_add_fetch(&dumps, 1, __ATOMIC_RELAXED));
    memset(&frames, 0, sizeof frames);
    tm__busy = 1; /* the C library may allocate for the file: not a traced allocation */
    tm__spin_lock(&tm__state.stb_lock);
    status = tm__dump_frames_try(snapshot, &frames);
    tm__spin_unlock(&tm__state.stb_lock);
    if (status == 0) status = tm__write_file(tmp, snapshot, &frames);
    if (status == 0) status = tm__publish(tmp, path);
    if (status) unlink(tmp);
    hmfree(frames.ids);
    arrfree(frames.unique);
    arrfree(frames.of_frame);
    tm__busy = outer_busy;
    return status;
}

/* ---------------------------------------------------------------------------------------------- */
/* Environment: TRACEMALLOC=N starts tracing before main; TRACEMALLOC_DUMP=path dumps at exit.     */
/* ---------------------------------------------------------------------------------------------- */
static void tm__dump_at_exit(void)
{
    const char *path = getenv("TRACEMALLOC_DUMP");
    tm_snapshot *snapshot;
    if (!path || !*path || !tm_is_tracing()) return;
    snapshot = tm_take_snapshot();
    if (!snapshot || tm_snapshot_dump(snapshot, path))
        fprintf(stderr, "tracemalloc: %s: cannot write the dump at exit\n", path);
    tm_snapshot_free(snapshot);
}

__attribute__((constructor)) static void tm__start_from_environment(void)
{
    const char *limit = getenv("TRACEMALLOC"), *dump = getenv("TRACEMALLOC_DUMP");
    if (limit && *limit) {
        char *end;
        long n = strtol(limit, &end, 10);
        if (*end || n < 0 || n > TM_MAX_NFRAME)
            fprintf(stderr, "tracemalloc: TRACEMALLOC=%s: expected a traceback limit, 1..%d\n", limit, TM_MAX_NFRAME);
        else if (n > 0)
            tm_start((int)n);
    }
    if (dump && *dump) atexit(tm__dump_at_exit);
}

#pragma GCC diagnostic pop
#ifdef TM__TYPEOF_DEFINED
#undef typeof
#undef TM__TYPEOF_DEFINED
#endif
#endif /* TRACEMALLOC_IMPLEMENTATION */
/* ---------------------------------------------------------------------------------------------- */
/* TRACEMALLOC_OVERRIDE: the malloc family in this file records its call site. Re-armed on every  */
/* include; the system headers come first, so their own declarations are not rewritten.           */
/* ---------------------------------------------------------------------------------------------- */
#ifdef TRACEMALLOC_OVERRIDE
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif
#undef malloc
#undef calloc
#undef realloc
#undef free
#undef strdup
#undef strndup
#undef reallocarray
#undef aligned_alloc
#undef posix_memalign
#undef memalign
#undef valloc
#undef pvalloc
#define malloc(size) tm_malloc_at((size), __FILE__, __LINE__, __func__)
#define calloc(count, size) tm_calloc_at((count), (size), __FILE__, __LINE__, __func__)
#define realloc(ptr, size) tm_realloc_at((ptr), (size), __FILE__, __LINE__, __func__)
#define free(ptr) tm_free(ptr)
#define strdup(s) tm_strdup_at((s), __FILE__, __LINE__, __func__)
#define strndup(s, n) tm_strndup_at((s), (n), __FILE__, __LINE__, __func__)
#define reallocarray(ptr, count, size) tm_reallocarray_at((ptr), (count), (size), __FILE__, __LINE__, __func__)
#define aligned_alloc(alignment, size) tm_aligned_alloc_at((alignment), (size), __FILE__, __LINE__, __func__)
#define posix_memalign(out, alignment, size) \
    tm_posix_memalign_at((out), (alignment), (size), __FILE__, __LINE__, __func__)
#define memalign(alignment, size) tm_memalign_at((alignment), (size), __FILE__, __LINE__, __func__)
#define valloc(size) tm_valloc_at((size), __FILE__, __LINE__, __func__)
#define pvalloc(size) tm_pvalloc_at((size), __FILE__, __LINE__, __func__)
#endif /* TRACEMALLOC_OVERRIDE */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the tracemalloc authors
Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions: The above copyright notice and this
permission notice shall be included in all copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this software, either
in source code form or as a compiled binary, for any purpose, commercial or non-commercial, and by
any means.
------------------------------------------------------------------------------
*/

