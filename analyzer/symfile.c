/* symfile.c - finding a module's ELF file and its separate debug file by build-id, as gdb's
   debug-file-directory and elfutils' dwfl_standard_find_debuginfo do, but without debuginfod:
   elfutils asks a debuginfod server (DEBUGINFOD_URLS, set by Debian's profile) when its own
   search finds nothing, and an offline analyzer must not wait on the network. */
#define _DEFAULT_SOURCE /* strdup under -std=c11 */
#include "symfile.h"

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SYSTEM_DEBUG_DIR "/usr/lib/debug"

/* An ELF file opened for a look at its notes and section headers. */
struct elf_file {
    int fd;
    Elf *elf;
    struct stat st;
};

static int elf_open(const char *path, struct elf_file *f)
{
    f->elf = NULL;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
        return -1;
    if (fstat(f->fd, &f->st) == 0 && S_ISREG(f->st.st_mode)) {
        f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
        if (f->elf && elf_kind(f->elf) == ELF_K_ELF)
            return 0;
    }
    elf_end(f->elf);
    close(f->fd);
    f->elf = NULL;
    return -1;
}

static void elf_close(struct elf_file *f)
{
    elf_end(f->elf);
    close(f->fd);
}

/* 1 when the file's NT_GNU_BUILD_ID is the one asked for, or neither has one. */
static int same_build_id(Elf *elf, const unsigned char *id, size_t length)
{
    const void *bits = NULL;
    ssize_t n = dwelf_elf_gnu_build_id(elf, &bits);
    if (n < 0)
        n = 0;
    return (size_t)n == length && (length == 0 || memcmp(bits, id, length) == 0);
}

/* Whether libdw would take DWARF from this file itself (dwarf_begin_elf wants one of these
   sections with contents), so that libdwfl asks its find_debuginfo callback only otherwise. */
static int has_dwarf(Elf *elf)
{
    static const char *const names[] = {".debug_info", ".debug_line", ".debug_frame",
                                        ".zdebug_info", ".zdebug_line", ".zdebug_frame"};
    size_t shstrndx;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return 0;
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        const char *name;
        if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS || shdr.sh_size == 0 ||
            !(name = elf_strptr(elf, shstrndx, shdr.sh_name)))
            continue;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(name, names[i]) == 0)
                return 1;
    }
    return 0;
}

/* zlib's CRC-32 of the whole file: what .gnu_debuglink records. */
static int crc_matches(int fd, uint32_t expected)
{
    unsigned char buffer[1 << 16];
    uLong crc = crc32(0, Z_NULL, 0);
    off_t at = 0;
    ssize_t n;
    while ((n = pread(fd, buffer, sizeof buffer, at)) > 0) {
        crc = crc32(crc, buffer, (uInt)n);
        at += n;
    }
    return n == 0 && (uint32_t)crc == expected;
}

/* a + b + c, malloc'd; NULL arguments count as empty. */
static char *concat(const char *a, const char *b, const char *c)
{
    size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
    char *s = malloc(la + lb + lc + 1);
    if (s) {
        memcpy(s, a ? a : "", la);
        memcpy(s + la, b ? b : "", lb);
        memcpy(s + la + lb, c ? c : "", lc + 1);
    }
    return s;
}

/* DIR/.build-id/xx/yyyy followed by suffix, malloc'd. */
static char *build_id_path(const char *dir, const unsigned char *id, size_t length,
                           const char *suffix)
{
    static const char hex[] = "0123456789abcdef";
    char name[sizeof "/.build-id/xx/" + 2 * 64];
    char *p = name + sizeof "/.build-id/" - 1;
    memcpy(name, "/.build-id/", sizeof "/.build-id/" - 1);
    for (size_t i = 0; i < length; i++) {
        *p++ = hex[id[i] >> 4];
        *p++ = hex[id[i] & 15];
        if (i == 0)
            *p++ = '/';
    }
    *p = '\0';
    return concat(dir, name, suffix);
}

