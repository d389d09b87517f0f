/* oracle.c - see oracle.h. */
#define _DEFAULT_SOURCE /* popen */
#include "oracle.h"

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "FILE:LINE[:COLUMN][ (discriminator N)]" into file (cut in place) and line. */
static unsigned split_location(char *file)
{
    char *note = strstr(file, " (discriminator"), *colon;
    if (note)
        *note = '\0';
    unsigned numbers[2] = {0, 0};
    int k = 0;
    while (k < 2 && (colon = strrchr(file, ':')) && colon[1] && strspn(colon + 1, "0123456789?") == strlen(colon + 1)) {
        numbers[k++] = (unsigned)strtoul(colon + 1, NULL, 10);
        *colon = '\0';
    }
    return k == 2 ? numbers[1] : numbers[0]; /* FILE:LINE:COLUMN keeps LINE */
}

int oracle_run(const char *tool, const char *path, const uint64_t *addresses, int n,
               struct frames *out)
{
    size_t size = 64 + strlen(tool) + strlen(path) + (size_t)n * 20;
    char *command = malloc(size), line[2][512];
    if (!command)
        return 0;
    int k = snprintf(command, size, "%s -a -i -f -e '%s'", tool, path), current = -1;
    for (int i = 0; i < n; i++)
        k += snprintf(command + k, size - (size_t)k, " %#llx", (unsigned long long)addresses[i]);
    FILE *p = popen(command, "r");
    free(command);
    while (p && fgets(line[0], sizeof line[0], p)) {
        line[0][strcspn(line[0], "\n")] = '\0';
        char *end;
        if (strncmp(line[0], "0x", 2) == 0 && current + 1 < n &&
            strtoull(line[0], &end, 16) == addresses[current + 1] && *end == '\0') {
            out[++current].n = 0;
            continue;
        }
        if (current < 0 || !fgets(line[1], sizeof line[1], p))
            break;
        struct frames *f = &out[current];
        if (f->n == ORACLE_MAX_FRAMES || !line[0][0]) /* llvm ends each address with a blank line */
            continue;
        char *function = f->text[f->n][0], *file = f->text[f->n][1], *inlined;
        line[1][strcspn(line[1], "\n")] = '\0';
        if ((inlined = strstr(line[0], " inlined at "))) /* eu-addr2line's first line */
            *inlined = '\0';
        snprintf(function, sizeof f->text[0][0], "%s", line[0]);
        snprintf(file, sizeof f->text[0][1], "%s", line[1]);
        unsigned lineno = split_location(file);
        f->f[f->n++] = (struct symbol_frame){file, lineno, strcmp(function, "??") ? function : NULL};
    }
    if (p)
        pclose(p);
    return current + 1;
}

static int same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The value of the symbol called name in the file's .symtab or .dynsym, 0 when none; the
   build-id of the file into id (its hex digits, "" when none). */
static uint64_t symbol_value_in(const char *path, const char *name, char id[129])
{
    int fd = open(path, O_RDONLY);
    Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
    const void *bits;
    ssize_t length = elf ? dwelf_elf_gnu_build_id(elf, &bits) : 0;
    id[0] = '\0';
    for (ssize_t i = 0; i < length && i < 64; i++)
        sprintf(id + 2 * i, "%02x", ((const unsigned char *)bits)[i]);
    uint64_t value = 0;
    for (Elf_Scn *scn = elf ? elf_nextscn(elf, NULL) : NULL; scn && !value; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        Elf_Data *data;
        if (!gelf_getshdr(scn, &shdr) || (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM) ||
            !shdr.sh_entsize || !(data = elf_getdata(scn, NULL)))
            continue;
        GElf_Sym sym;
        for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize && !value; i++) {
            const char *s = gelf_getsym(data, (int)i, &sym) ? elf_strptr(elf, shdr.sh_link, sym.st_name) : NULL;
            if (s && strcmp(s, name) == 0)
                value = sym.st_value;
        }
    }
    elf_end(elf);
    if (fd >= 0)
        close(fd);
    return value;
}

