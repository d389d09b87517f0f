/* cmd_run.c - `tracemalloc run [--limit N] [--unwind auto|fp|dwarf] [--dump PATH] -- PROG ARGS...`

   Runs PROG with build/libtracemalloc.so preloaded (preload/preload.c), waits for it, and then
   says on stderr where its dump is and which 10 tracebacks hold the most memory at exit: the
   rows of `stats DUMP --by traceback --top 10`, through the same query and renderer. Nothing
   is printed while PROG runs, and nothing on stdout, which stays PROG's alone. The exit status
   is PROG's (128 + N when signal N killed it, as the shells say it; 127 when it cannot be run). */
#define _DEFAULT_SOURCE /* setenv, readlink, realpath under -std=c11 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_run.h"
#include "dump_read.h"
#include "preload/preload.h"
#include "query.h"
#include "render.h"
#include "store.h"

#define RUN_TOP 10
#define RUN_STRING_(x) #x
#define RUN_STRING(x) RUN_STRING_(x)

const char cmd_run_usage[] =
    "usage: tracemalloc run [--limit N] [--unwind auto|fp|dwarf] [--dump PATH] -- PROG [ARGS...]\n\n"
    "Runs PROG with libtracemalloc.so preloaded: every malloc, calloc, realloc, free, ... of\n"
    "every thread and library is traced with its native call stack, without rebuilding PROG.\n"
    "When PROG exits, prints on stderr where the dump is and the 10 tracebacks holding the most\n"
    "memory (as `stats DUMP --by traceback --top 10`); PROG's stdout is left alone. The exit\n"
    "status is PROG's (128 + N if signal N killed it, 127 if it cannot be run).\n\n"
    "  --limit N      frames per traceback, 1..65535 (default 32; TRACEMALLOC=N)\n"
    "  --unwind MODE  auto (default), fp (frame pointers: fast, needs -fno-omit-frame-pointer)\n"
    "                 or dwarf (libunwind: any binary); TRACEMALLOC_UNWIND=MODE\n"
    "  --dump PATH    where the dump is written at exit (default tracemalloc-%p.tmd in the\n"
    "                 current directory): %p is the process id, so child processes that exec\n"
    "                 another program write their own; %n the first number that names no file;\n"
    "                 %% a percent sign. A relative PATH is taken from the current directory.\n\n"
    "While PROG runs, `kill -USR2 PID` writes a snapshot to the same path without stopping it\n"
    "(TRACEMALLOC_SIGNAL=NAME picks another signal, none turns it off). A process that ends\n"
    "with _exit or is killed writes no dump at exit. The library can also be preloaded by hand:\n"
    "LD_PRELOAD=.../libtracemalloc.so TRACEMALLOC_DUMP=PATH PROG.\n";

/* What the command line asked for. */
struct run_options {
    const char *limit, *unwind, *dump;
    char **program; /* PROG and its arguments, NULL-terminated (argv's own tail) */
};

static int run_usage(const char *format, const char *value)
{
    fputs("tracemalloc: run: ", stderr);
    fprintf(stderr, format, value);
    fputs("\nsee 'tracemalloc run --help'\n", stderr);
    return 1;
}

/* argv[0] is "run". Returns -1 when the options are good, else the exit status. */
static int parse_run_options(int argc, char **argv, struct run_options *o)
{
    int i = 1;
    while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0) {
        const char *arg = argv[i], *eq = strchr(arg, '='), *value;
        size_t length = eq ? (size_t)(eq - arg) : strlen(arg);
        const char **slot = NULL;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(cmd_run_usage, stdout);
            return 0;
        }
        if (length == 7 && strncmp(arg, "--limit", 7) == 0) slot = &o->limit;
        else if (length == 8 && strncmp(arg, "--unwind", 8) == 0) slot = &o->unwind;
        else if (length == 6 && strncmp(arg, "--dump", 6) == 0) slot = &o->dump;
        else return run_usage("unknown option %s", arg);
        if (eq) value = eq + 1;
        else if (i + 1 < argc) value = argv[++i];
        else return run_usage("%s needs a value", arg);
        *slot = value;
        i++;
    }
    if (i < argc && strcmp(argv[i], "--") == 0) i++;
    if (i >= argc) return run_usage("missing PROG%s", "");
    o->program = argv + i;
    if (o->limit) {
        char *end;
        long n = strtol(o->limit, &end, 10);
        if (!*o->limit || *end || n < 1 || n > 65535)
            return run_usage("--limit must be an integer from 1 to 65535, not '%s'", o->limit);
    }
    if (o->unwind && strcmp(o->unwind, "auto") != 0 && strcmp(o->unwind, "fp") != 0
        && strcmp(o->unwind, "dwarf") != 0)
        return run_usage("--unwind must be auto, fp or dwarf, not '%s'", o->unwind);
    if (o->dump && !*o->dump) return run_usage("--dump needs a path%s", "");
    return -1;
}

