/* Native stacks' cost, side by side in one run (issue 5, section 5):

       native_bench BUILD_DIR [ROUNDS]          the comparison (make bench-native)
       native_bench churn DEPTH PAIRS RESULT    one churn, in the process being measured

   The churn is tracker_bench.c's loop (malloc/free pairs, random sizes 16..271 over 1,024 live
   slots), 2M pairs, called from main directly (depth 0) or from 30 extra frames of recursion
   that cannot be flattened. Each churn runs as its own process: raw, under `tracemalloc run
   --limit 32 --unwind fp`, under `--unwind dwarf`, and under heaptrack when installed. Rounds
   alternate all of them and keep each one's best loop time, so a noisy neighbour slows every
   side rather than one. The process times its own loop, so start-up, the dump and heaptrack's
   post-processing are reported apart. Targets: fp <= 4x raw at depth 0, <= 12x at depth 30;
   dwarf <= 2x fp.

   Also: the dump each traced run writes at exit (its size; how long from the tmp file's creation
   to its rename, seen with inotify) and the symbolization of 10,000 distinct return addresses
   (BUILD_DIR/bench/native_sites has 10,000 call sites of malloc; `tracemalloc load` of its dump
   symbolizes them; BUILD_DIR/tests/symbolize/symbolize_bench, the symbolizer alone on 10,000
   addresses of build/tracemalloc, is run too when it exists). The churn's traceback in each dump
   shows how many frames the unwinder walked. Work files: BUILD_DIR/bench/native/. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "churn_workload.h"

#if defined(__clang__)
#define KEEP_FRAME __attribute__((noinline))
#else
#define KEEP_FRAME __attribute__((noipa))
#endif

#define PAIRS 2000000u
#define EXTRA_FRAMES 30
#define LIMIT "32"

static double now(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- the measured process ---------------------------------------------------------------- */

static unsigned short sizes[PAIRS];
static unsigned short slots_of[PAIRS];

/* Returns the loop's wall time. */
KEEP_FRAME static double churn(unsigned pairs)
{
    void *slot[SLOTS] = {0};
    double start = now(CLOCK_MONOTONIC);
    unsigned i;
    for (i = 0; i < pairs; i++) {
        free(slot[slots_of[i]]);
        slot[slots_of[i]] = malloc(sizes[i]);
    }
    for (i = 0; i < SLOTS; i++) free(slot[i]);
    __asm__ volatile("" : : "r"(slot) : "memory");
    return now(CLOCK_MONOTONIC) - start;
}

/* `depth` frames of descend above churn: the barrier after the call keeps each one a real call
   (no tail call, no loop), whatever the optimizer does. */
KEEP_FRAME static void descend(unsigned depth, unsigned pairs, double *loop)
{
    if (depth > 1)
        descend(depth - 1, pairs, loop);
    else
        *loop = churn(pairs);
    __asm__ volatile("" : : : "memory");
}

/* Writes "LOOP_SECONDS MAIN_END_REALTIME" to `result` with no stdio (nothing allocated). */
static int measured(unsigned depth, unsigned pairs, const char *result)
{
    char text[64];
    double loop;
    int fd, n;
    if (pairs > PAIRS) return 2;
    churn_workload(sizes, slots_of, PAIRS);
    if (depth)
        descend(depth, pairs, &loop);
    else
        loop = churn(pairs);
    n = snprintf(text, sizeof text, "%.9f %.9f\n", loop, now(CLOCK_REALTIME));
    fd = open(result, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, (size_t)n) != n || close(fd)) return 1;
    return 0;
}

/* ---- the comparison ---------------------------------------------------------------------- */

enum { RAW, FP, DWARF, HEAPTRACK, SIDES };
static const char *side_name[SIDES] = {"raw", "tracemalloc fp", "tracemalloc dwarf", "heaptrack"};

struct side {
    double loop, wall;           /* best of the rounds */
    double dump_write, exit_to_dump;
    long long file_size;         /* the dump or heaptrack's output, last round */
    int runs, failed;
};

static struct {
    char build[1024], out[2048], self[PATH_MAX];
    char tracemalloc[PATH_MAX], library[PATH_MAX], heaptrack[PATH_MAX];
    int inotify;
    struct side side[2][SIDES];
} g;

static int executable(const char *path)
{
    return access(path, X_OK) == 0;
}

/* The realtime of the inotify events for `name`'s tmp file ("NAME.tmp.") and its rename. */
struct dump_events { double created, renamed; };

