/* fuzz_dump_read.c - libFuzzer target: no input may crash the dump reader, read out of bounds,
   or make it allocate without bound (`make fuzz`; libFuzzer's -rss_limit_mb catches the last).
   A dump that parses is walked the way `load` walks it, so every id it hands out is used. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "dump_read.h"
#include "tracemalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct dump *dump)
{
    volatile uint64_t sink = 0;
    for (uint32_t i = 0; i < dump->nmodule; i++) {
        sink += strlen(dump->strings[dump->modules[i].path]);
        for (uint32_t j = 0; j < dump->modules[i].build_id_length; j++)
            sink += dump->modules[i].build_id[j];
        for (uint32_t j = 0; j < dump->modules[i].nrange; j++)
            sink += dump_module_range(&dump->modules[i], j).end;
    }
    for (uint32_t i = 0; i < dump->nframe; i++) {
        const struct dump_frame *f = &dump->frames[i];
        if (f->kind == TM_DUMP_FRAME_NATIVE)
            sink += f->module == TM_DUMP_NONE ? f->offset : dump->modules[f->module].bias;
        else
            sink += strlen(dump->strings[f->filename])
                  + (f->function == TM_DUMP_NONE ? 0 : strlen(dump->strings[f->function]));
    }
    for (uint32_t i = 0; i < dump->ntraceback; i++)
        for (uint32_t j = 0; j < dump->tracebacks[i].nframe; j++)
            sink += dump->frames[dump_traceback_frame(&dump->tracebacks[i], j)].lineno;
    for (uint64_t i = 0; i < dump->ntrace; i++)
        sink += dump->tracebacks[dump_trace_at(dump, i).traceback].nframe;
    for (uint64_t i = 0; i < dump->ngroup; i++)
        sink += dump->groups[i].count;
    for (uint32_t i = 0; i < dump->nsample; i++)
        sink += dump_sample_at(dump, i).traced;
    for (uint64_t i = 0; i < dump->npeak_group; i++)
        sink += dump->tracebacks[dump->peak_groups[i].traceback].nframe;
    for (uint64_t i = 0; i < dump->nalloc_group; i++)
        sink += dump->tracebacks[dump->alloc_groups[i].traceback].nframe;
    (void)sink;
}

/* The reader owns (and frees) its buffer; an exact-size copy lets ASan see any overrun. */
static void parse(const uint8_t *data, size_t size, int fix_crc)
{
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        return;
    memcpy(copy, data, size);
    if (fix_crc) {
        uint32_t crc = (uint32_t)crc32(0L, copy, (uInt)(size - 4));
        for (int i = 0; i < 4; i++)
            copy[size - 4 + i] = (unsigned char)(crc >> (8 * i));
    }
    struct dump dump;
    char error[DUMP_ERROR_SIZE];
    if (dump_parse(&dump, copy, size, error) == 0)
        walk(&dump);
    dump_free(&dump);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse(data, size, 0);
    /* Mutations almost never keep the CRC right: check the sections behind it too. */
    if (size >= 36)
        parse(data, size, 1);
    return 0;
}
