"""Source lines as Traceback.format() and the `top` recipe show them: through linecache, which
reads a file the way Python reads source (tokenize.open: a UTF-8 BOM or a PEP 263 coding cookie
chooses the encoding, a file that does not decode shows no line at all; universal newlines;
str.strip(), which also strips Unicode blanks). Each file below is one of those rules; a dump
whose frames point at lines 1-4 of every file asks both tools to print them.

Then every codec CPython knows, generated: a file per spelling of its name in a cookie (each
module and alias of the encodings package, with variants), a file of every character it can
encode, and a file per byte it cannot decode. The codecs the analyzer decodes (DECODED,
analyzer/tokenize.h) must print what CPython prints; a file in any other codec must show no
line (a documented difference, docs/OUTPUT.md), which the oracle confirms by running where the
files are not.
"""
import codecs
import encodings
import encodings.aliases
import io
import os
import pkgutil
import shutil
import sys
import tokenize

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
    # detect_encoding: the cookie on line 2 counts after a blank or comment line only...
    "cookie-line2.py": b"#!/usr/bin/env python\n# vim: set fileencoding=latin-1 :\ncaf\xe9\n",
    "cookie-after-blank.py": b"  \t\n#coding=latin-1\ncaf\xe9\n",
    "cookie-after-code.py": b"x = 1\n# coding: latin-1\ncaf\xe9\n",   # utf-8: no line
    "cookie-line3.py": b"#\n#\n# coding: latin-1\ncaf\xe9\n",        # utf-8: no line
    # ... a line searched for a cookie must be UTF-8, even the cookie's own line
    "cookie-not-utf8.py": b"# coding: latin-1 \xe9\ncaf\xe9\n",
    "comment-not-utf8.py": b"# caf\xe9\n# coding: latin-1\ncaf\xe9\n",
    "code-not-utf8.py": b"caf\xe9 = 1\n# coding: latin-1\n",        # no cookie looked for
    # ... the first "coding" followed by a name; _get_normal_name's spellings
    "cookie-first-name.py": b"# coding: ; coding: latin-1 and coding: ascii\ncaf\xe9\n",
    "cookie-utf8-suffix.py": b"# coding: UTF_8-anything\ncaf\xc3\xa9\n",
    "cookie-latin1-suffix.py": b"# coding: iso-latin-1-x\ncaf\xe9\n",
    "cookie-lone-cr.py": b"# x\r# coding: latin-1\rcaf\xe9\r",      # one binary line
    # ... a BOM allows only a cookie spelled utf-8 (after _get_normal_name)
    "bom-cookie-utf8.py": b"\xef\xbb\xbf# coding: utf-8\ncaf\xc3\xa9\n",
    "bom-cookie-utf8-alias.py": b"\xef\xbb\xbf# coding: utf8\nok();\n",   # no line
    "bom-cookie-latin1.py": b"\xef\xbb\xbf# coding: latin-1\nok();\n",   # no line
    "bom-only.c": b"\xef\xbb\xbf",
    # latin-1 whitespace: NBSP and NEL strip; NEL does not end a line; a NUL stays
    "latin1-blanks.py": b"# coding: latin-1\n\xa0\x85ok();\x85\xa0\na\x00\xe9();\n",
    "cp1252-euro.py": b"# coding: cp1252\nprice(\x80);\n",
    "cp1252-undefined.py": b"# coding: cp1252\nok();\n\x81\n",      # no line at all
    "ascii-cookie-8bit.py": b"# coding: ascii\nok();\n\xe9\n",       # no line at all
    "koi8r.py": b"# coding: koi8-r\n\xd0\xd2\xc9\xd7\xc5\xd4();\n",
    "utf16le-cookie.py": b"# coding: utf-16-le\n" + "ok();\n".encode("utf-16-le"),
    "utf16le-odd.py": b"# coding: utf-16-le \n",                     # odd length: no line
    "long.c": b"x" * 10000 + b"();\n",
    "empty.c": b"",
}


# The codecs (encodings modules) the analyzer decodes: analyzer/tokenize.c's table.
DECODED = {
    "ascii", "charmap", "cp037", "cp437", "cp500", "cp737", "cp775", "cp850", "cp852", "cp855",
    "cp857", "cp858", "cp860", "cp861", "cp862", "cp863", "cp864", "cp865", "cp866", "cp869",
    "cp874", "cp949", "cp1125", "cp1140", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254",
    "cp1256", "cp1257", "gb2312", "hp_roman8", "iso8859_1", "iso8859_2", "iso8859_3",
    "iso8859_4", "iso8859_5", "iso8859_6", "iso8859_7", "iso8859_8", "iso8859_9", "iso8859_10",
    "iso8859_11", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16", "koi8_r", "koi8_t",
    "koi8_u", "kz1048", "latin_1", "mac_latin2", "ptcp154", "utf_8", "utf_8_sig", "utf_16_be",
    "utf_16_le", "utf_32_be", "utf_32_le",
}
DECODED_NAMES = {codecs.lookup(module).name for module in DECODED}


