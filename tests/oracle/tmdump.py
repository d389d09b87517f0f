"""Reads and writes tracemalloc dumps, format versions 1 and 2 (docs/FORMAT.md), in plain Python.

This is the test suite's second, independent implementation of the format: the oracle reads
dumps with it, gen.py, the analyzer benchmark and the tests of exports and the report write
them with it. The reader validates every rule of FORMAT.md and raises DumpError with a message
naming what is wrong; it trusts no count.

Reading:
    dump = read_dump("run.tmd")                  # or parse_dump(data)
    snapshot = tracemalloc.Snapshot(dump.raw_traces(), dump.meta.traceback_limit)
    dump.version                                 1 or 2
    dump.meta                                    Meta
    dump.modules                                 [Module]
    dump.frames                                  [(filename, lineno, function) or Native]
    dump.timeline                                Timeline or None (no TIME section)
    dump.peak                                    PeakRecord(t_ns, size, entries) or None
    dump.allocated                               [(domain, traceback_id, count, size,
                                                   temporaries)] or None (no ALOC section)
    dump.peak_raw_traces(), dump.allocated_raw_traces()
        the PEAK / ALOC groups as CPython raw traces (see there), for Snapshot(...)
    raw_traces(symbolize), function_names(symbolize)
        native frames through symbolize(module, offset) -> [(filename, lineno, function)],
        innermost first (default: default_symbolize, which is fallback_symbols - the
        analyzer's names without debug information - unless a test sets it)

Writing (version 2 unless version=1):
    write_dump("run.tmd", Meta(traceback_limit=4, traced_peak=4096),
               [Trace(domain=0, size=64, frames=(("a.c", 12, "main"),), total_nframe=1)])

    libc = Module("/lib/libc.so.6", build_id=bytes.fromhex("ab12"), bias=0x7f0000000000,
                  ranges=((0x7f0000000000, 0x7f0000200000, 0),))
    native = (Native(libc, 0x1234), Native(None, 0xdeadbeef), ("a.c", 3, "main"))
    write_dump("native.tmd", Meta(traceback_limit=8, traced_peak=200),
               [Trace(0, 64, native)],
               timeline=Timeline(start_ns=1_700_000_000_000_000_000,
                                 samples=[(0, 0, 4096), (10_000_000, 64, 8192)]),
               peak=Peak(t_ns=5_000_000, groups=[Group(0, native, count=2, size=200)]),
               allocated=[Group(0, native, count=10, size=640, temporaries=3)])

A frame is a (filename, lineno, function-or-None) tuple (a source frame) or a Native (a return
address in a Module, or absolute with module None). Modules are written in order of first use,
after those given with modules=. Peak's size defaults to the sum of its groups'; Meta's
traced_peak must be at least that (FORMAT.md), so set it. Tracebacks that only PEAK or ALOC
name are written to TBKS too. encode_dump takes the same arguments and returns the bytes.

Strings are UTF-8; bytes that are not valid UTF-8 survive a read/write round trip through
Python's 'surrogateescape' error handler.
"""
import dataclasses
import os
import struct
import zlib

MAGIC = b"\x89TMD\r\n\x1a\n"
VERSION = 2
VERSIONS = (1, 2)
NONE = 0xFFFFFFFF            # "no string", "no module"
REQUIRED = 1                 # section flag: a reader that does not know the tag must refuse
FRAME_SOURCE = 0
FRAME_NATIVE = 1
HEADER_SIZE = 16
SECTION_SIZE = 16
END_SIZE = 20
META_SIZE = 64
FRAME_SIZE = 16
TRACE_SIZE = 24
SAMPLE_SIZE = 24
PEAK_SIZE = 24
ALLOC_SIZE = 32
RANGE_SIZE = 24
MAX_NFRAME = 65535
MAX_BUILD_ID = 64
MAX_RANGES = 64


def tag(name):
    """The u32 of a four-character section tag, as FORMAT.md defines it (little-endian ASCII)."""
    return struct.unpack("<I", name.encode("ascii"))[0]


TAG_STRS, TAG_META, TAG_MODS, TAG_FRMS, TAG_TBKS, TAG_TRCS, TAG_TIME, TAG_PEAK, TAG_ALOC, \
    TAG_END = (tag(n) for n in ("STRS", "META", "MODS", "FRMS", "TBKS", "TRCS", "TIME", "PEAK",
                                "ALOC", "END "))
