#!/usr/bin/env python3
"""The exports suite: stats --at-peak/--allocated, info's peak, export --pprof/--folded/--massif
and compare --folded, byte for byte against tests/exports/golden/, plus what other tools make of
the files and issue 6's known pattern told the same by every view.

    tests/exports/test_exports.py [--regen] [-v]

--regen rewrites the golden files from build/tracemalloc (then review every diff). The dumps are
written by tests/exports/dumps.py into build/exports/, where the work files stay. Checks:
- goldens: every new option and format, refusals included (stdout, stderr, exit status);
- pprof: decoded by pprof_decode.py (which checks the profile's invariants); with Go installed,
  `go tool pprof -raw` must give the same sums and `-top` and `-traces` must read it;
- massif: ms_print must read it and show the peak snapshot with the peak's bytes;
- the same exports of a database snapshot as of the dump it was loaded from;
- the ASan build runs every export;
- the known pattern (build/known_pattern through tracemalloc.h; tmdump's copy while the header
  writes no PEAK section): 10 MiB peak at one site, 4 MiB kept at another, 100 temporaries.
Last line: "N passed, N failed".
"""
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import dumps  # noqa: E402
import pprof_decode  # noqa: E402

GOLDEN = os.path.join(HERE, "golden")
WORK = os.path.join(ROOT, "build", "exports")
ANALYZER = os.path.join(ROOT, "build", "tracemalloc")
ASAN = os.path.join(ROOT, "build", "asan", "tracemalloc")
KNOWN = os.path.join(ROOT, "build", "known_pattern")

# name: argv, run from WORK. A file argument named OUT is replaced by a fresh path, and the
# golden shows that file (a pprof decoded by pprof_decode.py) after the command's output.
CASES = {
    "stats_at_peak": ["stats", "v2.tmd", "--at-peak"],
    "stats_at_peak_traceback": ["stats", "v2.tmd", "--at-peak", "--by", "traceback"],
    "stats_at_peak_cumulative_json": ["stats", "v2.tmd", "--at-peak", "--cumulative",
                                      "--format", "json"],
    "stats_at_peak_filename_csv": ["stats", "v2.tmd", "--at-peak", "--by", "filename",
                                   "--format", "csv"],
    "stats_allocated": ["stats", "v2.tmd", "--allocated"],
    "stats_allocated_traceback": ["stats", "v2.tmd", "--allocated", "--by", "traceback"],
    "stats_allocated_traceback_csv": ["stats", "v2.tmd", "--allocated", "--by", "traceback",
                                      "--format", "csv"],
    "stats_allocated_json": ["stats", "v2.tmd", "--allocated", "--format", "json"],
    "stats_allocated_filename_cumulative": ["stats", "v2.tmd", "--allocated", "--by",
                                            "filename", "--cumulative"],
    "stats_allocated_filter": ["stats", "v2.tmd", "--allocated", "--include", "lib/*",
                               "--all-frames", "--top", "2"],
    "stats_allocated_domain": ["stats", "v2.tmd", "--allocated", "--domain", "1",
                               "--format", "csv"],
    "stats_live_unchanged": ["stats", "v2.tmd", "--format", "csv"],
    "top_at_peak": ["top", "v2.tmd", "--at-peak"],
    "top_allocated": ["top", "v2.tmd", "3", "--allocated"],
    "info_v2": ["info", "v2.tmd"],
    "info_v1": ["info", "v1.tmd"],
    "stats_at_peak_v1_refused": ["stats", "v1.tmd", "--at-peak"],
    "stats_allocated_v1_refused": ["stats", "v1.tmd", "--allocated"],
    "stats_both_sources_refused": ["stats", "v2.tmd", "--at-peak", "--allocated"],
    "compare_at_peak_refused": ["compare", "old.tmd", "v2.tmd", "--at-peak"],
    "folded": ["export", "v2.tmd", "--folded"],
    "folded_inuse_objects": ["export", "v2.tmd", "--folded", "--value", "inuse_objects"],
    "folded_alloc_space": ["export", "v2.tmd", "--folded", "--value=alloc_space"],
    "folded_alloc_objects": ["export", "v2.tmd", "--folded", "--value", "alloc_objects"],
    "folded_peak": ["export", "v2.tmd", "--folded", "--value", "peak"],
    "folded_v1": ["export", "v1.tmd", "--folded"],
    "folded_peak_v1_refused": ["export", "v1.tmd", "--folded", "--value", "peak"],
    "folded_bad_value_refused": ["export", "v2.tmd", "--folded", "--value", "rss"],
    "export_nothing_refused": ["export", "v2.tmd"],
    "export_value_without_folded_refused": ["export", "v2.tmd", "--value", "peak"],
    "compare_folded": ["compare", "old.tmd", "v2.tmd", "--folded"],
    "compare_folded_alloc_space": ["compare", "old.tmd", "v2.tmd", "--folded", "--value",
                                   "alloc_space"],
    "compare_folded_filter": ["compare", "old.tmd", "v2.tmd", "--folded", "--exclude",
                              "lib/*", "--all-frames"],
    "compare_folded_by_refused": ["compare", "old.tmd", "v2.tmd", "--folded", "--by",
                                  "traceback"],
    "compare_folded_peak_v1_refused": ["compare", "v1.tmd", "v2.tmd", "--folded", "--value",
                                       "peak"],
    "compare_value_without_folded_refused": ["compare", "old.tmd", "v2.tmd", "--value", "peak"],
    "massif": ["export", "v2.tmd", "--massif", "-"],
    "massif_v1": ["export", "v1.tmd", "--massif", "-"],
    "pprof": ["export", "v2.tmd", "--pprof", "OUT"],
    "pprof_v1": ["export", "v1.tmd", "--pprof", "OUT"],
    "pprof_unwritable": ["export", "v2.tmd", "--pprof", "no/such/dir/x.pb.gz"],
}


