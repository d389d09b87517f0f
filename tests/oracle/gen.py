#!/usr/bin/env python3
"""Deterministic random dumps that stress parity with CPython.

    gen.py SEED OLD.tmd NEW.tmd [--sources DIR]

Each seed gives a pair of snapshots (an 'old' one and a 'new' one derived from it, for compare)
built to hit every rule where a re-implementation could drift from CPython:
- multi-frame tracebacks of various depths, total_nframe > nframe (the limit cut them);
- recursion: a frame repeated in one traceback (cumulative statistics count it twice);
- ties in size and count (few distinct sizes, many count-1 groups), so the traceback decides
  the order, including tracebacks that are prefixes of others; in compare, size_diff ties of
  both signs and zero diffs;
- several domains, up to 2**32 - 1;
- file names with spaces, commas, quotes, '[', '*', '?', non-ASCII UTF-8, absolute paths and
  deep directories (fnmatch's '*' crosses '/'), a '.pyc' name (Filter strips its 'c');
- lineno 0, line numbers past the end of a source file;
- a function name missing for some frames, and two names for one file:line;
- every fifth seed, an unknown optional section that readers must skip.
SOURCE_FILES are written under --sources so that Traceback.format() finds source lines (tabs,
trailing blanks, CRLF line ends, blank lines, non-ASCII text) relative to the current directory.
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmdump  # noqa: E402

# File names a dump may use. The ones in SOURCE_FILES exist on disk for the source-line tests.
FILENAMES = [
    "src/main.c",
    "src/util.c",
    "src/util.h",
    "src/.hidden.c",
    "lib/deep/a/b/c/parse.c",
    "lib/deep/a/x.c",
    "lib/parse.c",
    "dir with space/file name.c",
    "comma,file.c",
    'quote"file.c',
    "it's.c",
    "bracket[1].c",
    "bracket1.c",
    "star*.c",
    "q?.c",
    "unicodé/naïve.c",
    "日本語/コード.c",
    "/usr/include/abs.h",
    "semi;colon:7.c",
    "legacy/module.pyc",
    "legacy/module.py",
    "win\\path.c",
    "a-z&~|.c",
]

# Source text for some of the files above: line N of the list is line N + 1 of the file.
SOURCE_FILES = {
    "src/main.c": ["#include <stdlib.h>", "", "int main(void)", "{",
                   "    char *p = malloc(100);   ", "\tchar *q = malloc(200);\t",
                   "    return 0;", "}"] + ["    /* line %d */" % n for n in range(9, 26)],
    "src/util.c": ["static void *grow(void *p, size_t n)", "{", "    return realloc(p, n);",
                   "}", "   ", "void *pool_new(void) { return calloc(1, 64); }"],
    "unicodé/naïve.c": ["/* café */", "    char *s = strdup(\"naïve\");", "", "\t\t\tx();"],
    "dir with space/file name.c": ["a();", "  b();  ", "c();"],
}
# Written with CRLF line ends: Python's universal newlines strip the CR; so must the analyzer.
CRLF_FILES = {"dir with space/file name.c"}

FUNCTIONS = ["main", "grow", "pool_new", "parse", "zeta", "alpha", "émile", "f,g", 'say"hi']
SIZES = [1, 16, 16, 32, 64, 64, 100, 1000, 1024, 1536, 4096, 10 * 1024, 99 * 1024,
         100 * 1024, 5 * 1024 * 1024, 3 << 30, 120 << 40]
DOMAINS = [0, 0, 0, 0, 1, 2, 7, 0xFFFFFFFF]


def write_sources(root):
    """Writes SOURCE_FILES under root (the directory both tools run from)."""
    for name, lines in SOURCE_FILES.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        end = "\r\n" if name in CRLF_FILES else "\n"
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write("".join(line + end for line in lines))


class _Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        rng = self.rng
        self.limit = rng.choice([1, 2, 3, 5, 8])
        self.files = rng.sample(FILENAMES, rng.randint(4, len(FILENAMES)))
        self.frame_pool = [self._frame() for _ in range(rng.randint(6, 30))]
        self.tracebacks = [self._traceback() for _ in range(rng.randint(4, 40))]
        self.tracebacks += [self._callee(tb) for tb in self.tracebacks if rng.random() < 0.3]

    def _frame(self):
        rng = self.rng
        filename = rng.choice(self.files)
        lineno = rng.choice([0, 1, 2, 3, 5, 6, 7, 12, 30, 4000000000, rng.randint(0, 40)])
        function = rng.choice(FUNCTIONS + [None])
        return (filename, lineno, function)

    def _traceback(self):
        """Frames most recent first, and the depth before the limit cut them."""
        rng = self.rng
        depth = rng.choice([1, 1, 2, 3, self.limit, self.limit + rng.randint(1, 5)])
        frames = []
        for _ in range(depth):
            if frames and rng.random() < 0.2:
                frames.append(rng.choice(frames))          # recursion
            else:
                frames.append(rng.choice(self.frame_pool))
        if rng.random() < 0.1:
            # The same file:line under another function name (or none): identity is file:line.
            f = frames[0]
            frames[0] = (f[0], f[1], rng.choice(FUNCTIONS + [None]))
        return tuple(frames[:self.limit]), depth

    def _callee(self, traceback):
        """The same stack one call deeper: oldest first, the shorter traceback is a prefix of
        this one, so when size and count tie the longer one sorts first (tuple order)."""
        frames, total = traceback
        frames = (self.rng.choice(self.frame_pool),) + frames
        return frames[:self.limit], total + 1

    def trace(self):
        rng = self.rng
        frames, total = rng.choice(self.tracebacks)
        return tmdump.Trace(domain=rng.choice(DOMAINS), size=rng.choice(SIZES),
                            frames=frames, total_nframe=total)

    def snapshot(self, n):
        return [self.trace() for _ in range(n)]

    def evolve(self, old):
        """A later snapshot: some blocks freed, some resized (realloc), new ones allocated."""
        rng = self.rng
        new = []
        for trace in old:
            r = rng.random()
            if r < 0.25:
                continue
            if r < 0.35:
                trace = tmdump.Trace(trace.domain, rng.choice(SIZES), trace.frames,
                                     trace.total_nframe, trace.address)
            new.append(trace)
        self.tracebacks += [self._traceback() for _ in range(rng.randint(0, 5))]
        return new + self.snapshot(rng.randint(0, len(old) // 2 + 3))


def generate(seed):
    """Returns (limit, old traces, new traces) for seed; addresses are unique per domain."""
    g = _Generator(seed)
    old = g.snapshot(g.rng.choice([1, 5, 40, 150, 300, 400]) if seed % 7 else 0)
    old = [tmdump.Trace(t.domain, t.size, t.frames, t.total_nframe, 0x1000 + 16 * i)
           for i, t in enumerate(old)]
    new = g.evolve(old)
    base = 0x1000 + 16 * len(old)
    new = [t if t.address is not None else
           tmdump.Trace(t.domain, t.size, t.frames, t.total_nframe, base + 16 * i)
           for i, t in enumerate(new)]
    return g.limit, old, new


def write_pair(seed, old_path, new_path):
    limit, old, new = generate(seed)
    # Every fifth seed carries a section from a future version without the required flag:
    # readers must skip it (FORMAT.md).
    extra = [(tmdump.TAG_TBKS, tmdump.tag("XTRA"), 0, b"from the future")] if seed % 5 == 0 else []
    for path, traces, label in ((old_path, old, "old"), (new_path, new, "new")):
        meta = tmdump.Meta(time_ns=1_700_000_000_000_000_000 + seed, pid=1000 + seed,
                           traced_current=sum(t.size for t in traces),
                           traced_peak=sum(t.size for t in traces) + 4096,
                           traceback_limit=limit, label="seed %d %s" % (seed, label))
        tmdump.write_dump(path, meta, traces, extra)


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--sources"):
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 1
    write_pair(int(argv[0]), argv[1], argv[2])
    if len(argv) == 5:
        write_sources(argv[4])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
