/* symtab.c - see symtab.h. */
#include "symtab.h"

#include <stdlib.h>

struct symbol {
    GElf_Addr low, high;
    const char *name;
    int rank; /* 0 global, 1 weak, 2 local: the lower names an alias first */
};

struct symtab {
    struct symbol *symbols;
    size_t n;
};

static int by_address(const void *a, const void *b)
{
    const struct symbol *x = a, *y = b;
    if (x->low != y->low)
        return x->low < y->low ? -1 : 1;
    return x->rank - y->rank;
}

struct symtab *symtab_new(Dwfl_Module *mod)
{
    struct symtab *table = calloc(1, sizeof *table);
    int count = dwfl_module_getsymtab(mod);
    if (!table || count <= 0)
        return table;
    table->symbols = malloc((size_t)count * sizeof *table->symbols);
    for (int i = 0; table->symbols && i < count; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        GElf_Word shndx;
        const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, NULL, NULL);
        int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
        if (!name || !*name || sym.st_size == 0 || shndx == SHN_UNDEF ||
            (type != STT_FUNC && type != STT_GNU_IFUNC))
            continue;
        table->symbols[table->n++] = (struct symbol){
            addr, addr + sym.st_size, name, bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2};
    }
    qsort(table->symbols, table->n, sizeof *table->symbols, by_address);
    return table;
}

void symtab_free(struct symtab *table)
{
    if (table)
        free(table->symbols);
    free(table);
}

const char *symtab_name(struct symtab *table, Dwfl_Module *mod, GElf_Addr addr)
{
    size_t low = 0, high = table ? table->n : 0; /* the first symbol starting after addr */
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (table->symbols[mid].low <= addr)
            low = mid + 1;
        else
            high = mid;
    }
    if (low > 0) {
        /* the aliases at that address: the first of them ranks best */
        size_t first = low - 1;
        while (first > 0 && table->symbols[first - 1].low == table->symbols[low - 1].low)
            first--;
        if (addr < table->symbols[first].high)
            return table->symbols[first].name;
    }
    return dwfl_module_addrname(mod, addr);
}
