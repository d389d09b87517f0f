#!/usr/bin/env python3
"""Writes the report test's dumps into DIR (tests/oracle/tmdump.py, format version 2):

  new.tmd   a run of a parser: a 10 MiB phase of chunks (parse.c) freed at 1.5 s, then a cache
            (cache.c) kept to 4 MiB at 3 s; its TIME, PEAK (the chunks live) and ALOC sections;
            file names that try to break the page (a '</script>', a byte that is not UTF-8)
  old.tmd   the same program before: a smaller cache, more strings, a 512 KiB buffer (net.c)
            since freed, so the differential graph has growth and shrinkage
  v1.tmd    new.tmd's traces as a version-1 dump: no timeline, no peak, no totals

and DIR/expected.json: the figures the page must show.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
import tmdump  # noqa: E402

KIB, MIB = 1024, 1024 * 1024
MS = 1_000_000
EVIL = "</script><script>window.__evil=1</script><!--.c"

MAIN = ("main.c", 40, "main")
RUN = ("app.c", 15, "run")
CHUNKS = (("util.c", 8, "xmalloc"), ("parse.c", 55, "read_chunk"), ("parse.c", 30, "parse_file"),
          RUN, MAIN)
CACHE = (("util.c", 8, "xmalloc"), ("cache.c", 20, "cache_put"), ("app.c", 22, "run"), MAIN)
STRINGS = (("str.c", 5, "str_dup"), ("parse.c", 60, "parse_line"), ("parse.c", 30, "parse_file"),
           RUN, MAIN)
CONFIG = (("conf.c", 12, "load_config"), ("main.c", 35, "main"))
NET = (("net.c", 77, "recv_buffer"), ("app.c", 18, "run"), MAIN)
EVIL_SITE = ((EVIL, 1, None), MAIN)
LATIN1 = ((b"caf\xe9.c".decode("utf-8", "surrogateescape"), 3, "brew"), MAIN)


def blocks(frames, count, size):
    return [tmdump.Trace(0, size, frames) for _ in range(count)]


def timeline():
    """Every 10 ms for 3 s: the chunks grow to 10 MiB by 1.2 s and are freed by 1.5 s, then
    the cache grows to 4 MiB; RSS follows with a 2 MiB base and never gives memory back."""
    samples, rss = [], 0
    for i in range(301):
        t = i * 10 * MS
        base = 200_000 + 100 * KIB  # the strings and the config, live throughout
        if t <= 1200 * MS:
            traced = base + 10 * MIB * t // (1200 * MS)
        elif t <= 1500 * MS:
            traced = base + 10 * MIB * (1500 * MS - t) // (300 * MS)
        else:
            traced = base + 4 * MIB * (t - 1500 * MS) // (1500 * MS)
        rss = max(rss, 2 * MIB + traced)
        samples.append((t, traced, rss))
    return tmdump.Timeline(start_ns=1_700_000_000_000_000_000, samples=samples)


def main(out):
    os.makedirs(out, exist_ok=True)
    new = (blocks(CACHE, 64, 64 * KIB) + blocks(STRINGS, 5000, 40) + blocks(CONFIG, 1, 100 * KIB)
           + blocks(EVIL_SITE, 3, KIB) + blocks(LATIN1, 2, 512))
    old = (blocks(CACHE, 16, 64 * KIB) + blocks(STRINGS, 8000, 40) + blocks(CONFIG, 1, 100 * KIB)
           + blocks(NET, 1, 512 * KIB))
    peak_groups = [tmdump.Group(0, CHUNKS, 160, 10 * MIB), tmdump.Group(0, STRINGS, 5000, 200_000),
                   tmdump.Group(0, CONFIG, 1, 100 * KIB)]
    peak_size = sum(g.size for g in peak_groups)
    allocated = [tmdump.Group(0, CHUNKS, 160, 10 * MIB), tmdump.Group(0, CACHE, 64, 4 * MIB),
                 tmdump.Group(0, STRINGS, 20000, 800_000, temporaries=15000),
                 tmdump.Group(0, CONFIG, 1, 100 * KIB), tmdump.Group(0, EVIL_SITE, 3, 3 * KIB),
                 tmdump.Group(0, LATIN1, 2, KIB)]
    current = sum(t.size for t in new)
    meta = tmdump.Meta(time_ns=1_700_000_003_000_000_000, pid=4242, traced_current=current,
                       traced_peak=peak_size, traceback_limit=8, label="after")
    tmdump.write_dump(os.path.join(out, "new.tmd"), meta, new, timeline=timeline(),
                      peak=tmdump.Peak(t_ns=1200 * MS, groups=peak_groups), allocated=allocated)
    old_meta = tmdump.Meta(time_ns=1_699_990_000_000_000_000, pid=4100,
                           traced_current=sum(t.size for t in old),
                           traced_peak=sum(t.size for t in old), traceback_limit=8, label="before")
    tmdump.write_dump(os.path.join(out, "old.tmd"), old_meta, old)
    tmdump.write_dump(os.path.join(out, "v1.tmd"), meta, new, version=1)
    expected = {"traced_current": current, "traced_peak": peak_size, "peak_t_ns": 1200 * MS,
                "evil": EVIL, "samples": 301, "top_site": "util.c:8"}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main(sys.argv[1])
