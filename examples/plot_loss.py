#!/usr/bin/env python3
"""Plots the loss curves an example wrote (CSV: run,step,loss,tokens_per_s,elapsed_s), one
line per run, smoothed, into a PNG next to the CSV. Uses matplotlib when Python has it, else
gnuplot; with neither it says how to get one and exits 0 (the plot is optional).

    python3 examples/plot_loss.py build/release/examples/long_memory_loss.csv [out.png]
    apt-get install gnuplot-nox   # or python3-matplotlib (Debian's, for /usr/bin/python3)
"""
import csv
import os
import shutil
import subprocess
import sys
import tempfile


def read_runs(path):
    runs = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            runs.setdefault(row["run"].strip(), []).append((int(row["step"]), float(row["loss"])))
    return runs


def smooth(points, window):
    """Mean over the last `window` points, so that noisy per-step losses read as a curve."""
    out, total = [], 0.0
    for i, (step, loss) in enumerate(points):
        total += loss
        if i >= window:
            total -= points[i - window][1]
        out.append((step, total / min(i + 1, window)))
    return out


def with_matplotlib(runs, title, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 5))
    for name, points in runs.items():
        xs, ys = zip(*points)
        ax.plot(xs, ys, label=name, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (smoothed)")
    ax.set_title(title)
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def with_gnuplot(runs, title, out):
    with tempfile.TemporaryDirectory() as tmp:
        plots = []
        for i, (name, points) in enumerate(runs.items()):
            data = os.path.join(tmp, f"run{i}.dat")
            with open(data, "w") as f:
                f.writelines(f"{s} {v}\n" for s, v in points)
            label = name.replace('"', "'")
            plots.append(f'"{data}" using 1:2 with lines title "{label}"')
        script = "\n".join([
            "set terminal pngcairo size 1080,600" if "pngcairo" in terminals() else
            "set terminal png size 1080,600",
            f'set output "{out}"',
            f'set title "{title}" noenhanced',
            'set xlabel "step"',
            'set ylabel "training loss (smoothed)"',
            "set key outside right noenhanced",
            "plot " + ", ".join(plots),
        ])
        subprocess.run(["gnuplot"], input=script, text=True, check=True)


def terminals():
    result = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return result.stdout + result.stderr


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(f"usage: {sys.argv[0]} loss.csv [out.png]")
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.splitext(path)[0] + ".png"
    runs = read_runs(path)
    if not runs:
        sys.exit(f"{path}: no rows")
    longest = max(len(p) for p in runs.values())
    runs = {name: smooth(points, max(1, longest // 50)) for name, points in runs.items()}
    title = os.path.basename(path)
    try:
        import matplotlib  # noqa: F401
        have_matplotlib = True
    except ImportError:
        have_matplotlib = False
    if have_matplotlib:
        with_matplotlib(runs, title, out)
    elif shutil.which("gnuplot"):
        with_gnuplot(runs, title, out)
    else:
        print("plot_loss: neither matplotlib nor gnuplot is installed; skipping the plot.\n"
              "  apt-get install gnuplot-nox   (or python3-matplotlib, then run this with "
              "/usr/bin/python3)")
        return
    print(f"plot_loss: {len(runs)} runs from {path} -> {out}")


if __name__ == "__main__":
    main()
