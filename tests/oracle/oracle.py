#!/usr/bin/env python3
"""The oracle: what `build/tracemalloc` must print, computed by CPython's own tracemalloc.

    oracle.py stats SRC [--by lineno|filename|traceback] [--cumulative] [--top N] [FILTERS]
                        [--format text|csv|json]
    oracle.py compare OLD NEW [same options] [--fail-over BYTES]
    oracle.py leaks SRC [same options] [--fail-over BYTES]      (--by traceback by default)
    oracle.py top SRC [N]
    stats and top also take --at-peak (the dump's PEAK entries as the traces) or --allocated
    (its ALOC entries, each statistic followed by its temporaries)
    FILTERS: --include P[:L]... --exclude P[:L]... --all-frames --domain N --exclude-domain N

SRC is a dump file (docs/FORMAT.md), read with tmdump.py. Every decision - grouping, cumulative
counting, filtering, order, the text of a statistic - is made by CPython's objects:
tracemalloc.Snapshot(raw_traces, limit), Filter, DomainFilter, filter_traces(), statistics(),
compare_to(), str(Statistic), Traceback.format(). This file only turns the command line into
those calls and the results into the csv/json bytes docs/OUTPUT.md describes.
"""
import contextlib
import encodings
import functools
import importlib
import linecache
import os
import pkgutil
import re
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmdump  # noqa: E402
import symbolizer  # noqa: E402

# Native frames become what the analyzer stores for them, found by eu-addr2line (symbolizer.py).
tmdump.default_symbolize = symbolizer.ToolSymbolizer()

EXIT_OK, EXIT_BAD_INPUT, EXIT_GATE = 0, 1, 3
KEY_TYPES = ("lineno", "filename", "traceback")
FORMATS = ("text", "csv", "json")


class UsageError(Exception):
    pass


class Options:
    """The parsed command line."""

    def __init__(self):
        self.command = None
        self.sources = []
        self.key_type = None
        self.cumulative = False
        self.top = None
        self.filename_filters = []   # (inclusive, pattern, lineno or None)
        self.all_frames = False
        self.domain_filters = []     # (inclusive, domain)
        self.format = "text"
        self.fail_over = None
        self.source = None           # None (the live traces), "--at-peak" or "--allocated"


def _int(text, what, minimum=0):
    if not re.fullmatch(r"[0-9]+", text) or int(text) < minimum:
        raise UsageError("%s must be an integer >= %d, not %r" % (what, minimum, text))
    return int(text)


def _pattern(text):
    """PATTERN[:LINENO]: a trailing ':' and digits are the line number."""
    m = re.fullmatch(r"(.*):([0-9]+)", text, re.DOTALL)
    if m:
        return m.group(1), int(m.group(2))
    return text, None


def parse_args(argv):
    opts = Options()
    if not argv:
        raise UsageError("missing command")
    opts.command = argv[0]
    if opts.command not in ("stats", "compare", "leaks", "top"):
        raise UsageError("unknown command %r" % opts.command)
    args = list(argv[1:])
    takes_value = {"--by", "--top", "--include", "--exclude", "--domain", "--exclude-domain",
                   "--format", "--fail-over"}
    while args:
        arg = args.pop(0)
        if not arg.startswith("--") or arg == "-":
            opts.sources.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if name in takes_value:
            if not eq:
                if not args:
                    raise UsageError("%s needs a value" % name)
                value = args.pop(0)
        elif eq:
            raise UsageError("%s takes no value" % name)
        if name == "--by":
            if value not in KEY_TYPES:
                raise UsageError("--by must be one of %s" % ", ".join(KEY_TYPES))
            opts.key_type = value
        elif name == "--cumulative":
            opts.cumulative = True
        elif name == "--top":
            opts.top = _int(value, "--top")
        elif name in ("--include", "--exclude"):
            opts.filename_filters.append((name == "--include",) + _pattern(value))
        elif name == "--all-frames":
            opts.all_frames = True
        elif name in ("--domain", "--exclude-domain"):
            opts.domain_filters.append((name == "--domain", _int(value, name)))
        elif name == "--format":
            if value not in FORMATS:
                raise UsageError("--format must be one of %s" % ", ".join(FORMATS))
            opts.format = value
        elif name == "--fail-over":
            opts.fail_over = _int(value, "--fail-over")
        elif name in ("--at-peak", "--allocated") and opts.command in ("stats", "top"):
            if opts.source not in (None, name):
                raise UsageError("--at-peak and --allocated cannot be used together")
            opts.source = name
        else:
            raise UsageError("unknown option %s" % name)
    wanted = {"compare": 2, "top": (1, 2)}.get(opts.command, 1)
    if opts.command == "top":
        if len(opts.sources) == 2:
            opts.top = _int(opts.sources.pop(), "N", 1)
        if opts.top is None:
            opts.top = 10
    if len(opts.sources) != (wanted if isinstance(wanted, int) else 1):
        raise UsageError("%s takes %s file argument(s)" % (opts.command, wanted))
    if opts.key_type is None:
        opts.key_type = "traceback" if opts.command == "leaks" else "lineno"
    return opts


