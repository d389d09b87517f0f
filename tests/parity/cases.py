"""Which command lines the parity suite runs, on which dumps.

Every option of docs/OUTPUT.md is crossed with every other where they interact: grouping
(lineno, filename, traceback) x cumulative x format for each command, and each filter form with
and without --all-frames. Patterns and domains are drawn per seed, so many seeds cover the
fnmatch corner cases (see PATTERNS) against the file names gen.py writes.
"""
import itertools
import os
import random
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "oracle"))
import tmdump  # noqa: E402


class Case:
    """One command, run by both tools from cwd. oracle_argv: what the oracle runs when it
    differs (a database for the analyzer, the dump it was loaded from for the oracle);
    oracle_cwd likewise (a documented difference: where the files the analyzer ignores are not).
    expected: None for a live oracle case, or the golden (stdout bytes, exit status)."""

    def __init__(self, name, argv, cwd, expected=None, oracle_argv=None, oracle_cwd=None):
        self.name, self.argv, self.cwd, self.expected = name, argv, cwd, expected
        self.oracle_argv = oracle_argv or argv
        self.oracle_cwd = oracle_cwd or cwd


KEY_TYPES = ("lineno", "filename", "traceback")
FORMATS = ("text", "csv", "json")
# Every (grouping, cumulative, format); traceback + cumulative is an error in CPython: both
# tools must refuse it.
VIEWS = [(k, c, f) for k, c, f in itertools.product(KEY_TYPES, (False, True), FORMATS)]

# fnmatch patterns against gen.FILENAMES; PATTERN:LINENO forms filter on the line too.
PATTERNS = [
    "src/*", "*.c", "*/deep/*", "lib/*.c", "lib/*/parse.c", "*.h", "src/.*",
    "dir with space/*", "comma,file.c", 'quote"file.c', "it's.c",
    "bracket[1].c",        # a character class: matches bracket1.c, not the literal name
    "bracket[[]1].c",      # the literal '[' through a class
    "star[*].c", "star*", "q[?].c", "?.c", "[!s]*", "[a-l]*", "[]]*", "*[",
    "[z-a]*", "[a-]*", "[!a-z]*", "[a-c-z]*", "[!---]*", "[&~|]*", "*[&]*", "win\\*",
    "*é*", "unicodé/na?ve.c",  # '?' is one character, two bytes in UTF-8
    "日本語/*", "/usr/*", "*/*/*",
    "legacy/module.py",    # Filter strips the 'c' of a .pyc name: matches module.pyc too
    "*.pyc",
    "semi;colon:7.c",      # ':7.c' does not end in digits: all of it is the pattern
    "semi;colon:7.c:6", "*:0", "src/main.c:5", "*:4000000000", "*:12", "nomatch*", "",
]
DOMAINS = ["0", "1", "2", "7", "4294967295", "3"]


def view_args(key_type, cumulative, fmt):
    return (["--by", key_type] + (["--cumulative"] if cumulative else [])
            + ["--format", fmt])


class _Draw:
    """Draws filter arguments for one seed."""

    def __init__(self, seed):
        self.rng = random.Random(seed * 7919)

    def pattern(self):
        return self.rng.choice(PATTERNS)

    def domain(self):
        return self.rng.choice(DOMAINS)

    def filter_forms(self):
        """Each filter form once, as argument lists."""
        p, q, d = self.pattern, self.pattern, self.domain
        return [
            [],
            ["--include", p()],
            ["--exclude", p()],
            ["--include", p(), "--include", q()],        # inclusive filters: any matches
            ["--exclude", p(), "--exclude", q()],        # exclusive filters: all must pass
            ["--include", p(), "--exclude", q()],
            ["--domain", d()],
            ["--exclude-domain", d()],
            ["--domain", d(), "--domain", d()],
            ["--include", p(), "--domain", d()],         # two inclusive filters: OR, as CPython
            ["--exclude", p(), "--exclude-domain", d()],
        ]


def total_size(path):
    return sum(size for _, size, _, _ in tmdump.read_dump(path).traces)


