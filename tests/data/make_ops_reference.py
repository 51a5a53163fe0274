#!/usr/bin/python3
"""Writes PyTorch reference results for rewind's reductions, index ops, stack and losses.

Run with Debian's python3-torch:  /usr/bin/python3 tests/data/make_ops_reference.py
Saves, in float64, tests/data/ops/{reduce,index,loss}.safetensors. Each case <c> holds its
inputs <c>.<name> (integer indices and targets as float64 values), its output <c>.y, the
weights <c>.w_out of the loss L = sum(y * w_out), and the gradients grad.<c>.<input> of L.
The metadata lists the cases ("cases", comma-separated) and each case's arguments
("<c>.<argument>": axis, keepdim, correction, reduction, ignore_index, label_smoothing), as
the tests in tests/ops/ read them. Written with make_rnn_reference.py's safetensors writer.
"""
import itertools
import os

import torch
import torch.nn.functional as F

from make_rnn_reference import save_safetensors

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops")
f64 = torch.float64


class Cases:
    """Collects the cases of one file: tensors and metadata."""

    def __init__(self):
        self.tensors = {}
        self.meta = {"torch_version": torch.__version__}
        self.names = []

    def add(self, name, y, inputs, args, data=None):
        """`inputs` need gradients (they have them after this); `data` are other tensors."""
        w_out = torch.randn(y.shape, dtype=f64)
        (y * w_out).sum().backward()
        for k, t in inputs.items():
            self.tensors[f"{name}.{k}"] = t
            self.tensors[f"grad.{name}.{k}"] = t.grad
        for k, t in (data or {}).items():
            self.tensors[f"{name}.{k}"] = t.to(f64)
        self.tensors[f"{name}.y"] = y
        self.tensors[f"{name}.w_out"] = w_out
        for k, v in args.items():
            self.meta[f"{name}.{k}"] = str(v)
        self.names.append(name)

    def save(self, file):
        self.meta["cases"] = ",".join(self.names)
        path = os.path.join(OUT_DIR, file)
        save_safetensors(path, self.tensors, self.meta)
        print(f"wrote {path}: {len(self.names)} cases, {len(self.tensors)} tensors")


def leaf(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=f64) * scale).requires_grad_(True)


def reduce_cases():
    c = Cases()
    for name, shape, axis, correction, keepdim in [
        ("a", (3, 4, 2), 1, 1, False),
        ("b", (3, 4, 2), -1, 0, True),
        ("c", (5, 3), 0, 2, False),
    ]:
        for op in ("var", "std"):
            x = leaf(*shape)
            y = getattr(torch, op)(x, axis, correction=correction, keepdim=keepdim)
            c.add(f"{op}.{name}", y, {"x": x},
                  {"axis": axis, "correction": correction, "keepdim": int(keepdim)})
    # A constant row: std is 0 there, and so is its gradient (PyTorch masks the 0/0).
    x = leaf(3, 4)
    with torch.no_grad():
        x[1] = 0.5
    c.add("std.constant_row", torch.std(x, 1), {"x": x},
          {"axis": 1, "correction": 1, "keepdim": 0})
    for name, shape, axis, keepdim, scale in [
        ("a", (3, 4), 1, False, 1.0),
        ("large", (2, 3, 4), 0, True, 50.0),
    ]:
        x = leaf(*shape, scale=scale)
        c.add(f"logsumexp.{name}", torch.logsumexp(x, axis, keepdim=keepdim), {"x": x},
              {"axis": axis, "keepdim": int(keepdim)})
    # Small integers, so lanes have ties: the gradient goes to the index max reports.
    for name, shape, axis, keepdim in [("a", (3, 4, 2), 1, False), ("ties", (4, 5), -1, True)]:
        x = torch.randint(-2, 3, shape).to(f64)
        if name == "a":
            x = x + torch.rand(*shape, dtype=f64)  # no ties
        x.requires_grad_(True)
        y, index = torch.max(x, axis, keepdim=keepdim)
        assert torch.equal(index, torch.argmax(x.detach(), axis, keepdim=keepdim))
        c.add(f"max.{name}", y, {"x": x}, {"axis": axis, "keepdim": int(keepdim)},
              {"argmax": index})
    c.save("reduce.safetensors")