/* The library: next to this executable (build/), or where `make install` puts it
   (PREFIX/bin/tracemalloc -> PREFIX/lib/tracemalloc/). Returns 0 with its absolute path. */
static int find_library(char path[PATH_MAX])
{
    static const char *const places[] = {"/libtracemalloc.so", "/../lib/tracemalloc/libtracemalloc.so"};
    char self[PATH_MAX], candidate[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash;
    if (n <= 0) return -1;
    self[n] = '\0';
    if (!(slash = strrchr(self, '/'))) return -1;
    *slash = '\0';
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        snprintf(candidate, sizeof candidate, "%s%s", self, places[i]);
        if (access(candidate, R_OK) == 0 && realpath(candidate, path)) return 0;
    }
    fprintf(stderr, "tracemalloc: run: libtracemalloc.so is neither in %s nor in %s/../lib/tracemalloc\n",
            self, self);
    return -1;
}

/* The dump pattern made absolute (the program may change directory): the current directory,
   with its % doubled, in front of a relative one. Returns a malloc'ed string. */
static char *absolute_pattern(const char *pattern)
{
    char cwd[PATH_MAX];
    if (pattern[0] == '/' || !getcwd(cwd, sizeof cwd)) return strdup(pattern);
    char *out = malloc(2 * strlen(cwd) + strlen(pattern) + 2), *o = out;
    if (!out) return NULL;
    for (const char *c = cwd; *c; c++) {
        if (*c == '%') *o++ = '%';
        *o++ = *c;
    }
    *o++ = '/';
    strcpy(o, pattern);
    return out;
}

/* The pattern with %p = pid, %n = number, %% = %, as the tracker expands it. */
static void expand(const char *pattern, long pid, long number, char *out, size_t size)
{
    size_t used = 0;
    while (*pattern && used + 24 < size) {
        char c = pattern[0] == '%' ? pattern[1] : '\0';
        if (c == 'p' || c == 'n') used += (size_t)sprintf(out + used, "%ld", c == 'p' ? pid : number);
        else if (c == '%') out[used++] = '%';
        else out[used++] = *pattern;
        pattern += c == 'p' || c == 'n' || c == '%' ? 2 : 1;
    }
    out[used] = '\0';
}

/* The file the process wrote last: with %n, the highest of the numbers 0, 1, ... that exist. */
static int find_dump(const char *pattern, long pid, char *path, size_t size)
{
    char next[PATH_MAX + 64];
    expand(pattern, pid, 0, path, size);
    if (access(path, F_OK) != 0) return -1;
    if (!strstr(pattern, "%n")) return 0;
    for (long n = 1;; n++) {
        expand(pattern, pid, n, next, sizeof next);
        if (access(next, F_OK) != 0) return 0;
        snprintf(path, size, "%s", next);
    }
}

/* In the child: the environment, then PROG. When exec fails, errno goes up the pipe (closed on
   exec, so the parent reads nothing when PROG started). */
static void child_exec(const struct run_options *o, const char *library, const char *dump, int failed)
{
    const char *preload = getenv("LD_PRELOAD");
    char *value = malloc(strlen(library) + (preload ? strlen(preload) : 0) + 2);
    if (!value) _exit(127);
    /* first: another preloaded allocator would otherwise serve the program before it */
    sprintf(value, "%s%s%s", library, preload && *preload ? ":" : "", preload ? preload : "");
    const char *limit = o->limit ? o->limit : RUN_STRING(PRELOAD_DEFAULT_LIMIT);
    if (setenv("LD_PRELOAD", value, 1) || setenv("TRACEMALLOC", limit, 1)
        || setenv("TRACEMALLOC_DUMP", dump, 1) || (o->unwind && setenv("TRACEMALLOC_UNWIND", o->unwind, 1))) {
        fprintf(stderr, "tracemalloc: run: %s\n", strerror(errno));
        _exit(127);
    }
    execvp(o->program[0], o->program);
    int error = errno;
    fprintf(stderr, "tracemalloc: %s: %s\n", o->program[0], strerror(error));
    if (write(failed, &error, sizeof error) < 0) _exit(127);
    _exit(127);
}

