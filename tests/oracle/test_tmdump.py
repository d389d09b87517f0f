#!/usr/bin/env python3
"""Checks of tmdump.py itself: the oracle is only as good as its reader.

    test_tmdump.py [DUMP...]     (extra DUMPs, e.g. ones written by tracemalloc.h, must read back)

Each check is a function named for the behaviour it specifies; run() returns (name, failure or
None) pairs for the parity suite, which counts them with its own cases.
"""
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmdump  # noqa: E402

FRAMES = (("b.c", 7, "inner"), ("a.c", 3, None), ("a.c", 3, None))
TRACES = [tmdump.Trace(0, 100, FRAMES, 5, 0x10), tmdump.Trace(1, 2, FRAMES[:1], 1, 0x10),
          tmdump.Trace(0, 0, (("é \x80.c", 0, "f"),), 1, 0x20)]
META = tmdump.Meta(time_ns=1, pid=2, traced_current=3, traced_peak=4, tracemalloc_memory=5,
                   untraced_count=6, untraced_size=7, traceback_limit=3, label="run")


def sample():
    return tmdump.encode_dump(META, TRACES)


def refused(data, message_part):
    """None if parse_dump refuses data with a message containing message_part."""
    try:
        tmdump.parse_dump(data)
    except tmdump.DumpError as e:
        if message_part in str(e):
            return None
        return "refused, but with %r (expected %r)" % (str(e), message_part)
    return "accepted (expected a refusal mentioning %r)" % message_part


def reseal(body):
    """body + a valid end section: for corruptions the checksum alone would catch."""
    body += struct.pack("<IIQ", tmdump.TAG_END, 0, 4)
    return body + struct.pack("<I", zlib.crc32(body))


def check_round_trip_keeps_every_field():
    dump = tmdump.parse_dump(sample())
    if dump.meta != META:
        return "meta %r" % dump.meta
    want = [(t.domain, t.size, tuple((f[0], f[1]) for f in t.frames), t.total_nframe)
            for t in TRACES]
    if dump.raw_traces() != want:
        return "raw traces %r" % dump.raw_traces()
    if dump.function_names()[("a.c", 3)] != set():
        return "a frame without a function got one"
    return None


def check_strings_and_frames_are_interned_once():
    dump = tmdump.parse_dump(sample())
    if len(dump.strings) != len(set(dump.strings)):
        return "duplicate strings %r" % dump.strings
    return None if len(dump.frames) == 3 else "frames %r" % dump.frames


