"""What a fit costs as the target grows: the INNR presets' weight fits and the data-free
baselines on targets from 62k to 11M weights, each (target, method) in its own process, so its
peak RSS is its own.

    python benchmarks/scale.py --json benchmarks/measured/scale-DATE.json --plot scale-DATE.png
    python benchmarks/scale.py --targets seed-cnn resnet20 --methods fast-scalable full-batch
    python benchmarks/scale.py --devices cuda          # on a card (default: cpu, and cuda if present)

Targets are random-initialised (cost does not depend on training; seed 0): seed CNN c=32,
LeNet-300-100, ResNet-20 and ResNet-56 (1-channel), Caffe's LeNet-5, and a CIFAR-style ResNet-18
on 1-channel 28x28 inputs. Per cell: seconds of `compress` (fit, sizing and storage), peak RSS of
the process (`ru_maxrss`, torch's import included), bytes over fp32, and the reconstructed
weights' relative error ||w' - w|| / ||w|| (random weights: a cost benchmark, not a quality one).
Per method: the growth exponent b of seconds ~ N^b, least squares in log-log over its targets.

`full-batch` (today's fit at a budget: `fast` at 0.13, int8 + Huffman, every query each epoch)
is cut to --full-batch-epochs on targets past --full-batch-full-up-to weights and its seconds
extrapolated to the preset's 300 epochs (marked); the `seed` preset (one query per weight,
2,000 epochs) runs 20 epochs (marked). A cell past --max-rss-gb or --timeout is stopped and says
so; its seconds and RSS are then lower bounds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TARGETS: dict[str, tuple[str, dict[str, Any]]] = {
    "seed-cnn": ("seed-cnn", {"c": 32}),
    "lenet-300-100": ("lenet-300-100", {}),
    "resnet20": ("resnet20", {"in_channels": 1}),
    "lenet5-caffe": ("lenet5-caffe", {}),
    "resnet56": ("resnet56", {"in_channels": 1}),
    "resnet18": ("resnet18", {"in_channels": 1}),
}
INT8_HUFFMAN = {"precision": "int8", "entropy": "huffman"}
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "ptq-4": ("quantize", {"bits": 4}),
    "kmeans-4": ("kmeans", {"bits": 4}),
    "prune-0.9+kmeans-4": ("prune-global", {"sparsity": 0.9, "bits": 4}),
    "nnc-qp-28": ("nnc", {"qp": -28}),
    "innr-siren-fast": ("innr-siren", {}),  # the published default: a fixed SIREN 144x4, fp16
    "full-batch": ("innr", {"preset": "fast", "ratio": 0.13, "storage": INT8_HUFFMAN}),
    "fast-scalable": ("innr", {"preset": "fast-scalable", "ratio": 0.13}),
    "seed-20-epochs": ("innr-siren", {"recipe": "seed", "epochs": 20}),
}


def one_cell(target: str, method: str, device: str, epochs: int | None) -> dict[str, Any]:
    """Compress one random-initialised target with one method, in this process."""
    import torch

    from innr_bench import components  # noqa: F401  (registers the built-ins)
    from innr_bench.compress.base import CompressContext, fp32_bytes
    from innr_bench.engine import memory
    from innr_bench.progress import Progress
    from innr_bench.registry import COMPRESSORS, MODELS

    name, params = TARGETS[target]
    compressor_name, options = METHODS[method]
    if epochs is not None:  # the full-batch fit cut short, its seconds extrapolated
        warmup = 0.1 if epochs * 0.1 != 1 else 0.2  # torch's one-cycle cannot warm up in 1 step
        options = {**options, "fit": [{"name": "weights", "epochs": epochs, "warmup": warmup}]}
    torch.manual_seed(0)
    model = MODELS.get(name)(**params).eval()
    weights = sum(p.numel() for p in model.parameters())
    torch_device = torch.device(device)
    memory.keep_freed_memory(torch_device.type)  # as a run's worker does
    ctx = CompressContext(seed=0, device=torch_device, progress=Progress(enabled=False))
    compressor = COMPRESSORS.get(compressor_name)(**options)
    # a warm-up on a tiny net first: the libraries' one-time start-up (oneDNN, CUDA, cuBLAS) is not
    # the fit's cost, and would otherwise weigh on the small targets and flatten the exponent
    tiny = MODELS.get("seed-cnn")(c=2).to(torch_device)
    COMPRESSORS.get(compressor_name)(**METHODS[method][1]).compress(tiny, ctx)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if torch_device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    compressed = compressor.compress(model.to(torch_device), ctx)
    if torch_device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # before decoding to check
    rebuilt = compressed.reconstruct(model)
    with torch.no_grad():
        original = torch.cat([p.detach().cpu().reshape(-1) for p in model.parameters()])
        decoded = torch.cat([p.detach().cpu().reshape(-1) for p in rebuilt.parameters()])
        error = float((decoded - original).norm() / original.norm())
    row = {"target": target, "method": method, "device": device,
           "device_name": torch.cuda.get_device_name(torch_device) if torch_device.type == "cuda" else None,
           "weights": weights, "seconds": seconds, "fit_seconds": compressed.info.get("fit_seconds"),
           "ratio": compressed.size_bytes / fp32_bytes(model), "relative_error": error,
           "rss_before_gb": rss_before, "peak_rss_gb": peak_rss,
           "cuda_peak_gb": torch.cuda.max_memory_allocated() / 2**30 if torch_device.type == "cuda" else None,
           "threads": torch.get_num_threads(), "storage": compressed.info.get("storage"), "parts":
           compressed.info.get("parts")}
    if epochs is not None:  # the fit's epochs scaled up; sizing, encoding and packing counted once
        fit = compressed.info["fit_seconds"]
        row |= {"epochs_run": epochs, "extrapolated_seconds": seconds - fit + fit * preset_epochs() / epochs}
    return row


def preset_epochs() -> int:
    """The `fast` preset's weight-fit epochs: what the cut full-batch fit is extrapolated to."""
    from innr_bench.compress.innr.spec import PRESETS

    return int(PRESETS["fast"]["spec"]["fit"][0]["epochs"])