def index_cases():
    c = Cases()
    for name, shape, axis, index in [
        ("a", (3, 4), 1, torch.tensor([[0, 3], [2, 2], [1, 0]])),
        ("b", (2, 3, 4), 0, torch.randint(0, 2, (2, 2, 4))),
        ("c", (2, 3, 4), -1, torch.randint(0, 4, (1, 3, 6))),
    ]:
        x = leaf(*shape)
        c.add(f"gather.{name}", torch.gather(x, axis, index), {"x": x}, {"axis": axis},
              {"index": index})
    for name, shape, axis, index in [
        ("a", (3, 4), 0, torch.tensor([2, 0, 2])),
        ("b", (2, 3, 4), 2, torch.tensor([3, 1])),
        ("c", (2, 3, 4), 1, torch.tensor([1, 1, 0, 2])),
    ]:
        x = leaf(*shape)
        c.add(f"index_select.{name}", torch.index_select(x, axis, index), {"x": x},
              {"axis": axis}, {"index": index})
    for name, shape, axis in [("a", (2, 3), 1), ("b", (2, 3), -1), ("c", (4,), 0)]:
        xs = [leaf(*shape) for _ in range(3)]
        c.add(f"stack.{name}", torch.stack(xs, axis), {f"x{k}": x for k, x in enumerate(xs)},
              {"axis": axis, "count": 3})
    c.save("index.safetensors")


def loss_cases():
    c = Cases()
    batch, classes = 6, 4
    weight = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=f64)
    targets = torch.tensor([1, 3, 0, 3, 2, 1])
    # ignore_index -100 on one row, or a real class id (1, on two rows) ignored.
    ignores = {"none": (-100, targets), "default": (-100, torch.tensor([1, 3, -100, 3, 2, 1])),
               "class": (1, targets)}
    for (wname, (iname, (ignore, t)), smoothing, reduction) in itertools.product(
            ("plain", "weighted"), ignores.items(), (0.0, 0.15), ("none", "mean", "sum")):
        w = weight if wname == "weighted" else None
        args = {"ignore_index": ignore, "reduction": reduction, "label_smoothing": smoothing}
        data = {"targets": t} | ({"weight": w} if w is not None else {})
        x = leaf(batch, classes, scale=2.0)
        y = F.cross_entropy(x, t, weight=w, ignore_index=ignore, reduction=reduction,
                            label_smoothing=smoothing)
        c.add(f"ce.{wname}.{iname}.s{int(smoothing * 100)}.{reduction}", y, {"x": x}, args, data)
        if smoothing == 0.0:
            lp = leaf(batch, classes)
            y = F.nll_loss(lp, t, weight=w, ignore_index=ignore, reduction=reduction)
            c.add(f"nll.{wname}.{iname}.{reduction}", y, {"x": lp}, args, data)
    pos_weight = torch.tensor([0.5, 1.0, 3.0], dtype=f64)
    for pname, reduction in itertools.product(("plain", "pos_weight"), ("none", "mean", "sum")):
        pw = pos_weight if pname == "pos_weight" else None
        x = leaf(2, 4, 3, scale=3.0)
        with torch.no_grad():
            x[0, 0, 0], x[0, 0, 1] = 40.0, -40.0  # far out on both sides
        t = torch.rand(2, 4, 3, dtype=f64)
        with torch.no_grad():
            t[1, 0] = torch.tensor([0.0, 1.0, 1.0])
        t.requires_grad_(True)
        y = F.binary_cross_entropy_with_logits(x, t, pos_weight=pw, reduction=reduction)
        data = {"pos_weight": pw} if pw is not None else {}
        c.add(f"bce.{pname}.{reduction}", y, {"x": x, "t": t}, {"reduction": reduction}, data)
    c.save("loss.safetensors")


def main():
    torch.manual_seed(17)
    os.makedirs(OUT_DIR, exist_ok=True)
    reduce_cases()
    index_cases()
    loss_cases()


if __name__ == "__main__":
    main()
