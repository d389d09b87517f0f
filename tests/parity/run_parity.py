#!/usr/bin/env python3
"""Parity suite: build/tracemalloc must print, byte for byte and with the same exit status, what
CPython's tracemalloc gives for the same dumps (tests/oracle/oracle.py).

    tests/parity/run_parity.py [--seeds N] [--analyzer PATH] [--make-dumps PATH] [--oracle-only]
                               [--only SUBSTRING] [-v]

First the checks of the oracle's own dump reader (tests/oracle/test_tmdump.py), which must also
read the header's dumps; then four sources of cases, all checked against the live oracle:
- golden: fixed dumps (tests/parity/golden/) with outputs checked by hand, so a drift of the
  oracle itself is caught too;
- generated: for each seed, tests/oracle/gen.py's old/new pair under every grouping x cumulative
  x filter form x format, compare (ties included), leaks with its gate, top, and stats read back
  from a database written by `load`;
- peak and totals: stats and top --at-peak / --allocated on each seed's version-2 dump
  (tests/parity/peak_cases.py), from the dump and from a database;
- source lines: files that test how linecache reads source (encodings, line ends, blanks);
- header: the 'before'/'after' dumps written by the real tracemalloc.h (build/make_dumps).
Work files stay in build/parity/ for reproducing a failure. Last line: "N passed, N failed".
--oracle-only runs the oracle alone (for developing without the analyzer): every case "passes"
that the oracle answers without crashing, and golden cases are checked against the oracle.
"""
import argparse
import concurrent.futures
import difflib
import io
import os
import shlex
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import gen  # noqa: E402
import oracle  # noqa: E402
import test_tmdump  # noqa: E402
sys.path.insert(0, HERE)
import cases as case_matrix  # noqa: E402  (tests/parity/cases.py)
from cases import Case  # noqa: E402
import golden  # noqa: E402   (tests/parity/golden.py)
import peak_cases  # noqa: E402   (tests/parity/peak_cases.py: --at-peak, --allocated)
import native_cases  # noqa: E402   (tests/parity/native_cases.py: native stacks, addr2line)
import source_lines  # noqa: E402


