#!/usr/bin/env python3
"""Analyzer speed: `tracemalloc stats DUMP --by lineno` against CPython's Snapshot.load() +
statistics('lineno') on the same traces, side by side in one run.

    bench/analyzer_bench.py [--analyzer build/tracemalloc] [--work build/bench/analyzer]
                            [--traces 1000000] [--rounds 5]

The workload (issue 4, section 4): 1M traces over 5,000 call sites in 50 files (traceback limit
1, sizes 16..271 bytes, seeded), written once as a dump (tests/oracle/tmdump.py) and as CPython's
pickle (Snapshot.dump); both are cached in --work and rebuilt when missing.

Each round times, in turn: the analyzer on the dump (a subprocess, end to end, output to
/dev/null); CPython loading the pickle and computing statistics (in this process: interpreter
start-up is not charged to CPython); `load` of the dump into a fresh database file; `stats`
from that database. Rounds interleave the contenders so that a noisy machine slows them alike;
the best round counts. Before timing, the analyzer's statistics (csv) must equal CPython's -
a benchmark of wrong answers is worthless - else the bench exits 1.
"""
import argparse
import csv
import gc
import io
import os
import random
import statistics
import subprocess
import sys
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import tmdump  # noqa: E402

SEED = 20261125
FILES = 50
SITES = 5000
TARGET = 10.0   # the analyzer must be at least this many times faster than CPython


def workload(n):
    """n raw traces over SITES call sites in FILES files, as CPython's _get_traces gives them:
    one frames tuple per call site, shared by all its traces."""
    rng = random.Random(SEED)
    per_file = SITES // FILES
    sites = [((("src/module%02d.c" % (i // per_file), 10 + 3 * (i % per_file)),), 1)
             for i in range(SITES)]
    return [(0, rng.randint(16, 271)) + sites[rng.randrange(SITES)] for _ in range(n)]


def prepare(work, n):
    """Writes (if missing) the dump and the pickle of the workload; returns their paths."""
    os.makedirs(work, exist_ok=True)
    dump = os.path.join(work, "bench-%d.tmd" % n)
    pickle_path = os.path.join(work, "bench-%d.pickle" % n)
    if not (os.path.exists(dump) and os.path.exists(pickle_path)):
        print("writing %d traces to %s and %s ..." % (n, dump, pickle_path), flush=True)
        traces = workload(n)
        # Functions are not part of CPython's traces; the dump names one per call site.
        with_functions = [(d, s, ((f[0][0], f[0][1], "fn_%d" % f[0][1]),), t)
                          for d, s, f, t in traces]
        tmdump.write_dump(dump + ".tmp", tmdump.Meta(traceback_limit=1, label="bench"),
                          with_functions)
        os.replace(dump + ".tmp", dump)
        tracemalloc.Snapshot(traces, 1).dump(pickle_path + ".tmp")
        os.replace(pickle_path + ".tmp", pickle_path)
    return dump, pickle_path


def run_analyzer(argv, stdout=subprocess.DEVNULL):
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("bench: %s failed (exit %d): %s"
                 % (" ".join(argv), proc.returncode, proc.stderr.decode(errors="replace")))
    return elapsed, proc.stdout


def cpython_stats(pickle_path):
    start = time.perf_counter()
    stats = tracemalloc.Snapshot.load(pickle_path).statistics("lineno")
    return time.perf_counter() - start, stats


def check_same_answers(analyzer, source, expected, what):
    """The analyzer's csv statistics of source must equal CPython's, row for row, in order."""
    _, out = run_analyzer([analyzer, "stats", source, "--by", "lineno", "--format", "csv"],
                          stdout=subprocess.PIPE)
    rows = list(csv.reader(io.StringIO(out.decode())))[1:]
    got = [(int(r[0]), int(r[1]), r[2], int(r[3])) for r in rows]
    want = [(s.size, s.count, s.traceback[0].filename, s.traceback[0].lineno) for s in expected]
    if got != want:
        first = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w),
                     min(len(got), len(want)))
        sys.exit("bench: %s: the analyzer's statistics differ from CPython's at row %d: "
                 "got %r, CPython %r (%d rows vs %d)"
                 % (what, first, got[first:first + 1], want[first:first + 1],
                    len(got), len(want)))
    print("same statistics as CPython (%s): %d rows" % (what, len(got)))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--analyzer", default=os.path.join(ROOT, "build", "tracemalloc"))
    p.add_argument("--work", default=os.path.join(ROOT, "build", "bench", "analyzer"))
    p.add_argument("--traces", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    analyzer = os.path.abspath(args.analyzer)

    dump, pickle_path = prepare(args.work, args.traces)
    db = os.path.join(args.work, "bench.db")

    _, expected = cpython_stats(pickle_path)
    check_same_answers(analyzer, dump, expected, "dump")
    for path in (db, db + "-journal", db + "-wal"):
        if os.path.exists(path):
            os.remove(path)
    run_analyzer([analyzer, "load", db, dump])
    check_same_answers(analyzer, db, expected, "database")
    del expected
    gc.collect()

    times = {"analyzer stats DUMP": [], "CPython load+statistics": [],
             "analyzer load DB DUMP": [], "analyzer stats DB": []}
    for _ in range(args.rounds):
        times["analyzer stats DUMP"].append(
            run_analyzer([analyzer, "stats", dump, "--by", "lineno"])[0])
        elapsed, stats = cpython_stats(pickle_path)
        times["CPython load+statistics"].append(elapsed)
        del stats
        gc.collect()
        os.remove(db)
        times["analyzer load DB DUMP"].append(
            run_analyzer([analyzer, "load", db, dump], stdout=subprocess.PIPE)[0])
        times["analyzer stats DB"].append(
            run_analyzer([analyzer, "stats", db, "--by", "lineno"])[0])

    cpython = min(times["CPython load+statistics"])
    print("\n%d traces, %d call sites in %d files; best (median) of %d interleaved rounds;"
          " load average %.1f" % (args.traces, SITES, FILES, args.rounds, os.getloadavg()[0]))
    for name, samples in times.items():
        best = min(samples)
        print("  %-26s %8.3f s (%8.3f s)  %6.1fx CPython"
              % (name, best, statistics.median(samples), cpython / best))
    ratio = cpython / min(times["analyzer stats DUMP"])
    print("analyzer stats DUMP vs CPython: %.2fx faster (target >= %.0fx): %s"
          % (ratio, TARGET, "met" if ratio >= TARGET else "NOT MET"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
