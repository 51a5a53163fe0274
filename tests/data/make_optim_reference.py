#!/usr/bin/python3
"""Writes tests/data/optim_reference.json: what PyTorch's optimizers, gradient clipping and
learning-rate schedulers compute, for tests/optim/ to compare rewind against.

Everything runs in float64 from fixed inputs (written into the JSON too, so the C++ tests
start from exactly the same numbers). Needs Debian's python3-torch, which is installed for
the system interpreter only:

    /usr/bin/python3 tests/data/make_optim_reference.py

Non-finite numbers are written as the strings "nan", "inf" and "-inf" (JSON has no literal
for them).
"""

import json
import math
import os
import random
import warnings

import torch

torch.set_default_dtype(torch.float64)
# The schedules are stepped without optimizer steps in between, on purpose: only the lr is
# recorded.
warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")

STEPS = 6
# Gradient scale per step: large and small steps, so the second moments both grow and
# shrink (AMSGrad's maximum then differs from the plain average).
SCALES = [1.0, 3.0, 0.2, 0.5, 0.05, 2.0]
SHAPES = {"w": [2, 3], "b": [3]}


def number(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def flat(t):
    return [number(float(v)) for v in t.detach().reshape(-1).tolist()]


def make_inputs():
    rng = random.Random(2026)
    params = {name: [round(rng.gauss(0, 1), 6) for _ in range(math.prod(shape))]
              for name, shape in SHAPES.items()}
    grads = [{name: [round(scale * rng.gauss(0, 1), 6) for _ in range(math.prod(shape))]
              for name, shape in SHAPES.items()}
             for scale in SCALES]
    return params, grads


def make_params(initial):
    return {name: torch.tensor(initial[name]).reshape(SHAPES[name]).requires_grad_()
            for name in SHAPES}


# (rewind name, torch class, lr, torch keyword arguments). The C++ test maps the keyword
# names onto rewind's option structs.
OPTIMIZER_CASES = [
    ("SGD", torch.optim.SGD, 0.1, {}),
    ("SGD", torch.optim.SGD, 0.1, {"momentum": 0.9}),
    ("SGD", torch.optim.SGD, 0.1, {"momentum": 0.9, "dampening": 0.5}),
    ("SGD", torch.optim.SGD, 0.1, {"momentum": 0.9, "nesterov": True}),
    ("SGD", torch.optim.SGD, 0.05, {"momentum": 0.8, "weight_decay": 0.1}),
    ("SGD", torch.optim.SGD, 0.05, {"momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("SGD", torch.optim.SGD, 0.1, {"weight_decay": 0.2}),
    ("Adam", torch.optim.Adam, 0.01, {}),
    ("Adam", torch.optim.Adam, 0.05, {"betas": (0.8, 0.9), "eps": 1e-3}),
    ("Adam", torch.optim.Adam, 0.01, {"weight_decay": 0.1}),
    ("Adam", torch.optim.Adam, 0.01, {"amsgrad": True}),
    ("Adam", torch.optim.Adam, 0.02, {"amsgrad": True, "weight_decay": 0.1,
                                      "betas": (0.5, 0.9)}),
    ("AdamW", torch.optim.AdamW, 0.01, {}),
    ("AdamW", torch.optim.AdamW, 0.05, {"weight_decay": 0.3}),
    ("AdamW", torch.optim.AdamW, 0.02, {"amsgrad": True, "weight_decay": 0.1,
                                        "betas": (0.5, 0.9)}),
    ("RMSprop", torch.optim.RMSprop, 0.01, {}),
    ("RMSprop", torch.optim.RMSprop, 0.01, {"alpha": 0.9, "eps": 1e-4}),
    ("RMSprop", torch.optim.RMSprop, 0.01, {"momentum": 0.9}),
    ("RMSprop", torch.optim.RMSprop, 0.01, {"centered": True}),
    ("RMSprop", torch.optim.RMSprop, 0.01, {"centered": True, "momentum": 0.5,
                                            "weight_decay": 0.1}),
    ("Adagrad", torch.optim.Adagrad, 0.1, {}),
    ("Adagrad", torch.optim.Adagrad, 0.1, {"lr_decay": 0.1}),
    ("Adagrad", torch.optim.Adagrad, 0.1, {"weight_decay": 0.1,
                                           "initial_accumulator_value": 0.5, "eps": 1e-3}),
]


def run_optimizer(cls, lr, kwargs, initial, grads):
    params = make_params(initial)
    opt = cls(list(params.values()), lr=lr, **kwargs)
    steps = []
    for g in grads:
        for name, p in params.items():
            p.grad = torch.tensor(g[name]).reshape(SHAPES[name])
        opt.step()
        steps.append({name: flat(p) for name, p in params.items()})
    state = {}
    for name, p in params.items():
        for key, value in opt.state[p].items():
            if value is None:  # SGD without momentum keeps momentum_buffer = None
                continue
            if not torch.is_tensor(value):  # RMSprop counts its steps in a Python int
                state[f"{key}.{name}"] = float(value)
            else:
                state[f"{key}.{name}"] = flat(value) if value.dim() > 0 else float(value)
    return steps, state


def optimizer_cases(initial, grads):
    out = []
    for rewind_name, cls, lr, kwargs in OPTIMIZER_CASES:
        steps, state = run_optimizer(cls, lr, kwargs, initial, grads)
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
        out.append({"optimizer": rewind_name, "lr": lr, "options": options, "steps": steps,
                    "state": state})
    return out


# Gradient sets for clipping: name -> values, shapes as SHAPES.
CLIP_GRADS = {
    "finite": None,  # the first step's gradients, filled in below
    "nan": {"w": [0.5, float("nan"), -1.0, 2.0, 0.0, 1.0], "b": [1.0, -2.0, 0.5]},
    "inf": {"w": [0.5, float("inf"), -1.0, 2.0, 0.0, 1.0], "b": [1.0, float("-inf"), 0.5]},
}


def clip_cases(grads):
    CLIP_GRADS["finite"] = grads[1]
    out = []
    for grad_name, values in CLIP_GRADS.items():
        for kind, arg, norm_type in [("norm", 1.0, 2.0), ("norm", 100.0, 2.0),
                                     ("norm", 0.5, math.inf), ("norm", 100.0, math.inf),
                                     ("value", 0.7, None)]:
            params = {name: torch.zeros(SHAPES[name], requires_grad=True) for name in SHAPES}
            for name, p in params.items():
                p.grad = torch.tensor(values[name]).reshape(SHAPES[name])
            case = {"grads": grad_name, "kind": kind, "arg": arg}
            if kind == "norm":
                total = torch.nn.utils.clip_grad_norm_(list(params.values()), arg, norm_type)
                case["norm_type"] = number(norm_type)
                case["total_norm"] = number(float(total))
            else:
                torch.nn.utils.clip_grad_value_(list(params.values()), arg)
            case["clipped"] = {name: flat(p.grad) for name, p in params.items()}
            out.append(case)
    return {"inputs": {k: {n: [number(x) for x in v] for n, v in g.items()}
                       for k, g in CLIP_GRADS.items()},
            "cases": out}


BASE_LR = 0.1
SCHEDULE_STEPS = 25
PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.91, 0.92, 0.89, 0.9, 0.9, 0.9, 0.9, 0.5, 0.6, 0.6, 0.6,
                   0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]


def lr_of(opt):
    return opt.param_groups[0]["lr"]


def schedule_cases():
    lr_sched = torch.optim.lr_scheduler
    cases = []

    def fresh():
        return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE_LR)

    def record(name, args, warmup, make, metrics=None):
        opt = fresh()
        sched = make(opt)
        lrs = [lr_of(opt)]
        for t in range(SCHEDULE_STEPS):
            if metrics is None:
                sched.step()
            else:
                sched.step(metrics[t])
            lrs.append(lr_of(opt))
        case = {"schedule": name, "args": args, "lrs": lrs}
        if warmup:
            case["warmup"] = warmup
        if metrics is not None:
            case["metrics"] = metrics
        cases.append(case)

    record("StepLR", {"step_size": 3, "gamma": 0.5}, None,
           lambda o: lr_sched.StepLR(o, step_size=3, gamma=0.5))
    record("ExponentialLR", {"gamma": 0.9}, None, lambda o: lr_sched.ExponentialLR(o, gamma=0.9))
    record("CosineAnnealingLR", {"t_max": 10, "eta_min": 0.001}, None,
           lambda o: lr_sched.CosineAnnealingLR(o, T_max=10, eta_min=0.001))
    record("CosineAnnealingLR", {"t_max": 7, "eta_min": 0.0}, None,
           lambda o: lr_sched.CosineAnnealingLR(o, T_max=7))
    plateau_settings = [
        {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 0.01,
         "threshold_mode": "rel", "cooldown": 1, "min_lr": 0.01, "eps": 1e-8},
        {"mode": "min", "factor": 0.3, "patience": 0, "threshold": 0.05,
         "threshold_mode": "abs", "cooldown": 2, "min_lr": 0.0, "eps": 1e-8},
        {"mode": "max", "factor": 0.5, "patience": 1, "threshold": 0.0,
         "threshold_mode": "rel", "cooldown": 0, "min_lr": 0.02, "eps": 1e-8},
        {"mode": "max", "factor": 0.5, "patience": 1, "threshold": 0.02,
         "threshold_mode": "abs", "cooldown": 0, "min_lr": 0.0, "eps": 1e-8},
    ]
    for s in plateau_settings:
        record("ReduceLROnPlateau", s, None,
               lambda o, s=s: lr_sched.ReduceLROnPlateau(o, **s), PLATEAU_METRICS)

    # Warmup = LinearLR(start_factor, 1.0, steps) chained with the schedule.
    def chained(make_inner, warmup):
        def make(o):
            first = lr_sched.LinearLR(o, start_factor=warmup["start_factor"], end_factor=1.0,
                                      total_iters=warmup["steps"])
            return lr_sched.ChainedScheduler([first, make_inner(o)])
        return make

    warm = {"steps": 4, "start_factor": 0.25}
    record("StepLR", {"step_size": 3, "gamma": 0.5}, warm,
           chained(lambda o: lr_sched.StepLR(o, step_size=3, gamma=0.5), warm))
    record("ExponentialLR", {"gamma": 0.9}, warm,
           chained(lambda o: lr_sched.ExponentialLR(o, gamma=0.9), warm))
    record("CosineAnnealingLR", {"t_max": 10, "eta_min": 0.0}, {"steps": 5, "start_factor": 0.1},
           chained(lambda o: lr_sched.CosineAnnealingLR(o, T_max=10),
                   {"steps": 5, "start_factor": 0.1}))
    return {"base_lr": BASE_LR, "cases": cases}


def main():
    initial, grads = make_inputs()
    out = {
        "generated_by": "tests/data/make_optim_reference.py",
        "torch_version": torch.__version__,
        "shapes": SHAPES,
        "params": initial,
        "grads": grads,
        "optimizers": optimizer_cases(initial, grads),
        "clip": clip_cases(grads),
        "schedules": schedule_cases(),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
