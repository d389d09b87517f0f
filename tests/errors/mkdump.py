#!/usr/bin/env python3
"""Writes dumps (docs/FORMAT.md, versions 1 and 2) for the analyzer's tests: good ones, and broken
ones whose breakage is exact (a count that lies under a valid CRC, a section cut short, ...).

    mkdump.py DIR                 writes every dump of DUMPS below into DIR
    mkdump.py --bench OUT.tmd OUT.pickle [--traces N] [--sites S] [--files F]
                                  a large dump and the same traces as CPython's Snapshot pickle

Kept independent of tests/oracle/tmdump.py on purpose: a second, small writer catches a
misreading of FORMAT.md that one implementation shared by both sides would hide.
"""
import os
import random
import struct
import sys
import zlib

MAGIC = b"\x89TMD\r\n\x1a\n"
REQUIRED = 1
NONE = 0xFFFFFFFF


def tag(name):
    return struct.unpack("<I", name.encode("ascii"))[0]


class Native:
    """A native frame of a Dump: module index (None: no module) and offset."""

    def __init__(self, module, offset):
        self.module, self.offset = module, offset


class Dump:
    """A dump's contents, before encoding. Frames are (filename, lineno, function or None) or
    Native; tracebacks are (total_nframe, [frame index, ...] most recent first); traces are
    (address, size, domain, traceback index). Version 2 adds modules (path, build_id bytes,
    bias, [(start, end, file_offset)]), timeline (start_ns, [(t_ns, traced, rss)]), peak
    (t_ns, size, [(domain, traceback index, count, size)]) and allocated ([(domain, traceback
    index, count, size, temporaries)])."""

    def __init__(self, frames=(), tracebacks=(), traces=(), label=None, limit=1, pid=4242,
                 time_ns=1764100000123456789, current=None, peak=None, tracker=65536,
                 untraced=(0, 0), version=1):
        self.strings, self.ids = [], {}
        self.frames = list(frames)
        self.tracebacks = list(tracebacks)
        self.traces = list(traces)
        self.label, self.limit, self.pid, self.time_ns = label, limit, pid, time_ns
        total = sum(t[1] for t in self.traces)
        self.current = total if current is None else current
        self.peak = self.current if peak is None else peak
        self.tracker, self.untraced = tracker, untraced
        self.version = version
        self.modules, self.timeline, self.peak_contents, self.allocated = [], None, None, None

    def sid(self, text):
        if text is None:
            return NONE
        if text not in self.ids:
            self.ids[text] = len(self.strings)
            self.strings.append(text)
        return self.ids[text]

    def frame(self, f):
        if isinstance(f, Native):
            return struct.pack("<IIQ", 1, NONE if f.module is None else f.module, f.offset)
        return struct.pack("<IIII", 0, self.sid(f[0]), f[1], self.sid(f[2]))

    def module(self, m):
        path, build_id, bias, ranges = m
        return (struct.pack("<II", self.sid(path), len(build_id)) + build_id
                + struct.pack("<QI", bias, len(ranges))
                + b"".join(struct.pack("<QQQ", *r) for r in ranges))

    def sections(self):
        """[(tag name, flags, payload)] of the sections, in order."""
        frames = b"".join(self.frame(f) for f in self.frames)
        mods = struct.pack("<I", len(self.modules)) + b"".join(self.module(m) for m in self.modules)
        label = self.sid(self.label)
        strs = struct.pack("<I", len(self.strings)) + b"".join(
            struct.pack("<I", len(s.encode())) + s.encode() for s in self.strings)
        meta = struct.pack("<QQQQQQQII", self.time_ns, self.pid, self.current, self.peak,
                           self.tracker, self.untraced[0], self.untraced[1], self.limit, label)
        tbks = struct.pack("<I", len(self.tracebacks)) + b"".join(
            struct.pack("<II", total, len(ids)) + struct.pack("<%dI" % len(ids), *ids)
            for total, ids in self.tracebacks)
        trcs = struct.pack("<Q", len(self.traces)) + b"".join(
            struct.pack("<QQII", *t) for t in self.traces)
        out = [("STRS", REQUIRED, strs), ("META", REQUIRED, meta)]
        if self.version >= 2:
            out.append(("MODS", REQUIRED, mods))
        out += [("FRMS", REQUIRED, struct.pack("<I", len(self.frames)) + frames),
                ("TBKS", REQUIRED, tbks), ("TRCS", REQUIRED, trcs)]
        if self.timeline:
            start, samples = self.timeline
            out.append(("TIME", 0, struct.pack("<QII", start, len(samples), 0) + b"".join(
                struct.pack("<QQQ", *s) for s in samples)))
        if self.peak_contents:
            t_ns, size, entries = self.peak_contents
            out.append(("PEAK", 0, struct.pack("<QQII", t_ns, size, len(entries), 0) + b"".join(
                struct.pack("<IIQQ", *e) for e in entries)))
        if self.allocated is not None:
            out.append(("ALOC", 0, struct.pack("<II", len(self.allocated), 0) + b"".join(
                struct.pack("<IIQQQ", *e) for e in self.allocated)))
        return out


