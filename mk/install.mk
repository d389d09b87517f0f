# `make install PREFIX=/usr/local` (DESTDIR=... for a staged install): the header, the analyzer,
# the docs and a pkg-config file; `make uninstall` removes those files again. PREFIX is written
# into tracemalloc.pc, so give an absolute one.
INCLUDEDIR   = $(PREFIX)/include
BINDIR       = $(PREFIX)/bin
DOCDIR       = $(PREFIX)/share/doc/tracemalloc
# `tracemalloc run` looks for the preload library here, as ../lib/tracemalloc/ from its own bin/.
PRELOADDIR   = $(PREFIX)/lib/tracemalloc
# The header needs no library of its own: an architecture-independent .pc, in share/pkgconfig.
PKGCONFIGDIR = $(PREFIX)/share/pkgconfig
INSTALL      ?= install
INSTALL_DOCS := docs/FORMAT.md docs/SCHEMA.md docs/OUTPUT.md
TM_VERSION    = $(shell sed -n 's/^\#define TM_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' tracemalloc.h | paste -sd.)

# stb's include flags are copied in rather than `Requires: stb`: Debian's stb.pc also asks for
# -lstb, a library that is not shipped, and stb_ds needs none.
install: $(BUILD)/tracemalloc $(BUILD)/libtracemalloc.so | $(DEPS_STAMP)
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -d $(DESTDIR)$(PRELOADDIR)
	$(INSTALL) -m 644 $(BUILD)/libtracemalloc.so $(DESTDIR)$(PRELOADDIR)/libtracemalloc.so
	$(INSTALL) -m 644 tracemalloc.h $(DESTDIR)$(INCLUDEDIR)/tracemalloc.h
	$(INSTALL) -m 755 $(BUILD)/tracemalloc $(DESTDIR)$(BINDIR)/tracemalloc
	$(INSTALL) -m 644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include' '' \
	  'Name: tracemalloc' "Description: Python's tracemalloc for C (header-only)" \
	  'Version: $(TM_VERSION)' 'Cflags: -I$${includedir} $(strip $(STB_CFLAGS))' 'Libs: -pthread' \
	  > $(DESTDIR)$(PKGCONFIGDIR)/tracemalloc.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/tracemalloc.h $(DESTDIR)$(BINDIR)/tracemalloc \
	  $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(INSTALL_DOCS))) $(DESTDIR)$(PKGCONFIGDIR)/tracemalloc.pc \
	  $(DESTDIR)$(PRELOADDIR)/libtracemalloc.so
	-rmdir $(DESTDIR)$(DOCDIR) $(DESTDIR)$(PRELOADDIR) 2>/dev/null

.PHONY: install uninstall
