#!/bin/sh
# The examples (examples/*.c) as specifications: each runs, prints what the seed document's
# Python prints, writes a dump the analyzer reads, and the analyzer's answer on that dump is the
# one the example is there to show. Needs build/tracemalloc and build/examples/ (`make test`
# builds them; TM_EXAMPLES_BUILD names another build directory). Last line: "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
build=${TM_EXAMPLES_BUILD:-build}
case $build in /*) ;; *) build=$PWD/$build ;; esac
tm=$build/tracemalloc
ex=$build/examples
out=$build/tests/examples/run
suite=$out/suite
. tests/examples/check.sh
show() { sed 's/^/  | /' "$1"; }
# has FILE LINE: one line of FILE is LINE.
has() { grep -qxF -- "$2" "$1" || { echo "  expected the line: $2"; show "$1"; return 1; }; }
# matches FILE REGEX: one line of FILE matches the extended REGEX, whole.
matches() { grep -Eqx -- "$2" "$1" || { echo "  expected a line matching: $2"; show "$1"; return 1; }; }
lacks() { ! grep -qF -- "$2" "$1" || { echo "  unexpected: $2"; show "$1"; return 1; }; }
# is FILE TEXT: FILE holds TEXT and nothing else.
is() { [ "$(cat "$1")" = "$2" ] || { echo "  expected only: $2"; show "$1"; return 1; }; }
# lines_matching N FILE REGEX: N lines of FILE match REGEX.
lines_matching() {
  n=$(grep -Ec -- "$3" "$2")
  [ "$n" -eq "$1" ] || { echo "  $n lines match $3, expected $1"; show "$2"; return 1; }
}
# status_is N COMMAND...: COMMAND exits with status N.
status_is() {
  want=$1
  shift
  "$@" >/dev/null 2>&1
  got=$?
  [ "$got" -eq "$want" ] || { echo "  exit status $got, expected $want: $*"; return 1; }
}
# runs NAME: the example runs, writing NAME.tmd into $out; its output goes to $out/NAME.out.
runs() {
  if "$ex/$1" "$out" >"$out/$1.out" 2>&1 && [ -s "$out/$1.tmd" ]; then return 0; fi
  show "$out/$1.out"
  return 1
}
loads() { "$tm" load "$out/examples.db" "$@" >/dev/null; }
runs_with_dump_at_exit() { TRACEMALLOC_DUMP="$suite/exit-%p.tmd" "$ex/test_suite_dumps" "$suite" >"$suite/out" 2>&1; }
writes_its_dumps() { [ -s "$suite/before.tmd" ] && [ -s "$suite/after.tmd" ] && ls "$suite"/suite-[0-9]*-0.tmd >/dev/null; }
default_dir_is_cwd() { (cd "$out/cwd" && "$1" >/dev/null && [ -s basic_usage.tmd ]); }

rm -rf "$out"
mkdir -p "$out" "$suite" "$out/cwd"

# The line of numbers.h that reallocates: every example's list is attributed to it.
realloc_line=$(grep -n 'realloc(' examples/numbers.h | cut -d: -f1)
site="examples/numbers.h:$realloc_line"
# 1000 appends leave a list grown as CPython grows one room for 1100 ints: 4400 bytes, 4.30 KB.
list_stat="$site: size=4400 B, count=1, average=4400 B"

for name in basic_usage by_frame filter capture_top; do
  check "${name}_runs_and_writes_its_dump" runs "$name"
  check "${name}_dump_loads" loads "$out/$name.tmd"
done
for name in basic_usage filter; do
  check "${name}_prints_current_as_the_seed" has "$out/$name.out" "Current memory allocation: 4.30 KB"
  check "${name}_prints_peak_as_the_seed" has "$out/$name.out" "Peak memory allocation: 4.30 KB"
done
check by_frame_prints_current matches "$out/by_frame.out" "Current memory allocation: [0-9]+\.[0-9]{2} KB"
check by_frame_prints_peak matches "$out/by_frame.out" "Peak memory allocation: [0-9]+\.[0-9]{2} KB"

"$tm" stats "$out/basic_usage.tmd" >"$out/basic_usage.stats" 2>&1
check basic_usage_statistics_show_the_numbers_realloc_line is "$out/basic_usage.stats" "$list_stat"

"$tm" stats "$out/by_frame.tmd" >"$out/by_frame.lineno" 2>&1
check by_frame_lineno_merges_both_lists_at_the_helper \
  is "$out/by_frame.lineno" "$site: size=6480 B, count=2, average=3240 B"
"$tm" stats "$out/by_frame.tmd" --by traceback >"$out/by_frame.traceback" 2>&1
check by_frame_traceback_tells_two_callers_apart \
  lines_matching 2 "$out/by_frame.traceback" "^examples/by_frame.c:[0-9]+: size="
check by_frame_tracebacks_end_at_the_helper_s_realloc \
  lines_matching 2 "$out/by_frame.traceback" "^  File \"examples/numbers.h\", line $realloc_line\$"
check by_frame_traceback_names_copy_evens has "$out/by_frame.traceback" \
  "    if (from->items[i] % 2 == 0 && numbers_append_here(to, from->items[i])) return -1;"

"$tm" stats "$out/filter.tmd" >"$out/filter.all" 2>&1
"$tm" stats "$out/filter.tmd" --include '*numbers.h' >"$out/filter.only" 2>&1
check filter_unfiltered_has_the_name_too matches "$out/filter.all" "examples/filter.c:[0-9]+: size=8 B, count=1, average=8 B"
check filter_include_keeps_only_the_list is "$out/filter.only" "$list_stat"

"$tm" top "$out/capture_top.tmd" 10 >"$out/capture_top.top" 2>&1
check capture_top_shows_the_list_first has "$out/capture_top.top" "#1: $site: 4.3 KiB"
check capture_top_prints_no_figures_as_the_seed lacks "$out/capture_top.out" "memory allocation"

# The test suite's dumps, and the dump at exit asked for through the environment.
leak="examples/test_suite_dumps.c:$(grep -n 'summary = malloc' examples/test_suite_dumps.c | cut -d: -f1)"
check test_suite_dumps_runs runs_with_dump_at_exit
check test_suite_dumps_writes_before_after_and_one_named_by_pid writes_its_dumps
"$tm" compare "$suite/before.tmd" "$suite/after.tmd" >"$suite/compare" 2>&1
check compare_shows_the_list_growth has "$suite/compare" "$site: size=4400 B (+4400 B), count=1 (+1), average=4400 B"
check compare_shows_the_leaked_summary has "$suite/compare" "$leak: size=64 B (+64 B), count=1 (+1), average=64 B"
"$tm" compare "$suite/before.tmd" "$suite"/suite-*-0.tmd >"$suite/teardown" 2>&1
check teardown_leaves_only_the_leak is "$suite/teardown" "$leak: size=64 B (+64 B), count=1 (+1), average=64 B"
"$tm" leaks "$suite"/exit-*.tmd >"$suite/leaks" 2>&1
check leaks_at_exit_show_the_summary has "$suite/leaks" "$leak: size=64 B, count=1, average=64 B"
check leaks_at_exit_omit_the_freed_list lacks "$suite/leaks" "numbers.h"
check leaks_gate_trips_over_0 status_is 3 "$tm" leaks "$suite"/exit-*.tmd --fail-over 0
check leaks_gate_passes_at_64 status_is 0 "$tm" leaks "$suite"/exit-*.tmd --fail-over 64
check compare_gate_trips_on_growth status_is 3 "$tm" compare "$suite/before.tmd" "$suite/after.tmd" --fail-over 4095
"$tm" info "$suite/after.tmd" >"$suite/info" 2>&1
check info_shows_the_label has "$suite/info" "label: after"

check dump_goes_to_the_current_directory_by_default default_dir_is_cwd "$ex/basic_usage"

# Every dump in one database: the labels the suite gave reach SQL.
check all_dumps_load_into_one_database loads "$suite"/*.tmd
"$tm" sql "$out/examples.db" "SELECT label FROM snapshots WHERE label IS NOT NULL ORDER BY label" >"$out/labels" 2>&1
check sql_sees_the_suite_labels is "$out/labels" "label
after
before
teardown"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