def rss_gb(pid: int) -> float:
    """The process's resident set now (Linux /proc), in GiB; 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def run_cell(target: str, method: str, device: str, epochs: int | None, *, max_rss_gb: float,
             timeout: float) -> dict[str, Any]:
    """`one_cell` in a child process, stopped past `max_rss_gb` or `timeout` seconds."""
    command = [sys.executable, __file__, "--one", target, method, device, str(epochs or 0)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    start, peak, stopped = time.perf_counter(), 0.0, None
    while child.poll() is None:
        peak = max(peak, rss_gb(child.pid))
        elapsed = time.perf_counter() - start
        if peak > max_rss_gb or elapsed > timeout:
            stopped = f"stopped at {peak:.1f} GB" if peak > max_rss_gb else f"stopped after {elapsed:.0f} s"
            child.kill()
            break
        time.sleep(0.2)
    output = child.communicate()[0]
    if stopped or child.returncode:
        return {"target": target, "method": method, "device": device, "weights": None,
                "stopped": stopped or f"exit {child.returncode}",
                "seconds_at_least": time.perf_counter() - start, "peak_rss_gb_at_least": peak}
    return json.loads(output.strip().splitlines()[-1])


def exponent(rows: list[dict[str, Any]], key: str) -> float | None:
    """b of seconds ~ N^b, least squares over the rows that have `key`."""
    points = [(math.log(r["weights"]), math.log(r[key])) for r in rows if r.get(key) and r.get("weights")]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    return (sum((x - mean_x) * (y - mean_y) for x, y in points)
            / sum((x - mean_x) ** 2 for x, _ in points))


def plot(rows: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 5))
    for method in dict.fromkeys(r["method"] for r in rows):
        for device in dict.fromkeys(r["device"] for r in rows):
            points = sorted((r["weights"], r.get("extrapolated_seconds") or r["seconds"])
                            for r in rows
                            if r["method"] == method and r["device"] == device and r.get("weights"))
            if points:
                axes.plot(*zip(*points), marker="o", label=f"{method} ({device})")
    axes.set(xscale="log", yscale="log", xlabel="target weights", ylabel="compress seconds",
             title="fit cost as the target grows (extrapolated where cut short)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--devices", nargs="+", default=None, help="cpu and/or cuda (default: cpu, and cuda "
                        "when a card is present)")
    parser.add_argument("--full-batch-full-up-to", type=int, default=1_000_000,
                        help="targets with more weights run full-batch for --full-batch-epochs only")
    parser.add_argument("--full-batch-epochs", type=int, default=20)
    parser.add_argument("--max-rss-gb", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds a cell may take")
    parser.add_argument("--json", help="write the rows and the environment here")
    parser.add_argument("--plot", help="write the log-log plot here (PNG)")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)  # a child's cell
    args = parser.parse_args()
    if args.one:
        target, method, device, epochs = args.one
        print(json.dumps(one_cell(target, method, device, int(epochs) or None)), flush=True)
        return
    import torch

    from innr_bench.engine.env import environment

    devices = args.devices or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    methods = [m for m in args.methods if m != "nnc-qp-28" or _has_nnc()]
    if len(methods) < len(args.methods):
        print("nnc-qp-28 left out: the [nnc] extra is not installed", flush=True)
    sizes = {t: _weights(t) for t in args.targets}
    rows: list[dict[str, Any]] = []
    for device in devices:
        for target in sorted(args.targets, key=sizes.get):
            for method in methods:
                cut = method == "full-batch" and sizes[target] > args.full_batch_full_up_to
                row = run_cell(target, method, device, args.full_batch_epochs if cut else None,
                               max_rss_gb=args.max_rss_gb, timeout=args.timeout)
                row["weights"] = row["weights"] or sizes[target]
                rows.append(row)
                print(_line(row), flush=True)
    growth, stopped = {}, {}
    for device in devices:
        for method in methods:
            mine = [r for r in rows if r["method"] == method and r["device"] == device]
            done = [{**r, "cost": r.get("extrapolated_seconds") or r["seconds"]}
                    for r in mine if not r.get("stopped")]
            name = f"{method} ({device})"
            growth[name], stopped[name] = exponent(done, "cost"), len(mine) - len(done)
            print(f"growth exponent {name}: " + ("-" if growth[name] is None else f"N^{growth[name]:.2f}")
                  + (f" ({stopped[name]} stopped cell(s) left out)" if stopped[name] else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": environment(torch.device(devices[0])),
                                               "rows": rows, "growth_exponents": growth,
                                               "stopped_cells": stopped}, indent=1) + "\n")
    if args.plot:
        plot([r for r in rows if not r.get("stopped")], args.plot)


def _has_nnc() -> bool:
    from innr_bench.compress import nnc_codec
    from innr_bench.errors import MissingExtraError

    try:
        nnc_codec.version()
    except MissingExtraError:
        return False
    return True


def _weights(target: str) -> int:
    from innr_bench import components  # noqa: F401
    from innr_bench.registry import MODELS

    name, params = TARGETS[target]
    return sum(p.numel() for p in MODELS.get(name)(**params).parameters())


def _line(row: dict[str, Any]) -> str:
    head = f"{row['device']:4s} {row['target']:14s} {row['weights']:>11,} {row['method']:20s}"
    if row.get("stopped"):
        return (f"{head} {row['stopped']} (>= {row['seconds_at_least']:.1f} s, "
                f">= {row['peak_rss_gb_at_least']:.1f} GB)")
    extra = (f" ({row['epochs_run']} epochs; {row['extrapolated_seconds']:.1f} s at {preset_epochs()})"
             if row.get("epochs_run") else "")
    return (f"{head} {row['seconds']:9.2f} s{extra}  peak RSS {row['peak_rss_gb']:5.2f} GB  "
            f"ratio {row['ratio']:.4f}  rel. error {row['relative_error']:.3f}  {row.get('storage') or ''}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
