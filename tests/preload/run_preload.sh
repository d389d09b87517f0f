#!/bin/sh
# build/libtracemalloc.so and `tracemalloc run` on real programs: Debian's sqlite3, python3, git
# and sort, and tests/preload/prog.c (threads, fork in a thread, exit from a thread, _exit, exec,
# every function of the malloc family). Each program must behave exactly as without the library
# (stdout, stderr, exit status), and leave dumps the analyzer reads, holding the blocks the
# program is known to keep. Then the snapshot signal (USR2, another one, none, the program's own
# handler, an ignored signal, a forked child) and `tracemalloc run`.
# Last line: "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
root=$PWD
. tests/examples/check.sh
make_build=${TM_PRELOAD_BUILD:-build}
case $make_build in /*) build=$make_build ;; *) build=$PWD/$make_build ;; esac
lib=$build/libtracemalloc.so
tm=$build/tracemalloc
prog=$build/tests/preload/prog
work=$build/tests/preload/work
python=/usr/bin/python3
[ -x "$python" ] || python=python3 # Debian's, not a pyenv shim (a shell script) when there is one
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
# The suite's own environment must not trace or configure anything.
unset LD_PRELOAD TRACEMALLOC TRACEMALLOC_DUMP TRACEMALLOC_UNWIND TRACEMALLOC_SIGNAL

say() { echo "  $*"; return 1; }

# traced NAME INPUT CMD...: CMD with INPUT as stdin, untraced then under the library (dumps to
# NAME-<pid>.tmd): same stdout, stderr and status, and at least one dump, each one readable.
traced() {
  name=$1 input=$2
  shift 2
  "$@" <"$input" >"$name.out0" 2>"$name.err0"
  status0=$?
  LD_PRELOAD=$lib TRACEMALLOC_DUMP=$work/$name-%p.tmd "$@" <"$input" >"$name.out1" 2>"$name.err1"
  status1=$?
  [ "$status0" = "$status1" ] || say "status $status1 under the library, $status0 without" || return 1
  cmp -s "$name.out0" "$name.out1" || say "stdout differs: $(diff "$name.out0" "$name.out1" | head -5)" || return 1
  cmp -s "$name.err0" "$name.err1" || say "stderr differs: $(diff "$name.err0" "$name.err1" | head -5)" || return 1
  set -- "$name"-*.tmd
  [ -f "$1" ] || say "no dump $name-*.tmd" || return 1
  for dump; do "$tm" info "$dump" >/dev/null || return 1; done
}

# ndumps NAME: how many dumps NAME-<pid>.tmd there are.
ndumps() { find . -maxdepth 1 -name "$1-*.tmd" | wc -l; }
same() { [ "$1" = "$2" ] || say "got '$1', expected '$2'"; }
# sizes DUMP MIN MAX: "size×count" of the traces with MIN <= size <= MAX, one per line.
sizes() {
  "$tm" sql "$1" "SELECT size || 'x' || count(*) FROM traces WHERE size BETWEEN $2 AND $3
                  GROUP BY size ORDER BY size" --format csv | tail -n +2
}
# sites DUMP MIN MAX: "size@line" of those traces whose most recent frame is in prog.c.
sites() {
  "$tm" sql "$1" "SELECT size || '@' || lineno FROM trace_sites WHERE size BETWEEN $2 AND $3
                  AND filename LIKE '%/prog.c' ORDER BY size" --format csv | tail -n +2 | tr '\n' ' '
}
# line TEXT: the line of prog.c that holds TEXT.
line() { grep -n -F "$1" "$root/tests/preload/prog.c" | cut -d: -f1; }
# dump_of NAME PID[-N]: the dump of that process.
dump_of() { echo "$work/$1-$2.tmd"; }
# only_dump NAME: the one dump of NAME.
only_dump() { set -- "$1"-*.tmd; echo "$1"; }

: >empty
printf '%s\n' "CREATE TABLE t(k INTEGER, v TEXT);" \
  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)" \
  "INSERT INTO t SELECT i % 97, printf('%08d', i * 7919 % 100003) FROM n;" \
  "CREATE INDEX tv ON t(v);" \
  "SELECT k, count(*), min(v), max(v) FROM t GROUP BY k ORDER BY k LIMIT 5;" >sqlite.sql
awk 'BEGIN { srand(1); for (i = 0; i < 300000; i++) print int(rand() * 1000000000) }' >numbers.txt

# ---- real programs ------------------------------------------------------------------------------
check sqlite3_runs_as_without_the_library traced sqlite "$work/sqlite.sql" sqlite3 :memory:
check python3_runs_as_without_the_library traced python empty "$python" -c \
  'import json, collections
d = collections.Counter(json.dumps(list(range(i))) for i in range(400))
print(len(d), sum(map(len, d)))'
check python3_loading_extension_modules_runs_as_without_the_library traced dlopen empty "$python" -c \
  'import ctypes, decimal, sqlite3
ctypes.CDLL("libm.so.6")
print(sqlite3.connect(":memory:").execute("select 1+1").fetchone(), decimal.Decimal(1) / 7)'
check git_version_runs_as_without_the_library traced git empty git --version
check sort_of_a_large_file_runs_as_without_the_library traced sort empty \
  sort -n -S 1M --parallel=2 -T "$work" numbers.txt
check a_subprocess_runs_as_without_the_library traced subprocess empty "$python" -c \
  'import subprocess; subprocess.run(["ls", "/"], stdout=subprocess.DEVNULL, check=True); print("done")'
check python_and_its_exec_ed_ls_wrote_a_dump_each same "$(ndumps subprocess)" 2
# dash leaves with _exit (no exit handler runs: no dump of its own), its children with exit
check a_shell_s_children_write_their_dumps traced shell empty sh -c 'ls / >/dev/null; ls / >/dev/null; echo done'
check two_ls_two_dumps same "$(ndumps shell)" 2

# ---- prog.c: known blocks ---------------------------------------------------------------------
check every_function_of_the_malloc_family_runs traced functions empty "$prog" functions
check the_frame_pointer_unwinder_copes_with_a_program_built_without traced unwind_fp empty \
  env TRACEMALLOC_UNWIND=fp "$prog" functions
check the_dwarf_unwinder_runs traced unwind_dwarf empty env TRACEMALLOC_UNWIND=dwarf "$prog" threads
check the_dwarf_unwinder_finds_every_call_site same "$(sites "$(only_dump unwind_dwarf)" 33333 33333 | wc -w)" 400
check each_block_is_traced_at_its_requested_size same "$(sizes "$(only_dump functions)" 100000 200000 | tr '\n' ' ')" \
  "100001x1 100003x1 100005x1 100006x1 100007x1 100008x1 100009x1 100013x1 100020x1 100031x1 100032x1 "
expected=""
for call in 'malloc(100001)' 'realloc(moving, 100003)' 'reallocarray(NULL, 5, 20001)' 'memalign(64, 100006)' \
  'posix_memalign(&aligned, 64, 100007)' 'valloc(100008)' 'pvalloc(100009)' 'calloc(10, 10002)' \
  'aligned_alloc(64, 100032)'; do
  size=$(echo "$call" | sed 's/.*(\(.*\))$/\1/; s/.*, //')
  case $call in calloc*) size=100020 ;; reallocarray*) size=100005 ;; esac
  expected="$expected$size@$(line "$call") "
done
expected=$(echo "$expected" | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/^ *//')
check each_block_is_traced_at_its_call_site same "$(sites "$(only_dump functions)" 100000 200000)" "$expected"
check freed_blocks_leave_no_trace same "$(sizes "$(only_dump functions)" 4242 4242)" ""
check threads_run traced threads empty "$prog" threads
check four_threads_keep_400_blocks same "$(sizes "$(only_dump threads)" 30000 50000)" "33333x400"
check the_threads_blocks_are_traced_at_their_line same "$(sites "$(only_dump threads)" 33333 33333 | wc -w)" 400
check fork_in_a_thread_runs traced forkthread empty "$prog" fork-in-thread
check fork_in_a_thread_wrote_parent_and_child_dumps same "$(ndumps forkthread)" 2
check the_child_dump_holds_the_child_blocks same \
  "$(for d in forkthread-*.tmd; do sizes "$d" 55555 55555; done | sort | tr '\n' ' ')" "55555x10 "