/* Waits for the child with the terminal's SIGINT and SIGQUIT left to it, as system() does:
   Ctrl-C stops the program, and the report still follows. Returns the wait status. */
static int wait_child(pid_t child)
{
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_int, old_quit;
    int status = 0;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGINT, &ignore, &old_int);
    sigaction(SIGQUIT, &ignore, &old_quit);
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    return status;
}

/* The top tracebacks of the dump at path, on stderr. Returns 0, or -1 after saying why not. */
static int report(const char *path, long pid)
{
    char error[DUMP_ERROR_SIZE > STORE_ERROR_SIZE ? DUMP_ERROR_SIZE : STORE_ERROR_SIZE];
    char current[32], peak[32];
    struct dump dump;
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int64_t snapshot;
    int rc = -1;
    if (dump_read(&dump, path, error) < 0) {
        dump_free(&dump);
        fprintf(stderr, "tracemalloc: %s: %s\n", path, error);
        return -1;
    }
    if (dump.meta.pid != (uint64_t)pid)
        fprintf(stderr, "tracemalloc: %s holds the dump of process %llu, not of %ld: put %%p in --dump\n",
                path, (unsigned long long)dump.meta.pid, pid);
    render_size(current, sizeof current, (double)dump.meta.traced_current, 0);
    render_size(peak, sizeof peak, (double)dump.meta.traced_peak, 0);
    fprintf(stderr, "tracemalloc: dump: %s (%llu blocks, %s still allocated, peak %s)\n"
            "tracemalloc: its %d largest tracebacks, as `tracemalloc stats DUMP --by traceback --top %d`:\n",
            path, (unsigned long long)dump.ntrace, current, peak, RUN_TOP, RUN_TOP);
    struct store_load load = {.source = path};
    struct query_filters filters = {0};
    struct query_statistics q = {.key = KEY_TRACEBACK, .top = RUN_TOP, .filters = &filters};
    if (store_open(&db, NULL, STORE_MEMORY, error) < 0
        || store_add_dump(db, &dump, &load, &snapshot, error) < 0)
        fprintf(stderr, "tracemalloc: %s: %s\n", path, error);
    else if ((q.snapshot = snapshot, query_statistics(db, &q, &stmt)) != SQLITE_OK
             || render_statistics(stmt, STYLE_TEXT, RENDER_TRACEBACK, stderr) != SQLITE_DONE)
        fprintf(stderr, "tracemalloc: %s: %s\n", path, sqlite3_errmsg(db));
    else
        rc = 0;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    dump_free(&dump);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    struct run_options o = {0};
    char library[PATH_MAX], path[PATH_MAX + 64];
    int status = parse_run_options(argc, argv, &o);
    if (status >= 0) return status;
    if (find_library(library) < 0) return 1;
    char *dump = absolute_pattern(o.dump ? o.dump : PRELOAD_DEFAULT_DUMP);
    if (!dump) return fprintf(stderr, "tracemalloc: run: %s\n", strerror(errno)), 1;
    int failed[2], error = 0;
    if (pipe(failed) || fcntl(failed[1], F_SETFD, FD_CLOEXEC))
        return fprintf(stderr, "tracemalloc: run: %s\n", strerror(errno)), 1;
    fflush(NULL); /* nothing of ours is printed twice by the child */
    pid_t child = fork();
    if (child < 0) return fprintf(stderr, "tracemalloc: run: fork: %s\n", strerror(errno)), 1;
    if (child == 0) close(failed[0]), child_exec(&o, library, dump, failed[1]);
    close(failed[1]);
    while (read(failed[0], &error, sizeof error) < 0 && errno == EINTR) {
    }
    close(failed[0]);
    status = wait_child(child);
    if (WIFSIGNALED(status))
        fprintf(stderr, "tracemalloc: %s was killed by signal %d (%s)\n", o.program[0], WTERMSIG(status),
                strsignal(WTERMSIG(status)));
    if (error) {
        /* PROG did not start: the child has said why */
    } else if (find_dump(dump, (long)child, path, sizeof path) == 0) {
        report(path, (long)child);
    } else {
        expand(dump, (long)child, 0, path, sizeof path);
        fprintf(stderr, "tracemalloc: no dump at %s: %s ended without exit handlers (_exit, a signal, "
                "an exec'ed program that is not traced)\n", path, o.program[0]);
    }
    free(dump);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