class Suite:
    def __init__(self, verbose):
        self.passed, self.failures, self.verbose = 0, [], verbose

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failures.append("FAIL %s%s" % (name, ": " + detail if detail else ""))
        if self.verbose:
            print("%s %s" % ("ok  " if ok else "FAIL", name))
        return ok


def run(argv, analyzer=ANALYZER, cwd=WORK, env=None):
    proc = subprocess.run([analyzer] + argv, cwd=cwd, capture_output=True, timeout=120, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def case_output(name, argv):
    """What the golden file of a case holds: stdout, then stderr and the exit status when
    not 0, then the decoded pprof file when the case writes one."""
    out_path = os.path.join(WORK, name + ".pb.gz")
    argv = [out_path if a == "OUT" else a for a in argv]
    if os.path.exists(out_path):
        os.remove(out_path)
    status, out, err = run(argv)
    text = out.decode("utf-8", "backslashreplace")
    if err or status:
        text += "--- stderr\n%s--- exit %d\n" % (err.decode("utf-8", "backslashreplace"), status)
    if "OUT" in CASES[name] and os.path.exists(out_path):
        profile = pprof_decode.decode(out_path)
        text += "--- %s decoded\n" % os.path.basename(out_path) + pprof_decode.render(profile)
        text += "".join("problem: %s\n" % p for p in pprof_decode.check(profile))
    return text


def golden_cases(suite, regen):
    os.makedirs(GOLDEN, exist_ok=True)
    for name, argv in CASES.items():
        got = case_output(name, argv)
        path = os.path.join(GOLDEN, name + ".out")
        if regen:
            with open(path, "w", encoding="utf-8") as f:
                f.write(got)
            continue
        try:
            with open(path, encoding="utf-8") as f:
                expected = f.read()
        except OSError:
            expected = None
        detail = ""
        if got != expected:
            detail = "output differs from %s (repro: cd build/exports && ../tracemalloc %s)" % (
                os.path.relpath(path, ROOT), " ".join(argv))
        suite.check("golden " + name, got == expected, detail)


# ---- what other tools make of the files -------------------------------------------------------

def go_env():
    """Go must never download a toolchain, and its cache must be writable."""
    cache = os.path.join(ROOT, "build", "gocache")
    os.makedirs(cache, exist_ok=True)
    env = dict(os.environ, GOTOOLCHAIN="local", GOCACHE=cache, HOME=cache, GOFLAGS="",
               GOPATH=os.path.join(cache, "gopath"), GOTELEMETRY="off")
    return env


RAW_SAMPLE = re.compile(r"^\s+((?:-?\d+\s+){3}-?\d+):")


def go_raw_totals(path):
    """The sums of the samples `go tool pprof -raw` lists, in sample type order."""
    proc = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True,
                          env=go_env(), timeout=300)
    if proc.returncode != 0:
        return None, proc.stderr.decode(errors="replace")
    text = proc.stdout.decode(errors="replace")
    sums = [0, 0, 0, 0]
    for line in text.split("\n"):
        m = RAW_SAMPLE.match(line)
        if m:
            for i, v in enumerate(m.group(1).split()):
                sums[i] += int(v)
    return sums, text


