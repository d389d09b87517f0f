#!/bin/sh
# `make demo`: runs each example of the seed document and shows what the analyzer says about the
# dump it wrote. Every command is printed ("$ ...") before it runs, so any step can be repeated by
# hand. The analyzer runs from the top directory, where it finds the examples' source lines.
# Usage: sh examples/demo.sh [BUILD]   (BUILD holds tracemalloc and examples/; default build)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
demo=$build/demo
tm=$build/tracemalloc
ex=$build/examples

# Prints a command as it could be typed (arguments with shell characters single-quoted, a quote
# inside written '\''), then runs it.
run() {
  line='$'
  for arg in "$@"; do
    case $arg in
      *[!A-Za-z0-9_./=:%-]*) line="$line '$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")'" ;;
      *) line="$line $arg" ;;
    esac
  done
  echo "$line"
  "$@"
}
step() { printf '\n== %s\n' "$*"; }
note() { printf -- '-- %s\n' "$*"; }

rm -rf "$demo"
mkdir -p "$demo"

step "1. Basic Usage (examples/basic_usage.c): the numbers list, its current and peak size, a snapshot"
run "$ex/basic_usage" "$demo"
note "snapshot.statistics('lineno'), printed by the analyzer from the dump:"
run "$tm" stats "$demo/basic_usage.tmd"

step "2. Tracking Memory Allocations by Frame (examples/by_frame.c): two lists, one helper"
run "$ex/by_frame" "$demo"
note "statistics('lineno'): both lists grow at the helper's realloc line, so they show as one"
run "$tm" stats "$demo/by_frame.tmd"
note "statistics('traceback'): each list under the caller that grew it (oldest frame first)"
run "$tm" stats "$demo/by_frame.tmd" --by traceback

step "3. Filtering Memory Allocations (examples/filter.c)"
run "$ex/filter" "$demo"
note "every trace: the list, and the list's name (strdup)"
run "$tm" stats "$demo/filter.tmd"
note "snapshot.filter_traces([Filter(True, '*numbers.h')]): only the 'numbers' list"
run "$tm" stats "$demo/filter.tmd" --include '*numbers.h'

step "4. Capturing Memory Allocations (examples/capture_top.c): the top 10"
run "$ex/capture_top" "$demo"
run "$tm" top "$demo/capture_top.tmd" 10

step "5. A test suite's dumps (examples/test_suite_dumps.c), and a dump at exit (TRACEMALLOC_DUMP)"
run env TRACEMALLOC_DUMP="$demo/exit.tmd" "$ex/test_suite_dumps" "$demo"
note "after.compare_to(before, 'lineno'): what the step added"
run "$tm" compare "$demo/before.tmd" "$demo/after.tmd"
set -- "$demo"/suite-*.tmd
note "what the test left behind after its teardown (the dump named by pid, $(basename "$1"))"
run "$tm" compare "$demo/before.tmd" "$1"
note "what was still allocated at exit: the leak, by traceback"
run "$tm" leaks "$demo/exit.tmd"
note "the same as a CI gate: any leak trips --fail-over 0, exit status 3 (expected here)"
status=0
run "$tm" leaks "$demo/exit.tmd" --fail-over 0 --by lineno || status=$?
[ "$status" -eq 3 ] || { echo "demo: expected exit status 3, got $status" >&2; exit 1; }
echo "exit status $status: the gate tripped, as it should"
note "a snapshot's metadata"
run "$tm" info "$demo/after.tmd"

step "6. Every dump in one SQLite database, and SQL on it (docs/SCHEMA.md)"
note "load prints the new snapshots' ids"
run "$tm" load "$demo/demo.db" "$demo"/*.tmd
note "statistics('lineno') of every snapshot at once"
run "$tm" sql "$demo/demo.db" "SELECT s.id, coalesce(s.label, s.source) AS snapshot, st.filename,
  st.lineno, st.size, st.count FROM statistics_lineno st JOIN snapshots s ON s.id = st.snapshot
  ORDER BY s.id, st.size DESC"

step "7. A program that was never rebuilt: Debian's sort, under the preload library (native stacks)"
seq 200000 | shuf --random-source=/dev/zero > "$demo/numbers.txt"
run "$tm" run --limit 8 --dump "$demo/sort.tmd" -- sort -n -o "$demo/sorted.txt" "$demo/numbers.txt"
note "what was live at the peak, by traceback (frames symbolized offline with elfutils)"
run "$tm" stats "$demo/sort.tmd" --at-peak --by traceback --top 1
note "every allocation since start, by line, with heaptrack's temporaries"
run "$tm" stats "$demo/sort.tmd" --allocated --top 3

step "8. Pictures and exports: one offline HTML page, pprof, collapsed stacks, massif"
run "$tm" report "$demo/sort.tmd" -o "$demo/sort.html"
run "$tm" export "$demo/sort.tmd" --pprof "$demo/sort.pb.gz"
run "$tm" export "$demo/sort.tmd" --massif "$demo/massif.out"
note "collapsed stacks of the memory allocated since start (flamegraph.pl, speedscope, inferno)"
"$tm" export "$demo/sort.tmd" --folded --value alloc_space | sort -t' ' -k2 -n -r | head -3 | cut -c1-160
echo "open $demo/sort.html in a browser; go tool pprof -top $demo/sort.pb.gz; ms_print $demo/massif.out"