def build_filters(opts):
    """The Filter/DomainFilter list filter_traces() gets: one per option, all_frames for all."""
    filters = [tracemalloc.Filter(inclusive, pattern, lineno, all_frames=opts.all_frames)
               for inclusive, pattern, lineno in opts.filename_filters]
    filters += [tracemalloc.DomainFilter(inclusive, domain)
                for inclusive, domain in opts.domain_filters]
    return filters


def load_snapshot(dump, source=None):
    """The live traces, or with source the PEAK or ALOC entries as raw traces (tmdump splits
    each entry's count and size so that CPython's sums are the entry's)."""
    if source == "--at-peak":
        if dump.peak is None:
            raise tmdump.DumpError("--at-peak: the dump has no PEAK section")
        return tracemalloc.Snapshot(dump.peak_raw_traces(), dump.meta.traceback_limit)
    if source == "--allocated":
        if dump.allocated is None:
            raise tmdump.DumpError("--allocated: the dump has no ALOC section")
        return tracemalloc.Snapshot(dump.allocated_raw_traces(), dump.meta.traceback_limit)
    return tracemalloc.Snapshot(dump.raw_traces(), dump.meta.traceback_limit)


def temporaries(dump, opts):
    """{Traceback: temporaries} per statistic of --allocated, grouped by CPython too: a snapshot
    with one trace per ALOC entry whose size is the entry's temporaries, under the same filters,
    key and cumulative rule, gives each statistic's sum as its size."""
    traces = []
    for domain, tb, _, _, temporary in dump.allocated:
        total, ids = dump.tracebacks[tb]
        frames = [f for i in ids for f in dump.symbolic_frames(i)]
        traces.append((domain, temporary, tuple((f[0], f[1]) for f in frames),
                       total + len(frames) - len(ids)))
    snapshot = tracemalloc.Snapshot(traces, dump.meta.traceback_limit)
    stats = snapshot.filter_traces(build_filters(opts)).statistics(opts.key_type, opts.cumulative)
    return {stat.traceback: stat.size for stat in stats}


def function_names(dumps):
    """(filename, lineno) -> the function name json shows: the smallest (bytewise) name any
    frame record of the inputs gives that frame, or None when none names one (OUTPUT.md)."""
    merged = {}
    for dump in dumps:
        for key, names in dump.function_names().items():
            merged.setdefault(key, set()).update(names)
    return {key: min(names, key=tmdump.function_order_key) if names else None
            for key, names in merged.items()}


# --- rendering -------------------------------------------------------------------------------

@functools.cache
def import_codecs():
    """Imports every codec module of the encodings package now: some import an extension module
    through sys.path (cp949 needs _codecs_kr), which would fail while it is hidden below and make
    a coding cookie naming them an unknown encoding, as it is not in CPython."""
    for module in pkgutil.iter_modules(encodings.__path__):
        try:
            importlib.import_module("encodings." + module.name)
        except Exception:   # mbcs and oem off Windows: CPython does not find them either
            pass


@contextlib.contextmanager
def sources_relative_to_cwd():
    """linecache falls back to searching sys.path for a relative file name; the analyzer reads
    source files relative to the current directory only (OUTPUT.md), so hide sys.path."""
    import_codecs()
    saved = sys.path
    sys.path = []
    try:
        yield
    finally:
        sys.path = saved


def render_text(stats, key_type, temps=None):
    lines = []
    with sources_relative_to_cwd():
        for stat in stats:
            lines.append(str(stat) + ("" if temps is None
                                      else ", temporaries=%d" % temps[stat.traceback]))
            if key_type == "traceback":
                lines.extend(stat.traceback.format())
    return "".join(line + "\n" for line in lines)


def csv_field(value):
    text = str(value)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def render_csv(stats, is_diff, temps=None):
    columns = (["size", "size_diff", "count", "count_diff"] if is_diff else ["size", "count"])
    extra = [] if temps is None else ["temporaries"]
    lines = [",".join(columns + extra + ["filename", "lineno", "traceback"])]
    for stat in stats:
        most_recent = stat.traceback[-1]
        row = [getattr(stat, column) for column in columns]
        row += [] if temps is None else [temps[stat.traceback]]
        row += [most_recent.filename, most_recent.lineno,
                ";".join(str(frame) for frame in stat.traceback)]
        lines.append(",".join(csv_field(v) for v in row))
    return "".join(line + "\n" for line in lines)


