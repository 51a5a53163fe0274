#!/usr/bin/python3
"""Writes PyTorch reference results for rewind's recurrent layers.

Run with Debian's python3-torch:  /usr/bin/python3 tests/data/make_rnn_reference.py [NAME...]
(with names, only those configurations are written; each keeps its seed, 1000 + its index).
For each configuration it saves, in float64, one safetensors file in tests/data/rnn/ with
the layer's parameters under their state_dict names ("param.<name>"), the input, initial
states, per-sequence lengths, the outputs and final states, and the gradients of a loss that
touches every output and final state: L = sum(output * w_out) + sum(h_n * w_h) [+ sum(c_n * w_c)].
The safetensors file is written by hand from the format's definition (Debian has no
python3-safetensors): 8-byte little-endian header length, JSON header, raw data.
"""
import json
import os
import struct
import sys

import torch

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn")


def save_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float64).contiguous()
        data = t.numpy().astype("<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(t.shape),
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


STEPS, BATCH, INPUT, HIDDEN, PROJ = 5, 3, 4, 3, 2

CONFIGS = [
    # name, layer kind, options, with initial states, lengths
    ("rnn_tanh", "RNN", dict(num_layers=1, nonlinearity="tanh"), False, None),
    ("rnn_relu_2layer_bi_batch_first", "RNN",
     dict(num_layers=2, nonlinearity="relu", bidirectional=True, batch_first=True), True, None),
    ("lstm", "LSTM", dict(num_layers=1), True, None),
    ("gru", "GRU", dict(num_layers=1), False, None),
    ("bilstm", "LSTM", dict(num_layers=1, bidirectional=True), True, None),
    ("lstm_2layer", "LSTM", dict(num_layers=2), True, None),
    ("gru_varlen_bi", "GRU", dict(num_layers=1, bidirectional=True), True, [5, 2, 4]),
    ("bilstm_varlen_2layer", "LSTM", dict(num_layers=2, bidirectional=True), False, [3, 5, 1]),
    # proj_size: h is PROJ wide (h0 and h_n [L*D, B, PROJ]), c stays HIDDEN wide.
    ("bilstm_proj_varlen_2layer", "LSTM",
     dict(num_layers=2, bidirectional=True, proj_size=PROJ), True, [5, 2, 4]),
    ("bilstm_proj_2layer_batch_first", "LSTM",
     dict(num_layers=2, bidirectional=True, proj_size=PROJ, batch_first=True), False, [3, 5, 1]),
]


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    only = set(sys.argv[1:])
    for i, (name, kind, opts, with_init, lengths) in enumerate(CONFIGS):
        if only and name not in only:
            continue
        torch.manual_seed(1000 + i)
        cls = getattr(torch.nn, kind)
        layer = cls(INPUT, HIDDEN, **opts).double()
        batch_first = opts.get("batch_first", False)
        dirs = 2 if opts.get("bidirectional", False) else 1
        layers = opts["num_layers"]
        shape = (BATCH, STEPS, INPUT) if batch_first else (STEPS, BATCH, INPUT)
        x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        states = 2 if kind == "LSTM" else 1
        proj = opts.get("proj_size", 0)
        widths = [proj or HIDDEN, HIDDEN][:states]  # h, c
        init = [torch.randn(layers * dirs, BATCH, w, dtype=torch.float64, requires_grad=True)
                for w in widths] if with_init else None
        hx = None
        if init is not None:
            hx = (init[0], init[1]) if kind == "LSTM" else init[0]
        if lengths is not None:
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
            out_packed, final = layer(packed, hx)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(
                out_packed, batch_first=batch_first, total_length=STEPS)
        else:
            out, final = layer(x, hx)
        finals = list(final) if kind == "LSTM" else [final]
        w_out = torch.randn(*out.shape, dtype=torch.float64)
        ws = [torch.randn(*f.shape, dtype=torch.float64) for f in finals]
        loss = (out * w_out).sum() + sum((f * w).sum() for f, w in zip(finals, ws))
        loss.backward()

        tensors = {"input": x, "output": out, "w_out": w_out, "grad.input": x.grad,
                   "loss": loss.reshape(())}
        state_names = ["h", "c"][:states]
        for k, s in enumerate(state_names):
            tensors[f"{s}_n"] = finals[k]
            tensors[f"w_{s}"] = ws[k]
            if init is not None:
                tensors[f"{s}0"] = init[k]
                tensors[f"grad.{s}0"] = init[k].grad
        for pname, p in layer.named_parameters():
            tensors["param." + pname] = p
            tensors["grad.param." + pname] = p.grad
        if lengths is not None:
            tensors["lengths"] = torch.tensor(lengths, dtype=torch.float64)
        meta = {"kind": kind, "num_layers": str(layers), "bidirectional": str(dirs == 2),
                "batch_first": str(batch_first), "nonlinearity": opts.get("nonlinearity", "tanh"),
                "input_size": str(INPUT), "hidden_size": str(HIDDEN), "proj_size": str(proj),
                "torch_version": torch.__version__}
        path = os.path.join(OUT_DIR, name + ".safetensors")
        save_safetensors(path, tensors, meta)
        print(f"wrote {path}: {len(tensors)} tensors, loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
