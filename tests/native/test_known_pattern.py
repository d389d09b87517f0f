#!/usr/bin/env python3
"""Same numbers as the trusted tools (issue 5, section 4).

tests/native/known_pattern.c allocates through helpers at several depths, makes temporaries,
leaks, and runs threads. This suite computes from the program's arguments what it leaves live on
each call path (the model below mirrors the C file), then checks
- `tracemalloc run` (fp unwinding on a frame-pointer build; dwarf and auto on a build without
  frame pointers, Debian's default; auto on the frame-pointer build): the live count and bytes
  per traceback, after the analyzer symbolized it, equal the model's; no other traceback starts
  in the program's own functions; each call path is one traceback (one stack, one traceback);
  the allocation totals per traceback (`alloc_groups`, count, bytes, temporaries) equal the model's;
- valgrind memcheck on the same program and arguments: its loss records per call path equal the
  model's, its "definitely lost" is exactly the dropped blocks, and its "in use at exit" equals the
  dump's total, libc's own blocks included. So that the process is the same, memcheck runs with
  --run-libc-freeres=no (the dump is written before libc would free its blocks) and with
  build/libtracemalloc.so preloaded but not tracing (TRACEMALLOC=0): the library's thread-local
  storage makes every thread's TLS vector, which pthread_create allocates, 16 bytes larger.
Work files stay in $TM_NATIVE_BUILD/tests/native/ (default build/). Last line: "N passed, N failed".
"""
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, os.environ.get("TM_NATIVE_BUILD", "build"))
OUT = os.path.join(BUILD, "tests", "native")
TRACEMALLOC = os.path.join(BUILD, "tracemalloc")
LIBRARY = os.path.join(BUILD, "libtracemalloc.so")

# known_pattern RECORDS LIST DEPTH APPENDS SCRATCH THREADS PER_THREAD: small enough for memcheck.
ARGS = dict(records=40, list=60, depth=9, appends=90, scratch=25, threads=3, per_thread=50)
LIMIT = 24  # above the deepest path (depth + 3 frames) and libc's frames under main

# The program's functions: a traceback whose most recent frame is one of them is the program's;
# its call path runs from there to the first root (the thread's entry).
OWN = {"xmalloc", "xcalloc", "xrealloc", "make_record", "make_list", "free_list", "discard_list",
       "leak_direct", "scratch", "nest", "builder_new", "builder_grow", "builder_append",
       "build_string", "aligned_block", "worker", "main", "touch"}
ROOTS = {"main", "worker"}
SIZEOF_BUILDER = 24  # struct builder: a pointer and two size_t (LP64)


def model(records, list, depth, appends, scratch, threads, per_thread):
    """What known_pattern.c does, per call path (most recent frame first):
    live[path] = [count, bytes] at exit; allocated[path] = [count, bytes, temporaries] since
    start, where a realloc counts as a new block (as memcheck's "total heap usage" does) and the
    block it replaces as a temporary when nothing was allocated in between (heaptrack's rule);
    lost = (count, bytes) of the blocks whose pointers are dropped."""
    live, allocated = {}, {}

    def add(table, path, *values):
        row = table.setdefault(path, [0] * len(values))
        for i, v in enumerate(values):
            row[i] += v

    def record_size(i):
        return 48 + 16 * (i % 4)

    leak = ("leak_direct", "main")
    add(live, leak, records, sum(100 + i for i in range(records)))
    add(allocated, leak, records, sum(100 + i for i in range(records)), 0)
    in_list = ("xmalloc", "make_record", "make_list", "main")
    list_bytes = sum(record_size(i) for i in range(list))
    add(live, in_list, list, list_bytes)
    add(allocated, in_list, list, list_bytes, 0)
    # The second list is freed from its head, the block made last: that first free is a
    # temporary (heaptrack's rule), the others are not.
    if list:
        add(allocated, ("xmalloc", "make_record", "make_list", "discard_list", "main"), list,
            list_bytes, 1)
    one = ("xmalloc", "make_record", "main")
    add(live, one, 1, record_size(list))
    add(allocated, one, 1, record_size(list), 0)
    main_scratch = ("xmalloc", "scratch", "main")
    if scratch:
        add(allocated, main_scratch, scratch, sum(32 + i for i in range(scratch)), scratch)
    nested = ("xcalloc",) + ("nest",) * (depth + 1) + ("main",)
    add(live, nested, 1, 3 * 40)
    add(allocated, nested, 1, 3 * 40, 0)
    new = ("xmalloc", "builder_new", "build_string", "main")
    add(live, new, 1, SIZEOF_BUILDER)
    add(allocated, new, 1, SIZEOF_BUILDER, 0)
    capacity, length, grown_to = 0, 0, []
    for _ in range(appends):
        need = length + len("word ") + 1
        grown = capacity or 16
        while grown < need:
            grown *= 2
        if grown != capacity:
            grown_to.append(grown)
        capacity = grown
        length += len("word ")
    if capacity:
        path = ("xrealloc", "builder_grow", "builder_append", "build_string", "main")
        add(live, path, 1, capacity)
        add(allocated, path, len(grown_to), sum(grown_to), len(grown_to) - 1)
    if threads and per_thread:
        sizes = [40 + 8 * ((t + i) % 3) for t in range(threads) for i in range(per_thread)]
        path = ("xmalloc", "make_record", "worker")
        add(live, path, len(sizes), sum(sizes))
        add(allocated, path, len(sizes), sum(sizes), 0)
    if threads:
        add(live, ("aligned_block", "worker"), threads, 200 * threads)
        add(allocated, ("aligned_block", "worker"), threads, 200 * threads, 0)
        if scratch:
            add(allocated, ("xmalloc", "scratch", "worker"), threads * scratch,
                threads * sum(32 + i for i in range(scratch)), threads * scratch)
    return live, allocated, (records, sum(100 + i for i in range(records)))