def section(name, flags, payload, length=None):
    raw = name.encode("latin-1") if isinstance(name, str) else name
    return raw + struct.pack("<IQ", flags, len(payload) if length is None else length) + payload


def assemble(sections, version=1, header_flags=0):
    """The bytes of a dump: header, sections, and the end section with a correct CRC."""
    body = MAGIC + struct.pack("<II", version, header_flags)
    body += b"".join(section(*s) for s in sections)
    body += b"END " + struct.pack("<IQ", 0, 4)
    return body + struct.pack("<I", zlib.crc32(body))


def small():
    """Three call sites in two files, two domains, one multi-frame traceback."""
    frames = [("a.c", 12, "main"), ("a.c", 40, "main"), ("lib/b.c", 7, "xalloc"),
              ("a.c", 30, None)]
    tracebacks = [(1, [0]), (3, [2, 1, 3])]
    traces = [(0x1000, 1024, 0, 0), (0x2000, 1024, 0, 0), (0x3000, 100, 0, 1),
              (0x3000, 50, 7, 1)]
    return Dump(frames, tracebacks, traces, label="small", limit=3, peak=4096, untraced=(1, 64))


def native(**changes):
    """Version 2: a module without debug information (it is not on disk), native frames (one
    in no module) called from a source frame, the timeline, the peak's contents and the
    allocation totals; traceback 2 is only in PEAK and ALOC (its blocks were all freed)."""
    frames = [("app.c", 10, "main"), Native(0, 0x1a2b), Native(None, 0x401000), Native(0, 0x2000)]
    tracebacks = [(1, [0]), (4, [1, 2, 0]), (2, [3, 0])]
    traces = [(0x1000, 300, 0, 1), (0x2000, 200, 0, 1), (0x3000, 64, 0, 0)]
    d = Dump(frames, tracebacks, traces, label="native", limit=3, peak=1000, version=2,
             time_ns=1764100000030000000)
    d.modules = [("/nonexistent/demo/libdemo.so", bytes.fromhex("5eed0001"), 0x7f0000000000,
                  [(0x7f0000000000, 0x7f0000010000, 0), (0x7f0000010000, 0x7f0000012000, 0x10000)])]
    d.timeline = (1764100000000000000, [(0, 0, 1 << 20), (10000000, 600, 2 << 20),
                                        (20000000, 1000, 3 << 20), (30000000, 564, 3 << 20)])
    d.peak_contents = (20000000, 1000, [(0, 1, 3, 900), (0, 2, 1, 36), (0, 0, 1, 64)])
    d.allocated = [(0, 1, 10, 3000, 4), (0, 2, 5, 180, 5), (0, 0, 1, 64, 0)]
    for name, value in changes.items():
        setattr(d, name, value)
    return d


