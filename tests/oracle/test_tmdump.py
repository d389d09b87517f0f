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
    data[8] = 2
    return refused(bytes(data), "format version 2, this reader knows 1")


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