def call_path(functions):
    """The program's call path of a traceback (function names, most recent first), or None
    when the traceback does not start in the program (libc's own blocks)."""
    if not functions or functions[0] not in OWN:
        return None
    path = []
    for f in functions:
        path.append(f)
        if f in ROOTS:
            break
    return tuple(path)


class Suite:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok   %s" % name)
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, ": " + detail if detail else ""))
        return ok


def show(path):
    return " <- ".join(path)


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kwargs)


def sql(dump, query):
    """Rows of `tracemalloc sql DUMP QUERY` as dicts; raises with the command's error."""
    try:
        proc = run([TRACEMALLOC, "sql", dump, query, "--format", "json"])
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError("tracemalloc sql %s: %s" % (dump, e))
    if proc.returncode != 0:
        raise RuntimeError("tracemalloc sql %s: %s" % (dump, proc.stderr.strip()))
    return json.loads(proc.stdout) if proc.stdout.strip() else []


def groups_by_path(dump, table, columns):
    """Sums `columns` of `table` (groups or alloc_groups, domain 0) per call path; the rows of
    tracebacks outside the program go under None."""
    rows = sql(dump, "SELECT g.traceback AS tb, %s, tf.position AS position, fn.function AS function "
               "FROM %s g JOIN traceback_frames tf ON tf.traceback = g.traceback "
               "JOIN frame_names fn ON fn.id = tf.frame WHERE g.domain = 0 "
               "ORDER BY g.traceback, tf.position" % (", ".join("g.%s AS %s" % (c, c) for c in columns), table))
    tracebacks = {}
    for row in rows:
        entry = tracebacks.setdefault(row["tb"], ([row[c] for c in columns], []))
        entry[1].append(row["function"])
    paths, split = {}, {}
    for tb, (values, functions) in tracebacks.items():
        path = call_path(functions)
        total = paths.setdefault(path, [0] * len(columns))
        for i, v in enumerate(values):
            total[i] += v
        split.setdefault(path, []).append((tb, functions, values))
    return paths, {p: v for p, v in split.items() if p is not None and len(v) > 1}


def has_table(dump, name):
    return bool(sql(dump, "SELECT name FROM sqlite_master WHERE name = '%s'" % name))


def compare_paths(suite, label, expected, got, split=None):
    """The values per call path equal the model's; with `split` (the paths that came out as
    several tracebacks), each path is one traceback, as one call stack must be."""
    for path, values in sorted(expected.items()):
        suite.check("%s: %s" % (label, show(path)), got.get(path) == values,
                    "expected %s, got %s" % (values, got.get(path)))
    extra = {p: v for p, v in got.items() if p is not None and p not in expected}
    suite.check("%s: no other traceback starts in the program" % label, not extra,
                "; ".join("%s %s" % (show(p), v) for p, v in sorted(extra.items())))
    if split is not None:
        suite.check("%s: each call path is one traceback" % label, not split,
                    "; ".join("%s is %d tracebacks: %s" % (
                        show(p), len(v), ", ".join("#%d %s %s" % (tb, v, "<".join(str(f) for f in fns))
                                                   for tb, fns, v in v))
                              for p, v in sorted(split.items())))


def number(text):
    return int(text.replace(",", ""))


ALLOCATORS = {"malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc", "memalign",
              "valloc", "pvalloc", "reallocarray"}