def broken_v2_dumps():
    """name -> bytes of a version-2 dump that breaks one rule of what version 2 added."""
    good = native().sections()
    module = native().modules[0]

    def with_module(**fields):
        path, build_id, bias, ranges = module
        m = (fields.get("path", path), fields.get("build_id", build_id), bias,
             fields.get("ranges", ranges))
        return assemble(native(modules=[m]).sections(), version=2)

    def payload(name, edit):
        return assemble([(n, f, edit(p)) if n == name else (n, f, p) for n, f, p in good],
                        version=2)
    by_name = {n: (n, f, p) for n, f, p in good}
    time_, peak = by_name["TIME"], by_name["PEAK"]
    v1_time = native(version=1, frames=[("app.c", 10, "main")] * 4, modules=[],
                     peak_contents=None, allocated=None)
    return {
        "v2_missing_mods.tmd": assemble([s for s in good if s[0] != "MODS"], version=2),
        "v1_with_mods.tmd": assemble(good, version=1),
        "time_in_v1.tmd": assemble(v1_time.sections(), version=1),
        "mods_long_build_id.tmd": with_module(build_id=b"\x01" * 65),
        "mods_no_range.tmd": with_module(ranges=[]),
        "mods_65_ranges.tmd": with_module(ranges=[(0, 1, 0)] * 65),
        "mods_bad_range.tmd": with_module(ranges=[(0x2000, 0x1000, 0)]),
        "mods_huge_count.tmd": payload("MODS", lambda p: struct.pack("<I", 0xFFFFFFFF) + p[4:]),
        "mods_bad_path.tmd": payload("MODS", lambda p: p[:4] + struct.pack("<I", 99) + p[8:]),
        "mods_cut_ranges.tmd": payload("MODS", lambda p: p[:-24]),
        "mods_left_over.tmd": payload("MODS", lambda p: p + b"xyz"),
        "native_bad_module.tmd": assemble(native(frames=[("app.c", 10, "main"), Native(5, 1),
                                                         Native(None, 2), Native(0, 3)]).sections(),
                                          version=2),
        "frame_kind_2.tmd": payload("FRMS", lambda p: p[:4] + struct.pack("<I", 2) + p[8:]),
        "time_backwards.tmd": assemble(native(timeline=(0, [(0, 0, 0), (9, 1, 1), (8, 2, 2)]))
                                       .sections(), version=2),
        "time_flags.tmd": payload("TIME", lambda p: p[:12] + struct.pack("<I", 1) + p[16:]),
        "time_count.tmd": payload("TIME", lambda p: p[:8] + struct.pack("<I", 5) + p[12:]),
        "time_after_peak.tmd": assemble([s for s in good if s[0] != "TIME"][:-1] + [time_]
                                        + good[-1:], version=2),
        "time_twice.tmd": assemble(good[:-2] + [time_] + good[-2:], version=2),
        "peak_twice.tmd": assemble(good + [peak], version=2),
        "peak_bad_traceback.tmd": assemble(native(peak_contents=(5, 1000, [
            (0, 1, 3, 900), (0, 9, 1, 36), (0, 0, 1, 64)])).sections(), version=2),
        "peak_duplicate.tmd": assemble(native(peak_contents=(5, 1000, [
            (0, 1, 3, 900), (0, 2, 1, 36), (0, 1, 1, 64)])).sections(), version=2),
        "peak_size_mismatch.tmd": assemble(native(peak_contents=(5, 999, [
            (0, 1, 3, 900), (0, 2, 1, 36), (0, 0, 1, 64)])).sections(), version=2),
        "peak_above_traced_peak.tmd": assemble(native(peak=999).sections(), version=2),
        "peak_huge_sizes.tmd": assemble(native(peak=1 << 63, peak_contents=(5, 1 << 63, [
            (0, 1, 1, 1 << 62), (0, 2, 1, 1 << 62)])).sections(), version=2),
        "aloc_bad_traceback.tmd": assemble(native(allocated=[(0, 3, 1, 1, 0)]).sections(),
                                           version=2),
        "aloc_duplicate.tmd": assemble(native(allocated=[(0, 1, 1, 1, 0), (7, 1, 1, 1, 0),
                                                         (0, 1, 1, 1, 0)]).sections(), version=2),
        "aloc_temporaries.tmd": assemble(native(allocated=[(0, 1, 10, 3000, 11)]).sections(),
                                         version=2),
        "aloc_huge_count.tmd": payload("ALOC", lambda p: struct.pack("<I", 0xFFFFFFFF) + p[4:]),
    }