check exit_from_a_thread_keeps_its_status traced exitthread empty "$prog" exit-in-thread
check exit_from_a_thread_dumps_its_blocks same "$(sizes "$(only_dump exitthread)" 60000 70000)" "66666x3"
check exec_of_a_child_runs traced exec empty "$prog" exec
check the_exec_ed_child_wrote_its_own_dump same \
  "$(for d in exec-*.tmd; do sizes "$d" 100001 100001; done | tr '\n' ' ')" "100001x1 "
# A program that embeds the header's tracker keeps it: its tm_ functions are not the library's.
[ -x "$build/examples/test_suite_dumps" ] &&
  check a_program_with_its_own_tracker_runs_as_without_the_library traced own_tracker empty \
    "$build/examples/test_suite_dumps"
# _exit runs no exit handler: no dump, and the status is kept.
LD_PRELOAD=$lib TRACEMALLOC_DUMP=$work/quick-%p.tmd "$prog" _exit >quick.out
check _exit_keeps_its_status same "$?" 5
check _exit_writes_no_dump same "$(ndumps quick)" 0
LD_PRELOAD=$lib TRACEMALLOC=0 TRACEMALLOC_DUMP=$work/off-%p.tmd "$prog" functions >/dev/null
check tracemalloc_0_traces_nothing same "$(ndumps off)" 0
LD_PRELOAD=$lib TRACEMALLOC=3 TRACEMALLOC_DUMP=$work/three-%p.tmd "$prog" functions >/dev/null
check tracemalloc_n_sets_the_traceback_limit same \
  "$("$tm" info "$(only_dump three)" | sed -n 's/^traceback limit: //p')" 3
