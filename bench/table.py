#!/usr/bin/env python3
"""Turns bench_rnn's and bench_core's JSON output into the tables of docs/performance.md.

  ./build/release/bench/bench_rnn --benchmark_format=json --benchmark_repetitions=5 \
      --benchmark_enable_random_interleaving=true > rnn.json
  ./build/release/bench/bench_core --benchmark_filter=BM_Broadcast --benchmark_format=json \
      --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true > core.json
  python3 bench/table.py rnn.json [core.json]

Uses the median of the repetitions of every row, and prints each table whose rows are in
the files: the training steps (GFLOP/s as a percentage of the median of BM_SgemmCeiling from
the same run; speed-up = rewind throughput / LibTorch throughput, and the same against
oneDNN), the user cells next to their
built-in twins (ratio = user time / built-in time), the two-thread rows, and the broadcast
positions of bench_core (ratios of ns per element).
"""
import json
import sys


def medians(path):
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if b.get("run_type") != "aggregate" and any(
                x.get("run_type") == "aggregate" for x in data["benchmarks"]):
            continue
        name = b.get("run_name", b["name"]).replace("/real_time", "")
        rows[name] = b
    return rows, data.get("context", {})


def fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def main():
    rows = {}
    for path in sys.argv[1:]:
        rows.update(medians(path)[0])
    if any(n.startswith("BM_SgemmCeiling/") for n in rows):  # else a filtered run: only the
        train_steps(rows)                                    # tables of its rows
    user_cells(rows)
    two_threads(rows)
    broadcast(rows)


