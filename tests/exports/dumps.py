"""The dumps the export tests read, written with tests/oracle/tmdump.py.

v2.tmd   a snapshot with all of version 2's optional sections: multi-frame tracebacks, two
         domains, recursion, a frame without a function, a file name with ';' and '#' (the
         folded and massif formats must not break on them), tracebacks that only the peak or
         only the allocation totals know, entries under massif's 1% threshold
old.tmd  an earlier snapshot of the same program, for compare --folded
v1.tmd   the live blocks of v2.tmd in format version 1: no timeline, peak or totals
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "oracle"))
import tmdump  # noqa: E402
from tmdump import Group, Meta, Peak, Timeline, Trace  # noqa: E402

MAIN = ("app.c", 40, "main")
BUILD = ("app.c", 30, "build")
ROW = (("app.c", 12, "alloc_row"), BUILD, MAIN)
PARSE = (("lib/parse.c", 7, "parse"), BUILD, MAIN)
RAW = (("lib/raw.c", 3, None), MAIN)                      # no function name
WALK = (("app.c", 20, "walk"), ("app.c", 20, "walk"), MAIN)  # recursion
ODD = (("odd;name#1.c", 5, "odd"), MAIN)
SCRATCH = (("app.c", 50, "scratch"), MAIN)                # freed before the end
TEMP = (("app.c", 60, "tmp"), BUILD, MAIN)                # only temporaries
TINY1 = (("lib/tiny.c", 1, "tiny"), MAIN)                 # under 1% of the peak
TINY2 = (("lib/tiny.c", 2, "tiny"), MAIN)

START_NS = 1_700_000_000_000_000_000
MS = 1_000_000

# (frames, domain, size, how many) of the live blocks.
LIVE = [(ROW, 0, 1024, 3), (PARSE, 0, 4096, 1), (RAW, 0, 100, 2), (WALK, 1, 300, 1),
        (ODD, 0, 50, 1)]
LIVE_SIZE = sum(size * n for _, _, size, n in LIVE)        # 7718
PEAK = [Group(0, ROW, 10, 10240), Group(0, SCRATCH, 1, 20000), Group(0, PARSE, 1, 4096),
        Group(0, RAW, 1, 100), Group(0, TINY1, 3, 30), Group(0, TINY2, 1, 20)]
PEAK_SIZE = sum(g.size for g in PEAK)                      # 34486
ALLOCATED = [Group(0, ROW, 12, 12288), Group(0, SCRATCH, 5, 100000, temporaries=4),
             Group(0, PARSE, 2, 8192, temporaries=1), Group(0, RAW, 2, 200),
             Group(1, WALK, 1, 300), Group(0, ODD, 1, 50), Group(0, TEMP, 100, 6400, 100),
             Group(0, TINY1, 3, 30), Group(0, TINY2, 1, 20, temporaries=1)]
TRACED_PEAK = 34500
TIMELINE = [(0, 0, 1 << 20), (5 * MS, 10000, 2 << 20), (12 * MS, TRACED_PEAK, 3 << 20),
            (20 * MS, 9000, 3 << 20), (31 * MS, LIVE_SIZE, 3 << 20)]


def traces(live):
    return [Trace(domain, size, frames) for frames, domain, size, n in live for _ in range(n)]


def write_all(work):
    """Writes the three dumps into work."""
    live = traces(LIVE)
    tmdump.write_dump(
        os.path.join(work, "v2.tmd"),
        Meta(time_ns=START_NS + 31 * MS, pid=4242, traced_current=LIVE_SIZE,
             traced_peak=TRACED_PEAK, traceback_limit=4, label="run"),
        live,
        timeline=Timeline(START_NS, TIMELINE),
        peak=Peak(t_ns=11_500_000, groups=PEAK),
        allocated=ALLOCATED)
    tmdump.write_dump(
        os.path.join(work, "v1.tmd"),
        Meta(time_ns=START_NS + 31 * MS, pid=4242, traced_current=LIVE_SIZE,
             traced_peak=TRACED_PEAK, traceback_limit=4, label="run"),
        live, version=1)
    old_live = [(ROW, 0, 1024, 1), (PARSE, 0, 4096, 2), (SCRATCH, 0, 500, 1)]
    old_size = sum(size * n for _, _, size, n in old_live)
    tmdump.write_dump(
        os.path.join(work, "old.tmd"),
        Meta(time_ns=START_NS + 10 * MS, pid=4242, traced_current=old_size,
             traced_peak=old_size, traceback_limit=4, label="early"),
        traces(old_live),
        timeline=Timeline(START_NS, [(0, 0, 1 << 20), (10 * MS, old_size, 2 << 20)]),
        peak=Peak(t_ns=10 * MS, groups=[Group(0, ROW, 1, 1024), Group(0, PARSE, 2, 8192),
                                        Group(0, SCRATCH, 1, 500)]),
        allocated=[Group(0, ROW, 1, 1024), Group(0, PARSE, 2, 8192), Group(0, SCRATCH, 1, 500),
                   Group(0, TEMP, 10, 640, 10)])


# The known pattern of issue 6, as tmdump writes it when the header cannot (yet): 100
# temporaries of 64 bytes, a 10 MiB phase at one site (ten 1 MiB blocks) freed, then 4 MiB
# kept at another. known_pattern.c makes the same calls through tracemalloc.h.
MIB = 1 << 20
SITE_T = (("known_pattern.c", 0, "temporary"),)
SITE_A = (("known_pattern.c", 0, "phase_block"),)
SITE_B = (("known_pattern.c", 0, "kept_block"),)


def write_known_pattern(path):
    tmdump.write_dump(
        path,
        Meta(time_ns=START_NS + 40 * MS, pid=1, traced_current=4 * MIB, traced_peak=10 * MIB,
             traceback_limit=1, label="known pattern"),
        [Trace(0, MIB, SITE_B) for _ in range(4)],
        timeline=Timeline(START_NS, [(0, 0, 0)] + [(i * MS, i * MIB, 0) for i in range(1, 11)]
                          + [(20 * MS, 0, 0)] + [(20 * MS + i * MS, i * MIB, 0)
                                                 for i in range(1, 5)]),
        peak=Peak(t_ns=10 * MS, groups=[Group(0, SITE_A, 10, 10 * MIB)]),
        allocated=[Group(0, SITE_T, 100, 6400, 100), Group(0, SITE_A, 10, 10 * MIB, 1),
                   Group(0, SITE_B, 4, 4 * MIB)])