static void read_events(const char *name, struct dump_events *e)
{
    char buffer[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    size_t length = strlen(name);
    ssize_t n;
    while ((n = read(g.inotify, buffer, sizeof buffer)) > 0) {
        double t = now(CLOCK_REALTIME);
        char *p;
        for (p = buffer; p < buffer + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->len && strncmp(ev->name, name, length) == 0) {
                if ((ev->mask & IN_CREATE) && strncmp(ev->name + length, ".tmp.", 5) == 0 && !e->created)
                    e->created = t;
                if ((ev->mask & IN_MOVED_TO) && ev->name[length] == '\0') e->renamed = t;
            }
            p += sizeof *ev + ev->len;
        }
    }
}

/* Runs argv with stdout and stderr into `log`, watching for `dump`'s events; returns the exit
   status (-1 when it could not run) and the wall time. */
static int spawn(char **argv, const char *log, const char *dump, double *wall, struct dump_events *e)
{
    int pidfd, status = -1;
    double start = now(CLOCK_MONOTONIC);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    for (;;) {
        struct pollfd p[2] = {{g.inotify, POLLIN, 0}, {pidfd, POLLIN, 0}};
        if (poll(p, pidfd >= 0 ? 2 : 1, pidfd >= 0 ? -1 : 5) < 0 && errno != EINTR) {
            waitpid(pid, &status, 0);
            break;
        }
        if (p[0].revents & POLLIN) read_events(dump ? dump : "", e);
        if (waitpid(pid, &status, WNOHANG) == pid) break;
    }
    *wall = now(CLOCK_MONOTONIC) - start;
    read_events(dump ? dump : "", e);
    if (pidfd >= 0) close(pidfd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : (long long)st.st_size;
}

static void run_side(int which, unsigned depth)
{
    struct side *s = &g.side[depth ? 1 : 0][which];
    char depth_text[16], pairs_text[16], result[PATH_MAX], log[PATH_MAX], dump[PATH_MAX], name[64];
    char *argv[16];
    struct dump_events e = {0, 0};
    double wall, loop = 0, main_end = 0;
    int argc = 0, status;
    FILE *f;
    snprintf(depth_text, sizeof depth_text, "%u", depth);
    snprintf(pairs_text, sizeof pairs_text, "%u", PAIRS);
    snprintf(name, sizeof name, "churn_%s_%u", which == RAW ? "raw" : which == FP ? "fp" : which == DWARF ? "dwarf" : "heaptrack", depth);
    snprintf(result, sizeof result, "%s/%s.result", g.out, name);
    snprintf(log, sizeof log, "%s/%s.log", g.out, name);
    snprintf(dump, sizeof dump, "%s/%s.%s", g.out, name, which == HEAPTRACK ? "heaptrack" : "tmd");
    unlink(result);
    if (which == FP || which == DWARF) {
        argv[argc++] = g.tracemalloc;
        argv[argc++] = "run";
        argv[argc++] = "--limit";
        argv[argc++] = LIMIT;
        argv[argc++] = "--unwind";
        argv[argc++] = which == FP ? "fp" : "dwarf";
        argv[argc++] = "--dump";
        argv[argc++] = dump;
        argv[argc++] = "--";
        unlink(dump);
    } else if (which == HEAPTRACK) {
        argv[argc++] = g.heaptrack;
        argv[argc++] = "-o";
        argv[argc++] = dump;
    }
    argv[argc++] = g.self;
    argv[argc++] = "churn";
    argv[argc++] = depth_text;
    argv[argc++] = pairs_text;
    argv[argc++] = result;
    argv[argc] = NULL;
    status = spawn(argv, log, which == FP || which == DWARF ? strrchr(dump, '/') + 1 : NULL, &wall, &e);
    f = fopen(result, "r");
    if (status != 0 || !f || fscanf(f, "%lf %lf", &loop, &main_end) != 2) {
        if (!s->failed) printf("note: %s at depth %u failed (exit %d), see %s\n", side_name[which], depth, status, log);
        s->failed = 1;
        if (f) fclose(f);
        return;
    }
    fclose(f);
    if (!s->runs || loop < s->loop) s->loop = loop;
    if (!s->runs || wall < s->wall) s->wall = wall;
    if (which == FP || which == DWARF) {
        s->file_size = file_size(dump);
        if (e.created && e.renamed && (!s->runs || e.renamed - e.created < s->dump_write)) {
            s->dump_write = e.renamed - e.created;
            s->exit_to_dump = e.renamed - main_end;
        }
    } else if (which == HEAPTRACK) {
        char zst[PATH_MAX + 8];
        snprintf(zst, sizeof zst, "%s.zst", dump);
        s->file_size = file_size(zst) >= 0 ? file_size(zst) : file_size(strcat(strcpy(zst, dump), ".gz"));
    }
    s->runs++;
}

/* The churn's own traceback in the last dump of a side, "nframe|total_nframe": proof that the
   unwinder walked the whole stack (up to the limit) rather than stopping early. */
static void print_churn_stack(int which, unsigned depth)
{
    char dump[PATH_MAX], log[PATH_MAX], line[256] = "", header[256];
    char *argv[] = {g.tracemalloc, "sql", dump, "SELECT t.nframe, t.total_nframe FROM alloc_groups a "
                    "JOIN tracebacks t ON t.id = a.traceback ORDER BY a.count DESC LIMIT 1", NULL};
    struct dump_events e = {0, 0};
    double wall;
    FILE *f;
    snprintf(dump, sizeof dump, "%s/churn_%s_%u.tmd", g.out, which == FP ? "fp" : "dwarf", depth);
    snprintf(log, sizeof log, "%s/churn_stack.log", g.out);
    if (spawn(argv, log, NULL, &wall, &e) != 0 || !(f = fopen(log, "r"))) return;
    if (fgets(header, sizeof header, f) && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        printf(" %s %s;", side_name[which], line);
    }
    fclose(f);
}

static void print_churn(int rounds)
{
    static const char *target[2][SIDES] = {{"", "target <= 4", "", ""}, {"", "target <= 12", "", ""}};
    int d, w;
    printf("native churn: %u malloc/free pairs per run, best loop time of %d interleaved rounds\n", PAIRS, rounds);
    for (d = 0; d < 2; d++) {
        struct side *raw = &g.side[d][RAW];
        printf("  depth %2d:", d ? EXTRA_FRAMES : 0);
        for (w = 0; w < SIDES; w++) {
            struct side *s = &g.side[d][w];
            if (!s->runs) continue;
            printf("%s %s %.1f ns/pair", w ? ";" : "", side_name[w], s->loop * 1e9 / PAIRS);
            if (w != RAW && raw->runs) printf(" (%.1fx%s%s)", s->loop / raw->loop, *target[d][w] ? ", " : "", target[d][w]);
            if (w == DWARF && g.side[d][FP].runs)
                printf(" = %.2fx fp (target <= 2)", s->loop / g.side[d][FP].loop);
        }
        printf("\n");
    }
    printf("  whole command, wall (start-up, dump and its report included):\n");
    for (d = 0; d < 2; d++) {
        printf("  depth %2d:", d ? EXTRA_FRAMES : 0);
        for (w = 0; w < SIDES; w++)
            if (g.side[d][w].runs) printf("%s %s %.2f s", w ? ";" : "", side_name[w], g.side[d][w].wall);
        printf("\n");
    }
    printf("  the churn's traceback (limit %s), nframe|total_nframe after symbolization (an inlined call is a frame of its own):\n", LIMIT);
    for (d = 0; d < 2; d++) {
        printf("  depth %2d:", d ? EXTRA_FRAMES : 0);
        for (w = FP; w <= DWARF; w++)
            if (g.side[d][w].runs) print_churn_stack(w, d ? EXTRA_FRAMES : 0);
        printf("\n");
    }
    for (d = 0; d < 2; d++)
        for (w = FP; w < SIDES; w++) {
            struct side *s = &g.side[d][w];
            if (!s->runs) continue;
            if (w == HEAPTRACK)
                printf("  heaptrack's output at depth %d: %lld bytes\n", d ? EXTRA_FRAMES : 0, s->file_size);
            else if (s->dump_write > 0)
                printf("  dump at exit, %s, depth %d: %lld bytes, written in %.2f ms (%.2f ms from main's return to the rename)\n",
                       side_name[w], d ? EXTRA_FRAMES : 0, s->file_size, s->dump_write * 1e3, s->exit_to_dump * 1e3);
            else
                printf("  dump at exit, %s, depth %d: %lld bytes (its writing was not seen)\n", side_name[w], d ? EXTRA_FRAMES : 0, s->file_size);
        }
}

static void print_file(const char *path, const char *indent)
{
    char line[1024];
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) printf("%s%s", indent, line);
    fclose(f);
}

