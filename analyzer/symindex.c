/* symindex.c - see symindex.h. Two sorted tables of address ranges: units (their DW_AT_ranges
   or low_pc/high_pc), and per unit its functions (every DW_TAG_subprogram with code, at the
   top level or inside namespaces and classes). */
#include "symindex.h"

#include <dwarf.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Both tables start with these two fields, so one search serves them. */
struct range {
    Dwarf_Addr low, high;
};

struct function {
    Dwarf_Addr low, high;
    Dwarf_Die die;
};

struct unit {
    Dwarf_Die cu;
    struct function *functions;
    size_t nfunction;
    int listed; /* functions listed (once, on the unit's first lookup) */
};

struct unit_range {
    Dwarf_Addr low, high;
    size_t unit;
};

struct symindex {
    Dwarf *dwarf;
    struct unit *units;
    size_t nunit;
    struct unit_range *ranges;
    size_t nrange;
    int listed;
};

/* Appends one element to a growing array; -1 when out of memory. */
static int append(void **array, size_t *n, size_t *capacity, size_t size, const void *element)
{
    if (*n == *capacity) {
        size_t grown_capacity = *capacity ? 2 * *capacity : 64;
        void *grown = realloc(*array, grown_capacity * size);
        if (!grown)
            return -1;
        *array = grown;
        *capacity = grown_capacity;
    }
    memcpy((char *)*array + *n * size, element, size);
    ++*n;
    return 0;
}

static int by_low(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->low < y->low ? -1 : x->low > y->low;
}

/* The element of a sorted table whose range holds pc, or NULL. Ranges may nest (a function's
   cold part inside another's hole), so a few before the last one starting at or below pc are
   looked at too. */
static const void *find(const void *table, size_t n, size_t size, Dwarf_Addr pc)
{
    size_t low = 0, high = n;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (((const struct range *)((const char *)table + mid * size))->low <= pc)
            low = mid + 1;
        else
            high = mid;
    }
    for (size_t i = low, back = 0; i > 0 && back < 8; i--, back++) {
        const struct range *r = (const void *)((const char *)table + (i - 1) * size);
        if (pc < r->high)
            return r;
    }
    return NULL;
}

struct symindex *symindex_new(Dwarf *dwarf)
{
    struct symindex *index = calloc(1, sizeof *index);
    if (index)
        index->dwarf = dwarf;
    return index;
}

void symindex_free(struct symindex *index)
{
    if (!index)
        return;
    for (size_t i = 0; i < index->nunit; i++)
        free(index->units[i].functions);
    free(index->units);
    free(index->ranges);
    free(index);
}

static void list_units(struct symindex *index)
{
    Dwarf_CU *cu = NULL;
    Dwarf_Die die;
    size_t unit_capacity = 0, range_capacity = 0;
    index->listed = 1;
    while (dwarf_get_units(index->dwarf, cu, &cu, NULL, NULL, &die, NULL) == 0) {
        Dwarf_Addr base, low, high;
        size_t first = index->nrange;
        for (ptrdiff_t at = 0; (at = dwarf_ranges(&die, at, &base, &low, &high)) > 0;) {
            struct unit_range r = {low, high, index->nunit};
            if (low < high &&
                append((void **)&index->ranges, &index->nrange, &range_capacity, sizeof r, &r) < 0)
                goto done;
        }
        struct unit u = {die, NULL, 0, 0};
        if (index->nrange > first &&
            append((void **)&index->units, &index->nunit, &unit_capacity, sizeof u, &u) < 0) {
            index->nrange = first;
            goto done;
        }
    }
done:
    qsort(index->ranges, index->nrange, sizeof *index->ranges, by_low);
}

/* Adds the functions with code among die's children, looking into namespaces and classes
   (C++ puts functions there) but not into functions (nested ones are found by descending). */
static void list_functions(struct unit *u, Dwarf_Die *die, size_t *capacity, int depth)
{
    Dwarf_Die child;
    if (depth > 16 || dwarf_child(die, &child) != 0)
        return;
    do {
        int tag = dwarf_tag(&child);
        if (tag == DW_TAG_subprogram) {
            Dwarf_Addr base, low, high;
            for (ptrdiff_t at = 0; (at = dwarf_ranges(&child, at, &base, &low, &high)) > 0;) {
                struct function f = {low, high, child};
                if (low < high &&
                    append((void **)&u->functions, &u->nfunction, capacity, sizeof f, &f) < 0)
                    return;
            }
        } else if (tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
                   tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
                   tag == DW_TAG_module) {
            list_functions(u, &child, capacity, depth + 1);
        }
    } while (dwarf_siblingof(&child, &child) == 0);
}

/* Descends from the function through the children holding pc: the physical nesting of
   inlined calls and blocks (what eu-addr2line -i gets from dwarf_getscopes_die). */
static int descend(Dwarf_Die *function, Dwarf_Addr pc, Dwarf_Die *chain, int max)
{
    int n = 0, found = 1;
    chain[n++] = *function;
    while (found && n < max) {
        Dwarf_Die child;
        found = 0;
        if (dwarf_child(&chain[n - 1], &child) != 0)
            break;
        do {
            int tag = dwarf_tag(&child);
            if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block ||
                 tag == DW_TAG_subprogram || tag == DW_TAG_try_block ||
                 tag == DW_TAG_catch_block || tag == DW_TAG_with_stmt) &&
                dwarf_haspc(&child, pc) == 1) {
                chain[n++] = child;
                found = 1;
            }
        } while (!found && dwarf_siblingof(&child, &child) == 0);
    }
    return n;
}

int symindex_lookup(struct symindex *index, Dwarf_Addr pc, Dwarf_Die **cu, Dwarf_Die *chain,
                    int max)
{
    if (!index->listed)
        list_units(index);
    const struct unit_range *r = find(index->ranges, index->nrange, sizeof *index->ranges, pc);
    if (!r)
        return -1;
    struct unit *u = &index->units[r->unit];
    *cu = &u->cu;
    if (!u->listed) {
        size_t capacity = 0;
        u->listed = 1;
        list_functions(u, &u->cu, &capacity, 0);
        qsort(u->functions, u->nfunction, sizeof *u->functions, by_low);
    }
    const struct function *f = find(u->functions, u->nfunction, sizeof *u->functions, pc);
    if (!f || max < 1)
        return 0;
    Dwarf_Die function = f->die;
    return descend(&function, pc, chain, max);
}
