#!/bin/sh
# `make install` and `make uninstall` into a directory under the build directory: the files land
# where the Makefile says (DESTDIR too), pkg-config finds tracemalloc.pc, a program built with
# nothing but `pkg-config --cflags --libs tracemalloc` is traced, and the installed analyzer reads
# its dump. Last line: "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
make_build=${TM_EXAMPLES_BUILD:-build} # as the Makefile names it
case $make_build in /*) build=$make_build ;; *) build=$PWD/$make_build ;; esac
root=$build/tests/examples/install
prefix=$root/prefix
stage=$root/stage
. tests/examples/check.sh
# The make running the tests may pass down its jobserver and flags; this one runs on its own.
submake() {
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s BUILD="$make_build" "$@" >"$root/make.log" 2>&1 ||
    { sed 's/^/  | /' "$root/make.log"; return 1; }
}
# installed DIR: every installed file is under DIR, a prefix.
installed() {
  for f in include/tracemalloc.h bin/tracemalloc share/pkgconfig/tracemalloc.pc \
    share/doc/tracemalloc/FORMAT.md share/doc/tracemalloc/SCHEMA.md share/doc/tracemalloc/OUTPUT.md; do
    [ -f "$1/$f" ] || { echo "  missing: $1/$f"; return 1; }
  done
  [ -x "$1/bin/tracemalloc" ]
}
nothing_left() {
  left=$(find "$1" -type f)
  [ -z "$left" ] || { echo "  left behind: $left"; return 1; }
}
same() { [ "$1" = "$2" ] || { echo "  got '$1', expected '$2'"; return 1; }; }
# words ARGS: the arguments, one space apart (pkg-config's spacing varies). The $(pkg-config ...)
# given to it, and to the compilers, are split into words on purpose (the SC2046 exemptions).
words() { echo "$@"; }
# builds COMPILER: the program below compiles and links with pkg-config's flags alone.
# shellcheck disable=SC2046
builds() {
  (cd "$root" && $1 -Wall -Wextra -Wpedantic -Werror -o "hello-$1" hello.c $(pkg-config --cflags --libs tracemalloc))
}
# traced COMPILER: that program runs, and the installed analyzer finds its malloc in the dump.
traced() {
  (cd "$root" && rm -f hello.tmd && "./hello-$1" && "$prefix/bin/tracemalloc" stats hello.tmd >"stats-$1") &&
    same "$(cat "$root/stats-$1")" "hello.c:$hello_line: size=100 B, count=1, average=100 B"
}

rm -rf "$root"
mkdir -p "$root"
export PKG_CONFIG_PATH="$prefix/share/pkgconfig"

check make_install_succeeds submake install PREFIX="$prefix"
check install_puts_every_file_under_prefix installed "$prefix"
# shellcheck disable=SC2046
check pkg_config_cflags_name_the_header_and_stb \
  same "$(words $(pkg-config --cflags tracemalloc))" "$(words -I"$prefix/include" $(pkg-config --cflags stb))"
# shellcheck disable=SC2046
check pkg_config_libs_are_pthread_only same "$(words $(pkg-config --libs tracemalloc))" "-pthread"
version=$(sed -n 's/^#define TM_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' tracemalloc.h | paste -sd.)
check pkg_config_version_is_the_headers same "$(pkg-config --modversion tracemalloc)" "$version"

# One file that is both the implementation and a traced user, as the header's quick start.
cat >"$root/hello.c" <<'C'
#define TRACEMALLOC_IMPLEMENTATION
#define TRACEMALLOC_OVERRIDE
#include <tracemalloc.h>

int main(void)
{
    tm_snapshot *snapshot;
    char *p;
    tm_start(1);
    p = malloc(100);
    snapshot = tm_take_snapshot();
    if (!p || !snapshot || tm_snapshot_dump(snapshot, "hello.tmd")) return 1;
    tm_snapshot_free(snapshot);
    free(p);
    tm_stop();
    return 0;
}
C
hello_line=$(grep -n 'malloc(100)' "$root/hello.c" | cut -d: -f1)
for compiler in gcc clang; do
  command -v "$compiler" >/dev/null || continue
  check "program_builds_with_pkg_config_flags_alone_$compiler" builds "$compiler"
  check "program_is_traced_and_its_dump_read_by_the_installed_analyzer_$compiler" traced "$compiler"
done

check make_uninstall_succeeds submake uninstall PREFIX="$prefix"
check uninstall_leaves_no_file nothing_left "$prefix"

check make_install_with_destdir_succeeds submake install DESTDIR="$stage" PREFIX=/opt/tracemalloc
check destdir_holds_every_file installed "$stage/opt/tracemalloc"
check destdir_is_not_written_into_the_pc_file \
  same "$(sed -n 's/^prefix=//p' "$stage/opt/tracemalloc/share/pkgconfig/tracemalloc.pc")" /opt/tracemalloc
check make_uninstall_with_destdir_succeeds submake uninstall DESTDIR="$stage" PREFIX=/opt/tracemalloc
check uninstall_with_destdir_leaves_no_file nothing_left "$stage"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
