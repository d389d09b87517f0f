#!/usr/bin/env python3
"""The analyzer's bad-input, usage, gate and database tests: exact messages, exit statuses, and
a database left exactly as it was by every failed load.

    test_errors.py [ANALYZER [WORKDIR]]     (default: build/tracemalloc, build/tests/errors)

Dumps come from mkdump.py (beside this file); golden outputs sit in golden/. The last line is
"N passed, N failed".
"""
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import mkdump  # noqa: E402

USAGE_TAIL = "see 'tracemalloc --help'\n"

# Each broken dump and the one line every command that reads it must print (after "FILE: ").
BAD_DUMPS = {
    "missing.tmd": "No such file or directory",
    "empty.tmd": "empty file",
    "text.tmd": "not a tracemalloc dump (bad magic)",
    "short_magic.tmd": "truncated: the header needs 16 bytes, 5 left",
    "header_only.tmd": "truncated: no end section",
    "version3.tmd": "format version 3, this reader knows 1 and 2",
    "header_flags.tmd": "header flags 0x4, this reader knows 0",
    "cut_in_trcs.tmd": "truncated: TRCS needs 104 bytes, 20 left",
    "cut_in_header_of_section.tmd": "truncated: a section header needs 16 bytes, 7 left",
    "cut_before_end.tmd": "truncated: no end section",
    "cut_in_crc.tmd": "truncated: the end section needs 4 bytes, 2 left",
    "corrupt_byte.tmd": "checksum mismatch",
    "trailing_garbage.tmd": "5 bytes after the end section",
    "huge_trace_count.tmd":
        "TRCS: 1099511627776 traces need 26388279066624 bytes, the section has 96",
    "huge_string_count.tmd":
        "STRS: 4294967295 strings need at least 17179869180 bytes, the section has 45",
    "bad_traceback_id.tmd": "TRCS: trace 3: traceback id 9, the traceback table has 2",
    "unknown_required.tmd": "unknown required section XTRA",
    "missing_section.tmd": "missing section TRCS",
    "duplicate_section.tmd": "section META appears twice",
    "out_of_order.tmd": "section META comes before section STRS",
    "meta_short.tmd": "META: 60 bytes, expected 64",
    "frame_kind.tmd": "FRMS: frame 0 has kind 1, version 1 knows 0",
    "zero_limit.tmd": "META: traceback limit 0, expected 1..65535",
    # What version 2 added (mkdump.broken_v2_dumps).
    "v2_missing_mods.tmd": "section FRMS comes before section MODS",
    "v1_with_mods.tmd": "section MODS in a version 1 dump",
    "time_in_v1.tmd": "section TIME in a version 1 dump",
    "mods_long_build_id.tmd": "MODS: module 0: build-id of 65 bytes, at most 64",
    "mods_no_range.tmd": "MODS: module 0 has 0 ranges, expected 1..64",
    "mods_65_ranges.tmd": "MODS: module 0 has 65 ranges, expected 1..64",
    "mods_bad_range.tmd": "MODS: module 0: range 0 ends before it starts",
    "mods_huge_count.tmd":
        "MODS: 4294967295 modules need at least 85899345900 bytes, the section has 72",
    "mods_bad_path.tmd": "MODS: module 0: path string id 99, the string table has 4",
    "mods_cut_ranges.tmd": "MODS: module 0 needs 48 bytes for its ranges, 24 left",
    "mods_left_over.tmd": "MODS: 3 bytes left over after 1 modules",
    "native_bad_module.tmd": "FRMS: frame 1: module id 5, the module table has 1",
    "frame_kind_2.tmd": "FRMS: frame 0 has kind 2, this reader knows 0 and 1",
    "time_backwards.tmd": "TIME: sample 2 goes back in time",
    "time_flags.tmd": "TIME: flags 0x1, this reader knows 0",
    "time_count.tmd": "TIME: 5 samples need 120 bytes, the section has 96",
    "time_after_peak.tmd": "section TIME comes after section PEAK",
    "time_twice.tmd": "section TIME appears twice",
    "peak_twice.tmd": "section PEAK appears twice",
    "peak_bad_traceback.tmd": "PEAK: entry 1: traceback id 9, the traceback table has 3",
    "peak_duplicate.tmd": "PEAK: entry 2: domain 0 and traceback 1 appear twice",
    "peak_size_mismatch.tmd": "PEAK: the entries hold 1000 bytes, the section says 999",
    "peak_above_traced_peak.tmd": "PEAK: 1000 bytes, above the traced peak of 999",
    "peak_huge_sizes.tmd": "PEAK: the counts or sizes add up past 2^63 - 1",
    "aloc_bad_traceback.tmd": "ALOC: entry 0: traceback id 3, the traceback table has 3",
    "aloc_duplicate.tmd": "ALOC: entry 2: domain 0 and traceback 1 appear twice",
    "aloc_temporaries.tmd": "ALOC: entry 0: 11 temporaries out of 10 allocations",
    "aloc_huge_count.tmd":
        "ALOC: 4294967295 entries need 137438953440 bytes, the section has 96",
}