def generated_cases(seed, old, new, work):
    """Command lines (argv lists) for one seed's old/new pair, run from work."""
    draw = _Draw(seed)
    out = []
    for view in VIEWS:
        out.append(["stats", new] + view_args(*view))
        out.append(["compare", old, new] + view_args(*view))
    for i, (form, all_frames) in enumerate(itertools.product(draw.filter_forms(), (0, 1))):
        flags = form + (["--all-frames"] if all_frames else [])
        out.append(["stats", (old, new)[i % 2]] + flags
                   + view_args(*VIEWS[(i + seed) % len(VIEWS)]))
        out.append(["compare", old, new] + flags
                   + view_args(*VIEWS[(i + 3 * seed) % len(VIEWS)]))
    for i, pattern in enumerate(PATTERNS):
        flags = ["--include" if (i + seed) % 3 else "--exclude", pattern]
        flags += ["--all-frames"] if (i + seed) % 2 else []
        out.append(["stats", new] + flags + view_args(*VIEWS[(i * 5 + seed) % len(VIEWS)]))
    for n in ("1", "3"):
        out.append(["stats", new, "--top", n])
        out.append(["compare", old, new, "--top", n, "--by", "traceback"])
    out += leaks_and_gates(old, new, total_size(os.path.join(work, old)),
                           total_size(os.path.join(work, new)))
    out += [["top", new], ["top", new, "3"], ["top", old, "1000"]]
    return out


def leaks_and_gates(old, new, old_total, new_total):
    """leaks and compare around their --fail-over thresholds (exit 3 only above them)."""
    growth = new_total - old_total
    out = [["leaks", new], ["leaks", new, "--by", "lineno"], ["leaks", new, "--format", "json"]]
    for threshold in {max(new_total - 1, 0), new_total, 0}:
        out.append(["leaks", new, "--fail-over", str(threshold)])
    for threshold in {max(growth - 1, 0), max(growth, 0), 0}:
        out.append(["compare", old, new, "--fail-over", str(threshold)])
    return out


def header_cases(make_dumps, work, root):
    """Cases on the dumps build/make_dumps writes through tracemalloc.h, run from the repository
    root (its frames name tests/parity/make_dumps.c). None if it could not write them."""
    os.makedirs(work, exist_ok=True)
    before, after = (os.path.relpath(os.path.join(work, n), root)
                     for n in ("before.tmd", "after.tmd"))
    try:
        proc = subprocess.run([make_dumps, before, after], cwd=root, capture_output=True,
                              timeout=60)
    except OSError:
        return None
    if proc.returncode != 0 or not all(os.path.exists(os.path.join(root, p))
                                       for p in (before, after)):
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        return None
    argvs = []
    for view in VIEWS:
        argvs += [["stats", before] + view_args(*view), ["stats", after] + view_args(*view),
                  ["compare", before, after] + view_args(*view)]
    filters = [["--include", "script/*"], ["--include", "*.lua", "--all-frames"],
               ["--include", "script/app.lua:21", "--all-frames"], ["--exclude", "vm/*"],
               ["--include", "tests/parity/*"], ["--domain", "1"], ["--exclude-domain", "0"],
               ["--domain", "2", "--include", "vm/interp loop.c"], ["--exclude", "*:0"]]
    for i, flags in enumerate(filters):
        argvs.append(["stats", after] + flags + view_args(*VIEWS[i % len(VIEWS)]))
        argvs.append(["compare", before, after] + flags
                     + view_args(*VIEWS[(i + 7) % len(VIEWS)]))
    argvs += [["leaks", after], ["leaks", after, "--format", "csv"], ["top", after],
              ["top", before, "2"]]
    return [Case("header: " + shlex.join(argv), argv, root) for argv in argvs]


def database_cases(analyzer, db_dir, gen_dir, seeds, failures):
    """stats read from a database written by `load` must equal stats read from the dump."""
    os.makedirs(db_dir, exist_ok=True)
    out = []
    for seed in range(1, seeds + 1, 3):
        dump = "seed%d-new.tmd" % seed
        db = os.path.join(db_dir, "seed%d.db" % seed)
        proc = subprocess.run([analyzer, "load", db, dump], cwd=gen_dir, capture_output=True,
                              timeout=60)
        if proc.returncode != 0:
            failures.append("FAIL load %s: exit %d: %s" % (
                dump, proc.returncode, proc.stderr.decode(errors="replace").strip()))
            continue
        draw = _Draw(seed + 1000)
        for i, form in enumerate(draw.filter_forms()[:6]):
            flags = form + view_args(*VIEWS[(i + seed) % len(VIEWS)])
            out.append(Case("db seed%d: stats DB %s" % (seed, shlex.join(flags)),
                            ["stats", db] + flags, gen_dir, oracle_argv=["stats", dump] + flags))
    return out
