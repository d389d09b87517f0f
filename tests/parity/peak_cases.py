"""Parity cases for `stats --at-peak`, `stats --allocated` and `top` with them: what CPython's
tracemalloc.Snapshot(raw traces, limit).statistics(...) gives when the raw traces are the dump's
PEAK or ALOC entries (tmdump.py splits each entry's count and size over raw traces, so CPython's
sums are the entry's; the oracle groups the temporaries by the same rules).

For each seed, gen.py's old/new pair becomes one version-2 dump, seedN-totals.tmd: the new
traces live, the old snapshot's groups (and half of the new-only ones) as the peak's contents,
and every group of both as the allocation totals with drawn temporaries. gen.py's tracebacks
bring its ties, recursion, domains, odd file names and missing function names along.
"""
import os
import random
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "oracle"))
import gen  # noqa: E402
import tmdump  # noqa: E402
from cases import VIEWS, Case, _Draw, view_args  # noqa: E402


def _groups(traces):
    """{(domain, frames, total_nframe): [count, size]} in first-seen order."""
    out = {}
    for t in traces:
        total = len(t.frames) if t.total_nframe is None else t.total_nframe
        key = (t.domain, t.frames, total)
        entry = out.setdefault(key, [0, 0])
        entry[0] += 1
        entry[1] += t.size
    return out


def write_totals_dump(seed, path):
    limit, old, new = gen.generate(seed)
    rng = random.Random(seed * 104729)
    old_groups, new_groups = _groups(old), _groups(new)
    peak = dict(old_groups)
    for key, value in new_groups.items():
        if key not in peak and rng.random() < 0.5:
            peak[key] = value
    allocated = {}
    for groups in (old_groups, new_groups):
        for key, (count, size) in groups.items():
            entry = allocated.setdefault(key, [0, 0])
            entry[0] += count
            entry[1] += size
    peak_size = sum(size for _, size in peak.values())
    live_size = sum(t.size for t in new)
    meta = tmdump.Meta(time_ns=1_700_000_000_000_000_000 + seed, pid=1000 + seed,
                       traced_current=live_size, traced_peak=max(peak_size, live_size) + 4096,
                       traceback_limit=limit, label="seed %d totals" % seed)
    tmdump.write_dump(
        path, meta, new,
        timeline=tmdump.Timeline(1_700_000_000_000_000_000 - 10**9,
                                 [(0, 0, 0), (10**8, peak_size, 0), (10**9, live_size, 0)]),
        peak=tmdump.Peak(10**8, [tmdump.Group(d, f, c, s, total_nframe=t)
                                 for (d, f, t), (c, s) in peak.items()]),
        allocated=[tmdump.Group(d, f, c, s, rng.randint(0, c), total_nframe=t)
                   for (d, f, t), (c, s) in allocated.items()])


def cases(work, seeds):
    """Writes each seed's totals dump into work (gen.py's directory, with its sources) and
    returns the cases, run from work."""
    out = []
    for seed in seeds:
        dump = "seed%d-totals.tmd" % seed
        write_totals_dump(seed, os.path.join(work, dump))
        argvs = []
        for source in ("--at-peak", "--allocated"):
            # Every view on the first seeds, a few on the others (the suite stays fast).
            views = VIEWS if seed <= 2 else VIEWS[seed % len(VIEWS)::9]
            argvs += [["stats", dump, source] + view_args(*view) for view in views]
            draw = _Draw(seed + 2000)
            forms = draw.filter_forms()
            for i, form in enumerate(forms if seed <= 4 else forms[seed % 2::2]):
                flags = form + (["--all-frames"] if i % 2 else [])
                argvs.append(["stats", dump, source] + flags
                             + view_args(*VIEWS[(i + seed) % len(VIEWS)]))
            argvs += [["stats", dump, source, "--top", "2"], ["top", dump, source],
                      ["top", dump, "3", source]]
        out += [Case("seed%d: %s" % (seed, shlex.join(argv)), argv, work) for argv in argvs]
    return out


def database_cases(analyzer, db_dir, work, seeds, failures):
    """--at-peak and --allocated read from a database written by `load` equal the dump's."""
    out = []
    for seed in range(1, seeds + 1, 4):
        dump = "seed%d-totals.tmd" % seed
        db = os.path.join(db_dir, "seed%d-totals.db" % seed)
        os.makedirs(db_dir, exist_ok=True)
        proc = subprocess.run([analyzer, "load", db, dump], cwd=work, capture_output=True,
                              timeout=60)
        if proc.returncode != 0:
            failures.append("FAIL load %s: exit %d: %s" % (
                dump, proc.returncode, proc.stderr.decode(errors="replace").strip()))
            continue
        for i, source in enumerate(("--at-peak", "--allocated")):
            flags = [source] + view_args(*VIEWS[(seed + 4 * i) % len(VIEWS)])
            out.append(Case("db seed%d: stats DB %s" % (seed, shlex.join(flags)),
                            ["stats", db] + flags, work, oracle_argv=["stats", dump] + flags))
    return out