# Command lines that read one dump, with {} where the dump goes.
READERS = [["stats", "{}"], ["stats", "{}", "--by", "traceback", "--format", "json"],
           ["top", "{}"], ["leaks", "{}", "--fail-over", "0"], ["info", "{}"],
           ["compare", "small.tmd", "{}"], ["compare", "{}", "small.tmd"],
           ["sql", "{}", "SELECT 1"]]

USAGE_ERRORS = [
    ([], "missing command"),
    (["frob"], "unknown command 'frob'"),
    (["stats"], "stats: missing SRC"),
    (["stats", "a.tmd", "b.tmd"], "stats: unexpected argument 'b.tmd'"),
    (["stats", "small.tmd", "--bogus"], "stats: unknown option --bogus"),
    (["info", "small.tmd", "--top", "3"], "info: unknown option --top"),
    (["stats", "small.tmd", "--by"], "--by needs a value"),
    (["stats", "small.tmd", "--by", "file"],
     "--by must be lineno, filename or traceback, not 'file'"),
    (["stats", "small.tmd", "--format", "xml"], "--format must be text, csv or json, not 'xml'"),
    (["stats", "small.tmd", "--top", "-1"], "--top must be an integer >= 0, not '-1'"),
    (["stats", "small.tmd", "--top", "1x"], "--top must be an integer >= 0, not '1x'"),
    (["stats", "small.tmd", "--cumulative=yes"], "--cumulative takes no value"),
    (["stats", "small.tmd", "--by", "traceback", "--cumulative"],
     "--cumulative cannot be used with --by traceback"),
    (["stats", "small.tmd", "--domain", "x"], "--domain must be an integer >= 0, not 'x'"),
    (["stats", "small.tmd", "--include", "a.c:99999999999999999999"],
     "a filter's line number must be an integer >= 0, not '99999999999999999999'"),
    (["stats", "small.tmd", "--snapshot", "1"],
     "--snapshot needs a database, and small.tmd is not one"),
    (["top", "small.tmd", "0"], "N must be an integer >= 1, not '0'"),
    (["compare", "small.tmd"], "compare: needs OLD and NEW dumps, or a database"),
    (["compare", "small.tmd", "later.tmd", "--snapshot", "1"],
     "compare: --snapshot is for one database: compare DB --snapshot OLD --snapshot NEW"),
    (["leaks", "small.tmd", "--fail-over", "1.5"],
     "--fail-over must be an integer >= 0, not '1.5'"),
    (["load", "x.db"], "load: missing argument"),
    (["sql", "x.db"], "sql: missing argument"),
]


