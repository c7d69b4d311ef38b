"""Accuracy-vs-bytes plots from the accuracy-vs-size records (PNG and SVG)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import pandas as pd

from innr_bench.store import atomic_write_bytes

REFERENCE_METHOD = "identity"


def family(label: str) -> str:
    """A method's family: its label without the grid values, 'ptq[bits=4]' -> 'ptq'."""
    return label.split("[", 1)[0]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def accuracy_vs_bytes(long: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One figure per (data, target): a line per method family through its settings, ordered by
    bytes (log x), error bars = sample std over seeds, the original as a dashed reference line."""
    written: list[Path] = []
    for (data, target), frame in long.groupby(["data", "target"], sort=True):
        points = (frame.groupby("method", sort=False)
                  .agg(bytes=("size_bytes", "mean"), acc=("accuracy", "mean"), std=("accuracy", "std"))
                  .reset_index())
        points["std"] = points["std"].fillna(0.0)
        points["family"] = points["method"].map(family)
        fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
        original = float(frame["target_accuracy"].mean()) * 100
        ax.axhline(original, color="black", linestyle="--", linewidth=1,
                   label=f"original (fp32) {original:.2f} %")
        fp32 = float(frame["size_bytes"].mean() / frame["ratio"].mean())
        ax.plot([fp32], [original], marker="*", markersize=11, color="black", linestyle="none")
        for name, fam in points[points["family"] != REFERENCE_METHOD].groupby("family", sort=True):
            fam = fam.sort_values("bytes")
            ax.errorbar(fam["bytes"], fam["acc"] * 100, yerr=fam["std"] * 100, marker="o", markersize=4,
                        capsize=3, linewidth=1.3, label=name)
        ax.set_xscale("log")
        ax.set_xlabel("stored bytes (log scale)")
        ax.set_ylabel("test accuracy %")
        lows, highs = (points["acc"] - points["std"]) * 100, (points["acc"] + points["std"]) * 100
        low = max(0.0, min(float(lows.min()), original) - 1)
        high = max(float(highs.max()), original)
        ax.set_ylim(low, min(101.0, high + max(0.5, (high - low) * 0.05)))
        ax.set_title(f"{target} on {data.split(' [')[0]}: accuracy vs size", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        fig.text(0.01, 0.01, data, fontsize=6, color="gray")
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        stem = out_dir / f"accuracy-vs-bytes-{slug(target)}-{slug(data.split(' [')[0])}"
        for suffix in (".png", ".svg"):
            buffer = io.BytesIO()
            # no timestamps in the files, so an unchanged result gives an unchanged file
            fig.savefig(buffer, format=suffix[1:], metadata={"Date": None} if suffix == ".svg" else {})
            atomic_write_bytes(stem.with_suffix(suffix), buffer.getvalue())
            written.append(stem.with_suffix(suffix))
        plt.close(fig)
    return written