def broken_dumps():
    """name -> bytes of a dump that breaks one rule."""
    good = small().sections()
    full = assemble(good)
    trcs_at = full.index(b"TRCS")
    corrupt = bytearray(full)
    corrupt[trcs_at + 30] ^= 0x40
    huge_count = [(n, f, struct.pack("<Q", 1 << 40) + p[8:]) if n == "TRCS" else (n, f, p)
                  for n, f, p in good]
    huge_strings = [(n, f, struct.pack("<I", 0xFFFFFFFF) + p[4:]) if n == "STRS" else (n, f, p)
                    for n, f, p in good]
    bad_tb = [(n, f, p[:-4] + struct.pack("<I", 9)) if n == "TRCS" else (n, f, p)
              for n, f, p in good]
    return {
        "empty.tmd": b"",
        "text.tmd": b"hello, this is not a dump\n",
        "short_magic.tmd": MAGIC[:5],
        "header_only.tmd": full[:16],
        "version3.tmd": assemble(good, version=3),
        "header_flags.tmd": assemble(good, header_flags=4),
        "cut_in_trcs.tmd": full[:trcs_at + 16 + 20],
        "cut_in_header_of_section.tmd": full[:trcs_at + 7],
        "cut_before_end.tmd": full[:-20],
        "cut_in_crc.tmd": full[:-2],
        "corrupt_byte.tmd": bytes(corrupt),
        "trailing_garbage.tmd": full + b"\0" * 5,
        "huge_trace_count.tmd": assemble(huge_count),
        "huge_string_count.tmd": assemble(huge_strings),
        "bad_traceback_id.tmd": assemble(bad_tb),
        "unknown_required.tmd": assemble(good[:2] + [("XTRA", REQUIRED, b"1234")] + good[2:]),
        "missing_section.tmd": assemble(good[:4]),
        "duplicate_section.tmd": assemble(good[:2] + good[1:]),
        "out_of_order.tmd": assemble([good[1], good[0]] + good[2:]),
        "meta_short.tmd": assemble([(n, f, p[:60]) if n == "META" else (n, f, p)
                                    for n, f, p in good]),
        "frame_kind.tmd": assemble([(n, f, p[:4] + struct.pack("<I", 1) + p[8:])
                                    if n == "FRMS" else (n, f, p) for n, f, p in good]),
        "zero_limit.tmd": assemble([(n, f, p[:56] + struct.pack("<I", 0) + p[60:])
                                    if n == "META" else (n, f, p) for n, f, p in good]),
        **broken_v2_dumps(),
    }


def good_dumps():
    """name -> bytes of a valid dump."""
    base = small()
    other = small()
    other.label = "later"
    other.traces = base.traces[1:] + [(0x5000, 4000, 0, 1), (0x6000, 8, 0, 0)]
    other.current = sum(t[1] for t in other.traces)
    good = base.sections()
    optional = assemble(good[:3] + [("XTRA", 0, b"ignored")] + good[3:])
    empty = Dump([("a.c", 1, None)], [(1, [0])], [], label=None, limit=1)
    return {"small.tmd": assemble(good), "later.tmd": assemble(other.sections()),
            "optional_section.tmd": optional, "no_traces.tmd": assemble(empty.sections()),
            "native.tmd": assemble(native().sections(), version=2)}


def bench(out_tmd, out_pickle, ntraces, nsites, nfiles):
    """ntraces blocks over nsites call sites in nfiles files, as the issue's benchmark."""
    import pickle
    import tracemalloc
    rng = random.Random(1)
    sites = [("src/file%02d.c" % (i % nfiles), 10 + i // nfiles, "f%d" % i) for i in range(nsites)]
    d = Dump(sites, [(1, [i]) for i in range(nsites)], limit=1)
    d.traces = [(0x10000 + 16 * i, rng.randrange(1, 4096), 0, rng.randrange(nsites))
                for i in range(ntraces)]
    d.current = d.peak = sum(t[1] for t in d.traces)
    with open(out_tmd, "wb") as f:
        f.write(assemble(d.sections()))
    frames = [((f, line),) for f, line, _ in sites]
    raw = [(dom, size, frames[tb], 1) for _, size, dom, tb in d.traces]
    with open(out_pickle, "wb") as f:
        pickle.dump(tracemalloc.Snapshot(raw, 1), f, pickle.HIGHEST_PROTOCOL)


def main(argv):
    if argv and argv[0] == "--bench":
        opts = dict(zip(argv[3::2], argv[4::2]))
        bench(argv[1], argv[2], int(opts.get("--traces", 1000000)),
              int(opts.get("--sites", 5000)), int(opts.get("--files", 50)))
        return 0
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    for name, data in {**good_dumps(), **broken_dumps()}.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
