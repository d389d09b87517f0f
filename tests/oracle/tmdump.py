"""Reads and writes tracemalloc dumps, format version 1 (docs/FORMAT.md), in plain Python.

This is the test suite's second, independent implementation of the format: the oracle reads
dumps with it, gen.py and the analyzer benchmark write them with it. The reader validates every
rule of FORMAT.md and raises DumpError with a message naming what is wrong; it trusts no count.

    dump = read_dump("run.tmd")
    snapshot = tracemalloc.Snapshot(dump.raw_traces(), dump.meta.traceback_limit)

    write_dump("run.tmd", Meta(traceback_limit=4),
               [Trace(domain=0, size=64, frames=(("a.c", 12, "main"),), total_nframe=1)])

Strings are UTF-8; bytes that are not valid UTF-8 survive a read/write round trip through
Python's 'surrogateescape' error handler.
"""
import dataclasses
import struct
import zlib

MAGIC = b"\x89TMD\r\n\x1a\n"
VERSION = 1
NONE = 0xFFFFFFFF            # "no string"
REQUIRED = 1                 # section flag: a reader that does not know the tag must refuse
FRAME_SOURCE = 0
HEADER_SIZE = 16
SECTION_SIZE = 16
END_SIZE = 20
META_SIZE = 64
FRAME_SIZE = 16
TRACE_SIZE = 24
MAX_NFRAME = 65535


def tag(name):
    """The u32 of a four-character section tag, as FORMAT.md defines it (little-endian ASCII)."""
    return struct.unpack("<I", name.encode("ascii"))[0]


TAG_STRS, TAG_META, TAG_FRMS, TAG_TBKS, TAG_TRCS, TAG_END = (
    tag(n) for n in ("STRS", "META", "FRMS", "TBKS", "TRCS", "END "))
# Version 1's required sections, in the order they must appear.
SECTION_ORDER = (TAG_STRS, TAG_META, TAG_FRMS, TAG_TBKS, TAG_TRCS)

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_SECTION = struct.Struct("<IIQ")
_META = struct.Struct("<QQQQQQQII")
_FRAME = struct.Struct("<IIII")
_TRACE = struct.Struct("<QQII")


class DumpError(Exception):
    """The file is not a valid version-1 dump; the message says what is wrong."""


@dataclasses.dataclass
class Meta:
    """The META section (FORMAT.md): the snapshot's metadata."""
    time_ns: int = 0
    pid: int = 0
    traced_current: int = 0
    traced_peak: int = 0
    tracemalloc_memory: int = 0
    untraced_count: int = 0
    untraced_size: int = 0
    traceback_limit: int = 1
    label: str = None


@dataclasses.dataclass
class Trace:
    """One traced block as a writer sees it: frames are (filename, lineno, function) tuples,
    most recent first; function may be None."""
    domain: int
    size: int
    frames: tuple
    total_nframe: int = None   # None: len(frames)
    address: int = None        # None: the writer picks a unique one


def _decode(raw):
    return raw.decode("utf-8", "surrogateescape")


def _encode(text):
    return text.encode("utf-8", "surrogateescape")


def function_order_key(name):
    """Function names compare as UTF-8 byte strings (OUTPUT.md)."""
    return _encode(name)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

class Dump:
    """A dump as read: meta, and the tables exactly as stored (ids index them).

    frames:     [(filename, lineno, function or None)]
    tracebacks: [(total_nframe, (frame_id, ...))]     most recent frame first
    traces:     [(address, size, domain, traceback_id)]
    skipped:    tags of unknown optional sections the reader skipped
    """

    def __init__(self, meta, strings, frames, tracebacks, traces, skipped):
        self.meta = meta
        self.strings = strings
        self.frames = frames
        self.tracebacks = tracebacks
        self.traces = traces
        self.skipped = skipped

    def raw_traces(self):
        """The traces in CPython's raw form, (domain, size, frames, total_nframe) with frames
        ((filename, lineno), ...) most recent first; one frames tuple per traceback, shared as
        _tracemalloc shares them."""
        frame_keys = [(filename, lineno) for filename, lineno, _ in self.frames]
        tracebacks = [(tuple(frame_keys[i] for i in ids), total)
                      for total, ids in self.tracebacks]
        return [(domain, size) + tracebacks[tb] for _, size, domain, tb in self.traces]

    def function_names(self):
        """{(filename, lineno): set of function names} over every frame record of the dump."""
        names = {}
        for filename, lineno, function in self.frames:
            known = names.setdefault((filename, lineno), set())
            if function is not None:
                known.add(function)
        return names