def decoded_by_analyzer(data):
    """Whether the analyzer decodes the file: detect_encoding refuses it (no line from either
    tool) or names a codec in DECODED."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        return True
    return codecs.lookup(encoding).name in DECODED_NAMES


def cookie_files():
    """name -> bytes: one file per spelling of each codec's name in a cookie, and misspellings."""
    names = set(encodings.aliases.aliases)
    names |= {m.name for m in pkgutil.iter_modules(encodings.__path__)}
    spellings = set()
    for name in names:
        spellings |= {name, name.upper(), name.replace("_", "-"), "-" + name + "--",
                      name.replace("_", "."), name.replace("_", "")}
    spellings |= {"klingon", "utf-8-sig", "utf8-sig", "latin.1", "utf.8", "x-utf-8", "tis260"}
    return {"name-%s.py" % s: b"# coding: %s\nok();\n" % s.encode() for s in sorted(spellings)}


def codec_files():
    """name -> bytes: for each codec in DECODED, every character of the BMP it encodes, 64 to a
    line after the cookie; and one file per byte that does not decode alone, after a good line."""
    bmp = "".join(chr(c) for c in range(0x20, 0x10000) if not 0xD800 <= c < 0xE000)
    files = {}
    for module in sorted(DECODED):
        cookie = b"# coding: %s" % module.encode()
        cookie += b" " * (-(len(cookie) + 1) % 4) + b"\n"    # utf-16/32 code units stay aligned
        chars = bmp.encode(module, "ignore").decode(module)
        lines = [chars[i:i + 64] for i in range(0, len(chars), 64)]
        files["chars-%s.py" % module] = cookie + "\n".join(lines).encode(module)
        if module.startswith(("utf_16", "utf_32")):   # no byte decodes alone
            continue
        for byte in range(256):
            try:
                bytes([byte]).decode(module)
            except UnicodeError:
                files["byte-%s-%02x.py" % (module, byte)] = cookie + b"ok();\n" + bytes([byte])
    files["chars-utf_16_le-lone-surrogate.py"] = b"# coding: utf-16-le\n\x00\xd8"
    files["chars-utf_16_be-pair.py"] = (b"# coding: utf-16-be\n"
                                        + "\n\U0001F600();".encode("utf-16-be"))
    files["chars-utf_32_le-beyond.py"] = b"# coding: utf-32-le \n" + b"\x00\x00\x11\x00"
    return files


def every_line(data):
    """Line numbers 1 to one past the file's last line as Python reads it (1, 2 if it does not
    decode)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        count = len(io.TextIOWrapper(io.BytesIO(data), encoding).readlines())
    except (SyntaxError, UnicodeError, LookupError):
        count = 1
    return range(1, count + 2)


def write_case(work, files, name, lines_of, oracle_cwd=None):
    """Writes files and a dump whose frames name their lines into work; the `top` case."""
    os.makedirs(work, exist_ok=True)
    traces = []
    for filename, data in sorted(files.items()):
        with open(os.path.join(work, filename), "wb") as f:
            f.write(data)
        traces += [tmdump.Trace(0, 10, ((filename, line, None),), 1) for line in lines_of(data)]
    tmdump.write_dump(os.path.join(work, "sources.tmd"), tmdump.Meta(traceback_limit=1),
                      traces)
    if oracle_cwd:
        os.makedirs(oracle_cwd, exist_ok=True)
        shutil.copy(os.path.join(work, "sources.tmd"), oracle_cwd)
    argv = ["top", "sources.tmd", str(len(traces))]
    return Case("source lines: %s: %s" % (name, " ".join(argv)), argv, work,
                oracle_cwd=oracle_cwd)


def cases(work):
    """Writes SOURCES and a dump naming lines 1..4 of each into work, and the generated codec
    files into work/codecs (decoded) and work/not-decoded; returns the cases."""
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
    out = [Case("source lines: " + " ".join(argv), argv, work) for argv in argvs]

    generated = {**cookie_files(), **codec_files()}
    decoded = {k: v for k, v in generated.items() if decoded_by_analyzer(v)}
    not_decoded = {k: v for k, v in generated.items() if k not in decoded}
    out.append(write_case(os.path.join(work, "codecs"), decoded, "codecs", every_line))
    # CPython decodes these (or fails in its own way: a non-text codec raises LookupError);
    # the analyzer shows no line, which is what the oracle shows without the files.
    out.append(write_case(os.path.join(work, "not-decoded"), not_decoded,
                          "codecs the analyzer does not decode, no line (documented)",
                          lambda data: (1, 2), os.path.join(work, "not-decoded-oracle")))
    return out
