/* spread.c - see spread.h. */
#include "spread.h"

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The symbol table to walk: .symtab, else .dynsym. */
static Elf_Scn *symbols(Elf *elf, size_t *count)
{
    Elf_Scn *symtab = NULL, *dynsym = NULL;
    GElf_Shdr shdr;
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn))
        if (gelf_getshdr(scn, &shdr) && shdr.sh_type == SHT_SYMTAB)
            symtab = scn;
        else if (gelf_getshdr(scn, &shdr) && shdr.sh_type == SHT_DYNSYM)
            dynsym = scn;
    Elf_Scn *scn = symtab ? symtab : dynsym;
    *count = scn && gelf_getshdr(scn, &shdr) && shdr.sh_entsize ? shdr.sh_size / shdr.sh_entsize : 0;
    return scn;
}

static int is_function(const GElf_Sym *sym)
{
    return GELF_ST_TYPE(sym->st_info) == STT_FUNC && sym->st_size && sym->st_value &&
           sym->st_shndx != SHN_UNDEF;
}

long spread_offsets(const char *path, size_t n, uint64_t **offsets, unsigned char id[64],
                    size_t *id_length)
{
    elf_version(EV_CURRENT);
    int fd = open(path, O_RDONLY);
    Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        elf_end(elf);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const void *bits = NULL;
    ssize_t length = dwelf_elf_gnu_build_id(elf, &bits);
    *id_length = length > 0 && length <= 64 ? (size_t)length : 0;
    if (*id_length)
        memcpy(id, bits, *id_length);
    size_t count, k = 0;
    Elf_Scn *scn = symbols(elf, &count);
    Elf_Data *data = scn ? elf_getdata(scn, NULL) : NULL;
    GElf_Sym sym;
    double total = 0;
    for (size_t i = 0; data && i < count; i++)
        if (gelf_getsym(data, (int)i, &sym) && is_function(&sym))
            total += (double)sym.st_size;
    *offsets = malloc((n + 1) * sizeof **offsets);
    double step = n ? total / (double)n : 1, next = 0, at = 0;
    for (size_t i = 0; data && *offsets && i < count && k < n; i++) {
        if (!gelf_getsym(data, (int)i, &sym) || !is_function(&sym))
            continue;
        for (; next < at + (double)sym.st_size && k < n; next += step)
            (*offsets)[k++] = sym.st_value + (uint64_t)(next - at) + 1;
        at += (double)sym.st_size;
    }
    elf_end(elf);
    close(fd);
    if (!*offsets)
        return -1;
    qsort(*offsets, k, sizeof **offsets, by_value);
    size_t distinct = 0; /* aliases (one function, two names) repeat an address */
    for (size_t i = 0; i < k; i++)
        if (distinct == 0 || (*offsets)[i] != (*offsets)[distinct - 1])
            (*offsets)[distinct++] = (*offsets)[i];
    return (long)distinct;
}
