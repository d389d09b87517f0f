/* signal.c - `kill -USR2 PID` writes a snapshot of a running process without stopping it.

   TRACEMALLOC_SIGNAL names the signal: USR2 (the default), SIGUSR1, a number, or `none`. Its
   handler only posts a semaphore (sem_post is async-signal-safe); a thread of the library's own,
   started with every signal blocked so it never takes one of the program's, waits on it and
   writes the snapshot to the dump path (TRACEMALLOC_DUMP: with %n each snapshot keeps its own
   file, otherwise the next one, and the one at exit, replace it). A semaphore rather than a pipe
   or an eventfd: the process holds no extra file descriptor, which a daemon closing every
   descriptor would close, or a program would find open where it expects a free one.

   The program's own handler wins: the library installs its handler at start-up only when the
   signal's disposition is the default one (a signal ignored by the parent, as nohup does, stays
   ignored), and a handler the program installs later simply replaces it.

   fork: the child inherits the handler but not the thread. The fork handler gives the child a
   fresh semaphore, and its first allocator call starts the thread (preload.c); a child that only
   execs never starts one, and an exec'ed program sets up its own. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "preload/preload.h"

int preload_signal_child_pending;
static int signal_number;
static sem_t wake;

static void on_signal(int signo)
{
    int saved = errno;
    (void)signo;
    sem_post(&wake);
    errno = saved;
}

/* One snapshot for every burst of signals: those that came while it was written are served by it. */
static void *snapshot_thread(void *unused)
{
    (void)unused;
    for (;;) {
        if (sem_wait(&wake)) continue; /* EINTR */
        while (sem_trywait(&wake) == 0) {
        }
        preload_write_snapshot("on signal");
    }
    return NULL;
}

static void start_thread(void)
{
    sigset_t all, old;
    pthread_attr_t attr;
    pthread_t thread;
    int paused = preload_pause(1), rc; /* the thread's own memory is not the program's */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&thread, &attr, snapshot_thread, NULL);
    if (rc == 0) pthread_setname_np(thread, "tracemalloc");
    else fprintf(stderr, "tracemalloc: cannot start the snapshot thread: %s\n", strerror(rc));
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    preload_pause(paused);
}

void preload_signal_child_start(void)
{
    if (__atomic_exchange_n(&preload_signal_child_pending, 0, __ATOMIC_ACQ_REL)) start_thread();
}

/* Only the forking thread lives on in the child: nothing else holds the semaphore. */
static void after_fork_in_child(void)
{
    struct sigaction current;
    sem_init(&wake, 0, 0);
    if (sigaction(signal_number, NULL, &current) == 0 && current.sa_handler == on_signal)
        preload_signal_child_pending = 1;
}

/* The signal TRACEMALLOC_SIGNAL names: a number or a name (with or without SIG, any case);
   0 for none, -1 when it names no signal. */
static int parse_signal(const char *text)
{
    char *end;
    long number;
    int i;
    if (!text || !*text) return SIGUSR2;
    if (strcasecmp(text, "none") == 0) return 0;
    number = strtol(text, &end, 10);
    if (!*end) return number > 0 && number < NSIG ? (int)number : -1;
    if (strncasecmp(text, "SIG", 3) == 0) text += 3;
    for (i = 1; i < NSIG; i++) {
        const char *name = sigabbrev_np(i);
        if (name && strcasecmp(name, text) == 0) return i;
    }
    return -1;
}

void preload_signal_init(void)
{
    const char *text = getenv("TRACEMALLOC_SIGNAL");
    struct sigaction action, old;
    int signo = parse_signal(text);
    if (signo < 0) {
        fprintf(stderr, "tracemalloc: TRACEMALLOC_SIGNAL=%s: expected a signal name or number, or none\n",
                text);
        return;
    }
    if (signo == 0 || sigaction(signo, NULL, &old) || old.sa_handler != SIG_DFL) return;
    signal_number = signo;
    sem_init(&wake, 0, 0);
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART; /* the program's read, write, wait... go on as if nothing came */
    sigemptyset(&action.sa_mask);
    if (sigaction(signo, &action, NULL)) {
        fprintf(stderr, "tracemalloc: TRACEMALLOC_SIGNAL=%s: %s\n", text, strerror(errno));
        return;
    }
    start_thread();
    pthread_atfork(NULL, NULL, after_fork_in_child);
}