(LD_PRELOAD=$lib "$prog" functions >/dev/null)
check without_tracemalloc_dump_the_dump_goes_to_the_current_directory same "$(ndumps tracemalloc)" 1

# ---- the snapshot signal ------------------------------------------------------------------------
# start NAME MODE [VAR=VALUE...]: prog MODE in the background under the library, stdin a fifo
# held open on descriptor 3, dumps to NAME-<pid>-<n>.tmd; waits for its first line ("ready" or
# "child PID"). Sets pid.
start() {
  name=$1 mode=$2
  shift 2
  rm -f "$name.in"
  mkfifo "$name.in"
  env LD_PRELOAD="$lib" TRACEMALLOC_DUMP="$work/$name-%p-%n.tmd" "$@" "$prog" "$mode" \
    <"$name.in" >"$name.out" 2>"$name.err" &
  pid=$!
  exec 3>"$name.in"
  for _ in $(seq 100); do [ -s "$name.out" ] && return 0; sleep 0.1; done
  say "$name: $prog $mode said nothing"
}
# finish: closes stdin and waits for the program; its status is in $?.
finish() { exec 3>&-; wait "$pid"; }
appears() { for _ in $(seq 100); do [ -f "$1" ] && return 0; sleep 0.1; done; say "no $1"; }
threads_named() { cat /proc/"$1"/task/*/comm | grep -c "^$2\$"; }
catches() { [ $(( 0x$(sed -n 's/^SigCgt:\t*//p' /proc/"$1"/status) >> ($2 - 1) & 1 )) = 1 ]; }

start usr2 wait
check the_snapshot_thread_is_named_tracemalloc same "$(threads_named "$pid" tracemalloc)" 1
kill -USR2 "$pid"
check usr2_writes_a_snapshot_while_the_program_runs appears "$(dump_of usr2 "$pid-0")"
check the_program_is_still_running kill -0 "$pid"
check the_snapshot_holds_the_live_blocks same "$(sizes "$(dump_of usr2 "$pid-0")" 12345 12345)" "12345x3"
finish
check usr2_leaves_the_program_s_read_alone same "$(cat usr2.out | tr '\n' ' ')" "ready read 0 bytes "
check the_dump_at_exit_follows_with_n appears "$(dump_of usr2 "$pid-1")"

start usr1 wait TRACEMALLOC_SIGNAL=SIGUSR1 TRACEMALLOC=5
kill -USR1 "$pid"
check tracemalloc_signal_picks_another_signal appears "$(dump_of usr1 "$pid-0")"
check the_signal_works_with_tracemalloc_n_too same \
  "$("$tm" info "$(dump_of usr1 "$pid-0")" | sed -n 's/^traceback limit: //p')" 5
finish

start none wait TRACEMALLOC_SIGNAL=none
check tracemalloc_signal_none_starts_no_thread same "$(ls /proc/"$pid"/task | wc -l)" 1
check tracemalloc_signal_none_catches_no_signal eval '! catches "$pid" 12'
finish

start own own-handler
kill -USR2 "$pid"
sleep 0.3
finish
check the_program_s_own_handler_wins same "$(tail -n 1 own.out)" "handled 1"
check no_snapshot_when_the_program_handles_the_signal same "$(ls own-*-0.tmd own-*-1.tmd 2>/dev/null | wc -l)" 1

trap '' USR2 # ignored by the parent (as nohup does with SIGHUP): stays ignored
start ignored wait
trap - USR2
check an_ignored_signal_is_not_taken eval '! catches "$pid" 12'
kill -USR2 "$pid"
sleep 0.3
check an_ignored_signal_does_not_stop_the_program kill -0 "$pid"
finish

start forked fork-wait
child=$(sed -n 's/^child //p' forked.out)
check the_forked_child_has_its_own_snapshot_thread same "$(threads_named "$child" tracemalloc)" 1
kill -USR2 "$child"
check usr2_to_a_forked_child_writes_the_child_s_snapshot appears "$(dump_of forked "$child-0")"
check the_child_snapshot_holds_the_child_blocks same "$(sizes "$(dump_of forked "$child-0")" 12346 12346)" "12346x3"
check the_parent_wrote_no_snapshot same "$(ls forked-"$pid"-*.tmd 2>/dev/null | wc -l)" 0
finish
check the_forked_child_ran_to_its_end same "$(tail -n 1 forked.out)" "child read 0 bytes"

# ---- tracemalloc run ----------------------------------------------------------------------------
"$prog" functions >run.out0
"$tm" run -- "$prog" functions >run.out1 2>run.err
check run_exits_with_the_program_s_status same "$?" 0
check run_leaves_stdout_to_the_program cmp run.out0 run.out1
check run_says_where_the_dump_is grep -q "^tracemalloc: dump: $work/tracemalloc-[0-9]*\.tmd (" run.err
check run_shows_the_top_10_tracebacks same "$(grep -c '^[^ ].*: size=.*, count=.*, average=' run.err)" 10
"$tm" run --limit 4 --unwind fp --dump "$work/custom.tmd" -- "$python" -c 'import sys; sys.exit(3)' 2>/dev/null
check run_passes_the_exit_status_on same "$?" 3
check run_writes_dump_where_told appears "$work/custom.tmd"
check run_passes_the_limit_on same "$("$tm" info custom.tmd | sed -n 's/^traceback limit: //p')" 4
"$tm" run --dump "$work/numbered-%n.tmd" -- "$prog" functions >/dev/null 2>&1
"$tm" run --dump "$work/numbered-%n.tmd" -- "$prog" functions >/dev/null 2>run_n.err
check run_with_n_reports_the_newest_dump grep -q "^tracemalloc: dump: $work/numbered-1\.tmd (" run_n.err
"$tm" run --dump=rel-%p.tmd -- "$prog" _exit >/dev/null 2>run_exit.err
check run_says_when_there_is_no_dump grep -q "^tracemalloc: no dump at $work/rel-" run_exit.err
"$tm" run -- sh -c 'kill -TERM $$' 2>run_kill.err
check run_reports_a_killing_signal_as_the_shell_does same "$?" 143
"$tm" run -- /nonexistent/prog 2>run_missing.err
check run_of_a_missing_program_exits_127 same "$?" 127
check run_of_a_missing_program_says_so same "$(cat run_missing.err)" \
  "tracemalloc: /nonexistent/prog: No such file or directory"
"$tm" run --limit 0 -- true 2>/dev/null
check run_rejects_a_bad_limit same "$?" 1
"$tm" run 2>/dev/null
check run_needs_a_program same "$?" 1
# installed: PREFIX/bin/tracemalloc finds PREFIX/lib/tracemalloc/libtracemalloc.so
mkdir -p prefix/bin prefix/lib/tracemalloc
cp "$tm" prefix/bin/ && cp "$lib" prefix/lib/tracemalloc/
prefix/bin/tracemalloc run --dump "$work/installed.tmd" -- git --version >/dev/null 2>&1
check run_finds_the_installed_library appears "$work/installed.tmd"

echo "$passed passed, $failed failed"