# The known sections in the order they must appear: (tag, first version, required in it).
SECTIONS = ((TAG_STRS, 1, True), (TAG_META, 1, True), (TAG_MODS, 2, True), (TAG_FRMS, 1, True),
            (TAG_TBKS, 1, True), (TAG_TRCS, 1, True), (TAG_TIME, 2, False),
            (TAG_PEAK, 2, False), (TAG_ALOC, 2, False))
SECTION_ORDER = tuple(t for t, _, _ in SECTIONS)

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_SECTION = struct.Struct("<IIQ")
_META = struct.Struct("<QQQQQQQII")
_FRAME = struct.Struct("<IIII")
_NATIVE = struct.Struct("<IIQ")
_TRACE = struct.Struct("<QQII")
_SAMPLE = struct.Struct("<QQQ")
_PEAK = struct.Struct("<IIQQ")
_ALLOC = struct.Struct("<IIQQQ")
_RANGE = struct.Struct("<QQQ")


class DumpError(Exception):
    """The file is not a valid dump; the message says what is wrong."""


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


@dataclasses.dataclass(frozen=True)
class Module:
    """A MODS entry: an object mapped in the process. ranges: ((start, end, file_offset), ...)
    at run time, 1..64 of them."""
    path: str
    build_id: bytes = b""
    bias: int = 0
    ranges: tuple = ((0, 0x1000, 0),)


@dataclasses.dataclass(frozen=True)
class Native:
    """A native frame: a return address, offset in module's ELF address space (the address
    minus its bias), or the absolute address when module is None."""
    module: Module
    offset: int


@dataclasses.dataclass
class Trace:
    """One traced block as a writer sees it: frames are (filename, lineno, function) tuples or
    Native frames, most recent first; function may be None."""
    domain: int
    size: int
    frames: tuple
    total_nframe: int = None   # None: len(frames)
    address: int = None        # None: the writer picks a unique one


@dataclasses.dataclass
class Timeline:
    """The TIME section: samples are (t_ns since start_ns, traced bytes, rss bytes)."""
    start_ns: int
    samples: list


@dataclasses.dataclass
class Group:
    """A PEAK or ALOC entry as a writer sees it: a (domain, traceback) with a count and a size
    (and, in ALOC, how many were temporaries). frames as in Trace."""
    domain: int
    frames: tuple
    count: int
    size: int
    temporaries: int = 0
    total_nframe: int = None   # None: len(frames)


@dataclasses.dataclass
class Peak:
    """The PEAK section as a writer sees it; size None: the sum of the groups' sizes."""
    t_ns: int
    groups: list
    size: int = None


@dataclasses.dataclass
class PeakRecord:
    """The PEAK section as read: entries are (domain, traceback_id, count, size)."""
    t_ns: int
    size: int
    entries: list


def _decode(raw):
    return raw.decode("utf-8", "surrogateescape")


def _encode(text):
    return text.encode("utf-8", "surrogateescape")


def function_order_key(name):
    """Function names compare as UTF-8 byte strings (OUTPUT.md)."""
    return _encode(name)


def fallback_symbols(module, offset):
    """What the analyzer shows for a native frame without debug information (SCHEMA.md), minus
    the symbol table's function name: '<module basename>+0x<offset>', or '0x<address>'."""
    if module is None:
        return [("0x%x" % offset, 0, None)]
    return [("%s+0x%x" % (os.path.basename(module.path), offset), 0, None)]


# The symbolizer of native frames when a method is given none: fallback_symbols, or what a test
# that symbolizes a real binary sets (tests/parity/native_cases.py: addr2line).
default_symbolize = fallback_symbols


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

