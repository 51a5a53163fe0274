#!/usr/bin/env python3
"""Turns bench_rnn's JSON output into the table of docs/performance.md.

  ./build/release/bench/bench_rnn --benchmark_format=json --benchmark_repetitions=5 \
      --benchmark_enable_random_interleaving=true > out.json
  python3 bench/table.py out.json

Uses the median of the repetitions of every row; GFLOP/s as a percentage of the median of
BM_SgemmCeiling from the same run; ratio = rewind throughput / LibTorch throughput.
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
        name = b.get("run_name", b["name"])
        rows[name] = b
    return rows, data.get("context", {})


def fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def main():
    rows, ctx = medians(sys.argv[1])
    ceiling = rows["BM_SgemmCeiling"]["GFLOPs"]
    print(f"sgemm ceiling (BM_SgemmCeiling, 1024³, 1 thread): **{ceiling:.1f} GFLOP/s**\n")
    print("| layer | cfg | rewind GFLOP/s | % of ceiling | time/step | allocs/step | graph bytes |"
          " LibTorch GFLOP/s | LibTorch time/step | LibTorch step bytes | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for layer in ["rnn", "lstm", "gru", "bilstm"]:
        for cfg in ["small", "ptb", "medium", "large"]:
            r = rows.get(f"BM_TrainStep/{layer}/{cfg}")
            t = rows.get(f"BM_LibTorchTrainStep/{layer}/{cfg}")
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
            print(line)


if __name__ == "__main__":
    main()