def train_steps(rows):
    # The ceiling: the fastest GEMM provider the build has, in the same run.
    ceilings = {n.split("/")[1]: r["GFLOPs"] for n, r in rows.items()
                if n.startswith("BM_SgemmCeiling/")}
    best = max(ceilings, key=ceilings.get)
    ceiling = ceilings[best]
    print("sgemm 1024³ on 1 thread (BM_SgemmCeiling): " +
          ", ".join(f"{p} {g:.1f} GFLOP/s" for p, g in ceilings.items()) +
          f"; ceiling: **{ceiling:.1f} GFLOP/s** ({best})\n")
    print("| layer | cfg | rewind GFLOP/s | % of ceiling | time/step | allocs/step | graph bytes |"
          " LibTorch GFLOP/s | LibTorch time/step | LibTorch step bytes | speed-up |"
          " oneDNN GFLOP/s | oneDNN time/step | vs oneDNN |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for layer in ["rnn", "lstm", "lnlstm", "gru", "bilstm"]:
        for cfg in ["small", "ptb", "medium", "large"]:
            r = rows.get(f"BM_TrainStep/{layer}/{cfg}")
            t = rows.get(f"BM_LibTorchTrainStep/{layer}/{cfg}")
            o = rows.get(f"BM_OneDNNTrainStep/{layer}/{cfg}")
            if r is None:
                continue
            line = (f"| {layer} | {cfg} | {r['GFLOPs']:.1f} | {100 * r['GFLOPs'] / ceiling:.0f}% | "
                    f"{fmt_time(r['time_per_step'])} | {r['allocs_per_step']:.0f} | "
                    f"{r['graph_peak_bytes'] / 1e6:.1f} MB |")
            if t is not None:
                line += (f" {t['GFLOPs']:.1f} | {fmt_time(t['time_per_step'])} | "
                         f"{t['step_bytes'] / 1e6:.1f} MB | {r['GFLOPs'] / t['GFLOPs']:.2f}× |")
            else:
                line += " – | – | – | – |"
            if o is not None:
                line += (f" {o['GFLOPs']:.1f} | {fmt_time(o['time_per_step'])} | "
                         f"{r['GFLOPs'] / o['GFLOPs']:.2f}× |")
            else:
                line += " – | – | – |"
            print(line)


# BM_UserCellTrainStep/<cell>/<cfg> runs the same step as BM_TrainStep/<twin>/<cfg>.
USER_CELL_TWINS = {"lstm": "lstm", "lnlstm": "lnlstm", "gru": "gru"}


def user_cells(rows):
    lines = []
    for cell, twin in USER_CELL_TWINS.items():
        for cfg in ["small", "ptb", "medium", "large"]:
            u = rows.get(f"BM_UserCellTrainStep/{cell}/{cfg}")
            b = rows.get(f"BM_TrainStep/{twin}/{cfg}")
            if u is None:
                continue
            line = (f"| {cell} | {cfg} | {fmt_time(u['time_per_step'])} | {u['GFLOPs']:.1f} | "
                    f"{u['allocs_per_step']:.0f} | {u['graph_peak_bytes'] / 1e6:.1f} MB |")
            if b is not None:
                line += (f" {twin} | {fmt_time(b['time_per_step'])} | "
                         f"{b['graph_peak_bytes'] / 1e6:.1f} MB | "
                         f"{u['time_per_step'] / b['time_per_step']:.2f}× |")
            else:
                line += " – | – | – | – |"
            lines.append(line)
    if lines:
        print("\nUser cells (tests/user_cells.hpp, public ops through Recurrent<Cell>) next to the"
              " built-in layer (user / built-in: time per step, above 1 is slower):\n")
        print("| user cell | cfg | time/step | GFLOP/s | allocs/step | graph bytes | built-in |"
              " built-in time/step | built-in graph bytes | user / built-in |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(lines))


def two_threads(rows):
    lines = []
    for layer, cfg in [(layer, cfg) for layer in ["rnn", "lstm", "gru", "bilstm"]
                       for cfg in ["small", "ptb", "medium", "large"]]:
        one = rows.get(f"BM_TrainStep/{layer}/{cfg}")
        two = rows.get(f"BM_TrainStep/{layer}/{cfg}/threads:2")
        if one is None or two is None:
            continue
        line = (f"| {layer} | {cfg} | {fmt_time(one['time_per_step'])} | "
                f"{fmt_time(two['time_per_step'])} | {one['time_per_step'] / two['time_per_step']:.2f}× |")
        t1 = rows.get(f"BM_LibTorchTrainStep/{layer}/{cfg}")
        t2 = rows.get(f"BM_LibTorchTrainStep/{layer}/{cfg}/threads:2")
        if t1 is not None and t2 is not None:
            line += (f" {fmt_time(t1['time_per_step'])} | {fmt_time(t2['time_per_step'])} | "
                     f"{t1['time_per_step'] / t2['time_per_step']:.2f}× |")
        else:
            line += " – | – | – |"
        o1 = rows.get(f"BM_OneDNNTrainStep/{layer}/{cfg}")
        o2 = rows.get(f"BM_OneDNNTrainStep/{layer}/{cfg}/threads:2")
        if o1 is not None and o2 is not None:
            line += (f" {fmt_time(o1['time_per_step'])} | {fmt_time(o2['time_per_step'])} | "
                     f"{o1['time_per_step'] / o2['time_per_step']:.2f}× |")
        else:
            line += " – | – | – |"
        lines.append(line)
    if lines:
        print("\nTwo threads (the directions of the bidirectional layer run concurrently; the"
              " other layers share both among their products):\n")
        print("| layer | cfg | rewind 1 thread | rewind 2 threads | speed-up | LibTorch 1 thread |"
              " LibTorch 2 threads | speed-up | oneDNN 1 thread | oneDNN 2 threads | speed-up |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(lines))


# BM_Broadcast/<position>/<fusion>: y = tanh(a)∘b, a [64, 256], b of the position's shape.
BROADCAST_SHAPES = {"same": "[64, 256]", "row": "[256]", "column": "[64, 1]", "scalar": "[]"}


def broadcast(rows):
    same = {f: rows.get(f"BM_Broadcast/same/{f}") for f in ["fused", "unfused"]}
    lines = []
    for position, shape in BROADCAST_SHAPES.items():
        r = {f: rows.get(f"BM_Broadcast/{position}/{f}") for f in ["fused", "unfused"]}
        if r["fused"] is None and r["unfused"] is None:
            continue
        ns = {f: r[f]["ns_per_element"] if r[f] else None for f in r}
        cells = [f"{ns[f]:.3f}" if ns[f] else "–" for f in ["fused", "unfused"]]
        cells.append(f"{ns['fused'] / ns['unfused']:.2f}" if ns["fused"] and ns["unfused"] else "–")
        for f in ["fused", "unfused"]:
            ok = ns[f] and same[f]
            cells.append(f"{ns[f] / same[f]['ns_per_element']:.2f}" if ok else "–")
        lines.append(f"| {position} | {shape} | " + " | ".join(cells) + " |")
    if lines:
        print("\nBroadcast positions (bench_core BM_Broadcast: y = tanh(a)∘b, a [64, 256], forward +"
              " backward; ns per element of y):\n")
        print("| position of b | shape of b | fused | unfused | fused / unfused | fused / same | unfused / same |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