class Dump:
    """A dump as read: meta, and the tables exactly as stored (ids index them).

    modules:    [Module]
    frames:     [(filename, lineno, function or None) or Native]
    tracebacks: [(total_nframe, (frame_id, ...))]     most recent frame first
    traces:     [(address, size, domain, traceback_id)]
    timeline:   Timeline or None
    peak:       PeakRecord or None
    allocated:  [(domain, traceback_id, count, size, temporaries)] or None
    skipped:    tags of unknown optional sections the reader skipped
    """

    def __init__(self, meta, strings, frames, tracebacks, traces, skipped, version=1,
                 modules=(), timeline=None, peak=None, allocated=None):
        self.meta = meta
        self.strings = strings
        self.frames = frames
        self.tracebacks = tracebacks
        self.traces = traces
        self.skipped = skipped
        self.version = version
        self.modules = list(modules)
        self.timeline = timeline
        self.peak = peak
        self.allocated = allocated

    def symbolic_frames(self, frame_id, symbolize=None):
        """Frame frame_id as [(filename, lineno, function)], innermost first: one for a source
        frame, symbolize(module, offset)'s for a native one."""
        frame = self.frames[frame_id]
        if isinstance(frame, Native):
            return list((symbolize or default_symbolize)(frame.module, frame.offset))
        return [frame]

    def _tracebacks(self, symbolize):
        """Each traceback as ((filename, lineno), ...), total_nframe), native frames expanded
        (an inlined call is a frame of its own; total_nframe grows by the frames added)."""
        out = []
        for total, ids in self.tracebacks:
            frames = [f for i in ids for f in self.symbolic_frames(i, symbolize)]
            out.append((tuple((f[0], f[1]) for f in frames), total + len(frames) - len(ids)))
        return out

    def raw_traces(self, symbolize=None):
        """The traces in CPython's raw form, (domain, size, frames, total_nframe) with frames
        ((filename, lineno), ...) most recent first; one frames tuple per traceback, shared as
        _tracemalloc shares them."""
        tracebacks = self._tracebacks(symbolize)
        return [(domain, size) + tracebacks[tb] for _, size, domain, tb in self.traces]

    def _groups_as_traces(self, groups, symbolize):
        # Statistics depend on a group only through its count and its size: one trace holding
        # the size and count - 1 empty ones give CPython the same sums.
        tracebacks = self._tracebacks(symbolize)
        out = []
        for domain, tb, count, size, *_ in groups:
            if count:
                out.append((domain, size) + tracebacks[tb])
                out.extend([(domain, 0) + tracebacks[tb]] * (count - 1))
        return out

    def peak_raw_traces(self, symbolize=None):
        """PEAK's groups as CPython raw traces with the same counts and sizes per (domain,
        traceback): Snapshot(dump.peak_raw_traces(), limit).statistics(...) is `--at-peak`."""
        return self._groups_as_traces(self.peak.entries if self.peak else [], symbolize)

    def allocated_raw_traces(self, symbolize=None):
        """ALOC's groups as CPython raw traces (counts and sizes; temporaries are not in them)."""
        return self._groups_as_traces(self.allocated or [], symbolize)

    def function_names(self, symbolize=None):
        """{(filename, lineno): set of function names} over every frame record of the dump."""
        names = {}
        for i in range(len(self.frames)):
            for filename, lineno, function in self.symbolic_frames(i, symbolize):
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


def _read_modules(c, strings):
    count = c.u32("module count")
    _check_count(c, count, 20 + RANGE_SIZE, "modules")   # path .. nrange, and one range
    modules = []
    for i in range(count):
        path = _string_id(strings, c.u32("module %d path" % i), "MODS module %d path" % i, False)
        length = c.u32("module %d build-id length" % i)
        if length > MAX_BUILD_ID:
            raise DumpError("MODS: module %d: build-id of %d bytes, more than %d"
                            % (i, length, MAX_BUILD_ID))
        build_id = c.take(length, "module %d build-id" % i)
        bias = c.u64("module %d bias" % i)
        nrange = c.u32("module %d range count" % i)
        if not 1 <= nrange <= MAX_RANGES:
            raise DumpError("MODS: module %d has %d ranges, not 1..%d" % (i, nrange, MAX_RANGES))
        ranges = tuple(_RANGE.iter_unpack(c.take(nrange * RANGE_SIZE, "module %d ranges" % i)))
        for start, end, _ in ranges:
            if start > end:
                raise DumpError("MODS: module %d: a range ends before it starts" % i)
        modules.append(Module(path, build_id, bias, ranges))
    c.done()
    return modules