class _Cursor:
    """Reads little-endian integers from one section's payload, never past its end."""

    def __init__(self, data, start, end, what):
        self.data, self.pos, self.end, self.what = data, start, end, what

    def remaining(self):
        return self.end - self.pos

    def need(self, n, purpose):
        if n > self.remaining():
            raise DumpError("%s: %s needs %d bytes, %d remain"
                            % (self.what, purpose, n, self.remaining()))

    def unpack(self, fmt, purpose):
        self.need(fmt.size, purpose)
        values = fmt.unpack_from(self.data, self.pos)
        self.pos += fmt.size
        return values

    def u32(self, purpose):
        return self.unpack(_U32, purpose)[0]

    def u64(self, purpose):
        return self.unpack(_U64, purpose)[0]

    def take(self, n, purpose):
        self.need(n, purpose)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def done(self):
        if self.remaining():
            raise DumpError("%s: %d bytes after its contents" % (self.what, self.remaining()))


def _check_count(cursor, count, record_size, what):
    # A count is only trusted once the bytes it promises are known to exist.
    if count * record_size > cursor.remaining():
        raise DumpError("%s: %d %s need %d bytes, %d remain"
                        % (cursor.what, count, what, count * record_size, cursor.remaining()))


def _read_strings(c):
    count = c.u32("string count")
    _check_count(c, count, 4, "strings")
    strings = []
    for i in range(count):
        length = c.u32("length of string %d" % i)
        strings.append(_decode(c.take(length, "string %d" % i)))
    c.done()
    return strings


def _string_id(strings, sid, what, optional):
    if sid == NONE and optional:
        return None
    if sid >= len(strings):
        raise DumpError("%s: string id %d out of range (%d strings)" % (what, sid, len(strings)))
    return strings[sid]


def _read_meta(c, strings):
    if c.remaining() != META_SIZE:
        raise DumpError("META: %d bytes, expected %d" % (c.remaining(), META_SIZE))
    values = c.unpack(_META, "metadata")
    meta = Meta(*values[:8], label=_string_id(strings, values[8], "META label", True))
    if not 1 <= meta.traceback_limit <= MAX_NFRAME:
        raise DumpError("META: traceback limit %d not in 1..%d"
                        % (meta.traceback_limit, MAX_NFRAME))
    return meta


def _read_frames(c, strings):
    count = c.u32("frame count")
    _check_count(c, count, FRAME_SIZE, "frames")
    frames = []
    for i in range(count):
        kind, filename, lineno, function = c.unpack(_FRAME, "frame %d" % i)
        if kind != FRAME_SOURCE:
            raise DumpError("FRMS: frame %d has kind %d, this reader knows %d"
                            % (i, kind, FRAME_SOURCE))
        frames.append((_string_id(strings, filename, "FRMS frame %d filename" % i, False),
                       lineno,
                       _string_id(strings, function, "FRMS frame %d function" % i, True)))
    c.done()
    return frames


def _read_tracebacks(c, nframes, limit):
    count = c.u32("traceback count")
    _check_count(c, count, 8, "tracebacks")
    tracebacks = []
    for i in range(count):
        total_nframe = c.u32("traceback %d total_nframe" % i)
        nframe = c.u32("traceback %d nframe" % i)
        if not 1 <= nframe <= limit:
            raise DumpError("TBKS: traceback %d has %d frames, limit is %d" % (i, nframe, limit))
        if nframe > total_nframe:
            raise DumpError("TBKS: traceback %d has %d frames but total_nframe %d"
                            % (i, nframe, total_nframe))
        ids = struct.unpack("<%dI" % nframe, c.take(4 * nframe, "traceback %d frames" % i))
        for frame_id in ids:
            if frame_id >= nframes:
                raise DumpError("TBKS: traceback %d: frame id %d out of range (%d frames)"
                                % (i, frame_id, nframes))
        tracebacks.append((total_nframe, ids))
    c.done()
    return tracebacks


