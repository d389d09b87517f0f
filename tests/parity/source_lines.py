"""Source lines as Traceback.format() and the `top` recipe show them: through linecache, which
reads a file the way Python reads source (tokenize.open: a UTF-8 BOM or a PEP 263 coding cookie
chooses the encoding, a file that does not decode shows no line at all; universal newlines;
str.strip(), which also strips Unicode blanks). Each file below is one of those rules; a dump
whose frames point at lines 1-4 of every file asks both tools to print them.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "oracle"))
import tmdump  # noqa: E402
from cases import Case  # noqa: E402

SOURCES = {
    "blanks.c": "\x0c  formfeed();\x0b\n\u00a0nbsp();\u00a0\n\x1cfs();\x1f\n\u3000ideo();\n"
                .encode(),
    "tabs.c": b"\t\tint\tx;\t\t\n   \n\t\n",
    "crlf.c": b"one();\r\ntwo();\rthree();\nfour();\n",      # \r\n, lone \r, \n: all end a line
    "no-final-newline.c": b"one();\nlast();",
    "bom.c": b"\xef\xbb\xbffirst();\nsecond();\n",           # the BOM is not part of line 1
    "not-utf8.c": b"int x;\n\xff\xfe bad;\n",                # does not decode: no line at all
    "latin1-cookie.py": b"# -*- coding: latin-1 -*-\n  caf\xe9();\n",  # printed as UTF-8
    "bad-cookie.py": b"# coding: klingon\n  ok();\n",        # unknown encoding: no line at all
    "separators.c": "a\u2028b();\nc\x85d();\n".encode(),    # not line ends in text mode
    "nul.c": b"a\x00b();\nc();\n",                           # a NUL is just a character
    "long.c": b"x" * 10000 + b"();\n",
    "empty.c": b"",
}


def cases(work):
    """Writes SOURCES and a dump naming lines 1..4 of each into work; returns the cases."""
    os.makedirs(work, exist_ok=True)
    traces = []
    for name, data in SOURCES.items():
        with open(os.path.join(work, name), "wb") as f:
            f.write(data)
        traces += [tmdump.Trace(0, 10, ((name, line, None),), 1) for line in (1, 2, 3, 4)]
    # A directory where a file is expected: no line, no error.
    os.makedirs(os.path.join(work, "directory.c"), exist_ok=True)
    traces.append(tmdump.Trace(0, 10, (("directory.c", 1, None),), 1))
    tmdump.write_dump(os.path.join(work, "sources.tmd"), tmdump.Meta(traceback_limit=1),
                      traces)
    argvs = [["stats", "sources.tmd", "--by", "traceback"], ["top", "sources.tmd", "100"]]
    return [Case("source lines: " + " ".join(argv), argv, work) for argv in argvs]
