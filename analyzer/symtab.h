/* symtab.h - a module's ELF symbol table by address, for the frames DWARF cannot name.

   dwfl_module_addrname scans every symbol for each address (~90 us an address in
   libsqlite3.so's .dynsym, measured); this sorts the functions once and searches. */
#ifndef SYMTAB_H
#define SYMTAB_H

#include <elfutils/libdwfl.h>

struct symtab;

/* The function symbols of the module (its .symtab, else the debug file's, else .dynsym, as
   libdwfl picks them); NULL when out of memory. */
struct symtab *symtab_new(Dwfl_Module *mod);
void symtab_free(struct symtab *table);

/* The name of the function whose [value, value + size) holds addr; among aliases the global
   name, then the weak one, then a local one. Else what dwfl_module_addrname says (sizeless
   symbols, assembly), NULL when nothing. Valid while the module's Dwfl is. */
const char *symtab_name(struct symtab *table, Dwfl_Module *mod, GElf_Addr addr);

#endif
