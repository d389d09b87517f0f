#!/usr/bin/env python3
"""Writes dumps (docs/FORMAT.md, version 1) for the analyzer's tests: good ones, and broken ones
whose breakage is exact (a count that lies under a valid CRC, a section cut short, ...).

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


class Dump:
    """A dump's contents, before encoding. Frames are (filename, lineno, function or None);
    tracebacks are (total_nframe, [frame index, ...] most recent first); traces are
    (address, size, domain, traceback index)."""

    def __init__(self, frames=(), tracebacks=(), traces=(), label=None, limit=1, pid=4242,
                 time_ns=1764100000123456789, current=None, peak=None, tracker=65536,
                 untraced=(0, 0)):
        self.strings, self.ids = [], {}
        self.frames = list(frames)
        self.tracebacks = list(tracebacks)
        self.traces = list(traces)
        self.label, self.limit, self.pid, self.time_ns = label, limit, pid, time_ns
        total = sum(t[1] for t in self.traces)
        self.current = total if current is None else current
        self.peak = self.current if peak is None else peak
        self.tracker, self.untraced = tracker, untraced

    def sid(self, text):
        if text is None:
            return NONE
        if text not in self.ids:
            self.ids[text] = len(self.strings)
            self.strings.append(text)
        return self.ids[text]

    def sections(self):
        """[(tag name, flags, payload)] of the five sections, in order."""
        frames = b"".join(struct.pack("<IIII", 0, self.sid(f), line, self.sid(fn))
                          for f, line, fn in self.frames)
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
        return [("STRS", REQUIRED, strs), ("META", REQUIRED, meta),
                ("FRMS", REQUIRED, struct.pack("<I", len(self.frames)) + frames),
                ("TBKS", REQUIRED, tbks), ("TRCS", REQUIRED, trcs)]


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
        "version2.tmd": assemble(good, version=2),
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
            "optional_section.tmd": optional, "no_traces.tmd": assemble(empty.sections())}


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
