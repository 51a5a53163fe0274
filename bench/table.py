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
        name = b.get("run_name", b["name"]).replace("/real_time", "")
        rows[name] = b
    return rows, data.get("context", {})


def fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def main():
    rows, ctx = medians(sys.argv[1])
    if "BM_SgemmCeiling" not in rows:  # a filtered run: only the two-thread table
        two_threads(rows)
        return
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
    two_threads(rows)


def two_threads(rows):
    lines = []
    for cfg in ["small", "ptb", "medium", "large"]:
        one = rows.get(f"BM_TrainStep/bilstm/{cfg}")
        two = rows.get(f"BM_TrainStep/bilstm/{cfg}/threads:2")
        if one is None or two is None:
            continue
        line = (f"| bilstm | {cfg} | {fmt_time(one['time_per_step'])} | "
                f"{fmt_time(two['time_per_step'])} | {one['time_per_step'] / two['time_per_step']:.2f}× |")
        t1 = rows.get(f"BM_LibTorchTrainStep/bilstm/{cfg}")
        t2 = rows.get(f"BM_LibTorchTrainStep/bilstm/{cfg}/threads:2")
        if t1 is not None and t2 is not None:
            line += (f" {fmt_time(t1['time_per_step'])} | {fmt_time(t2['time_per_step'])} | "
                     f"{t1['time_per_step'] / t2['time_per_step']:.2f}× |")
        else:
            line += " – | – | – |"
        lines.append(line)
    if lines:
        print("\nTwo threads (the directions of the bidirectional layer run concurrently):\n")
        print("| layer | cfg | rewind 1 thread | rewind 2 threads | speed-up | LibTorch 1 thread |"
              " LibTorch 2 threads | speed-up |")
        print("|---|---|---|---|---|---|---|---|")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