def check_truncation_is_refused():
    data = sample()
    for n in (0, 10, 36, len(data) // 2, len(data) - 1):
        failure = refused(data[:n], "")
        if failure:
            return "truncated to %d bytes: %s" % (n, failure)
    return None


def check_changed_byte_fails_the_checksum():
    data = bytearray(sample())
    data[40] ^= 1
    return refused(bytes(data), "checksum")


def check_unknown_version_names_the_known_one():
    data = bytearray(sample())
    data[8] = 3
    return refused(bytes(data), "format version 3, this reader knows 1 and 2")


def check_bad_magic_is_refused():
    return refused(b"not a dump at all, not at all" * 2, "magic")


def check_unknown_optional_section_is_skipped():
    data = tmdump.encode_dump(META, TRACES, [(tmdump.TAG_FRMS, tmdump.tag("ZZZZ"), 0, b"x")])
    dump = tmdump.parse_dump(data)
    return None if dump.skipped == [tmdump.tag("ZZZZ")] else "skipped %r" % dump.skipped


def check_unknown_required_section_is_refused():
    data = tmdump.encode_dump(META, TRACES,
                              [(tmdump.TAG_FRMS, tmdump.tag("ZZZZ"), tmdump.REQUIRED, b"")])
    return refused(data, "required section")


def check_count_beyond_the_file_is_refused():
    # A traces count of 2**40 in a file of a few hundred bytes, checksum made valid.
    data = sample()
    trcs = data.index(struct.pack("<I", tmdump.TAG_TRCS))
    body = bytearray(data[:-tmdump.END_SIZE])
    struct.pack_into("<Q", body, trcs + 16, 1 << 40)
    return refused(reseal(bytes(body)), "traces")


def check_duplicate_address_in_a_domain_is_refused():
    traces = [tmdump.Trace(0, 1, FRAMES[:1], 1, 0x10), tmdump.Trace(0, 2, FRAMES[:1], 1, 0x20)]
    data = tmdump.encode_dump(META, traces)
    body = data[:-tmdump.END_SIZE]
    # Give the second trace the first one's address (the last two 24-byte records).
    first = len(body) - 2 * tmdump.TRACE_SIZE
    body = body[:first + 24] + body[first:first + 8] + body[first + 32:]
    return refused(reseal(body), "twice")


def check_nframe_above_the_limit_is_refused():
    meta = tmdump.Meta(traceback_limit=3)
    data = tmdump.encode_dump(meta, [tmdump.Trace(0, 1, FRAMES, 3, 0x10)])
    body = bytearray(data[:-tmdump.END_SIZE])
    meta_at = data.index(struct.pack("<I", tmdump.TAG_META)) + 16
    struct.pack_into("<I", body, meta_at + 56, 2)    # limit 2 < nframe 3
    return refused(reseal(bytes(body)), "limit")


LIBC = tmdump.Module("/lib/libc.so.6", bytes.fromhex("00ff12"), 0x7f0000000000,
                     ((0x7f0000000000, 0x7f0000200000, 0), (0x7f0000300000, 0x7f0000301000, 0x300000)))
NATIVE = (tmdump.Native(LIBC, 0x1234), tmdump.Native(None, 0xdeadbeef), ("a.c", 3, "main"))
V2_META = tmdump.Meta(traceback_limit=3, traced_peak=300, label="v2")


def v2_sample(**changes):
    args = dict(modules=[tmdump.Module("/unused.so")],
                timeline=tmdump.Timeline(1000, [(0, 0, 4096), (5, 64, 8192), (5, 10, 8192)]),
                peak=tmdump.Peak(3, [tmdump.Group(0, NATIVE, 2, 200),
                                     tmdump.Group(7, NATIVE, 1, 100)]),
                allocated=[tmdump.Group(0, NATIVE, 10, 640, 3),
                           tmdump.Group(0, FRAMES[:1], 1, 5, 0, total_nframe=9)])
    args.update(changes)
    return tmdump.encode_dump(V2_META, [tmdump.Trace(0, 64, NATIVE, 4, 0x10)], **args)


def check_version_2_round_trip_keeps_every_section():
    dump = tmdump.parse_dump(v2_sample())
    if dump.version != 2 or dump.modules != [tmdump.Module("/unused.so"), LIBC]:
        return "version %r, modules %r" % (dump.version, dump.modules)
    if dump.frames[:2] != list(NATIVE[:2]):
        return "frames %r" % dump.frames
    if dump.timeline != tmdump.Timeline(1000, [(0, 0, 4096), (5, 64, 8192), (5, 10, 8192)]):
        return "timeline %r" % dump.timeline
    if dump.peak != tmdump.PeakRecord(3, 300, [(0, 1, 2, 200), (7, 1, 1, 100)]):
        return "peak %r" % dump.peak
    if dump.allocated != [(0, 1, 10, 640, 3), (0, 2, 1, 5, 0)]:
        return "allocated %r" % dump.allocated
    return None


def check_native_frames_read_as_the_analyzer_names_them_without_debug_info():
    dump = tmdump.parse_dump(v2_sample())
    want = [(0, 64, (("libc.so.6+0x1234", 0), ("0xdeadbeef", 0), ("a.c", 3)), 4)]
    return None if dump.raw_traces() == want else "raw traces %r" % dump.raw_traces()


def check_inlined_frames_expand_a_traceback():
    dump = tmdump.parse_dump(v2_sample())

    def symbolize(module, offset):
        return [("in.h", 1, "inner"), ("x.c", 2, "outer")] if module else [("?", 0, None)]
    want = [(0, 64, (("in.h", 1), ("x.c", 2), ("?", 0), ("a.c", 3)), 5)]
    return None if dump.raw_traces(symbolize) == want else "%r" % dump.raw_traces(symbolize)


def check_peak_and_allocated_read_as_raw_traces_with_their_sums():
    dump = tmdump.parse_dump(v2_sample())
    peak, allocated = dump.peak_raw_traces(), dump.allocated_raw_traces()
    got = (len(peak), sum(t[1] for t in peak), len(allocated), sum(t[1] for t in allocated))
    return None if got == (3, 300, 11, 645) else "counts and sizes %r" % (got,)


def check_version_1_is_still_written_and_read():
    dump = tmdump.parse_dump(tmdump.encode_dump(META, TRACES, version=1))
    return None if dump.version == 1 and not dump.modules else "version %r" % dump.version


def resealed(data, tag_name, edit):
    """data with the payload of section tag_name replaced by edit(payload), CRC made valid."""
    at = data.index(tag_name.encode()) if isinstance(tag_name, str) else tag_name
    length = struct.unpack_from("<Q", data, at + 8)[0]
    payload = edit(bytearray(data[at + 16:at + 16 + length]))
    body = data[:at + 8] + struct.pack("<Q", len(payload)) + bytes(payload) \
        + data[at + 16 + length:-tmdump.END_SIZE]
    return reseal(body)


def check_version_2_corruptions_are_refused():
    def put(offset, fmt, value):
        def edit(p):
            struct.pack_into(fmt, p, offset, value)
            return p
        return edit
    cases = [("MODS", put(8, "<I", 65), "build-id"),                    # first module's length
             ("MODS", put(4, "<I", 99), "path"),
             ("FRMS", put(4 + 4, "<I", 7), "module id"),                # frame 0's module
             ("TIME", put(16 + 24, "<Q", 9), "earlier"),                # sample 1 before 0
             ("PEAK", put(24 + 24 + 4, "<I", 3), "traceback id"),       # entry 1's traceback
             ("PEAK", put(24 + 24, "<I", 0), "twice"),                  # entry 1's domain = 0
             ("PEAK", put(8, "<Q", 299), "sum"),
             ("ALOC", put(8 + 4, "<I", 5), "traceback id"),
             ("ALOC", put(8 + 24, "<Q", 11), "temporaries")]
    data = v2_sample()
    for name, edit, part in cases:
        failure = refused(resealed(data, name, edit), part)
        if failure:
            return "%s: %s" % (name, failure)
    v1 = bytearray(data)
    v1[8] = 1
    failure = refused(reseal(bytes(v1[:-tmdump.END_SIZE])), "version 1")
    return "MODS in version 1: %s" % failure if failure else None


def check_readable(path):
    def check():
        try:
            tmdump.read_dump(path)
        except (tmdump.DumpError, OSError) as e:
            return str(e)
        return None
    check.__name__ = "check_reads_" + os.path.basename(path)
    return check


def run(extra_dumps=()):
    checks = [f for name, f in sorted(globals().items()) if name.startswith("check_")
              and name != "check_readable"]
    checks += [check_readable(path) for path in extra_dumps]
    return [(f.__name__[len("check_"):], f()) for f in checks]


if __name__ == "__main__":
    results = run(sys.argv[1:])
    for name, failure in results:
        print("%s %s%s" % ("FAIL" if failure else "ok  ", name, ": " + failure if failure else ""))
    failed = sum(1 for _, f in results if f)
    print("%d passed, %d failed" % (len(results) - failed, failed))
    sys.exit(1 if failed else 0)