def _read_frames(c, strings, modules, version):
    count = c.u32("frame count")
    _check_count(c, count, FRAME_SIZE, "frames")
    frames = []
    for i in range(count):
        kind, filename, lineno, function = c.unpack(_FRAME, "frame %d" % i)
        if kind == FRAME_NATIVE and version >= 2:
            _, module, offset = _NATIVE.unpack(_FRAME.pack(kind, filename, lineno, function))
            if module != NONE and module >= len(modules):
                raise DumpError("FRMS: frame %d: module id %d out of range (%d modules)"
                                % (i, module, len(modules)))
            frames.append(Native(None if module == NONE else modules[module], offset))
            continue
        if kind != FRAME_SOURCE:
            raise DumpError("FRMS: frame %d has kind %d, version %d knows %s"
                            % (i, kind, version, "0" if version < 2 else "0 and 1"))
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
    if sum(t[1] for t in traces) >= 1 << 63:
        raise DumpError("TRCS: the sizes add up past 2^63 - 1")
    return traces


def _flags(c):
    flags = c.u32("flags")
    if flags:
        raise DumpError("%s: flags 0x%x, expected 0" % (c.what, flags))


def _read_timeline(c):
    start_ns = c.u64("start_ns")
    count = c.u32("sample count")
    _flags(c)
    _check_count(c, count, SAMPLE_SIZE, "samples")
    samples = list(_SAMPLE.iter_unpack(c.take(count * SAMPLE_SIZE, "samples")))
    c.done()
    for i in range(1, count):
        if samples[i][0] < samples[i - 1][0]:
            raise DumpError("TIME: sample %d is earlier than sample %d" % (i, i - 1))
    return Timeline(start_ns, samples)


def _check_groups(what, entries, ntracebacks):
    seen = set()
    for i, (domain, tb, count, size, *rest) in enumerate(entries):
        if tb >= ntracebacks:
            raise DumpError("%s: entry %d: traceback id %d out of range (%d tracebacks)"
                            % (what, i, tb, ntracebacks))
        if (domain, tb) in seen:
            raise DumpError("%s: entry %d: (domain %d, traceback %d) appears twice"
                            % (what, i, domain, tb))
        seen.add((domain, tb))
        if rest and rest[0] > count:
            raise DumpError("%s: entry %d: more temporaries than allocations" % (what, i))
        if count >= 1 << 63:
            raise DumpError("%s: entry %d: count past 2^63 - 1" % (what, i))
    if sum(e[3] for e in entries) >= 1 << 63:
        raise DumpError("%s: the sizes add up past 2^63 - 1" % what)


def _read_peak(c, ntracebacks, meta):
    t_ns = c.u64("t_ns")
    size = c.u64("size")
    count = c.u32("entry count")
    _flags(c)
    _check_count(c, count, PEAK_SIZE, "entries")
    entries = list(_PEAK.iter_unpack(c.take(count * PEAK_SIZE, "entries")))
    c.done()
    _check_groups("PEAK", entries, ntracebacks)
    total = sum(e[3] for e in entries)
    if total != size:
        raise DumpError("PEAK: entries sum to %d bytes, the section says %d" % (total, size))
    if size > meta.traced_peak:
        raise DumpError("PEAK: %d bytes, above the traced peak %d" % (size, meta.traced_peak))
    return PeakRecord(t_ns, size, entries)


def _read_allocated(c, ntracebacks):
    count = c.u32("entry count")
    _flags(c)
    _check_count(c, count, ALLOC_SIZE, "entries")
    entries = list(_ALLOC.iter_unpack(c.take(count * ALLOC_SIZE, "entries")))
    c.done()
    _check_groups("ALOC", entries, ntracebacks)
    return entries


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
    if version not in VERSIONS:
        raise DumpError("format version %d, this reader knows %s"
                        % (version, " and ".join(map(str, VERSIONS))))
    if flags != 0:
        raise DumpError("header flags 0x%x, expected 0" % flags)
    end_tag, end_flags, end_length, crc = struct.unpack_from("<IIQI", data, len(data) - END_SIZE)
    if (end_tag, end_flags, end_length) != (TAG_END, 0, 4):
        raise DumpError("no end section: the file is truncated or corrupted")
    if zlib.crc32(data[:-4]) != crc:
        raise DumpError("checksum mismatch: the file is corrupted")
    return version


