"""Parity cases on native stacks: dumps whose frames are return addresses, symbolized for real.

native_prog.c is compiled here with -g -O2 and never run: its return addresses (the address after
each call instruction of its functions, from objdump) are the native frames of generated
old/new dumps, mixed with frames in a module that is not on disk (the analyzer's fallback names,
libfake.so+0x...), addresses in no module (0x...) and source frames. The analyzer symbolizes
with libdwfl (analyzer/symbolize.c); the oracle with GNU addr2line -i -f (a third program: the
oracle's own symbolizer.py uses eu-addr2line, for the other modules), set as tmdump's
default_symbolize, so one inlined call (np_twice) becomes two frames on both sides. Then every
grouping, cumulative, filter form (on the symbolized file names and lines, and on the fallback
names), compare, leaks, --at-peak, --allocated and the same read back from a database must
print what CPython prints.

Nothing here fakes symbolization: when cc, objdump, readelf or addr2line is missing, cases()
reports one failure saying which.
"""
import os
import random
import re
import shlex
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "oracle"))
import tmdump  # noqa: E402
from cases import VIEWS, Case, view_args  # noqa: E402

SOURCE = os.path.join(HERE, "native_prog.c")
FAKE = tmdump.Module("/nonexistent/parity/libfake.so", bytes.fromhex("fa4e0001"), 0x7f1000000000,
                     ((0x7f1000000000, 0x7f1000100000, 0),))
LIMIT = 6


def build(work):
    """Compiles native_prog.c into work; returns its path."""
    prog = os.path.join(work, "native_prog")
    subprocess.run([os.environ.get("CC", "cc"), "-g", "-O2", "-o", prog, SOURCE], check=True,
                   capture_output=True)
    return prog


def return_addresses(prog):
    """The address after each call instruction in native_prog's own functions."""
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", prog], check=True,
                          capture_output=True, text=True).stdout
    out, function, after_call = [], None, False
    for line in text.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if header:
            function, after_call = header.group(1), False
            continue
        insn = re.match(r"^\s+([0-9a-f]+):\s+(\S+)", line)
        if not insn or not (function == "main" or function.startswith("np_")):
            continue
        if after_call:
            out.append(int(insn.group(1), 16))
        after_call = insn.group(2).startswith("call")
    return out


def build_id(prog):
    text = subprocess.run(["readelf", "-n", prog], check=True, capture_output=True,
                          text=True).stdout
    return bytes.fromhex(re.search(r"Build ID: ([0-9a-f]+)", text).group(1))


class Addr2line:
    """tmdump's symbolize(module, offset) through `addr2line -a -i -f` on native_prog, looking
    up offset - 1 (the call instruction, as FORMAT.md says), all addresses in one run."""

    def __init__(self, module, offsets, others):
        self.module, self.others = module, others
        args = ["addr2line", "-a", "-i", "-f", "-e", module.path] + ["0x%x" % (o - 1)
                                                                   for o in offsets]
        lines = subprocess.run(args, check=True, capture_output=True, text=True).stdout.split("\n")
        self.frames, current = {}, None
        i = 0
        while i < len(lines) and lines[i]:
            if lines[i].startswith("0x"):
                current = self.frames.setdefault(int(lines[i], 16) + 1, [])
                i += 1
                continue
            function, where = lines[i], lines[i + 1]
            where = where.split(" (discriminator")[0]
            filename, _, line = where.rpartition(":")
            current.append((filename, int(line) if line.isdigit() else 0,
                            None if function == "??" else function))
            i += 2

    def __call__(self, module, offset):
        if module == self.module:
            return self.frames[offset]
        return self.others(module, offset)


def generate(seed, prog_module, offsets):
    """An old/new pair of native traces (and the new one's peak and totals)."""
    rng = random.Random(seed * 6007)
    pool = ([tmdump.Native(prog_module, o) for o in offsets]
            + [tmdump.Native(FAKE, 0x1000 + 0x10 * k) for k in range(4)]
            + [tmdump.Native(None, 0x7ffc00001000 + 8 * k) for k in range(2)]
            + [("app.c", 10 + k, "main" if k % 2 else None) for k in range(3)])
    stacks = []
    for _ in range(14):
        frames = tuple(rng.choice(pool) for _ in range(rng.randint(1, LIMIT)))
        total = len(frames) + (rng.choice((0, 0, 3)) if len(frames) == LIMIT else 0)
        stacks.append((frames, total))
    old = [tmdump.Trace(rng.choice((0, 0, 1, 5)), rng.choice((8, 16, 100, 4096)), *rng.choice(stacks))
           for _ in range(60)]
    new = [t for t in old if rng.random() < 0.6]
    new += [tmdump.Trace(rng.choice((0, 1)), rng.choice((8, 24, 512)), *rng.choice(stacks))
            for _ in range(40)]
    return old, new


def groups(traces, rng, temporaries=False):
    out = {}
    for t in traces:
        entry = out.setdefault((t.domain, t.frames, t.total_nframe), [0, 0])
        entry[0] += 1
        entry[1] += t.size
    return [tmdump.Group(domain, frames, count, size, rng.randint(0, count) if temporaries else 0,
                         total)
            for (domain, frames, total), (count, size) in out.items()]


