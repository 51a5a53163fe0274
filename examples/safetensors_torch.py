#!/usr/bin/python3
"""Read and write rewind checkpoints from PyTorch without the `safetensors` package.

Debian 12 has python3-torch but no python3-safetensors; the format is simple enough to do by
hand: an 8-byte little-endian header length, a JSON header, then the raw little-endian data.
docs/checkpoints.md shows read_safetensors and write_safetensors; this file is where they
are tested (CTest `pytorch.safetensors_snippet`):

    /usr/bin/python3 examples/safetensors_torch.py CHECKPOINT

loads CHECKPOINT (a 2-layer bidirectional LSTM, input 3, hidden 4, as
tests/data/checkpoint/rewind_bilstm.safetensors) into torch.nn.LSTM with strict key
checking, writes the LSTM's state_dict back with write_safetensors, and reads that file
again. It prints "ok" and exits 0 when everything matches.
"""
import json
import os
import struct
import sys
import tempfile

import torch

# --- the snippet shown in docs/checkpoints.md starts here ---
DTYPES = {"F32": torch.float32, "F64": torch.float64}  # the dtypes rewind reads and writes


def read_safetensors(path):
    """Returns ({name: tensor}, {metadata key: value}) from a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])  # header length: little-endian uint64
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n:]  # data_offsets count from here
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = DTYPES[entry["dtype"]]
        if begin == end:  # no elements: frombuffer refuses an empty buffer
            tensors[name] = torch.empty(entry["shape"], dtype=dtype)
        else:
            flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype)
            tensors[name] = flat.reshape(entry["shape"])
    return tensors, metadata


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: float32 or float64 tensor} (and string metadata) as safetensors."""
    names = {v: k for k, v in DTYPES.items()}
    header = {"__metadata__": dict(metadata)} if metadata else {}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        blob = t.numpy().tobytes()  # native order: little-endian on x86-64 and arm64
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # pad with spaces so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
# --- the snippet ends here ---


def main(path):
    state, metadata = read_safetensors(path)
    # A checkpoint saved with an optimizer also holds "optimizer.*" tensors: not the model's.
    weights = {k: v for k, v in state.items() if not k.startswith("optimizer.")}
    lstm = torch.nn.LSTM(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    lstm.load_state_dict(weights, strict=True)
    print(f"loaded {len(weights)} tensors into torch.nn.LSTM (strict); metadata {metadata}")

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "from_torch.safetensors")
        write_safetensors(out, lstm.state_dict(), {"format": "pt"})
        again, meta_again = read_safetensors(out)
    same = again.keys() == weights.keys() and all(
        again[k].dtype == weights[k].dtype and torch.equal(again[k], weights[k]) for k in weights)
    if not same or meta_again != {"format": "pt"}:
        sys.exit("FAILED: the tensors written from PyTorch do not read back unchanged")
    print("ok: read with torch alone, loaded strictly, written and read back unchanged")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} CHECKPOINT")
    main(sys.argv[1])