/* The symbol's value in the file, else in its debug file in /usr/lib/debug (where the local
   aliases of a stripped library are: glibc's __GI_ names). */
static uint64_t symbol_value(const char *path, const char *name)
{
    char id[129], debug[200];
    uint64_t value = symbol_value_in(path, name, id);
    if (!value && id[0] && id[1] && id[2]) {
        snprintf(debug, sizeof debug, "/usr/lib/debug/.build-id/%.2s/%s.debug", id, id + 2);
        value = symbol_value_in(debug, name, id);
    }
    return value;
}

int oracle_same_function(const char *path, const char *a, const char *b)
{
    if (same_string(a, b))
        return 1;
    uint64_t x = a && b ? symbol_value(path, a) : 0;
    return x && x == symbol_value(path, b);
}

static int same_place(const struct symbol_frame *a, const struct symbol_frame *b)
{
    return same_string(a->filename, b->filename) && a->lineno == b->lineno;
}

const char *oracle_second_tool(void)
{
    if (getenv("SYM_SECOND_READER")) /* to try the other one: SYM_SECOND_READER=eu-addr2line */
        return getenv("SYM_SECOND_READER");
    return access("/usr/bin/llvm-addr2line", X_OK) == 0 ? "llvm-addr2line" : "eu-addr2line";
}

/* got against one tool's answer: the same frames at the same places, with the same
   functions (or their aliases) unless functions is 0. *frame: the first that differs. */
static int agrees(const char *path, const struct frames *got, const struct frames *tool,
                  int functions, int *frame)
{
    for (*frame = 0; *frame < got->n && *frame < tool->n; ++*frame) {
        const struct symbol_frame *a = &got->f[*frame], *b = &tool->f[*frame];
        if (!same_place(a, b) || (functions && !oracle_same_function(path, a->function, b->function)))
            return 0;
    }
    return got->n == tool->n;
}

int oracle_compare(const char *path, const struct frames *got, const struct frames *gnu,
                   const struct frames *second, char why[1600])
{
    int frame;
    if (agrees(path, got, gnu, 1, &frame))
        return 0;
    /* another file or line (GNU's DWARF 5 file numbers), or other frames (GNU loses clang's
       inlined calls): the second reader decides on the places; the functions are GNU's when
       it has the same frames (readers differ in which alias they name), else the second's */
    const struct frames *other = second ? second : gnu;
    if (second && agrees(path, got, second, 0, &frame)) {
        const struct frames *names = gnu->n == got->n ? gnu : second;
        for (frame = 0; frame < got->n; frame++)
            if (!oracle_same_function(path, got->f[frame].function, names->f[frame].function))
                break;
        if (frame == got->n)
            return 0;
        other = names;
    }
    const struct symbol_frame *a = frame < got->n ? &got->f[frame] : NULL;
    const struct symbol_frame *b = frame < other->n ? &other->f[frame] : NULL;
    snprintf(why, 1600, "%d frames, %s has %d; frame %d is %s:%u in %s, it says %s:%u in %s",
             got->n, other == gnu ? "addr2line" : "the second reader", other->n, frame,
             a ? a->filename : "-", a ? a->lineno : 0, a && a->function ? a->function : "NULL",
             b ? b->filename : "-", b ? b->lineno : 0, b && b->function ? b->function : "NULL");
    return second ? 1 : 2;
}

int oracle_check(const char *path, uint64_t address, const struct frames *got, char why[1600])
{
    static struct frames gnu, second; /* large: not on the stack */
    snprintf(why, 1600, "addr2line gave nothing");
    if (oracle_run("addr2line", path, &address, 1, &gnu) != 1)
        return 1;
    int verdict = oracle_compare(path, got, &gnu, NULL, why);
    if (verdict == 2) {
        snprintf(why, 1600, "%s gave nothing", oracle_second_tool());
        verdict = oracle_run(oracle_second_tool(), path, &address, 1, &second) == 1
                      ? oracle_compare(path, got, &gnu, &second, why) : 1;
    }
    return verdict != 0;
}