/* 10,000 distinct return addresses: their dump, then `tracemalloc load` (which symbolizes each
   distinct address once) and, when it exists, the symbolizer's own bench. */
static void measure_symbolization(void)
{
    char sites[PATH_MAX], dump[PATH_MAX], db[PATH_MAX], log[PATH_MAX], bench[PATH_MAX];
    struct dump_events e = {0, 0};
    double wall;
    snprintf(sites, sizeof sites, "%s/bench/native_sites", g.build);
    snprintf(dump, sizeof dump, "%s/sites.tmd", g.out);
    snprintf(db, sizeof db, "%s/sites.db", g.out);
    snprintf(log, sizeof log, "%s/sites.log", g.out);
    snprintf(bench, sizeof bench, "%s/tests/symbolize/symbolize_bench", g.build);
    if (executable(bench)) {
        char *argv[] = {bench, "-n", "10000", g.tracemalloc, NULL};
        char bench_log[PATH_MAX];
        snprintf(bench_log, sizeof bench_log, "%s/symbolize_bench.log", g.out);
        printf("symbolize_bench -n 10000 build/tracemalloc (the analyzer's own functions):\n");
        fflush(stdout);
        spawn(argv, bench_log, NULL, &wall, &e);
        print_file(bench_log, "  ");
    }
    if (executable(sites) && executable(g.library)) {
        char *run[] = {g.tracemalloc, "run", "--limit", "1", "--dump", dump, "--", sites, NULL};
        char *load[] = {g.tracemalloc, "load", db, dump, NULL};
        char *count[] = {g.tracemalloc, "sql", db, "SELECT count(*) AS frames, count(function) AS "
                         "with_function, sum(lineno > 0) AS with_line FROM frames", NULL};
        unlink(dump);
        unlink(db);
        if (spawn(run, log, NULL, &wall, &e) != 0) {
            printf("symbolization: `tracemalloc run -- native_sites` failed, see %s\n", log);
            return;
        }
        if (spawn(load, log, NULL, &wall, &e) != 0) {
            printf("symbolization: `tracemalloc load` failed, see %s\n", log);
            return;
        }
        printf("symbolization: `tracemalloc load` of a dump with 10,000 distinct return addresses "
               "(%lld bytes): %.0f ms, reading and storing included; frames in the database:\n",
               file_size(dump), wall * 1e3);
        fflush(stdout);
        if (spawn(count, log, NULL, &wall, &e) == 0) print_file(log, "  ");
    }
}

