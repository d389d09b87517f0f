#!/usr/bin/env python3
"""A small, independent reader of pprof's profile.proto (gzipped or not), for the tests.

    pprof_decode.py FILE.pb.gz       prints the profile as text (what the goldens hold)

It knows protobuf's wire format (varints, 64- and 32-bit fields, length-delimited fields and
packed repeated ones) and profile.proto's field numbers, and checks what the pprof
documentation requires of a profile and what docs/OUTPUT.md promises of ours (check()):
string_table[0] == "", ids 1..N in table order, every reference resolving, one value per
sample type, and Go's heap sample types in Go's order.
"""
import gzip
import sys

WIRE_VARINT, WIRE_I64, WIRE_BYTES, WIRE_I32 = 0, 1, 2, 5


class DecodeError(Exception):
    pass


def _varint(data, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise DecodeError("a varint runs past the end")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
        if shift > 63:
            raise DecodeError("a varint longer than 10 bytes")


def fields(data):
    """Yields (field number, wire type, value) of a message: an int, or bytes when
    length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == WIRE_VARINT:
            value, pos = _varint(data, pos)
        elif wire == WIRE_I64:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == WIRE_I32:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        elif wire == WIRE_BYTES:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise DecodeError("field %d: %d bytes past the end" % (number, length))
            value, pos = data[pos:pos + length], pos + length
        else:
            raise DecodeError("field %d: wire type %d" % (number, wire))
        if pos > len(data):
            raise DecodeError("field %d runs past the end" % number)
        yield number, wire, value


def _int64(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def _repeated_ints(wire, value):
    """A repeated integer field's values: packed (bytes) or one varint."""
    if wire == WIRE_VARINT:
        return [_int64(value)]
    out, pos = [], 0
    while pos < len(value):
        v, pos = _varint(value, pos)
        out.append(_int64(v))
    return out


def _message(data, schema):
    """A message as a dict: schema maps field number -> (name, kind); kind 'int', 'ints'
    (repeated), 'bytes', 'messages' (repeated, with a sub-schema) or 'strings'."""
    out = {}
    for name, kind in schema.values():
        if kind[0] in ("ints", "messages", "strings"):
            out[name] = []
        elif kind[0] == "int":
            out[name] = 0
    for number, wire, value in fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if kind[0] == "int":
            if wire != WIRE_VARINT:
                raise DecodeError("%s: wire type %d" % (name, wire))
            out[name] = _int64(value)
        elif kind[0] == "ints":
            out[name].extend(_repeated_ints(wire, value))
        elif kind[0] == "strings":
            out[name].append(value.decode("utf-8", "surrogateescape"))
        elif kind[0] == "messages":
            out[name].append(_message(value, kind[1]))
    return out


INT, INTS, STRINGS = ("int",), ("ints",), ("strings",)
VALUE_TYPE = {1: ("type", INT), 2: ("unit", INT)}
LABEL = {1: ("key", INT), 2: ("str", INT), 3: ("num", INT), 4: ("num_unit", INT)}
SAMPLE = {1: ("location_id", INTS), 2: ("value", INTS), 3: ("label", ("messages", LABEL))}
MAPPING = {1: ("id", INT), 2: ("memory_start", INT), 3: ("memory_limit", INT),
           4: ("file_offset", INT), 5: ("filename", INT), 6: ("build_id", INT),
           7: ("has_functions", INT), 8: ("has_filenames", INT), 9: ("has_line_numbers", INT),
           10: ("has_inline_frames", INT)}
LINE = {1: ("function_id", INT), 2: ("line", INT)}
LOCATION = {1: ("id", INT), 2: ("mapping_id", INT), 3: ("address", INT),
            4: ("line", ("messages", LINE)), 5: ("is_folded", INT)}
FUNCTION = {1: ("id", INT), 2: ("name", INT), 3: ("system_name", INT), 4: ("filename", INT),
            5: ("start_line", INT)}
PROFILE = {1: ("sample_type", ("messages", VALUE_TYPE)), 2: ("sample", ("messages", SAMPLE)),
           3: ("mapping", ("messages", MAPPING)), 4: ("location", ("messages", LOCATION)),
           5: ("function", ("messages", FUNCTION)), 6: ("string_table", STRINGS),
           7: ("drop_frames", INT), 8: ("keep_frames", INT), 9: ("time_nanos", INT),
           10: ("duration_nanos", INT), 11: ("period_type", ("messages", VALUE_TYPE)),
           12: ("period", INT), 13: ("comment", INTS), 14: ("default_sample_type", INT)}


def decode_bytes(data):
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return _message(data, PROFILE)


def decode(path):
    with open(path, "rb") as f:
        return decode_bytes(f.read())


GO_HEAP_TYPES = [("alloc_objects", "count"), ("alloc_space", "bytes"),
                 ("inuse_objects", "count"), ("inuse_space", "bytes")]


def check(p):
    """The problems of a decoded profile, as sentences (empty when it is right)."""
    s = p["string_table"]
    problems = []

    def text(i):
        if not 0 <= i < len(s):
            problems.append("string index %d out of range (%d strings)" % (i, len(s)))
            return ""
        return s[i]
    if not s or s[0] != "":
        problems.append("string_table[0] is not the empty string")
    types = [(text(t["type"]), text(t["unit"])) for t in p["sample_type"]]
    if types != GO_HEAP_TYPES:
        problems.append("sample types %r, not Go's heap types in Go's order" % types)
    if text(p["default_sample_type"]) != "inuse_space":
        problems.append("default_sample_type is not inuse_space")
    for table in ("mapping", "location", "function"):
        ids = [e["id"] for e in p[table]]
        if ids != list(range(1, len(ids) + 1)):
            problems.append("%s ids are not 1..N in table order: %r" % (table, ids[:10]))
    if len(p["mapping"]) != 1:
        problems.append("%d mappings, not one" % len(p["mapping"]))
    functions = {f["id"] for f in p["function"]}
    for loc in p["location"]:
        if loc["mapping_id"] != 1:
            problems.append("location %d: mapping %d" % (loc["id"], loc["mapping_id"]))
        if len(loc["line"]) != 1:
            problems.append("location %d: %d lines" % (loc["id"], len(loc["line"])))
        for line in loc["line"]:
            if line["function_id"] not in functions:
                problems.append("location %d: no function %d" % (loc["id"], line["function_id"]))
    for f in p["function"]:
        text(f["name"]), text(f["filename"]), text(f["system_name"])
    nloc = len(p["location"])
    for i, sample in enumerate(p["sample"]):
        if len(sample["value"]) != len(p["sample_type"]):
            problems.append("sample %d: %d values" % (i, len(sample["value"])))
        if not sample["location_id"] or not all(1 <= x <= nloc for x in sample["location_id"]):
            problems.append("sample %d: bad locations %r" % (i, sample["location_id"]))
        for label in sample["label"]:
            text(label["key"])
    return problems


def frames(p, sample):
    """A sample's frames, leaf first, as (function name, filename, line)."""
    s = p["string_table"]
    functions = {f["id"]: f for f in p["function"]}
    locations = {loc["id"]: loc for loc in p["location"]}
    out = []
    for location_id in sample["location_id"]:
        for line in locations[location_id]["line"]:
            f = functions[line["function_id"]]
            out.append((s[f["name"]], s[f["filename"]], line["line"]))
    return out


def totals(p):
    """{sample type: sum over the samples}."""
    s = p["string_table"]
    names = [s[t["type"]] for t in p["sample_type"]]
    sums = [0] * len(names)
    for sample in p["sample"]:
        for i, v in enumerate(sample["value"]):
            sums[i] += v
    return dict(zip(names, sums))


def render(p):
    """The profile as deterministic text."""
    s = p["string_table"]
    out = ["sample types: " + " ".join("%s/%s" % (s[t["type"]], s[t["unit"]])
                                       for t in p["sample_type"]),
           "default sample type: %s" % s[p["default_sample_type"]],
           "period: %d %s" % (p["period"], " ".join("%s/%s" % (s[t["type"]], s[t["unit"]])
                                                   for t in p["period_type"])),
           "time_nanos: %d duration_nanos: %d" % (p["time_nanos"], p["duration_nanos"])]
    for m in p["mapping"]:
        out.append("mapping %d: %s functions=%d filenames=%d line_numbers=%d inline_frames=%d"
                   % (m["id"], s[m["filename"]], m["has_functions"], m["has_filenames"],
                      m["has_line_numbers"], m["has_inline_frames"]))
    for f in p["function"]:
        out.append("function %d: %s (%s)" % (f["id"], s[f["name"]], s[f["filename"]]))
    for loc in p["location"]:
        out.append("location %d: mapping %d address %d lines %s"
                   % (loc["id"], loc["mapping_id"], loc["address"],
                      " ".join("%d:%d" % (ln["function_id"], ln["line"]) for ln in loc["line"])))
    for sample in p["sample"]:
        labels = " ".join("%s=%s" % (s[lb["key"]], lb["num"] if not lb["str"] else s[lb["str"]])
                          for lb in sample["label"])
        out.append("sample %s locations %s %s" % (sample["value"], sample["location_id"], labels))
        for name, filename, line in frames(p, sample):
            out.append("    %s %s:%d" % (name, filename, line))
    out.append("totals: " + " ".join("%s=%d" % kv for kv in totals(p).items()))
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    p = decode(argv[0])
    problems = check(p)
    sys.stdout.write(render(p))
    for problem in problems:
        print("problem: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