def _read_traces(c, ntracebacks):
    count = c.u64("trace count")
    _check_count(c, count, TRACE_SIZE, "traces")
    traces = list(_TRACE.iter_unpack(c.take(count * TRACE_SIZE, "traces")))
    c.done()
    seen = set()
    for i, (address, _, domain, tb) in enumerate(traces):
        if tb >= ntracebacks:
            raise DumpError("TRCS: trace %d: traceback id %d out of range (%d tracebacks)"
                            % (i, tb, ntracebacks))
        seen.add((domain, address))
    if len(seen) != len(traces):
        raise DumpError("TRCS: a (domain, address) pair appears twice")
    return traces


def _sections(data):
    """Yields (tag, flags, start, end) of each section between the header and the end section."""
    pos, stop = HEADER_SIZE, len(data) - END_SIZE
    while pos < stop:
        if stop - pos < SECTION_SIZE:
            raise DumpError("section header at offset %d is cut short" % pos)
        tag_, flags, length = _SECTION.unpack_from(data, pos)
        pos += SECTION_SIZE
        if tag_ == TAG_END:
            raise DumpError("end section at offset %d is not the last 20 bytes" % (pos - 16))
        if length > stop - pos:
            raise DumpError("section %s at offset %d: length %d runs past the end section"
                            % (_tag_name(tag_), pos - SECTION_SIZE, length))
        yield tag_, flags, pos, pos + length
        pos += length


def _tag_name(tag_):
    raw = _U32.pack(tag_)
    return repr(raw.decode("latin-1")) if all(32 <= b < 127 for b in raw) else "0x%08x" % tag_


def _check_envelope(data):
    if len(data) < HEADER_SIZE + END_SIZE:
        raise DumpError("too short to be a dump (%d bytes)" % len(data))
    if data[:8] != MAGIC:
        raise DumpError("not a tracemalloc dump (bad magic)")
    version, flags = struct.unpack_from("<II", data, 8)
    if version != VERSION:
        raise DumpError("format version %d, this reader knows %d" % (version, VERSION))
    if flags != 0:
        raise DumpError("header flags 0x%x, expected 0" % flags)
    end_tag, end_flags, end_length, crc = struct.unpack_from("<IIQI", data, len(data) - END_SIZE)
    if (end_tag, end_flags, end_length) != (TAG_END, 0, 4):
        raise DumpError("no end section: the file is truncated or corrupted")
    if zlib.crc32(data[:-4]) != crc:
        raise DumpError("checksum mismatch: the file is corrupted")


def parse_dump(data):
    """Parses a whole dump held in bytes; returns a Dump or raises DumpError."""
    data = bytes(data)
    _check_envelope(data)
    tables = {}
    skipped = []
    expected = iter(SECTION_ORDER)
    next_tag = next(expected)
    for tag_, flags, start, end in _sections(data):
        if tag_ not in SECTION_ORDER:
            if flags & REQUIRED:
                raise DumpError("required section %s unknown to this reader" % _tag_name(tag_))
            if flags & ~REQUIRED:
                raise DumpError("section %s has flags 0x%x" % (_tag_name(tag_), flags))
            skipped.append(tag_)
            continue
        if tag_ != next_tag:
            raise DumpError("section %s out of order or repeated; expected %s"
                            % (_tag_name(tag_), _tag_name(next_tag) if next_tag else "none"))
        if flags != REQUIRED:
            raise DumpError("section %s has flags 0x%x, expected 0x1" % (_tag_name(tag_), flags))
        c = _Cursor(data, start, end, _tag_name(tag_).strip("'"))
        if tag_ == TAG_STRS:
            tables["strings"] = _read_strings(c)
        elif tag_ == TAG_META:
            tables["meta"] = _read_meta(c, tables["strings"])
        elif tag_ == TAG_FRMS:
            tables["frames"] = _read_frames(c, tables["strings"])
        elif tag_ == TAG_TBKS:
            tables["tracebacks"] = _read_tracebacks(c, len(tables["frames"]),
                                                    tables["meta"].traceback_limit)
        else:
            tables["traces"] = _read_traces(c, len(tables["tracebacks"]))
        next_tag = next(expected, None)
    if next_tag is not None:
        raise DumpError("required section %s is missing" % _tag_name(next_tag))
    return Dump(tables["meta"], tables["strings"], tables["frames"], tables["tracebacks"],
                tables["traces"], skipped)