def _read_section(tag_, c, t, version):
    """Reads one known section into the tables t."""
    if tag_ == TAG_STRS:
        t["strings"] = _read_strings(c)
    elif tag_ == TAG_META:
        t["meta"] = _read_meta(c, t["strings"])
    elif tag_ == TAG_MODS:
        t["modules"] = _read_modules(c, t["strings"])
    elif tag_ == TAG_FRMS:
        t["frames"] = _read_frames(c, t["strings"], t.get("modules", []), version)
    elif tag_ == TAG_TBKS:
        t["tracebacks"] = _read_tracebacks(c, len(t["frames"]), t["meta"].traceback_limit)
    elif tag_ == TAG_TRCS:
        t["traces"] = _read_traces(c, len(t["tracebacks"]))
    elif tag_ == TAG_TIME:
        t["timeline"] = _read_timeline(c)
    elif tag_ == TAG_PEAK:
        t["peak"] = _read_peak(c, len(t["tracebacks"]), t["meta"])
    else:
        t["allocated"] = _read_allocated(c, len(t["tracebacks"]))


def parse_dump(data):
    """Parses a whole dump held in bytes; returns a Dump or raises DumpError."""
    data = bytes(data)
    version = _check_envelope(data)
    known = [(t, required) for t, since, required in SECTIONS if since <= version]
    future = {t for t, since, _ in SECTIONS if since > version}
    tables = {}
    skipped = []
    position = 0     # index in known of the first section that may still come
    for tag_, flags, start, end in _sections(data):
        if tag_ in future:
            raise DumpError("section %s does not exist in version %d" % (_tag_name(tag_), version))
        index = next((i for i, (t, _) in enumerate(known) if t == tag_), None)
        if index is None:
            if flags & REQUIRED:
                raise DumpError("required section %s unknown to this reader" % _tag_name(tag_))
            if flags & ~REQUIRED:
                raise DumpError("section %s has flags 0x%x" % (_tag_name(tag_), flags))
            skipped.append(tag_)
            continue
        skipped_required = [t for t, required in known[position:index] if required]
        if index < position or skipped_required:
            expected = skipped_required[0] if skipped_required else known[position - 1][0]
            raise DumpError("section %s out of order or repeated; expected %s"
                            % (_tag_name(tag_), _tag_name(expected)))
        if flags & ~REQUIRED or (known[index][1] and flags != REQUIRED):
            raise DumpError("section %s has flags 0x%x" % (_tag_name(tag_), flags))
        position = index + 1
        _read_section(tag_, _Cursor(data, start, end, _tag_name(tag_).strip("'")), tables,
                      version)
    missing = [t for t, required in known[position:] if required]
    if missing:
        raise DumpError("required section %s is missing" % _tag_name(missing[0]))
    return Dump(tables["meta"], tables["strings"], tables["frames"], tables["tracebacks"],
                tables["traces"], skipped, version, tables.get("modules", ()),
                tables.get("timeline"), tables.get("peak"), tables.get("allocated"))


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


class _Writer:
    """The tables of a dump being written: strings, modules, frames and tracebacks interned."""

    def __init__(self, version, modules):
        self.version = version
        self.strings, self.modules = _Interner(), _Interner()
        self.frames, self.tracebacks = _Interner(), _Interner()
        self.traceback_ids = {}   # (frames, total_nframe) -> id: most traces share a traceback
        for module in modules:
            self.module(module)

    def module(self, module):
        if self.version < 2:
            raise ValueError("version 1 has no modules")
        self.strings(module.path)
        return self.modules(module)

    def frame(self, f):
        if isinstance(f, Native):
            module = NONE if f.module is None else self.module(f.module)
            return self.frames((FRAME_NATIVE, module, f.offset))
        return self.frames((FRAME_SOURCE, self.strings(f[0]), f[1],
                            NONE if f[2] is None else self.strings(f[2])))

    def traceback(self, frames, total):
        frames = tuple(frames)
        key = (frames, len(frames) if total is None else total)
        tb = self.traceback_ids.get(key)
        if tb is None:
            ids = tuple(self.frame(f) for f in frames)
            tb = self.traceback_ids[key] = self.tracebacks((key[1], ids))
        return tb

    def payloads(self):
        def frame_record(f):
            return _NATIVE.pack(*f) if f[0] == FRAME_NATIVE else _FRAME.pack(*f)

        def module_record(m):
            return (struct.pack("<II", self.strings.ids[m.path], len(m.build_id)) + m.build_id
                    + struct.pack("<QI", m.bias, len(m.ranges))
                    + b"".join(_RANGE.pack(*r) for r in m.ranges))
        return {
            TAG_STRS: _U32.pack(len(self.strings.values)) + b"".join(
                _U32.pack(len(_encode(s))) + _encode(s) for s in self.strings.values),
            TAG_MODS: _U32.pack(len(self.modules.values)) + b"".join(
                module_record(m) for m in self.modules.values),
            TAG_FRMS: _U32.pack(len(self.frames.values)) + b"".join(
                frame_record(f) for f in self.frames.values),
            TAG_TBKS: _U32.pack(len(self.tracebacks.values)) + b"".join(
                struct.pack("<II%dI" % len(ids), total, len(ids), *ids)
                for total, ids in self.tracebacks.values),
        }