def json_string(text):
    out = ['"']
    for c in text:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        elif 0xDC80 <= ord(c) <= 0xDCFF:
            out.append("\\uFFFD")   # a byte that was not valid UTF-8 (surrogateescape)
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def render_json(stats, is_diff, functions, temps=None):
    columns = (["size", "size_diff", "count", "count_diff"] if is_diff else ["size", "count"])
    objects = []
    for stat in stats:
        fields = ['"%s":%d' % (column, getattr(stat, column)) for column in columns]
        if temps is not None:
            fields.append('"temporaries":%d' % temps[stat.traceback])
        frames = []
        for frame in stat.traceback:
            function = functions.get((frame.filename, frame.lineno))
            frames.append('{"filename":%s,"lineno":%d,"function":%s}'
                          % (json_string(frame.filename), frame.lineno,
                             "null" if function is None else json_string(function)))
        fields.append('"traceback":[%s]' % ",".join(frames))
        objects.append("{%s}" % ",".join(fields))
    return "[%s]\n" % ",".join(objects)


def render(stats, opts, dumps, is_diff, temps=None):
    if opts.top is not None:
        stats = stats[:opts.top]
    if opts.format == "csv":
        return render_csv(stats, is_diff, temps)
    if opts.format == "json":
        return render_json(stats, is_diff, function_names(dumps), temps)
    return render_text(stats, opts.key_type, temps)


def render_top(snapshot, limit):
    """The Python documentation's "display the top 10" recipe (tracemalloc examples)."""
    top_stats = snapshot.statistics("lineno")
    lines = ["Top %s lines" % limit]
    with sources_relative_to_cwd():
        for index, stat in enumerate(top_stats[:limit], 1):
            frame = stat.traceback[0]
            lines.append("#%s: %s:%s: %.1f KiB"
                         % (index, frame.filename, frame.lineno, stat.size / 1024))
            line = linecache.getline(frame.filename, frame.lineno).strip()
            if line:
                lines.append("    %s" % line)
    other = top_stats[limit:]
    if other:
        size = sum(stat.size for stat in other)
        lines.append("%s other: %.1f KiB" % (len(other), size / 1024))
    total = sum(stat.size for stat in top_stats)
    lines.append("Total allocated size: %.1f KiB" % (total / 1024))
    return "".join(line + "\n" for line in lines)


# --- commands --------------------------------------------------------------------------------

def total_size(snapshot):
    return sum(trace.size for trace in snapshot.traces)


def read_dump(path):
    try:
        return tmdump.read_dump(path)
    except tmdump.DumpError as e:
        raise tmdump.DumpError("%s: %s" % (path, e)) from None


def run(opts):
    """Returns (output text, exit status)."""
    dumps = [read_dump(path) for path in opts.sources]
    snapshots = [load_snapshot(dump, opts.source).filter_traces(build_filters(opts))
                 for dump in dumps]
    if opts.command == "top":
        return render_top(snapshots[0], opts.top), EXIT_OK
    if opts.command == "compare":
        old, new = snapshots
        stats = new.compare_to(old, opts.key_type, opts.cumulative)
        growth = total_size(new) - total_size(old)
        gate = opts.fail_over is not None and growth > opts.fail_over
        return render(stats, opts, dumps, True), EXIT_GATE if gate else EXIT_OK
    stats = snapshots[0].statistics(opts.key_type, opts.cumulative)
    gate = (opts.command == "leaks" and opts.fail_over is not None
            and total_size(snapshots[0]) > opts.fail_over)
    temps = temporaries(dumps[0], opts) if opts.source == "--allocated" else None
    return render(stats, opts, dumps, False, temps), EXIT_GATE if gate else EXIT_OK


def main(argv, stdout=None, stderr=None):
    """Runs one command; writes its output as bytes to stdout and returns the exit status."""
    stdout = stdout or sys.stdout.buffer
    stderr = stderr or sys.stderr
    linecache.clearcache()   # a long-lived caller may have rewritten the source files
    try:
        opts = parse_args(argv)
    except UsageError as e:
        print("oracle: %s" % e, file=stderr)
        return EXIT_BAD_INPUT
    try:
        text, status = run(opts)
    except (tmdump.DumpError, OSError) as e:
        print("oracle: %s" % e, file=stderr)
        return EXIT_BAD_INPUT
    except ValueError as e:   # CPython refuses, e.g. cumulative with key_type 'traceback'
        print("oracle: %s" % e, file=stderr)
        return EXIT_BAD_INPUT
    stdout.write(text.encode("utf-8", "surrogateescape"))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