def read_dump(path):
    """Reads and validates the dump at path; raises DumpError (or OSError)."""
    with open(path, "rb") as f:
        return parse_dump(f.read())


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

class _Interner:
    """Gives each distinct value an id, in order of first use."""

    def __init__(self):
        self.ids = {}
        self.values = []

    def __call__(self, value):
        i = self.ids.get(value)
        if i is None:
            i = self.ids[value] = len(self.values)
            self.values.append(value)
        return i


def _section(tag_, payload, flags=REQUIRED):
    return _SECTION.pack(tag_, flags, len(payload)) + payload


def encode_dump(meta, traces, extra_sections=()):
    """Returns the bytes of a dump of traces (Trace objects, or (domain, size, frames,
    total_nframe) tuples). extra_sections: (before_tag, tag, flags, payload) to insert unknown
    sections before the named section (or before the end with before_tag None)."""
    strings, frames, tracebacks = _Interner(), _Interner(), _Interner()
    if meta.label is not None:
        label_id = strings(meta.label)
    else:
        label_id = NONE
    records = []
    addresses = set()
    next_address = 0x10000
    traceback_ids = {}  # (frames, total_nframe) -> id: most traces share a traceback
    pack = _TRACE.pack
    for trace in traces:
        if isinstance(trace, Trace):
            domain, size, trace_frames = trace.domain, trace.size, trace.frames
            total, address = trace.total_nframe, trace.address
        else:
            domain, size, trace_frames, total = trace
            address = None
        if total is None:
            total = len(trace_frames)
        key = (trace_frames, total)
        tb = traceback_ids.get(key)
        if tb is None:
            frame_ids = tuple(frames((strings(f[0]), f[1],
                                      NONE if f[2] is None else strings(f[2])))
                              for f in trace_frames)
            tb = traceback_ids[key] = tracebacks((total, frame_ids))
        if address is None:
            while (domain, next_address) in addresses:
                next_address += 16
            address = next_address
            next_address += 16
        elif (domain, address) in addresses:
            raise ValueError("address 0x%x traced twice in domain %d" % (address, domain))
        addresses.add((domain, address))
        records.append(pack(address, size, domain, tb))
    payloads = {}
    payloads[TAG_FRMS] = _U32.pack(len(frames.values)) + b"".join(
        _FRAME.pack(FRAME_SOURCE, *f) for f in frames.values)
    payloads[TAG_STRS] = _U32.pack(len(strings.values)) + b"".join(
        _U32.pack(len(_encode(s))) + _encode(s) for s in strings.values)
    payloads[TAG_META] = _META.pack(meta.time_ns, meta.pid, meta.traced_current,
                                    meta.traced_peak, meta.tracemalloc_memory,
                                    meta.untraced_count, meta.untraced_size,
                                    meta.traceback_limit, label_id)
    payloads[TAG_TBKS] = _U32.pack(len(tracebacks.values)) + b"".join(
        struct.pack("<II%dI" % len(ids), total, len(ids), *ids)
        for total, ids in tracebacks.values)
    payloads[TAG_TRCS] = _U64.pack(len(records)) + b"".join(records)
    out = [MAGIC, struct.pack("<II", VERSION, 0)]
    for section_tag in SECTION_ORDER + (None,):
        for before, extra_tag, flags, payload in extra_sections:
            if before == section_tag:
                out.append(_section(extra_tag, payload, flags))
        if section_tag is not None:
            out.append(_section(section_tag, payloads[section_tag]))
    body = b"".join(out) + _SECTION.pack(TAG_END, 0, 4)
    return body + _U32.pack(zlib.crc32(body))


def write_dump(path, meta, traces, extra_sections=()):
    """Writes a dump of traces to path (see encode_dump)."""
    data = encode_dump(meta, traces, extra_sections)
    with open(path, "wb") as f:
        f.write(data)
