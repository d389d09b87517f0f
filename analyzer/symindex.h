/* symindex.h - a module's DWARF by address: which unit, which function, which inlined calls
   and blocks hold an address. Built once per module, each unit's functions on first use.

   Why not libdw's own: dwfl_module_addrdie finds units through .debug_aranges only (libdw
   0.188), which clang does not write; dwarf_getscopes walks the unit's whole tree from its
   start for every address (~300 us an address in a 200 KB program, measured), where this
   walks only the function's own subtree after a binary search. */
#ifndef SYMINDEX_H
#define SYMINDEX_H

#include <elfutils/libdw.h>

struct symindex;

/* An empty index of dwarf (units are listed on the first lookup); NULL when out of memory. */
struct symindex *symindex_new(Dwarf *dwarf);
void symindex_free(struct symindex *index);

/* Finds the unit holding pc (*cu) and the DIEs holding it inside, outermost first: the
   function (DW_TAG_subprogram), then the inlined calls (DW_TAG_inlined_subroutine) and blocks
   nested in it, at most max. Returns how many are in chain: 0 when pc is in the unit but in no
   function (assembly), -1 when in no unit. */
int symindex_lookup(struct symindex *index, Dwarf_Addr pc, Dwarf_Die **cu, Dwarf_Die *chain,
                    int max);

#endif