class Suite:
    def __init__(self, analyzer, work):
        self.analyzer, self.work = analyzer, work
        self.passed, self.failed = 0, 0

    def run(self, args, cwd=None):
        proc = subprocess.run([self.analyzer] + args, cwd=cwd or self.work, capture_output=True)
        return proc.returncode, proc.stdout.decode("utf-8", "replace"), \
            proc.stderr.decode("utf-8", "replace")

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, "\n  " + detail.replace("\n", "\n  ") if detail else ""))

    def expect(self, name, args, status, stdout=None, stderr=None):
        """Runs args; checks the status and, when given, the exact stdout and stderr."""
        got = self.run(args)
        want = (status, stdout if stdout is not None else got[1],
                stderr if stderr is not None else got[2])
        self.check(name, got == want, "args: %r\n want: %r\n got:  %r" % (args, want, got))
        return got

    def path(self, name):
        return os.path.join(self.work, name)


def content(db_path):
    """Everything a database holds, as SQL text (the same content gives the same text)."""
    if not os.path.exists(db_path):
        return None
    with sqlite3.connect("file:%s?mode=ro" % db_path, uri=True) as db:
        return "\n".join(db.iterdump())


def test_bad_dumps(s):
    for name, message in BAD_DUMPS.items():
        for argv in READERS:
            args = [a.replace("{}", name) for a in argv]
            s.expect("%s: %s" % (" ".join(argv[:1]), name), args, 1,
                     stdout="", stderr="tracemalloc: %s: %s\n" % (name, message))


def test_load_is_all_or_nothing(s):
    db = s.path("kept.db")
    s.expect("load prints the snapshot id", ["load", "kept.db", "small.tmd"], 0, "1\n", "")
    before = content(db)
    for name, message in BAD_DUMPS.items():
        s.expect("load %s" % name, ["load", "kept.db", name], 1, "",
                 "tracemalloc: %s: %s\n" % (name, message))
        s.check("load %s leaves the database as it was" % name, content(db) == before)
    s.expect("load: a bad dump among good ones", ["load", "kept.db", "later.tmd", "empty.tmd",
                                                  "small.tmd"], 1, "2\n3\n",
             "tracemalloc: empty.tmd: empty file\n")
    with sqlite3.connect(db) as c:
        ids = [r[0] for r in c.execute("SELECT id FROM snapshots ORDER BY id")]
    s.check("load: the good dumps around a bad one are loaded", ids == [1, 2, 3], repr(ids))
    s.expect("load: a failed first load creates no database", ["load", "new.db", "corrupt_byte.tmd"],
             1, "", "tracemalloc: corrupt_byte.tmd: checksum mismatch\n")
    s.check("load: no database file after a failed first load", not os.path.exists(s.path("new.db")))


