#!/usr/bin/env python3
"""Golden cases: two small dumps written out below, and the exact output of each command on
them in tests/parity/golden/NAME.out, checked by hand against CPython's rules.

    golden.py --regen     rewrite the .out files from the oracle (then review every diff)

The parity suite runs each case through both build/tracemalloc and the oracle: a golden file
pins the oracle too, so neither can drift silently. Frames point at golden/app.c so that
Traceback.format() and `top` show its source lines.
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "oracle"))
import tmdump  # noqa: E402

GOLDEN = os.path.join(HERE, "golden")

# Tracebacks, most recent frame first (the raw order), with total_nframe.
ROW_1024 = ((("app.c", 12, "alloc_row"), ("app.c", 30, "build"), ("app.c", 40, "main")), 3)
ROW_2048 = ((("app.c", 12, "alloc_row"), ("app.c", 31, "build"), ("app.c", 40, "main")), 4)
WALK = ((("app.c", 20, "walk"), ("app.c", 20, "walk"), ("app.c", 40, "main")), 3)  # recursion
LIB_B = ((("lib/b.c", 5, "xalloc"),), 1)
LIB_A = ((("lib/a.c", 5, None),), 1)   # ties LIB_B in size and count; no function name
GROW = ((("lib/a.c", 9, "grow"), ("app.c", 31, "build"), ("app.c", 40, "main")), 3)

# (traceback, size, domain, how many blocks)
BEFORE = [(ROW_1024, 1024, 0, 2), (ROW_2048, 2048, 0, 1), (WALK, 100, 1, 1),
          (LIB_B, 300, 0, 1), (LIB_A, 300, 0, 1)]
# One more 1024 row, the 2048 row freed, LIB_B freed and LIB_A doubled (size_diff -300 and
# +300: a tie in abs(size_diff) that size decides), a new block in domain 2.
AFTER = [(ROW_1024, 1024, 0, 3), (WALK, 100, 1, 1), (LIB_A, 300, 0, 2), (GROW, 4096, 2, 1)]

# name: (exit status, arguments); run from the directory holding the dumps and app.c.
CASES = {
    "stats_lineno": (0, ["stats", "before.tmd"]),
    "stats_lineno_cumulative": (0, ["stats", "before.tmd", "--cumulative"]),
    "stats_filename": (0, ["stats", "before.tmd", "--by", "filename"]),
    "stats_filename_cumulative": (0, ["stats", "before.tmd", "--by", "filename", "--cumulative"]),
    "stats_traceback": (0, ["stats", "before.tmd", "--by", "traceback"]),
    "stats_traceback_csv": (0, ["stats", "before.tmd", "--by", "traceback", "--format", "csv"]),
    "stats_traceback_json": (0, ["stats", "before.tmd", "--by", "traceback", "--format", "json"]),
    "stats_traceback_cumulative_refused": (1, ["stats", "before.tmd", "--by", "traceback",
                                               "--cumulative"]),
    "stats_top_2": (0, ["stats", "before.tmd", "--top", "2"]),
    "filter_include_all_frames": (0, ["stats", "after.tmd", "--include", "lib/*",
                                      "--all-frames", "--by", "traceback"]),
    "filter_exclude_lineno": (0, ["stats", "before.tmd", "--exclude", "app.c:12"]),
    "filter_domain": (0, ["stats", "after.tmd", "--domain", "1"]),
    "filter_exclude_domain": (0, ["stats", "after.tmd", "--exclude-domain", "0", "--by",
                                  "filename"]),
    "compare_lineno": (0, ["compare", "before.tmd", "after.tmd"]),
    "compare_traceback": (0, ["compare", "before.tmd", "after.tmd", "--by", "traceback"]),
    "compare_lineno_csv": (0, ["compare", "before.tmd", "after.tmd", "--format", "csv"]),
    "compare_traceback_json": (0, ["compare", "before.tmd", "after.tmd", "--by", "traceback",
                                   "--format", "json"]),
    "compare_gate_trips": (3, ["compare", "before.tmd", "after.tmd", "--fail-over", "3071"]),
    "compare_gate_holds": (0, ["compare", "before.tmd", "after.tmd", "--fail-over", "3072"]),
    "leaks": (0, ["leaks", "after.tmd"]),
    "leaks_gate_trips": (3, ["leaks", "after.tmd", "--fail-over", "7867", "--by", "lineno"]),
    "leaks_gate_holds": (0, ["leaks", "after.tmd", "--fail-over", "7868", "--by", "lineno"]),
    "top_2": (0, ["top", "after.tmd", "2"]),
    "top_default": (0, ["top", "before.tmd"]),
}


def traces(spec):
    return [tmdump.Trace(domain, size, frames, total)
            for (frames, total), size, domain, n in spec for _ in range(n)]


def write_inputs(work):
    """Writes before.tmd, after.tmd and app.c into work."""
    os.makedirs(work, exist_ok=True)
    for name, spec in (("before", BEFORE), ("after", AFTER)):
        meta = tmdump.Meta(time_ns=1764100000000000000, pid=4242, traceback_limit=3,
                           traced_current=sum(s * n for _, s, _, n in spec), label=name)
        tmdump.write_dump(os.path.join(work, name + ".tmd"), meta, traces(spec))
    shutil.copy(os.path.join(GOLDEN, "app.c"), os.path.join(work, "app.c"))


def cases(work):
    """The golden cases as parity Cases, their inputs written into work."""
    from cases import Case
    write_inputs(work)
    out = []
    for name, (status, argv) in CASES.items():
        with open(os.path.join(GOLDEN, name + ".out"), "rb") as f:
            out.append(Case("golden %s: %s" % (name, " ".join(argv)), argv, work,
                            expected=(f.read(), status)))
    return out


def regen(work):
    import io
    import oracle
    write_inputs(work)
    os.chdir(work)
    for name, (status, argv) in CASES.items():
        out = io.BytesIO()
        got = oracle.main(argv, out, sys.stderr)
        if got != status:
            print("%s: oracle exits %d, CASES says %d" % (name, got, status))
        with open(os.path.join(GOLDEN, name + ".out"), "wb") as f:
            f.write(out.getvalue())


if __name__ == "__main__":
    if sys.argv[1:] != ["--regen"]:
        print(__doc__.splitlines()[3].strip(), file=sys.stderr)
        sys.exit(1)
    regen(os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "parity", "regen"))
