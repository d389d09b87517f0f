"""The oracle's symbolizer of native frames: another program, not the analyzer's code.

    tmdump.default_symbolize = ToolSymbolizer()      (oracle.py does this)

Each (module, offset) is asked of `eu-addr2line -a -i -f -e MODULE OFFSET-1` once (a return
address: the call instruction is one byte before, FORMAT.md) and its frames, innermost first,
become what the analyzer stores (docs/SCHEMA.md): file, line and function from the debug
information, each inlined call a frame; without debug information one frame named
'<module basename>+0x<offset>', line 0, with the symbol table's function; a module whose file is
missing or is not the dump's (its build-id differs) falls back to tmdump.fallback_symbols.

Why elfutils' tool and not GNU addr2line: binutils 2.40 (Debian 12) gives code inlined from a
header the including file's name (glibc's libc_start_call_main.h reads as libc-start.c), which
tests/symbolize/oracle.h documents; the symbolizer itself is checked against GNU addr2line
there, with that rule. Here the question is only "does the analyzer group and print native
stacks as CPython would", so the frames must be right, and eu-addr2line's are.
"""
import os
import re
import shutil
import subprocess

import tmdump

TOOL = "eu-addr2line"


def build_id(path):
    """The NT_GNU_BUILD_ID of the ELF file at path, b"" if none (readelf -n)."""
    try:
        text = subprocess.run(["readelf", "-n", path], capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    found = re.search(r"Build ID: ([0-9a-f]+)", text)
    return bytes.fromhex(found.group(1)) if found else b""


def parse(lines):
    """eu-addr2line -a -i -f output for one address -> [(filename, lineno, function)]."""
    frames = []
    for function, where in zip(lines[1::2], lines[2::2]):
        function = function.split(" inlined at ")[0]
        filename, lineno = where, 0
        found = re.match(r"^(.*?):(\d+)(?::\d+)?$", where)
        if found:
            filename, lineno = found.group(1), int(found.group(2))
        frames.append((filename, lineno, None if function == "??" else function))
    return frames


class ToolSymbolizer:
    def __init__(self, tool=TOOL):
        self.tool = tool
        self.cache, self.ids = {}, {}

    def available(self):
        return shutil.which(self.tool) is not None

    def __call__(self, module, offset):
        if module is None or not os.path.isfile(module.path):
            return tmdump.fallback_symbols(module, offset)
        if module.path not in self.ids:
            self.ids[module.path] = build_id(module.path)
        if self.ids[module.path] != module.build_id:
            return tmdump.fallback_symbols(module, offset)
        key = (module.path, offset)
        if key not in self.cache:
            self.cache[key] = self.ask(module, offset)
        return self.cache[key]

    def ask(self, module, offset):
        proc = subprocess.run([self.tool, "-a", "-i", "-f", "-e", module.path,
                               "0x%x" % (offset - 1)], capture_output=True, text=True)
        frames = parse(proc.stdout.rstrip("\n").split("\n")) if proc.returncode == 0 else []
        if not frames or frames[0][0].startswith("??"):
            name = "%s+0x%x" % (os.path.basename(module.path), offset)
            return [(name, 0, frames[0][2] if frames else None)]
        return frames
