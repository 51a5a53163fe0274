#!/usr/bin/python3
"""Checkpoint interop with PyTorch, in both directions (tests/layers/test_checkpoint.cpp).

Needs Debian's python3-torch, installed for the system interpreter only:

    /usr/bin/python3 tests/data/make_checkpoint_reference.py write   # PyTorch -> rewind
    /usr/bin/python3 tests/data/make_checkpoint_reference.py check   # rewind -> PyTorch

write: saves, in tests/data/checkpoint/, PyTorch state_dicts exactly as
    safetensors.torch.save_file(model.state_dict(), path) lays them out (float32, "F32", no
    metadata), for a 2-layer bidirectional LSTM (torch_bilstm.safetensors), the same with
    proj_size (torch_bilstm_proj.safetensors, with weight_hr_l{k}[_reverse]) and a tagger
    (Embedding -> bidirectional LSTM -> Linear, torch_tagger.safetensors), each with a
    *_io.safetensors file holding an input and PyTorch's outputs for it. The C++ test loads
    the state_dicts into rwd::LSTM and a rewind tagger and must reproduce those outputs.
check: reads rewind_bilstm.safetensors and rewind_bilstm_proj.safetensors, written by
    rewind's save_checkpoint (regenerate with `rewind_tests "[.write-reference]"`), into
    torch.nn.LSTM with load_state_dict(strict=True), checks that their keys, dtypes and shapes
    are exactly those of PyTorch's state_dict, runs the input of the matching *_io file and
    compares with rewind's output stored there.
    Exits non-zero on any mismatch. CTest runs this when /usr/bin/python3 has torch.

Debian has no python3-safetensors, so the format is written and read here by hand from its
definition: an 8-byte little-endian header length, a JSON header, raw little-endian data.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoint")
DTYPES = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8")}
NUMPY = {"F32": "<f4", "F64": "<f8"}

# The LSTM of both directions of the test: 2 layers, bidirectional, input 3, hidden 4.
LSTM_CONFIG = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
# The same with a projection of h to 2 features (weight_hr_l{k}[_reverse], [2, 4]).
PROJ_CONFIG = dict(LSTM_CONFIG, proj_size=2)
STEPS, BATCH = 5, 2
# The tagger: 10 token ids, embeddings of 5, a bidirectional LSTM of 4, 3 tags.
VOCAB, EMBED, HIDDEN, TAGS = 10, 5, 4, 3


def save_file(tensors, path, metadata=None):
    """As safetensors.torch.save_file: tensors sorted by name within one dtype."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        dtype, np_dtype = DTYPES[t.dtype]
        data = t.numpy().astype(np_dtype).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load_file(path):
    """Returns ({name: (dtype, shape, tensor)}, metadata)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=NUMPY[e["dtype"]]).reshape(e["shape"])
        out[name] = (e["dtype"], list(e["shape"]), torch.from_numpy(arr.copy()))
    return out, meta


class Tagger(torch.nn.Module):
    """The tagger of examples/tagger.cpp, at small sizes."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, EMBED)
        self.lstm = torch.nn.LSTM(EMBED, HIDDEN, bidirectional=True)
        self.head = torch.nn.Linear(2 * HIDDEN, TAGS)

    def forward(self, ids):  # ids [T, B] -> logits [T, B, TAGS]
        out, _ = self.lstm(self.embed(ids))
        return self.head(out)


def write():
    os.makedirs(DIR, exist_ok=True)
    torch.manual_seed(2024)
    lstm = torch.nn.LSTM(**LSTM_CONFIG)
    x = torch.randn(STEPS, BATCH, LSTM_CONFIG["input_size"])
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x)
    save_file(lstm.state_dict(), os.path.join(DIR, "torch_bilstm.safetensors"))
    save_file({"input": x, "output": out, "h_n": h_n, "c_n": c_n},
              os.path.join(DIR, "torch_bilstm_io.safetensors"),
              {"torch_version": torch.__version__})

    tagger = Tagger()
    ids = torch.randint(0, VOCAB, (STEPS, BATCH))
    with torch.no_grad():
        logits = tagger(ids)
    save_file(tagger.state_dict(), os.path.join(DIR, "torch_tagger.safetensors"))
    save_file({"ids": ids.to(torch.float32), "logits": logits},
              os.path.join(DIR, "torch_tagger_io.safetensors"),
              {"torch_version": torch.__version__})

    torch.manual_seed(2025)  # its own seed, so that the files above stay as they were
    proj = torch.nn.LSTM(**PROJ_CONFIG)
    x = torch.randn(STEPS, BATCH, PROJ_CONFIG["input_size"])
    with torch.no_grad():
        out, (h_n, c_n) = proj(x)
    save_file(proj.state_dict(), os.path.join(DIR, "torch_bilstm_proj.safetensors"))
    save_file({"input": x, "output": out, "h_n": h_n, "c_n": c_n},
              os.path.join(DIR, "torch_bilstm_proj_io.safetensors"),
              {"torch_version": torch.__version__})
    print(f"wrote PyTorch state_dicts and outputs to {DIR}")


def check_one(stem, config, failures):
    """Loads rewind's <stem>.safetensors into torch.nn.LSTM(**config); appends failures."""
    state, meta = load_file(os.path.join(DIR, stem + ".safetensors"))
    lstm = torch.nn.LSTM(**config)
    expected = {k: ("F32", list(v.shape)) for k, v in lstm.state_dict().items()}
    got = {k: (dtype, shape) for k, (dtype, shape, _) in state.items()}
    if got != expected:
        failures.append(f"{stem}: keys/dtypes/shapes differ from PyTorch's state_dict:\n"
                        f"  rewind:  {sorted(got.items())}\n  PyTorch: {sorted(expected.items())}")
    else:
        lstm.load_state_dict({k: t for k, (_, _, t) in state.items()}, strict=True)
        io, _ = load_file(os.path.join(DIR, stem + "_io.safetensors"))
        with torch.no_grad():
            out, (h_n, c_n) = lstm(io["input"][2])
        for name, value in (("output", out), ("h_n", h_n), ("c_n", c_n)):
            diff = (value - io[name][2]).abs().max().item()
            print(f"{stem} {name}: max |PyTorch - rewind| = {diff:.3g}")
            if not diff < 1e-5:
                failures.append(f"{stem}: {name} differs by {diff}")
    print(f"{stem} checkpoint metadata: {meta}")


def check():
    failures = []
    check_one("rewind_bilstm", LSTM_CONFIG, failures)
    check_one("rewind_bilstm_proj", PROJ_CONFIG, failures)
    if failures:
        print("FAILED:\n" + "\n".join(failures))
        sys.exit(1)
    print("ok: PyTorch loads rewind's checkpoints (strict) and reproduces rewind's outputs")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "write"
    if mode not in ("write", "check"):
        sys.exit(f"usage: {sys.argv[0]} [write|check]")
    write() if mode == "write" else check()