def _trace_records(w, traces):
    records = []
    addresses = set()
    next_address = 0x10000
    pack = _TRACE.pack
    for trace in traces:
        if isinstance(trace, Trace):
            domain, size, trace_frames = trace.domain, trace.size, trace.frames
            total, address = trace.total_nframe, trace.address
        else:
            domain, size, trace_frames, total = trace
            address = None
        tb = w.traceback(trace_frames, total)
        if address is None:
            while (domain, next_address) in addresses:
                next_address += 16
            address = next_address
            next_address += 16
        elif (domain, address) in addresses:
            raise ValueError("address 0x%x traced twice in domain %d" % (address, domain))
        addresses.add((domain, address))
        records.append(pack(address, size, domain, tb))
    return _U64.pack(len(records)) + b"".join(records)


def _optional_payloads(w, timeline, peak, allocated):
    out = {}
    if timeline is not None:
        out[TAG_TIME] = struct.pack("<QII", timeline.start_ns, len(timeline.samples), 0) \
            + b"".join(_SAMPLE.pack(*s) for s in timeline.samples)
    if peak is not None:
        size = sum(g.size for g in peak.groups) if peak.size is None else peak.size
        out[TAG_PEAK] = struct.pack("<QQII", peak.t_ns, size, len(peak.groups), 0) + b"".join(
            _PEAK.pack(g.domain, w.traceback(g.frames, g.total_nframe), g.count, g.size)
            for g in peak.groups)
    if allocated is not None:
        out[TAG_ALOC] = struct.pack("<II", len(allocated), 0) + b"".join(
            _ALLOC.pack(g.domain, w.traceback(g.frames, g.total_nframe), g.count, g.size,
                        g.temporaries) for g in allocated)
    if out and w.version < 2:
        raise ValueError("version 1 has no TIME, PEAK or ALOC section")
    return out


def encode_dump(meta, traces, extra_sections=(), version=VERSION, modules=(), timeline=None,
                peak=None, allocated=None):
    """Returns the bytes of a dump of traces (Trace objects, or (domain, size, frames,
    total_nframe) tuples). extra_sections: (before_tag, tag, flags, payload) to insert unknown
    sections before the named section (or before the end with before_tag None). modules: Module
    objects to list even if no frame uses them. timeline (Timeline), peak (Peak) and allocated
    ([Group]): the optional sections of version 2, left out when None."""
    w = _Writer(version, modules)
    label_id = NONE if meta.label is None else w.strings(meta.label)
    payloads = {TAG_TRCS: _trace_records(w, traces)}
    payloads.update(_optional_payloads(w, timeline, peak, allocated))
    payloads.update(w.payloads())
    payloads[TAG_META] = _META.pack(meta.time_ns, meta.pid, meta.traced_current,
                                    meta.traced_peak, meta.tracemalloc_memory,
                                    meta.untraced_count, meta.untraced_size,
                                    meta.traceback_limit, label_id)
    if version < 2:
        if any(f[0] == FRAME_NATIVE for f in w.frames.values):
            raise ValueError("version 1 has no native frames")
        del payloads[TAG_MODS]
    out = [MAGIC, struct.pack("<II", version, 0)]
    for section_tag in SECTION_ORDER + (None,):
        for before, extra_tag, flags, payload in extra_sections:
            if before == section_tag:
                out.append(_section(extra_tag, payload, flags))
        if section_tag in payloads:
            required = section_tag not in (TAG_TIME, TAG_PEAK, TAG_ALOC)
            out.append(_section(section_tag, payloads[section_tag], REQUIRED if required else 0))
    body = b"".join(out) + _SECTION.pack(TAG_END, 0, 4)
    return body + _U32.pack(zlib.crc32(body))


def write_dump(path, meta, traces, extra_sections=(), **v2):
    """Writes a dump of traces to path (see encode_dump for the arguments)."""
    data = encode_dump(meta, traces, extra_sections, **v2)
    with open(path, "wb") as f:
        f.write(data)