def write_pair(seed, work, prog_module, offsets):
    old, new = generate(seed, prog_module, offsets)
    rng = random.Random(seed)
    names = ("native%d-old.tmd" % seed, "native%d-new.tmd" % seed)
    for name, traces in zip(names, (old, new)):
        size = sum(t.size for t in traces)
        peak = groups(old, rng)
        peak_size = sum(g.size for g in peak)
        meta = tmdump.Meta(time_ns=1764100000000000000 + seed, pid=77, traced_current=size,
                           traced_peak=max(size, peak_size), traceback_limit=LIMIT,
                           label=name[:-4])
        tmdump.write_dump(os.path.join(work, name), meta, traces, modules=[prog_module],
                          timeline=tmdump.Timeline(1764100000000000000, [(0, 0, 0), (5, size, 0)]),
                          peak=tmdump.Peak(3, peak),
                          allocated=groups(old + traces, rng, temporaries=True))
    return names


FILTERS = [["--include", "*native_prog.c"], ["--include", "*native_prog.c", "--all-frames"],
           ["--include", "*native_prog.c:22", "--all-frames"], ["--include", "*native_prog.c:15"],
           ["--exclude", "libfake.so+0x*"], ["--include", "libfake.so+0x1010", "--all-frames"],
           ["--include", "0x*", "--all-frames"], ["--exclude", "*:0"], ["--domain", "1"],
           ["--exclude", "app.c", "--exclude-domain", "5"]]


def argvs(old, new):
    out = []
    for view in VIEWS:
        out += [["stats", new] + view_args(*view), ["compare", old, new] + view_args(*view)]
    for i, flags in enumerate(FILTERS):
        out.append(["stats", new] + flags + view_args(*VIEWS[i % len(VIEWS)]))
        out.append(["compare", old, new] + flags + view_args(*VIEWS[(i + 5) % len(VIEWS)]))
    out += [["leaks", new], ["leaks", new, "--format", "json"], ["top", new, "3"],
            ["stats", new, "--at-peak", "--by", "traceback"],
            ["stats", new, "--at-peak", "--cumulative", "--format", "json"],
            ["stats", new, "--allocated", "--by", "traceback", "--format", "csv"],
            ["stats", new, "--allocated", "--include", "*native_prog.c", "--all-frames"]]
    return out


def missing_tools():
    return [t for t in (os.environ.get("CC", "cc"), "objdump", "readelf", "addr2line")
            if not shutil.which(t)]


def cases(work, seeds, failures):
    """The native cases, their inputs written into work; a setup failure goes to failures."""
    missing = missing_tools()
    if missing:
        failures.append("FAIL native cases: missing %s" % ", ".join(missing))
        return []
    os.makedirs(work, exist_ok=True)
    try:
        prog = build(work)
        offsets = return_addresses(prog)
        module = tmdump.Module(prog, build_id(prog), 0x555555554000,
                               ((0x555555554000, 0x555555556000, 0),))
        tmdump.default_symbolize = Addr2line(module, offsets, tmdump.default_symbolize)
    except (subprocess.CalledProcessError, AttributeError, KeyError, IndexError) as e:
        failures.append("FAIL native cases: setup: %s" % e)
        return []
    if len(offsets) < 8 or not any(len(f) > 1 for f in tmdump.default_symbolize.frames.values()):
        failures.append("FAIL native cases: expected 8 return addresses, inlined calls among "
                        "them; got %r" % tmdump.default_symbolize.frames)
        return []
    out = []
    for seed in seeds:
        old, new = write_pair(seed, work, module, offsets)
        out += [Case("native%d: %s" % (seed, shlex.join(a)), a, work) for a in argvs(old, new)]
    return out


def database_cases(analyzer, work, seeds, failures):
    """The same read back from one database holding every pair (loaded after cases() wrote
    them): the later loads reuse the symbols of the first."""
    db = os.path.join(work, "native.db")
    names = [n for seed in seeds for n in ("native%d-old.tmd" % seed, "native%d-new.tmd" % seed)]
    if not all(os.path.exists(os.path.join(work, n)) for n in names):
        return []
    proc = subprocess.run([analyzer, "load", db] + names, cwd=work, capture_output=True,
                          timeout=120)
    if proc.returncode != 0:
        failures.append("FAIL load native dumps: %s" % proc.stderr.decode(errors="replace"))
        return []
    out = []
    for i, seed in enumerate(seeds):
        old_id, new_id = str(2 * i + 1), str(2 * i + 2)
        old, new = names[2 * i], names[2 * i + 1]
        for j, flags in enumerate([[]] + FILTERS[:4]):
            view = view_args(*VIEWS[(j + seed) % len(VIEWS)])
            out.append(Case("native db%d: stats %s" % (seed, shlex.join(flags + view)),
                            ["stats", db, "--snapshot", new_id] + flags + view, work,
                            oracle_argv=["stats", new] + flags + view))
        out.append(Case("native db%d: compare" % seed,
                        ["compare", db, "--snapshot", old_id, "--snapshot", new_id, "--by",
                         "traceback"], work, oracle_argv=["compare", old, new, "--by", "traceback"]))
        out.append(Case("native db%d: --at-peak" % seed,
                        ["stats", db, "--snapshot", new_id, "--at-peak"], work,
                        oracle_argv=["stats", new, "--at-peak"]))
    return out
