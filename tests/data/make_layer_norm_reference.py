#!/usr/bin/python3
"""Writes PyTorch reference results for rewind's layer_norm.

Run with Debian's python3-torch:  /usr/bin/python3 tests/data/make_layer_norm_reference.py
Saves tests/data/norm/layer_norm.safetensors, in float64, for two cases of
torch.nn.functional.layer_norm over the last axis:
  "affine": x [2, 3, 5] with weight and bias [5], eps 1e-5 (the default);
  "plain":  x [4, 6] without weight and bias, eps 0.5 (large enough to matter), rows of
            different scales and offsets.
Each case holds <case>.x, [<case>.weight, <case>.bias,] <case>.y, <case>.w_out and the
gradients grad.<case>.<input> of L = sum(y * w_out); the eps values are in the metadata.
The file is written by make_rnn_reference.py's hand-rolled safetensors writer.
"""
import os

import torch
import torch.nn.functional as F

from make_rnn_reference import save_safetensors

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "norm", "layer_norm.safetensors")


def case(tensors, name, x, weight, bias, eps):
    y = F.layer_norm(x, [x.shape[-1]], weight, bias, eps)
    w_out = torch.randn(*y.shape, dtype=torch.float64)
    (y * w_out).sum().backward()
    inputs = {"x": x, "weight": weight, "bias": bias}
    for k, t in inputs.items():
        if t is not None:
            tensors[f"{name}.{k}"] = t
            tensors[f"grad.{name}.{k}"] = t.grad
    tensors[f"{name}.y"] = y
    tensors[f"{name}.w_out"] = w_out


def main():
    torch.manual_seed(2016)
    tensors = {}
    x = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(5, dtype=torch.float64, requires_grad=True)
    case(tensors, "affine", x, weight, bias, 1e-5)
    scale = torch.tensor([[0.1], [1.0], [3.0], [0.01]], dtype=torch.float64)
    offset = torch.tensor([[5.0], [-2.0], [0.0], [100.0]], dtype=torch.float64)
    x = (torch.randn(4, 6, dtype=torch.float64) * scale + offset).requires_grad_(True)
    case(tensors, "plain", x, None, None, 0.5)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_safetensors(OUT, tensors, {"affine.eps": repr(1e-5), "plain.eps": repr(0.5),
                                    "torch_version": torch.__version__})
    print(f"wrote {OUT}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