def check_pprof_with_go(suite, path, expected):
    """expected: pprof_decode's totals of the same file."""
    if not shutil.which("go"):
        print("note: go is not installed; the pprof files were read by pprof_decode.py only")
        return
    sums, text = go_raw_totals(path)
    want = [expected[t] for t in ("alloc_objects", "alloc_space", "inuse_objects",
                                  "inuse_space")]
    suite.check("go tool pprof -raw %s" % os.path.basename(path), sums == want,
                "sums %r, expected %r\n%s" % (sums, want, text[-2000:] if text else ""))
    for option in ("-top", "-traces"):
        proc = subprocess.run(["go", "tool", "pprof", option, path], capture_output=True,
                              env=go_env(), timeout=300)
        suite.check("go tool pprof %s %s" % (option, os.path.basename(path)),
                    proc.returncode == 0 and b"inuse_space" in proc.stdout,
                    proc.stderr.decode(errors="replace")[-500:])


def ms_print_peak(path):
    """(peak snapshot number, its total bytes) as ms_print reports them, or None."""
    proc = subprocess.run(["ms_print", path], capture_output=True, timeout=120)
    if proc.returncode != 0:
        return None, proc.stderr.decode(errors="replace")
    text = proc.stdout.decode(errors="replace")
    peak = re.search(r"Detailed snapshots: \[([^\]]*)\]", text)
    if not peak:
        return None, text
    numbers = [n.strip() for n in peak.group(1).split(",")]
    marked = [n[:-len(" (peak)")] for n in numbers if n.endswith("(peak)")]
    if not marked:
        return None, text
    row = re.search(r"^\s*%s\s+[\d,]+\s+([\d,]+)\s" % marked[0], text, re.M)
    return (int(marked[0]), int(row.group(1).replace(",", ""))) if row else None, text


def tool_checks(suite):
    for name in ("pprof", "pprof_v1"):
        path = os.path.join(WORK, name + ".pb.gz")
        if not suite.check("%s written" % name, os.path.exists(path)):
            continue
        profile = pprof_decode.decode(path)
        suite.check("pprof_decode checks %s" % name, not pprof_decode.check(profile),
                    "; ".join(pprof_decode.check(profile)))
        check_pprof_with_go(suite, path, pprof_decode.totals(profile))
    massif = os.path.join(WORK, "v2.massif")
    status, _, err = run(["export", "v2.tmd", "--massif", massif])
    suite.check("export --massif to a file", status == 0, err.decode(errors="replace"))
    peak, text = ms_print_peak(massif)
    suite.check("ms_print shows the peak of v2.tmd", peak is not None
                and peak[1] == dumps.PEAK_SIZE, "got %r\n%s" % (peak, text[-1500:]))


def database_checks(suite):
    """Exports of a database's snapshot equal those of the dump it was loaded from."""
    db = os.path.join(WORK, "exports.db")
    if os.path.exists(db):
        os.remove(db)
    status, _, err = run(["load", db, "old.tmd", "v2.tmd"])
    if not suite.check("load old.tmd v2.tmd", status == 0, err.decode(errors="replace")):
        return
    pairs = [(["export", "exports.db", "--snapshot", "run", "--folded", "--value", "peak"],
              ["export", "v2.tmd", "--folded", "--value", "peak"]),
             (["stats", "exports.db", "--allocated", "--by", "traceback"],
              ["stats", "v2.tmd", "--allocated", "--by", "traceback"]),
             (["stats", "exports.db", "--at-peak", "--snapshot", "1"],
              ["stats", "old.tmd", "--at-peak"]),
             (["compare", "exports.db", "--folded"], ["compare", "old.tmd", "v2.tmd", "--folded"]),
             (["export", "exports.db", "--massif", "-"], ["export", "v2.tmd", "--massif", "-"])]
    for from_db, from_dump in pairs:
        a, b = run(from_db), run(from_dump)
        # The massif header names the snapshot's source, which differs by design.
        same = a[0] == b[0] == 0 and (a[1] == b[1] or from_db[-2] == "--massif"
                                      and a[1].split(b"\n")[1:] == b[1].split(b"\n")[1:])
        suite.check("database: %s" % " ".join(from_db), same,
                    (a[2] + b[2]).decode(errors="replace"))
    status, out, _ = run(["info", "exports.db"])
    suite.check("database: info shows the peak time", status == 0 and b"peak time: " in out)


def asan_checks(suite):
    if not os.access(ASAN, os.X_OK):
        suite.check("ASan build present", False, "%s is missing" % ASAN)
        return
    for argv in (["export", "v2.tmd", "--folded", "--value", "alloc_objects"],
                 ["export", "v2.tmd", "--massif", "-", "--pprof", "asan.pb.gz"],
                 ["export", "v1.tmd", "--massif", "-", "--pprof", "asan1.pb.gz"],
                 ["compare", "old.tmd", "v2.tmd", "--folded"],
                 ["stats", "v2.tmd", "--allocated", "--by", "traceback", "--format", "json"],
                 ["info", "v2.tmd"]):
        status, _, err = run(argv, analyzer=ASAN)
        suite.check("asan: " + " ".join(argv), status == 0, err.decode(errors="replace")[-2000:])