int main(int argc, char **argv)
{
    int rounds, round, d, w;
    if (argc == 5 && strcmp(argv[1], "churn") == 0)
        return measured((unsigned)atoi(argv[2]), (unsigned)strtoul(argv[3], NULL, 10), argv[4]);
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: native_bench BUILD_DIR [ROUNDS]\n");
        return 2;
    }
    rounds = argc > 2 ? atoi(argv[2]) : 3;
    if (strlen(argv[1]) >= sizeof g.build) {
        fprintf(stderr, "native_bench: %s: path too long\n", argv[1]);
        return 1;
    }
    snprintf(g.build, sizeof g.build, "%s", argv[1]);
    snprintf(g.out, sizeof g.out, "%s/bench/native", g.build);
    snprintf(g.tracemalloc, sizeof g.tracemalloc, "%s/tracemalloc", g.build);
    snprintf(g.library, sizeof g.library, "%s/libtracemalloc.so", g.build);
    snprintf(g.heaptrack, sizeof g.heaptrack, "/usr/bin/heaptrack");
    if (!realpath("/proc/self/exe", g.self) || (mkdir(g.out, 0755) && errno != EEXIST)) {
        fprintf(stderr, "native_bench: %s: %s\n", g.out, strerror(errno));
        return 1;
    }
    g.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (g.inotify < 0 || inotify_add_watch(g.inotify, g.out, IN_CREATE | IN_MOVED_TO) < 0) {
        fprintf(stderr, "native_bench: inotify on %s: %s\n", g.out, strerror(errno));
        return 1;
    }
    if (!executable(g.library)) printf("note: %s is not built: tracemalloc's sides are skipped\n", g.library);
    if (!executable(g.heaptrack)) printf("note: heaptrack is not installed: its side is skipped\n");
    for (round = 0; round < rounds; round++)
        for (d = 0; d < 2; d++)
            for (w = 0; w < SIDES; w++) {
                if ((w == FP || w == DWARF) && !executable(g.library)) continue;
                if (w == HEAPTRACK && !executable(g.heaptrack)) continue;
                if (!g.side[d][w].failed) run_side(w, d ? EXTRA_FRAMES : 0);
            }
    print_churn(rounds);
    fflush(stdout);
    measure_symbolization();
    return 0;
}