def run_analyzer(analyzer, case):
    try:
        proc = subprocess.run([analyzer] + case.argv, cwd=case.cwd, capture_output=True,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return b"", -1, str(e).encode()
    return proc.stdout, proc.returncode, proc.stderr


def run_oracle(case):
    out, err = io.BytesIO(), io.StringIO()
    saved = os.getcwd()
    os.chdir(case.oracle_cwd)
    try:
        status = oracle.main(case.oracle_argv, out, err)
    finally:
        os.chdir(saved)
    return out.getvalue(), status, err.getvalue().encode()


def printable_lines(output):
    """Output lines for a diff on a terminal: bad UTF-8 and control characters escaped."""
    text = output.decode(errors="backslashreplace")
    return ["".join(c if c >= " " or c == "\t" else "\\x%02x" % ord(c) for c in line)
            for line in text.split("\n")]


def describe_mismatch(case, expected, got, expected_from, got_from="tracemalloc"):
    """A failure report: how to reproduce it, the exit statuses, a diff of the outputs."""
    program = "tests/oracle/oracle.py" if got_from == "oracle" else "build/tracemalloc"
    argv = case.oracle_argv if got_from == "oracle" else case.argv
    cwd = case.oracle_cwd if got_from == "oracle" else case.cwd
    out = ["FAIL %s" % case.name,
           "  repro: cd %s && %s" % (shlex.quote(os.path.relpath(cwd, ROOT)),
                                    shlex.join([os.path.relpath(os.path.join(ROOT, program),
                                                                cwd)] + argv))]
    if expected[1] != got[1]:
        out.append("  exit status: %s %d, %s %d" % (expected_from, expected[1], got_from, got[1]))
        if got[2]:
            out.append("  %s stderr: %s" % (got_from, got[2].decode(errors="replace").strip()))
    if expected[0] != got[0]:
        diff = list(difflib.unified_diff(printable_lines(expected[0]),
                                         printable_lines(got[0]),
                                         expected_from, got_from, lineterm="", n=2))
        if not diff:   # same lines, different line ends or trailing bytes
            diff = ["%s: %r" % (expected_from, expected[0][-80:]),
                    "%s: %r" % (got_from, got[0][-80:])]
        out += ["  " + line for line in diff[:40]]
        if len(diff) > 40:
            out.append("  ... %d more diff lines" % (len(diff) - 40))
    return "\n".join(out)


def prepare_generated(work, seeds):
    """Writes each seed's dumps and the source files their frames name; returns the cases."""
    gen.write_sources(work)
    out = []
    for seed in seeds:
        old, new = "seed%d-old.tmd" % seed, "seed%d-new.tmd" % seed
        gen.write_pair(seed, os.path.join(work, old), os.path.join(work, new))
        for argv in case_matrix.generated_cases(seed, old, new, work):
            out.append(Case("seed%d: %s" % (seed, shlex.join(argv)), argv, work))
    return out


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=12)
    p.add_argument("--analyzer", default=os.path.join(ROOT, "build", "tracemalloc"))
    p.add_argument("--make-dumps", default=os.path.join(ROOT, "build", "make_dumps"))
    p.add_argument("--oracle-only", action="store_true")
    p.add_argument("--only", help="run only cases whose name contains this")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)

    analyzer = os.path.abspath(args.analyzer)
    if not args.oracle_only and not os.access(analyzer, os.X_OK):
        print("parity: %s is missing (make build/tracemalloc, or --oracle-only)" % analyzer)
        print("0 passed, 1 failed")
        return 1

    work = os.path.join(ROOT, "build", "parity")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    failures = []
    all_cases = golden.cases(os.path.join(work, "golden"))
    all_cases += prepare_generated(os.path.join(work, "gen"), range(1, args.seeds + 1))
    all_cases += peak_cases.cases(os.path.join(work, "gen"), range(1, args.seeds + 1))
    all_cases += source_lines.cases(os.path.join(work, "sources"))
    native_seeds = range(1, 4)
    all_cases += native_cases.cases(os.path.join(work, "native"), native_seeds, failures)
    header_cases = case_matrix.header_cases(args.make_dumps, os.path.join(work, "header"), ROOT)
    if header_cases is None:
        failures.append("FAIL header dumps: %s did not write them" % args.make_dumps)
    else:
        all_cases += header_cases
    if not args.oracle_only:
        all_cases += case_matrix.database_cases(analyzer, os.path.join(work, "db"),
                                                os.path.join(work, "gen"), args.seeds,
                                                failures)
        all_cases += peak_cases.database_cases(analyzer, os.path.join(work, "db"),
                                               os.path.join(work, "gen"), args.seeds, failures)
        all_cases += native_cases.database_cases(analyzer, os.path.join(work, "native"),
                                                 native_seeds, failures)
    if args.only:
        all_cases = [c for c in all_cases if args.only in c.name]

    # The analyzer runs in a thread pool while this thread asks the oracle.
    pool = concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2)
    got = [None if args.oracle_only else pool.submit(run_analyzer, analyzer, c)
           for c in all_cases]

    # The oracle's reader first; it must also read what the real header writes.
    header_dumps = [os.path.join(work, "header", n) for n in ("before.tmd", "after.tmd")]
    passed = 0
    for name, failure in test_tmdump.run(header_dumps if header_cases else ()):
        if failure:
            failures.append("FAIL tmdump: %s: %s" % (name, failure))
        passed += failure is None

    for i, case in enumerate(all_cases):
        oracle_said = run_oracle(case)
        ok = True
        if case.expected is not None:
            # A golden case: the oracle must still give the hand-checked output...
            if oracle_said[:2] != case.expected:
                ok = False
                failures.append(describe_mismatch(case, case.expected, oracle_said, "golden",
                                                  "oracle"))
            expected, expected_from = case.expected, "golden"
        else:
            expected, expected_from = oracle_said, "oracle"
        # ... and the analyzer must give what the golden file or the oracle says.
        if not args.oracle_only:
            result = got[i].result()
            if result[:2] != expected[:2]:
                ok = False
                failures.append(describe_mismatch(case, expected, result, expected_from))
        passed += ok
        if args.verbose:
            print("%s %s" % ("ok  " if ok else "FAIL", case.name))

    pool.shutdown()
    for failure in failures:
        print(failure)
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
