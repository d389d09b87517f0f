/* symbolize_bench.c - how long symbolize() takes for N distinct addresses (default 10,000).

   usage: symbolize_bench [-n N] MODULE...
   The addresses are spread evenly over the functions of the modules given (spread.h), an
   equal share each, and passed as return addresses. Prints the cold figure (every module
   opened, every address looked up once) and the cached one (the same addresses again). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyzer/symbolize.h"
#include "spread.h"

struct module {
    const char *path;
    unsigned char id[64];
    size_t id_length;
    uint64_t *offsets;
    size_t noffset;
};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Symbolizes every address once; counts the addresses with a source line, and the frames. */
static double pass(struct symbolizer *s, struct module *modules, int nmodule, size_t *lines,
                   size_t *frames)
{
    struct symbol_frame out[64];
    double start = now_ms();
    *lines = *frames = 0;
    for (int i = 0; i < nmodule; i++)
        for (size_t k = 0; k < modules[i].noffset; k++) {
            int n = symbolize(s, modules[i].path, modules[i].id, modules[i].id_length,
                              modules[i].offsets[k], out, 64);
            *lines += out[0].lineno > 0;
            *frames += (size_t)n;
        }
    return now_ms() - start;
}

int main(int argc, char **argv)
{
    size_t total = 10000;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        total = strtoul(argv[2], NULL, 10);
        first = 3;
    }
    int nmodule = argc - first;
    if (nmodule < 1 || total == 0) {
        fprintf(stderr, "usage: symbolize_bench [-n N] MODULE...\n");
        return 2;
    }
    struct module *modules = calloc((size_t)nmodule, sizeof *modules);
    size_t distinct = 0;
    for (int i = 0; i < nmodule; i++) {
        modules[i].path = argv[first + i];
        size_t share = total / (size_t)nmodule + ((size_t)i < total % (size_t)nmodule);
        long n = spread_offsets(modules[i].path, share, &modules[i].offsets, modules[i].id,
                                &modules[i].id_length);
        if (n < 0) {
            fprintf(stderr, "symbolize_bench: %s: not a readable ELF file\n", modules[i].path);
            return 1;
        }
        distinct += modules[i].noffset = (size_t)n;
    }
    struct symbolizer *s = symbolizer_new(NULL);
    size_t lines, frames, lines_again, frames_again;
    double cold = pass(s, modules, nmodule, &lines, &frames);
    double cached = pass(s, modules, nmodule, &lines_again, &frames_again);
    symbolizer_free(s);
    printf("symbolize: %zu distinct addresses in %d module%s: %.1f ms (%.2f us each), "
           "%zu with a source line, %zu frames; again, from the cache: %.2f ms\n",
           distinct, nmodule, nmodule > 1 ? "s" : "", cold, cold * 1e3 / (double)distinct, lines,
           frames, cached);
    for (int i = 0; i < nmodule; i++)
        free(modules[i].offsets);
    free(modules);
    return lines != lines_again || frames != frames_again;
}
