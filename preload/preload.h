/* preload.h - what the parts of build/libtracemalloc.so (the LD_PRELOAD library) share.

   preload.c interposes the malloc family and starts tracing when the library is loaded;
   signal.c writes a snapshot when the process receives TRACEMALLOC_SIGNAL (default SIGUSR2). */
#ifndef PRELOAD_H
#define PRELOAD_H

/* The library's traceback limit when TRACEMALLOC is not set: native stacks need more than the
   header's one frame, and 32 frames reach past any allocator wrapper into the program's logic. */
#define PRELOAD_DEFAULT_LIMIT 32
/* The dump path when TRACEMALLOC_DUMP is not set, made absolute at start-up (a program that
   changes its directory still writes it where it was started). */
#define PRELOAD_DEFAULT_DUMP "tracemalloc-%p.tmd"

/* paused = 1: this thread's allocations pass through untraced (the library's own thread start);
   returns the previous state, to be given back. */
int preload_pause(int paused);

/* Takes a snapshot and writes it to the dump path (TRACEMALLOC_DUMP or PRELOAD_DEFAULT_DUMP, fixed
   at start-up, %p %n %% expanded); says on stderr when that fails
   (why: "at exit", "on signal"). */
void preload_write_snapshot(const char *why);

/* Installs the snapshot signal (TRACEMALLOC_SIGNAL) and its thread; called once, from the
   library's constructor, when tracing has started. */
void preload_signal_init(void);

/* Set in a forked child that needs its own snapshot thread; preload_signal_child_start() makes
   it, from the first allocator call of the child (not from the fork handler itself, where
   creating a thread is not safe, and a child that only execs never pays for it). */
extern int preload_signal_child_pending;
void preload_signal_child_start(void);

#endif