# ---- the known pattern ---------------------------------------------------------------------

MIB = 1 << 20


def known_pattern_dump(suite):
    """The dump of build/known_pattern; tmdump's copy when the header wrote no PEAK section."""
    path = os.path.join(WORK, "known.tmd")
    proc = subprocess.run([KNOWN, path], cwd=ROOT, capture_output=True, timeout=60)
    if not suite.check("known_pattern runs", proc.returncode == 0,
                       proc.stderr.decode(errors="replace")):
        return None, None
    status, out, _ = run(["info", path])
    if b"peak contents:" in out:
        return path, "tracemalloc.h"
    print("note: tracemalloc.h wrote no PEAK section: the known pattern comes from tmdump.py")
    path = os.path.join(WORK, "known_tmdump.tmd")
    dumps.write_known_pattern(path)
    return path, "tmdump.py"


def json_stats(argv):
    status, out, err = run(argv + ["--format", "json"])
    return json.loads(out) if status == 0 else err.decode(errors="replace")


def by_function(stats):
    return {s["traceback"][-1]["function"]: s for s in stats}


def folded_sum(path, value):
    status, out, _ = run(["export", path, "--folded", "--value", value])
    return sum(int(line.rsplit(b" ", 1)[1]) for line in out.splitlines()) if status == 0 else None


def known_pattern(suite):
    path, origin = known_pattern_dump(suite)
    if not path:
        return
    what = "known pattern (%s): " % origin
    peak = json_stats(["stats", path, "--at-peak"])
    suite.check(what + "--at-peak is 10 MiB in 10 blocks at phase_block",
                isinstance(peak, list) and [(s["traceback"][-1]["function"], s["size"], s["count"])
                                            for s in peak] == [("phase_block", 10 * MIB, 10)],
                repr(peak))
    alloc = json_stats(["stats", path, "--allocated"])
    expected = {"phase_block": (10 * MIB, 10, 1), "kept_block": (4 * MIB, 4, 0),
                "temporary": (6400, 100, 100)}
    got = {f: (s["size"], s["count"], s["temporaries"]) for f, s in by_function(alloc).items()} \
        if isinstance(alloc, list) else alloc
    suite.check(what + "--allocated totals and temporaries", got == expected, repr(got))
    status, out, _ = run(["sql", path, "SELECT max(traced) FROM timeline"])
    top = int(out.split()[-1]) if status == 0 and out.split()[-1].isdigit() else None
    suite.check(what + "the timeline's maximum is the peak", top == 10 * MIB, repr(out))
    pb = os.path.join(WORK, "known.pb.gz")
    status, _, err = run(["export", path, "--pprof", pb])
    if suite.check(what + "export --pprof", status == 0, err.decode(errors="replace")):
        profile = pprof_decode.decode(pb)
        totals = pprof_decode.totals(profile)
        want = {"alloc_objects": 114, "alloc_space": 14 * MIB + 6400, "inuse_objects": 4,
                "inuse_space": 4 * MIB}
        suite.check(what + "pprof sums", totals == want, repr(totals))
        check_pprof_with_go(suite, pb, totals)
    for value, want in (("inuse_space", 4 * MIB), ("inuse_objects", 4), ("peak", 10 * MIB),
                        ("alloc_space", 14 * MIB + 6400), ("alloc_objects", 114)):
        got = folded_sum(path, value)
        suite.check(what + "folded %s sums to %d" % (value, want), got == want, repr(got))
    massif = os.path.join(WORK, "known.massif")
    status, _, err = run(["export", path, "--massif", massif])
    if suite.check(what + "export --massif", status == 0, err.decode(errors="replace")):
        got, text = ms_print_peak(massif)
        suite.check(what + "ms_print's peak is 10 MiB", got is not None and got[1] == 10 * MIB,
                    "%r\n%s" % (got, text[-1500:]))
    status, out, _ = run(["info", path])
    suite.check(what + "info's peak contents", b"peak contents: 10485760 B (10.0 MiB)" in out,
                out.decode(errors="replace"))


def main(argv):
    regen = "--regen" in argv
    suite = Suite("-v" in argv)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    dumps.write_all(WORK)
    golden_cases(suite, regen)
    if regen:
        print("golden files rewritten in %s: review the diff" % os.path.relpath(GOLDEN, ROOT))
        return 0
    tool_checks(suite)
    database_checks(suite)
    asan_checks(suite)
    known_pattern(suite)
    for failure in suite.failures:
        print(failure)
    print("%d passed, %d failed" % (suite.passed, len(suite.failures)))
    return 1 if suite.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