def memcheck(program, argv, log):
    """Runs memcheck; returns (records per call path {path: [count, bytes]}, definitely lost
    [(path, count, bytes)], in use at exit (count, bytes)); None when it did not run."""
    env = dict(os.environ, TRACEMALLOC="0")
    if os.path.exists(LIBRARY):
        env["LD_PRELOAD"] = LIBRARY
    proc = run(["valgrind", "--run-libc-freeres=no", "--leak-check=full", "--show-leak-kinds=all",
                "--num-callers=%d" % LIMIT, "--log-file=%s" % log, program] + argv, env=env)
    if proc.returncode != 0:
        return None
    text = open(log).read()
    in_use = re.search(r"in use at exit: ([\d,]+) bytes in ([\d,]+) blocks", text)
    records, lost = {}, []
    record = re.compile(r"^==\d+== ([\d,]+) (?:\(([\d,]+) direct, [\d,]+ indirect\) )?bytes in "
                        r"([\d,]+) blocks are (.+?) in loss record")
    frame = re.compile(r"^==\d+==    (?:at|by) 0x[0-9A-F]+: (\S+) \((.*)\)$")
    current = None
    for line in text.splitlines():
        m = record.match(line)
        if m:
            size = number(m.group(2) or m.group(1))
            current = [number(m.group(3)), size, m.group(4), []]
            continue
        m = frame.match(line)
        if m and current is not None:
            # the allocator's own frames (memcheck's, ld.so's wrapper) come first: skip them
            if current[3] or m.group(1) not in ALLOCATORS:
                current[3].append(m.group(1))
            continue
        if current is not None:
            path = call_path(current[3])
            total = records.setdefault(path, [0, 0])
            total[0] += current[0]
            total[1] += current[1]
            if current[2] == "definitely lost":
                lost.append((path, current[0], current[1]))
            current = None
    return records, lost, (number(in_use.group(2)), number(in_use.group(1))) if in_use else None


def main():
    suite = Suite()
    argv = [str(ARGS[k]) for k in ("records", "list", "depth", "appends", "scratch", "threads",
                                    "per_thread")]
    live, allocated, lost = model(**ARGS)
    os.makedirs(OUT, exist_ok=True)

    in_use = None
    if shutil.which("valgrind"):
        result = memcheck(os.path.join(OUT, "known_pattern_fp"), argv, os.path.join(OUT, "memcheck.log"))
        if suite.check("memcheck runs the program", result is not None):
            records, definitely, in_use = result
            compare_paths(suite, "memcheck", live, records)
            suite.check("memcheck: definitely lost is the dropped blocks, on their path",
                        definitely == [(("leak_direct", "main"),) + lost],
                        "expected %s, got %s" % (lost, definitely))
            suite.check("memcheck: in use at exit is reported", in_use is not None)
    else:
        print("note: valgrind is not installed; memcheck's checks are skipped")

    runs = [("fp", "known_pattern_fp", "fp"), ("dwarf", "known_pattern_nofp", "dwarf"),
            ("auto", "known_pattern_nofp", "auto"), ("auto-fp", "known_pattern_fp", "auto")]
    for label, program, unwind in runs:
        dump = os.path.join(OUT, "known_pattern_%s.tmd" % label)
        if os.path.exists(dump):
            os.unlink(dump)
        name = "tracemalloc run --unwind %s -- %s" % (unwind, program)
        try:
            proc = run([TRACEMALLOC, "run", "--limit", str(LIMIT), "--unwind", unwind, "--dump", dump,
                        "--", os.path.join(OUT, program)] + argv)
        except (OSError, subprocess.TimeoutExpired) as e:
            suite.check(name, False, str(e))
            continue
        if not suite.check(name, proc.returncode == 0 and os.path.exists(dump),
                           "exit %d: %s" % (proc.returncode, proc.stderr.strip()[-400:])):
            continue
        try:
            compare_paths(suite, "%s, live" % label, live, *groups_by_path(dump, "groups", ["count", "size"]))
            if has_table(dump, "alloc_groups"):
                compare_paths(suite, "%s, allocated" % label, allocated,
                              *groups_by_path(dump, "alloc_groups", ["count", "size", "temporaries"]))
            else:
                print("note: the analyzer has no alloc_groups yet; allocation totals not checked")
            total = sql(dump, "SELECT trace_count, trace_size FROM snapshots")[0]
            if in_use is not None:
                suite.check("%s: the dump's live blocks and bytes equal memcheck's in use at exit" % label,
                            (total["trace_count"], total["trace_size"]) == in_use,
                            "dump %d blocks, %d bytes; memcheck %d blocks, %d bytes"
                            % ((total["trace_count"], total["trace_size"]) + in_use))
        except (RuntimeError, KeyError, IndexError, ValueError) as e:
            suite.check("%s: the analyzer answers" % label, False, str(e))
    print("%d passed, %d failed" % (suite.passed, suite.failed))
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
