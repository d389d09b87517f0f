#!/bin/sh
# The header's compile tests (issue 3, section 2): tracemalloc.h compiles warning-free
# (-Wall -Wextra -Wpedantic -Werror) as C99 and C11 with gcc and clang and as C++11 with g++ and
# clang++, with and without TRACEMALLOC_OVERRIDE; programs built with TRACEMALLOC_STATIC, with
# the header included twice, from C++ against a C implementation, and next to the user's own
# stb_ds build and run; half-set knobs and stb_ds before the implementation refuse to compile.
# Run from the top of the tree (make test does). Prints one line per check, then
# "N passed, N failed". Output goes to $TM_COMPILE_OUT (default build/tests/header/compile).
src=tests/header/compile
out=${TM_COMPILE_OUT:-build/tests/header/compile}
# -O2: some warnings (-Wmaybe-uninitialized) need the optimizer.
strict="-O2 -Wall -Wextra -Wpedantic -Werror -I. $(pkg-config --cflags stb)"
jobs=$(nproc 2>/dev/null || echo 2)
rm -rf "$out" && mkdir -p "$out/results" || exit 1
count=0
running=0

# check NAME COMMAND...: NAME passes when COMMAND succeeds without a word of output. Checks run
# in the background, $jobs at a time; barrier waits for all (the next ones use their output).
check() {
  count=$((count + 1))
  result="$out/results/$(printf %03d $count)"
  name=$1; shift
  ( if "$@" >"$result.log" 2>&1 && [ ! -s "$result.log" ]; then echo "PASS $name"; else echo "FAIL $name"; fi >"$result" ) &
  running=$((running + 1))
  [ "$running" -ge "$jobs" ] && barrier
}
barrier() { wait; running=0; }

# refuse NAME PATTERN COMMAND...: NAME passes when COMMAND fails with PATTERN in its output.
refuse() {
  name=$1; pattern=$2; shift 2
  check "$name" sh -c '"$@" >/dev/null 2>&1 && exit 1; "$@" 2>&1 | grep -q -- "$0"; test $? -eq 0' "$pattern" "$@"
}

for cc in gcc clang; do
  for std in c99 c11; do
    for mode in plain override; do
      def=""; [ $mode = override ] && def=-DTRACEMALLOC_OVERRIDE
      o="$out/$cc-$std-$mode"
      check "$cc -std=$std $mode: api" $cc -std=$std $strict $def -c $src/api_user.c -o "$o-api.o"
      check "$cc -std=$std $mode: implementation" $cc -std=$std $strict $def -c $src/impl_tu.c -o "$o-impl.o"
    done
  done
done
for cxx in g++ clang++; do
  for mode in plain override; do
    def=""; [ $mode = override ] && def=-DTRACEMALLOC_OVERRIDE
    o="$out/$cxx-$mode"
    check "$cxx -std=c++11 $mode: api" $cxx -std=c++11 -x c++ $strict $def -c $src/api_user.c -o "$o-api.o"
    check "$cxx -std=c++11 $mode: implementation" $cxx -std=c++11 -x c++ $strict $def -c $src/impl_tu.c -o "$o-impl.o"
  done
done
refuse "TM_RAW_REALLOC without TM_RAW_FREE is an #error" "#error" gcc -std=c11 $strict -c $src/half_knob.c -o "$out/x1.o"
refuse "implementation after stb_ds.h is an #error" "#error" gcc -std=c11 $strict -c $src/impl_after_stb_ds.c -o "$out/x2.o"

# Programs that must build, then run: each checks that it traces and exits 0.
c11="gcc -std=c11 $strict -pthread"
check "TRACEMALLOC_STATIC program builds" $c11 $src/static_tu.c -o "$out/static"
check "header included twice builds" $c11 $src/twice.c -o "$out/twice"
# The user's stb_ds code is compiled as gnu11: gcc's strict C cannot compile stb_ds's hm* macros.
check "program with its own stb_ds builds" gcc -std=gnu11 $strict -pthread \
  $src/user_stbds.c $src/user_stbds_main.c $src/impl_tu.c -o "$out/user_stbds"
# TRACEMALLOC_LIBUNWIND: libunwind unwinds native stacks. Without it, every program here links
# with the C library and pthreads alone.
unwind="$(pkg-config --cflags libunwind) -DTRACEMALLOC_LIBUNWIND"
check "gcc -std=c11 implementation with TRACEMALLOC_LIBUNWIND" gcc -std=c11 $strict $unwind -c $src/impl_tu.c -o "$out/x3.o"
check "clang -std=c99 implementation with TRACEMALLOC_LIBUNWIND" clang -std=c99 $strict $unwind -c $src/impl_tu.c -o "$out/x4.o"
check "g++ -std=c++11 implementation with TRACEMALLOC_LIBUNWIND" g++ -std=c++11 -x c++ $strict $unwind -c $src/impl_tu.c -o "$out/x5.o"
check "program with TRACEMALLOC_LIBUNWIND builds" $c11 $unwind $src/api_user.c $src/impl_tu.c -o "$out/unwind" \
  $(pkg-config --libs libunwind)
barrier
for mode in plain override; do
  def=""; [ $mode = override ] && def=-DTRACEMALLOC_OVERRIDE
  check "C99 program ($mode) links to the C implementation" gcc -std=c99 $strict $def -pthread \
    $src/api_user.c "$out/gcc-c11-plain-impl.o" -o "$out/api-c-$mode"
  check "C++ program ($mode) links to the C implementation" g++ -pthread "$out/g++-$mode-api.o" \
    "$out/gcc-c11-plain-impl.o" -o "$out/api-cxx-$mode"
done
barrier
for program in api-c-plain api-c-override api-cxx-plain api-cxx-override static twice user_stbds unwind; do
  check "$program runs and traces" "$out/$program"
done
barrier

passed=0
failed=0
for result in "$out"/results/[0-9][0-9][0-9]; do
  cat "$result"
  if grep -q '^PASS' "$result"; then passed=$((passed + 1)); else
    failed=$((failed + 1)); sed 's/^/    /' "$result.log" | head -30
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