def test_load_rolls_back(s):
    """A failure in the middle of the transaction (a trigger refuses one block of 100 bytes,
    after the snapshot, frames, tracebacks, groups and earlier blocks went in)."""
    db = s.path("trigger.db")
    s.expect("load before the trigger", ["load", "trigger.db", "later.tmd"], 0, "1\n", "")
    with sqlite3.connect(db) as c:
        c.execute("CREATE TRIGGER refuse BEFORE INSERT ON traces WHEN new.size = 100"
                  " BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
    before = content(db)
    s.expect("load fails inside its transaction", ["load", "trigger.db", "small.tmd"], 1, "",
             "tracemalloc: trigger.db: injected failure\n")
    s.check("a failed transaction leaves the database as it was", content(db) == before)


def test_not_our_database(s):
    db = s.path("foreign.db")
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE t (a)")
    before = content(db)
    s.expect("load refuses a database it did not make", ["load", "foreign.db", "small.tmd"], 1,
             "", "tracemalloc: foreign.db: not a tracemalloc database\n")
    s.check("a foreign database is left as it was", content(db) == before)
    s.expect("stats refuses a database it did not make", ["stats", "foreign.db"], 1, "",
             "tracemalloc: foreign.db: not a tracemalloc database\n")
    s.expect("load refuses a dump given as the database", ["load", "small.tmd", "later.tmd"], 1,
             "", "tracemalloc: small.tmd: file is not a database\n")


def test_sql_is_read_only(s):
    s.expect("sql db for writes", ["load", "ro.db", "small.tmd"], 0, "1\n", "")
    before = content(s.path("ro.db"))
    for query in ["DELETE FROM snapshots", "CREATE TABLE t (a)", "PRAGMA user_version = 7",
                  "INSERT INTO strings (value) VALUES ('x')", "DROP VIEW statistics_lineno"]:
        s.expect("sql cannot write: %s" % query, ["sql", "ro.db", query], 1, "",
                 "tracemalloc: ro.db: attempt to write a readonly database\n")
    s.expect("sql cannot attach a new file", ["sql", "ro.db", "ATTACH 'other.db' AS o"], 1, "",
             "tracemalloc: ro.db: unable to open database: other.db\n")
    s.check("sql left the database as it was", content(s.path("ro.db")) == before)
    s.check("sql created no file", not os.path.exists(s.path("other.db")))
    s.expect("sql reports a bad query", ["sql", "ro.db", "SELECT nope FROM snapshots"], 1, "",
             "tracemalloc: ro.db: no such column: nope\n")


def test_usage_errors(s):
    for args, message in USAGE_ERRORS:
        s.expect("usage: %s" % " ".join(args), args, 1, "",
                 "tracemalloc: %s\n%s" % (message, USAGE_TAIL))
    for args in [["--help"], ["help"], ["stats", "--help"], ["help", "compare"], ["load", "-h"]]:
        status, out, err = s.run(args)
        s.check("help: %s" % " ".join(args), status == 0 and out.startswith("usage: tracemalloc")
                and err == "", repr((status, out[:60], err)))


def test_gates(s):
    # small.tmd holds 2198 bytes; later.tmd 5182: a growth of 2984.
    for args, status in [(["leaks", "small.tmd", "--fail-over", "2197"], 3),
                         (["leaks", "small.tmd", "--fail-over", "2198"], 0),
                         (["leaks", "small.tmd", "--fail-over", "0", "--exclude", "*"], 0),
                         (["leaks", "small.tmd", "--fail-over", "2047", "--include", "a.c"], 3),
                         (["leaks", "small.tmd", "--fail-over", "2048", "--include", "a.c"], 0),
                         (["compare", "small.tmd", "later.tmd", "--fail-over", "2983"], 3),
                         (["compare", "small.tmd", "later.tmd", "--fail-over", "2984"], 0),
                         (["compare", "later.tmd", "small.tmd", "--fail-over", "0"], 0),
                         (["compare", "gates.db", "--fail-over", "2983"], 3),
                         (["compare", "gates.db", "--snapshot", "later", "--snapshot", "small",
                           "--fail-over", "0"], 0)]:
        if "gates.db" in args and not os.path.exists(s.path("gates.db")):
            s.run(["load", "gates.db", "small.tmd", "later.tmd"])
        got = s.run(args)
        s.check("gate: %s" % " ".join(args), got[0] == status, repr(got))
    _, _, err = s.run(["leaks", "small.tmd", "--fail-over", "2000"])
    s.check("a tripped gate says why on stderr",
            err == "tracemalloc: small.tmd: 2198 bytes still allocated, more than --fail-over"
                   " 2000\n", repr(err))


def golden(s, name, args):
    with open(os.path.join(HERE, "golden", name + ".out")) as f:
        want = f.read()
    s.expect("golden %s" % name, args, 0, want, "")


def test_info_and_snapshots(s):
    golden(s, "info_dump", ["info", "small.tmd"])
    s.run(["load", "info.db", "small.tmd", "later.tmd", "--label", "run"])
    golden(s, "info_db_newest", ["info", "info.db"])
    golden(s, "info_db_by_id", ["info", "info.db", "--snapshot", "1"])
    golden(s, "info_no_traces", ["info", "no_traces.tmd"])
    s.expect("--snapshot by label takes the newest of that label",
             ["sql", "info.db", "SELECT id, label FROM snapshots"], 0, "id|label\n1|run\n2|run\n", "")
    s.expect("an unknown snapshot", ["stats", "info.db", "--snapshot", "nope"], 1, "",
             "tracemalloc: info.db: no snapshot 'nope'\n")
    s.expect("an unknown snapshot id", ["stats", "info.db", "--snapshot", "9"], 1, "",
             "tracemalloc: info.db: no snapshot '9'\n")
    s.run(["load", "one.db", "small.tmd"])
    s.expect("compare needs two snapshots", ["compare", "one.db"], 1, "",
             "tracemalloc: one.db: fewer than two snapshots\n")
    golden(s, "compare_db_two_newest", ["compare", "info.db"])


def test_optional_section(s):
    s.expect("an unknown optional section is skipped", ["stats", "optional_section.tmd"], 0,
             "a.c:12: size=2048 B, count=2, average=1024 B\n"
             "lib/b.c:7: size=150 B, count=2, average=75 B\n",
             "tracemalloc: optional_section.tmd: skipped 1 unknown optional section (XTRA)\n")


def test_native_dump(s):
    """Version 2: native frames read as frames named after their module and offset, in stats
    on the dump itself and after load; a second load reuses the symbols of the first."""
    s.expect("stats on a version-2 dump", ["stats", "native.tmd", "--by", "traceback"], 0,
             "app.c:10: size=500 B, count=2, average=250 B\n"
             '  File "app.c", line 10\n'
             '  File "0x401000", line 0\n'
             '  File "libdemo.so+0x1a2b", line 0\n'
             "app.c:10: size=64 B, count=1, average=64 B\n"
             '  File "app.c", line 10\n', "")
    s.expect("load a version-2 dump twice", ["load", "native.db", "native.tmd", "native.tmd"], 0,
             "1\n2\n", "")
    s.expect("each address is symbolized once per database",
             ["sql", "native.db", "SELECT module, offset, position, frame FROM symbols"], 0,
             "module|offset|position|frame\n1|6699|0|2\n1|8192|0|4\n", "")
    s.expect("both snapshots have the same groups, in every table",
             ["sql", "native.db", "SELECT (SELECT group_concat(snapshot || ':' || traceback || ':'"
              " || size, ' ') FROM groups) AS g, (SELECT group_concat(snapshot || ':' || traceback"
              " || ':' || size, ' ') FROM peak_groups) AS p, (SELECT group_concat(snapshot || ':'"
              " || traceback || ':' || temporaries, ' ') FROM alloc_groups) AS a,"
              " (SELECT count(*) FROM timeline) AS samples"], 0,
             "g|p|a|samples\n1:1:500 1:2:64 2:1:500 2:2:64|1:1:900 1:2:64 1:3:36 2:1:900 2:2:64"
             " 2:3:36|1:1:4 1:2:0 1:3:5 2:1:4 2:2:0 2:3:5|8\n", "")
    s.expect("the snapshots have their start and peak",
             ["sql", "native.db", "SELECT start_ns, peak_time_ns, peak_size FROM snapshots"], 0,
             "start_ns|peak_time_ns|peak_size\n1764100000000000000|20000000|1000\n"
             "1764100000000000000|20000000|1000\n", "")


def downgrade_to_version_1(db_path):
    """Turns a database of this tool into what schema version 1 was (its tables and columns,
    user_version 1), as an older tracemalloc left it."""
    with sqlite3.connect(db_path) as c:
        for table in ["modules", "symbols", "timeline", "peak_groups", "alloc_groups"]:
            c.execute("DROP TABLE %s" % table)
        for column in ["start_ns", "peak_time_ns", "peak_size"]:
            c.execute("ALTER TABLE snapshots DROP COLUMN %s" % column)
        c.execute("PRAGMA user_version = 1")


def test_schema_versions(s):
    s.run(["load", "v1.db", "small.tmd", "later.tmd"])
    downgrade_to_version_1(s.path("v1.db"))
    before = content(s.path("v1.db"))
    want = s.run(["stats", "later.tmd", "--by", "traceback"])[1]
    s.expect("a version-1 database reads as before", ["stats", "v1.db", "--by", "traceback"], 0,
             want, "")
    s.expect("a version-1 database shows version 2's columns as NULL and tables as empty",
             ["sql", "v1.db", "SELECT count(start_ns), (SELECT count(*) FROM peak_groups),"
              " (SELECT count(*) FROM symbols) FROM snapshots"], 0,
             "count(start_ns)|(SELECT count(*) FROM peak_groups)|(SELECT count(*) FROM symbols)\n"
             "0|0|0\n", "")
    s.check("reading a version-1 database leaves it as it was", content(s.path("v1.db")) == before)
    s.expect("a failed load leaves a version-1 database as it was",
             ["load", "v1.db", "peak_duplicate.tmd"], 1, "",
             "tracemalloc: peak_duplicate.tmd: PEAK: entry 2: domain 0 and traceback 1 appear twice\n")
    s.check("... exactly", content(s.path("v1.db")) == before)
    s.expect("load upgrades a version-1 database", ["load", "v1.db", "native.tmd"], 0, "3\n", "")
    s.expect("the upgraded database has version 2 and every snapshot",
             ["sql", "v1.db", "SELECT (SELECT user_version FROM pragma_user_version) AS v,"
              " group_concat(id || ':' || coalesce(peak_size, '-'), ' ') AS snapshots FROM snapshots"],
             0, "v|snapshots\n2|1:- 2:- 3:1000\n", "")
    s.expect("the upgraded database reads as before", ["stats", "v1.db", "--snapshot", "2",
                                                       "--by", "traceback"], 0, want, "")
    s.run(["load", "v3.db", "small.tmd"])
    with sqlite3.connect(s.path("v3.db")) as c:
        c.execute("PRAGMA user_version = 3")
    before = content(s.path("v3.db"))
    message = "tracemalloc: v3.db: database schema version 3, this tool knows 1 and 2\n"
    s.expect("a newer database is refused for reading", ["stats", "v3.db"], 1, "", message)
    s.expect("a newer database is refused for loading", ["load", "v3.db", "small.tmd"], 1, "",
             message)
    s.check("a refused newer database is left as it was", content(s.path("v3.db")) == before)


def test_schema_examples(s):
    """Every query in docs/SCHEMA.md runs, and prints what the page shows under it."""
    with open(os.path.join(ROOT, "docs", "SCHEMA.md")) as f:
        doc = f.read()
    s.run(["load", "schema.db", "small.tmd", "later.tmd", "native.tmd"])
    examples = [split_example(block) for block in re.findall(r"```sh\n(\$ .*?)```", doc, re.S)]
    s.check("docs/SCHEMA.md has examples", len(examples) >= 5, str(len(examples)))
    for args, output in examples:
        s.expect("SCHEMA.md: %s" % " ".join(args)[:80], args[1:], 0, output, "")


def split_example(block):
    """'$ tracemalloc sql ...' (its quotes may span lines), then the output it prints."""
    lines = block[2:].split("\n")
    for n in range(1, len(lines) + 1):
        try:
            args = shlex.split("\n".join(lines[:n]))
        except ValueError:
            continue
        return args, "".join(line + "\n" for line in lines[n:-1])
    raise ValueError("unterminated example: %r" % block)


def main(argv):
    analyzer = os.path.abspath(argv[0] if argv else os.path.join(ROOT, "build", "tracemalloc"))
    work = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(ROOT, "build", "tests",
                                                                        "errors"))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    mkdump.main([work])
    s = Suite(analyzer, work)
    for test in [test_bad_dumps, test_load_is_all_or_nothing, test_load_rolls_back,
                 test_not_our_database, test_sql_is_read_only, test_usage_errors, test_gates,
                 test_info_and_snapshots, test_optional_section, test_native_dump,
                 test_schema_versions, test_schema_examples]:
        test(s)
    print("%d passed, %d failed" % (s.passed, s.failed))
    return 1 if s.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
