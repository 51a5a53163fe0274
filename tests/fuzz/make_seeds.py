#!/usr/bin/env python3
"""Writes the fuzzer's seed corpus, tests/fuzz/seeds/: small safetensors files, valid and
malformed, one per feature of the format the reader checks. Seeds only guide libFuzzer; the
larger valid files in tests/data are used as seeds too.  Run: python3 tests/fuzz/make_seeds.py
"""
import json
import os
import struct

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def blob(header, data=b"", declared=None):
    text = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    n = len(text) if declared is None else declared
    return struct.pack("<Q", n) + text + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


SEEDS = {
    "f32": blob({"w": entry("F32", [2, 2], 0, 16)}, struct.pack("<4f", 1, -2, 3.5, 0)),
    "f64_meta": blob({"__metadata__": {"format": "pt", "step": "7"},
                      "a": entry("F64", [1], 0, 8), "b": entry("F64", [], 8, 16)},
                     struct.pack("<2d", 1.25, -3)),
    "empty_tensor": blob({"e": entry("F32", [0, 3], 0, 0)}),
    "no_tensors": blob({}),
    "rank4": blob({"r": entry("F32", [1, 1, 2, 1], 0, 8)}, struct.pack("<2f", 1, 2)),
    "two_dtypes": blob({"x": entry("F64", [1], 0, 8), "y": entry("F32", [2], 8, 16)},
                       struct.pack("<d2f", 1, 2, 3)),
    "bad_dtype": blob({"w": entry("BF16", [2], 0, 4)}, b"\0" * 4),
    "overlap": blob({"a": entry("F32", [2], 0, 8), "b": entry("F32", [1], 4, 8)}, b"\0" * 8),
    "gap": blob({"a": entry("F32", [1], 4, 8)}, b"\0" * 8),
    "past_end": blob({"a": entry("F32", [4], 0, 16)}, b"\0" * 8),
    "length_past_end": blob({"a": entry("F32", [1], 0, 4)}, b"\0" * 4, declared=1 << 40),
    "bad_json": blob(b'{"a":{"dtype":"F32","shape":[1],', b"\0" * 4),
    "truncated": struct.pack("<Q", 100)[:5],
    # json.dumps cannot write a key twice: the header is spelled out.
    "duplicate_name": blob(b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                           b'"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8),
    # Found by the fuzzer: nlohmann-json throws out_of_range (not parse_error) for 1e3576.
    "number_overflow": blob(b'{"w":{"dtype":"F64","shape":[1e3576],"data_offsets":[0,8]}}',
                            b"\0" * 8),
}

if __name__ == "__main__":
    os.makedirs(DIR, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(DIR, name + ".safetensors"), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {DIR}")