/* Adds a candidate path (taking it; NULL is dropped) to a list of at most 16. */
static void add(char **list, int *n, char *path)
{
    if (path && *n < 16)
        list[(*n)++] = path;
    else
        free(path);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The first candidate that is an ELF file with the module's build-id, or NULL. */
static char *first_elf(char **list, int n, const unsigned char *id, size_t length)
{
    char *found = NULL;
    for (int i = 0; i < n; i++) {
        struct elf_file f;
        if (!found && elf_open(list[i], &f) == 0) {
            if (same_build_id(f.elf, id, length))
                found = list[i], list[i] = NULL;
            elf_close(&f);
        }
        free(list[i]);
    }
    return found;
}

static char *find_elf(const char *path, const unsigned char *id, size_t length, const char *dir)
{
    char *list[16];
    int n = 0;
    if (path)
        add(list, &n, strdup(path));
    if (length >= 2) {
        add(list, &n, build_id_path(SYSTEM_DEBUG_DIR, id, length, ".debug"));
        if (dir) {
            add(list, &n, build_id_path(dir, id, length, ".debug"));
            add(list, &n, build_id_path(dir, id, length, ""));
        }
    }
    if (dir && path) {
        add(list, &n, concat(dir, path[0] == '/' ? "" : "/", path));
        add(list, &n, concat(dir, "/", base_name(path)));
    }
    return first_elf(list, n, id, length);
}

/* The first candidate with DWARF, not the main file under another name, that belongs to it:
   same build-id, else the debuglink's CRC when there is one. */
static char *first_debug(char **list, int n, const struct elf_file *main, const unsigned char *id,
                         size_t length, const char *link, uint32_t crc)
{
    char *found = NULL;
    for (int i = 0; i < n; i++) {
        struct elf_file f;
        if (!found && elf_open(list[i], &f) == 0) {
            int same_file = f.st.st_dev == main->st.st_dev && f.st.st_ino == main->st.st_ino;
            if (!same_file && has_dwarf(f.elf) &&
                (length ? same_build_id(f.elf, id, length) : !link || crc_matches(f.fd, crc)))
                found = list[i], list[i] = NULL;
            elf_close(&f);
        }
        free(list[i]);
    }
    return found;
}

/* gdb's order: by build-id, then by debuglink name next to the file, in its .debug/, under
   the debug directories followed by the file's own directory, and in the debug directory. */
static char *find_debug(const char *elf_path, const struct elf_file *main, const char *dir)
{
    const void *bits = NULL;
    ssize_t n_id = dwelf_elf_gnu_build_id(main->elf, &bits);
    size_t length = n_id > 0 ? (size_t)n_id : 0;
    const unsigned char *id = bits;
    GElf_Word crc = 0;
    const char *link = dwelf_elf_gnu_debuglink(main->elf, &crc);
    char *list[16], *invented = NULL;
    int n = 0;
    if (length >= 2) {
        add(list, &n, build_id_path(SYSTEM_DEBUG_DIR, id, length, ".debug"));
        if (dir)
            add(list, &n, build_id_path(dir, id, length, ".debug"));
    }
    const char *name = link ? base_name(link) : (invented = concat(base_name(elf_path), ".debug", NULL));
    if (!name)
        return first_debug(list, n, main, id, length, link, crc);
    char *directory = strdup(strchr(elf_path, '/') ? elf_path : "./");
    if (directory) {
        *(char *)base_name(directory) = '\0'; /* keeps the slash: "/usr/bin/" */
        add(list, &n, concat(directory, name, NULL));
        add(list, &n, concat(directory, ".debug/", name));
        if (directory[0] == '/') {
            add(list, &n, concat(SYSTEM_DEBUG_DIR, directory, name));
            if (dir)
                add(list, &n, concat(dir, directory, name));
        }
        free(directory);
    }
    if (dir) {
        add(list, &n, concat(dir, "/", name));
        if (!link)
            add(list, &n, concat(dir, "/", base_name(elf_path)));
    }
    char *found = first_debug(list, n, main, id, length, link, crc);
    free(invented);
    return found;
}

int symfile_find(const char *path, const unsigned char *build_id, size_t build_id_length,
                 const char *debug_dir, struct symfile *out)
{
    struct elf_file main;
    out->debug_path = NULL;
    if (build_id_length > 64 || !(out->elf_path = find_elf(path, build_id, build_id_length, debug_dir)))
        return -1;
    if (elf_open(out->elf_path, &main) == 0) {
        if (!has_dwarf(main.elf))
            out->debug_path = find_debug(out->elf_path, &main, debug_dir);
        elf_close(&main);
    }
    return 0;
}

void symfile_free(struct symfile *f)
{
    free(f->elf_path);
    free(f->debug_path);
    f->elf_path = f->debug_path = NULL;
}
